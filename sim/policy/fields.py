"""The policy's field types and the error a rule check raises: a leaf shared by the `Policy` model
(`sim.policy.model`) and the vendor presets (`sim.policy.presets`), so that neither imports the other back.

`PolicyFields` is what a preset's limit check reads of a policy; `sim.policy.model.Policy` satisfies it.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic_core import PydanticCustomError

from sim.core.distributions import DurationDistribution

RefreshTokenUsage = Literal["reuse", "one_time", "rotate_keep_old"]
AbsoluteAnchor = Literal["chain", "token"]
OnCap = Literal["evict_oldest", "evict_least_recently_used", "reject_new"]
OnReuse = Literal["reject", "revoke_family"]

#: Policy fields that hold a duration in seconds (None = unlimited / none).
DURATION_FIELDS = frozenset({"absolute_lifetime", "sliding_lifetime", "reuse_interval", "idle_tolerance"})


class PolicyFields(Protocol):
    """The fields of a validated policy, as a preset's limit check reads them (durations in seconds)."""

    @property
    def preset(self) -> str | None: ...
    @property
    def refresh_token_usage(self) -> RefreshTokenUsage: ...
    @property
    def absolute_lifetime(self) -> float | None: ...
    @property
    def sliding_lifetime(self) -> float | None: ...
    @property
    def max_tokens_per_user(self) -> int | None: ...
    @property
    def on_cap(self) -> OnCap: ...
    @property
    def access_token_lifetime(self) -> DurationDistribution: ...
    @property
    def reuse_interval(self) -> float: ...
    @property
    def on_reuse(self) -> OnReuse: ...
    @property
    def absolute_anchor(self) -> AbsoluteAnchor: ...
    @property
    def idle_tolerance(self) -> float: ...
    @property
    def max_reuse(self) -> int: ...
    @property
    def fixed_access_token_lifetime(self) -> float | None: ...


def policy_error(field: str, message: str) -> PydanticCustomError:
    """An error about one field, raised from a model-level check (the field is kept in `ctx`)."""
    return PydanticCustomError("policy_rule", "{message}", {"field": field, "message": message})
