"""The fixed timelines: every rule, against every server and configuration of tests/conformance/servers.py.

Each test runs (once per configuration, all rules together) the rule's timeline through the real server
and through the engine under `policy_for(settings)` and asserts that every answer agrees; for a documented
difference it asserts that the server still differs, so that a server release that changes is noticed.
"""

from __future__ import annotations

import pytest

from tests.conformance.servers import SERVERS
from tests.conformance.timeline import RULES

CASES = [
    pytest.param(server, configuration, build.__name__, id=f"{server}-{configuration}-{build.__name__}")
    for server, spec in SERVERS.items()
    for configuration, settings in spec.configurations.items()
    for build in RULES
    if build(spec.module.policy_for(settings)) is not None
]


@pytest.mark.parametrize(("server", "configuration", "rule"), CASES)
def test_timeline(servers, server: str, configuration: str, rule: str) -> None:
    started = servers.get(server, configuration)
    result = started.fixed_results()[rule]
    documented = SERVERS[server].documented_for(configuration, rule)
    header = f"{started.server.version}, {configuration}: {rule}\n{result.log()}"
    if documented is None:
        assert result.agrees, f"the server and the engine differ\n{header}"
    else:
        assert not result.agrees, (
            f"documented difference no longer observed ({documented.observed}); update "
            f"tests/conformance/servers.py and docs/conformance.md\n{header}"
        )


def test_every_configuration_maps_to_a_valid_policy() -> None:
    """policy_for accepts every configuration the suite runs (it raises on a setting it cannot map)."""
    for spec in SERVERS.values():
        for settings in spec.configurations.values():
            assert spec.module.policy_for(settings).preset is not None


def test_every_documented_difference_names_a_rule_and_a_configuration() -> None:
    names = {build.__name__ for build in RULES}
    for spec in SERVERS.values():
        for documented in spec.documented:
            assert documented.rule in names, documented
            assert documented.configurations <= set(spec.configurations), documented
