"""django_oauth_toolkit: one test per rule of DOT 3.4.1, on the preset's defaults unless a rule needs an
override.

Sources (django-oauth/django-oauth-toolkit at tag 3.4.1): `oauth2_provider/settings.py` ("settings"),
`oauth2_provider/oauth2_validators.py` ("validators": `validate_refresh_token`, `_save_bearer_token`),
`docs/settings.rst` ("docs"). The same rules are checked against the running server in tests/conformance.
"""

from __future__ import annotations

import pytest

from tests.presets.timeline import (
    DAY,
    EPS,
    HOUR,
    assert_fails,
    assert_kept,
    engine,
    limit_error,
    login,
    policy,
    use,
)

P = "django_oauth_toolkit"


def test_defaults() -> None:
    """ROTATE_REFRESH_TOKEN True, ACCESS_TOKEN_EXPIRE_SECONDS 36000, REFRESH_TOKEN_EXPIRE_SECONDS None,
    grace 0, reuse protection off (settings)."""
    pol = policy(P)
    assert pol.refresh_token_usage == "one_time"
    assert pol.fixed_access_token_lifetime == 36000
    assert pol.absolute_lifetime is None and pol.sliding_lifetime is None
    assert pol.reuse_interval == 0 and pol.on_reuse == "reject"
    assert pol.max_tokens_per_user is None


def test_rotation_rejects_the_old_token_and_keeps_the_new_one() -> None:
    """Rotation revokes the presented token; without reuse protection a replay fails and nothing else
    changes (validators)."""
    eng = engine(P)
    t0 = login(eng)
    t1 = use(eng, t0, 1 * HOUR)
    assert t1 != t0
    assert_fails(eng, t0, 2 * HOUR, "consumed")
    assert use(eng, t1, 3 * HOUR) not in (t0, t1)


def test_without_an_expiry_setting_tokens_never_expire() -> None:
    """REFRESH_TOKEN_EXPIRE_SECONDS None: "all refresh tokens will last until revoked" (docs)."""
    eng = engine(P)
    token = login(eng)
    use(eng, token, 3 * 365 * DAY)


def test_expiry_slides_with_the_access_token() -> None:
    """A live token is refused once access_token.expires + REFRESH_TOKEN_EXPIRE_SECONDS has passed, and each
    refresh renews the access token (validators): a sliding lifetime of the two added."""
    eng = engine(P, access_token_lifetime="1h", sliding_lifetime=HOUR + 1 * DAY)
    token = login(eng)
    token = use(eng, token, 1 * DAY + 1 * HOUR)  # at the deadline
    assert_fails(eng, token, 2 * DAY + 2 * HOUR + EPS, "sliding_expiry")


def test_grace_period_returns_the_successor() -> None:
    """Inside REFRESH_TOKEN_GRACE_PERIOD_SECONDS the replaced token returns the token its first use issued
    (validators: the existing access token and its refresh token)."""
    eng = engine(P, reuse_interval="2m")
    t0 = login(eng)
    t1 = use(eng, t0, 1 * HOUR)
    retry = eng.refresh(t0, 1 * HOUR + 60)
    assert retry.ok and retry.grace and retry.refresh_token == t1
    assert_fails(eng, t0, 1 * HOUR + 121, "consumed")


def test_grace_covers_only_the_immediate_predecessor() -> None:
    """A token two rotations old is refused even inside its own grace period (#1617, fixed in 3.x)."""
    eng = engine(P, reuse_interval="10m")
    t0 = login(eng)
    t1 = use(eng, t0, 100.0)
    use(eng, t1, 200.0)
    assert_fails(eng, t0, 300.0, "consumed")


def test_reuse_protection_revokes_the_family() -> None:
    """REFRESH_TOKEN_REUSE_PROTECTION: a replay outside the grace period revokes every token of the family
    (validators, docs)."""
    eng = engine(P, reuse_interval="2m", on_reuse="revoke_family")
    t0 = login(eng)
    t1 = use(eng, t0, 1 * HOUR)
    assert_fails(eng, t0, 2 * HOUR, "consumed")
    assert_fails(eng, t1, 2 * HOUR, "family_revoked")


def test_no_rotation_returns_the_same_token() -> None:
    """ROTATE_REFRESH_TOKEN False: the same refresh token, its access token renewed in place (validators)."""
    eng = engine(P, refresh_token_usage="reuse", sliding_lifetime=HOUR + 1 * DAY, access_token_lifetime="1h")
    token = login(eng)
    assert use(eng, token, 20 * HOUR) == token
    assert use(eng, token, 40 * HOUR) == token


def test_no_cap() -> None:
    """Every password grant starts a new family; DOT has no per-user limit."""
    eng = engine(P)
    for i in range(50):
        login(eng, now=float(i))
    assert eng.active_chains("alice", 50.0) == 50


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"absolute_lifetime": "30d"}, "absolute_lifetime", ["no absolute", "got 30d"]),
        ({"max_tokens_per_user": 5}, "max_tokens_per_user", ["no per-user", "got 5"]),
        ({"refresh_token_usage": "rotate_keep_old"}, "refresh_token_usage", ["one_time or reuse"]),
        ({"refresh_token_usage": "reuse", "on_reuse": "revoke_family"}, "on_reuse", ["ROTATE_REFRESH_TOKEN"]),
        ({"sliding_lifetime": "10h"}, "sliding_lifetime", ["must exceed the access-token lifetime (10h)"]),
        ({"max_reuse": 1}, "max_reuse", ["not a count"]),
    ],
)
def test_invalid_overrides_name_the_limit(overrides: dict, field: str, words: list[str]) -> None:
    """Values DOT cannot express are refused with the reason."""
    limit_error(P, field, P, *words, **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"reuse_interval": "2m", "on_reuse": "revoke_family"},
        {"refresh_token_usage": "reuse"},
        {"sliding_lifetime": "11h"},
        {"access_token_lifetime": "1h", "sliding_lifetime": "25h"},
    ],
)
def test_valid_overrides_are_accepted(overrides: dict) -> None:
    """Values DOT's settings can produce are kept as given."""
    assert_kept(P, **overrides)
