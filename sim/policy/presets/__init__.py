"""Vendor presets: each fills a policy's defaults and enforces that vendor's documented limits.

A preset never hides a field: any value can be overridden within the vendor's limits (for Entra ID, whose
refresh-token lifetimes cannot be configured, the fixed fields refuse every other value). Each vendor has a
module here with its sources in the docstring; `docs/presets.md` documents every preset's defaults, limits,
mapping onto the policy fields and what is approximated.

`PRESETS` maps each name to its `Preset`; `get_preset(name)` returns one or None.
"""

from __future__ import annotations

from sim.policy.presets import (
    auth0,
    django_oauth_toolkit,
    entra_id,
    identityserver,
    keycloak,
    node_oidc_provider,
    okta,
    spring,
    visma_connect,
)
from sim.policy.presets.base import Preset

#: Every preset by name, in the order the documentation lists them.
PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        visma_connect.PRESET,
        identityserver.DUENDE_PRESET,
        identityserver.IS4_PRESET,
        auth0.PRESET,
        okta.PRESET,
        keycloak.ONLINE_PRESET,
        keycloak.OFFLINE_PRESET,
        entra_id.STANDARD_PRESET,
        entra_id.SPA_PRESET,
        spring.PRESET,
        django_oauth_toolkit.PRESET,
        node_oidc_provider.PRESET,
    )
}


def get_preset(name: object) -> Preset | None:
    """The preset of that name, or None."""
    return PRESETS.get(name) if isinstance(name, str) else None


__all__ = ["PRESETS", "Preset", "get_preset"]
