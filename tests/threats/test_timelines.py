"""Deterministic theft timelines: one user, scripted sessions and thefts, every time checked by hand.

Each test states its timeline in hours. The access token lives 1 h, so a device in a session refreshes
at every whole hour after its login, and an `immediate` attacker at every hour after its first use.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.analysis.theft_metrics import theft_metrics
from sim.model.threats import IDLE_MARGIN
from tests.threats.timeline import HOUR, rows, scripted_user

ROTATION_FAMILY = {
    "refresh_token_usage": "one_time",
    "absolute_lifetime": "unlimited",
    "on_reuse": "revoke_family",
    "access_token_lifetime": "1h",
}


@pytest.mark.parametrize("run_ahead", [True, False], ids=["run-ahead", "stepping"])
def test_rotation_with_family_revocation_detects_at_the_victims_next_refresh(run_ahead: bool) -> None:
    """Session 1h-4h: login at 1h, refreshes at 2h and 3h (access until 4h). Theft at 5h (idle): the
    attacker refreshes at 5h (its first use: the chain rotates), 6h, 7h, 8h, 9h. The victim's next
    session at 9.5h presents its consumed token: the family is revoked at 9.5h, the victim logs in again
    (a forced re-authentication caused by the attacker), and the attacker's refresh at 10h fails."""
    _, rec = scripted_user(
        ROTATION_FAMILY, sessions=[1 * HOUR, 9.5 * HOUR], thefts=[5 * HOUR], horizon=2 * 86400.0,
        duration="3h", run_ahead=run_ahead,
    )
    chains = rows(rec.chains)
    first = next(c for c in chains if c["chain"] == 1)
    assert first["end_reason"] == "family_revoked"
    assert first["ended_at_s"] == 9.5 * HOUR  # the victim's next refresh after the attacker's first use
    (reauth,) = rows(rec.reauths)
    assert (reauth["at_s"], reauth["cause"]) == (9.5 * HOUR, "consumed")
    (theft,) = rows(rec.thefts)
    assert theft["first_use_at_s"] == 5 * HOUR
    assert theft["end_reason"] == "family_revoked" and theft["detected"]
    assert theft["detected_at_s"] == 9.5 * HOUR
    assert theft["attacker_refreshes"] == 5  # 5h, 6h, 7h, 8h, 9h
    assert theft["ended_at_s"] == 10 * HOUR  # its last access token (from 9h) expires at 10h
    assert theft["dwell_s"] == 5 * HOUR
    assert theft["victim_reauths"] == 1
    # the family revocation at 9.5h leaves the attacker's access token (until 10h) 30 minutes of life;
    # the victim's own access token had expired at 4h
    assert rec.revocation_lags == {(0, "p"): [(9.5 * HOUR, 0.5 * HOUR)]}


def test_rotation_without_family_revocation_leaves_the_attacker_in_place() -> None:
    """As above with `on_reuse: reject`: the victim's replay at 9.5h is only refused; the victim logs in
    on a new chain and the attacker keeps the old one, refreshing every hour to the horizon: censored."""
    policy = {**ROTATION_FAMILY, "on_reuse": "reject"}
    horizon = 2 * 86400.0
    _, rec = scripted_user(
        policy, sessions=[1 * HOUR, 9.5 * HOUR], thefts=[5 * HOUR], horizon=horizon, duration="3h"
    )
    (theft,) = rows(rec.thefts)
    assert theft["ended_at_s"] is None and theft["end_reason"] is None and not theft["detected"]
    assert theft["dwell_s"] == horizon - 5 * HOUR
    assert theft["victim_reauths"] == 1  # the refused replay at 9.5h
    # every hour from 5h to 47h: 43 refreshes, all successful
    assert theft["attacker_refreshes"] == 43
    frame = pd.DataFrame(rec.thefts)
    figures = theft_metrics(frame, warmup=0.0)
    assert figures["thefts_active_at_horizon_share"] == 1.0
    assert figures["theft_detected_share"] == 0.0
    assert math.isnan(figures["attacker_dwell_days_mean"])  # no attacker lost access: the mean is unknown
    assert math.isnan(figures["attacker_dwell_days_p95"])


def test_a_theft_without_expiry_or_revocation_is_still_active_at_the_horizon() -> None:
    """Reuse, no absolute or sliding lifetime, no logout or password change: nothing can end the
    attacker's access, so the theft is censored at the horizon and never reported as ended."""
    policy = {"refresh_token_usage": "reuse", "absolute_lifetime": "unlimited"}
    horizon = 10 * 86400.0
    _, rec = scripted_user(
        policy, sessions=[h * HOUR for h in (1, 30, 60, 100)], thefts=[2 * HOUR, 50 * HOUR],
        horizon=horizon, strategy="daily",
    )
    thefts = rows(rec.thefts)
    assert len(thefts) == 2
    for theft in thefts:
        assert theft["ended_at_s"] is None and theft["end_reason"] is None and not theft["detected"]
        assert theft["dwell_s"] == horizon - theft["stolen_at_s"]
    # daily uses: from 2h every 24 h before 240h (10 uses), from 50h (8 uses)
    assert [t["attacker_refreshes"] for t in thefts] == [10, 8]


def test_a_when_idle_attacker_waits_for_the_session_to_end() -> None:
    """Sessions 1h-4h and 6.5h-9.5h; theft at 2.5h, during the first. The attacker's first use waits
    until a minute after 4h; then every hour: 5h01, 6h01; 7h01 falls in the second session and waits
    until 9h31; 10h31 is past the 10h horizon."""
    policy = {"refresh_token_usage": "reuse", "absolute_lifetime": "unlimited"}
    _, rec = scripted_user(
        policy, sessions=[1 * HOUR, 6.5 * HOUR], thefts=[2.5 * HOUR], horizon=10 * HOUR,
        duration="3h", strategy="when_idle",
    )
    (theft,) = rows(rec.thefts)
    assert theft["first_use_at_s"] == 4 * HOUR + IDLE_MARGIN
    assert theft["attacker_refreshes"] == 4  # 4h01, 5h01, 6h01, 9h31
    assert theft["ended_at_s"] is None


def test_a_token_consumed_before_the_attacker_used_it_ends_the_theft_at_the_horizon() -> None:
    """Session 1h-4h (refreshes at 2h and 3h); theft at 2.5h, during it, by a when_idle attacker who would
    act at 4h01 but the horizon is 3.5h. The victim's refresh at 3h consumed the stolen token: the
    dry run at the horizon answers `consumed`, so the theft ended (its next use would be refused as a
    replay), with the stolen access token's life as its dwell (2.5h to 3h). The dry run changes nothing:
    the chain is still valid at the horizon although the policy revokes families."""
    _, rec = scripted_user(
        ROTATION_FAMILY, sessions=[1 * HOUR], thefts=[2.5 * HOUR], horizon=3.5 * HOUR,
        duration="3h", strategy="when_idle",
    )
    (theft,) = rows(rec.thefts)
    assert theft["first_use_at_s"] is None and theft["attacker_refreshes"] == 0
    assert theft["end_reason"] == "consumed" and theft["detected"] and theft["detected_at_s"] is None
    assert theft["dwell_s"] == 0.5 * HOUR and theft["ended_at_s"] == 3 * HOUR
    (chain,) = rows(rec.chains)
    assert chain["ended_at_s"] is None  # the dry run's family revocation happened on a copy
    assert rec.revocation_lags == {}


def test_a_theft_from_a_device_without_a_token_steals_nothing() -> None:
    """Theft at 0.5h, before the first login at 1h: recorded as `no_token` and left out of the figures."""
    _, rec = scripted_user(
        ROTATION_FAMILY, sessions=[1 * HOUR], thefts=[0.5 * HOUR], horizon=5 * HOUR
    )
    (theft,) = rows(rec.thefts)
    assert theft["end_reason"] == "no_token" and theft["dwell_s"] == 0 and not theft["detected"]
    figures = theft_metrics(pd.DataFrame(rec.thefts), warmup=0.0)
    assert all(math.isnan(value) for value in figures.values())


def test_revocation_lag_of_a_logout_is_the_access_tokens_remaining_life() -> None:
    """Sessions of 90 minutes at 1h and 10h, each ending with a logout: login at the start (access for
    1 h), a refresh one hour in (access for another hour), logout 30 minutes later: 30 minutes of access
    survive each logout."""
    _, rec = scripted_user(
        {"access_token_lifetime": "1h"}, sessions=[1 * HOUR, 10 * HOUR], thefts=[], horizon=20 * HOUR,
        duration="90m", lifecycle={"logout_at_session_end": 1.0},
    )
    assert rec.revocation_lags == {(0, "p"): [(2.5 * HOUR, 0.5 * HOUR), (11.5 * HOUR, 0.5 * HOUR)]}
