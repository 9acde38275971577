"""The client behaviour of `sim.verify.execute` on hand-written timelines: each documented rule once."""

from __future__ import annotations

from sim.core.durations import DAY, HOUR, MINUTE
from sim.policy.model import Policy
from sim.verify.execute import (
    FRESH_LOGIN,
    LOGIN,
    LOGIN_AFTER_LOGOUT,
    LOGOUT,
    PASSWORD_CHANGE,
    REFRESH,
    SESSION,
    THEFT,
    Step,
    execute,
)
from sim.verify.timelines import Device, LostResponse, Session, Theft, Timeline

END = 30 * DAY


def policy(**fields: object) -> Policy:
    base = {"refresh_token_usage": "one_time", "absolute_lifetime": "unlimited", "sliding_lifetime": "15d"}
    return Policy.from_dict({**base, **fields})


def one_device(*sessions: Session, **kwargs: object) -> Timeline:
    return Timeline(devices=(Device("laptop", sessions),), end=kwargs.pop("end", END), **kwargs)  # type: ignore[arg-type]


def calls(steps: list[Step]) -> list[tuple[float, str, str, bool, str | None]]:
    return [(s.at, s.actor, s.kind, s.ok, s.reason) for s in steps if s.kind != SESSION]


def test_a_session_refreshes_at_each_access_token_expiry_before_its_end() -> None:
    trace = execute(policy(), one_device(Session(0.0, 3 * HOUR), Session(3 * HOUR + 30 * MINUTE, 10.0)))
    assert calls(trace.steps) == [
        (0.0, "laptop", LOGIN, True, None),
        (HOUR, "laptop", REFRESH, True, None),
        (2 * HOUR, "laptop", REFRESH, True, None),
        # the session ends at 3 h exactly: the expiry at 3 h is not before it, so no refresh; the next
        # session starts with an expired access token and refreshes first
        (3 * HOUR + 30 * MINUTE, "laptop", REFRESH, True, None),
    ]
    assert [trace.label(s.issued) for s in trace.steps if s.kind == REFRESH] == ["1.1", "1.2", "1.3"]


def test_no_refresh_while_the_access_token_is_valid() -> None:
    trace = execute(policy(), one_device(Session(0.0, 0.0), Session(30 * MINUTE, 20 * MINUTE)))
    assert [s.kind for s in trace.steps if s.kind != SESSION] == [LOGIN]


def test_a_lost_response_is_retried_with_the_same_token() -> None:
    lost = (LostResponse(0, 0, 10.0),)
    reuse = execute(
        policy(refresh_token_usage="reuse"), one_device(Session(0.0, HOUR + 1), lost_responses=lost)
    )
    assert calls(reuse.steps)[1:] == [
        (HOUR, "laptop", REFRESH, True, None),
        (HOUR + 10, "laptop", REFRESH, True, None),
    ]
    assert reuse.steps[-1].token == reuse.steps[-2].token
    grace = execute(policy(reuse_interval="30s"), one_device(Session(0.0, HOUR + 1), lost_responses=lost))
    retried = grace.steps[-1]
    assert retried.ok and retried.grace and retried.replay and retried.token_idle == 10.0
    strict = execute(policy(), one_device(Session(0.0, HOUR + 1), lost_responses=lost))
    assert calls(strict.steps)[-2:] == [
        (HOUR + 10, "laptop", REFRESH, False, "consumed"),
        (HOUR + 10, "laptop", LOGIN, True, None),
    ]
    assert strict.forced_logins[0].forced


def test_racing_tabs_present_the_same_token() -> None:
    trace = execute(policy(), one_device(Session(0.0, HOUR + 5, (0.0, 0.5, 2.0))))
    refreshes = [s for s in trace.steps if s.kind == REFRESH]
    assert [(s.at, s.tab, s.ok, s.reason) for s in refreshes] == [
        (HOUR, 0, True, None),
        (HOUR + 0.5, 1, False, "consumed"),
        (HOUR + 2.0, 2, False, "consumed"),
    ]
    assert [s.forced for s in refreshes] == [False, True, False]  # one forced login per episode
    assert len([s for s in trace.steps if s.kind == LOGIN]) == 2


def test_a_fresh_login_abandons_a_chain_that_stays_valid() -> None:
    trace = execute(policy(), one_device(Session(0.0, 0.0), Session(DAY, 0.0, fresh_login=True)))
    logins = [s for s in trace.steps if s.kind == LOGIN]
    assert [(s.login_kind, s.valid_chains) for s in logins] == [("first_login", 1), (FRESH_LOGIN, 2)]
    assert trace.chains[1].ended_at == 15 * DAY  # the abandoned chain lives out its sliding window


def test_a_logout_ends_the_chain_and_the_next_session_logs_in_again() -> None:
    trace = execute(policy(), one_device(Session(0.0, HOUR / 2, logout=True), Session(DAY, 0.0)))
    assert [(s.at, s.kind, s.login_kind) for s in trace.steps if s.kind in (LOGIN, LOGOUT)] == [
        (0.0, LOGIN, "first_login"),
        (HOUR / 2, LOGOUT, None),
        (DAY, LOGIN, LOGIN_AFTER_LOGOUT),
    ]
    assert trace.chains[1].end_reason == "logout" and not trace.forced_logins


def test_a_password_change_revokes_every_chain_and_forces_the_next_refresh() -> None:
    timeline = Timeline(
        devices=(
            Device("laptop", (Session(0.0, 0.0), Session(DAY, 0.0))),
            Device("phone", (Session(0.0, 0.0),)),
        ),
        end=END,
        password_changes=(HOUR,),
    )
    trace = execute(policy(), timeline)
    change = next(s for s in trace.steps if s.kind == PASSWORD_CHANGE)
    assert change.ended == (1, 2)
    assert [(s.actor, s.reason) for s in trace.forced_logins] == [("laptop", "revoked")]


def test_an_immediate_attacker_rotates_first_and_the_victim_is_refused() -> None:
    timeline = one_device(Session(0.0, 0.0), Session(DAY, 0.0), thefts=(Theft(HOUR / 2, 0),), end=2 * DAY)
    trace = execute(policy(), timeline)
    theft = next(s for s in trace.steps if s.kind == THEFT)
    assert theft.ok and theft.access_until == HOUR
    attacker = [s for s in trace.steps if s.actor == "attacker 1" and s.kind == REFRESH]
    assert attacker[0].at == HOUR / 2 and attacker[0].ok and attacker[0].victim_refreshes == 0
    assert [s.at - attacker[0].at for s in attacker[1:4]] == [HOUR, 2 * HOUR, 3 * HOUR]
    assert all(s.ok for s in attacker)  # with on_reuse: reject the attacker keeps the chain
    assert [(s.at, s.reason) for s in trace.forced_logins] == [(DAY, "consumed")]
    assert attacker[-1].at < 2 * DAY  # the run stops at the timeline's end


def test_family_revocation_stops_the_attacker_at_the_victims_replay() -> None:
    timeline = one_device(Session(0.0, 0.0), Session(DAY, 0.0), thefts=(Theft(HOUR / 2, 0),), end=2 * DAY)
    trace = execute(policy(on_reuse="revoke_family"), timeline)
    attacker = [s for s in trace.steps if s.actor == "attacker 1" and s.kind == REFRESH]
    assert attacker[-1].ok is False and attacker[-1].reason == "family_revoked"
    assert attacker[-1].victim_refreshes == 1 and attacker[-2].at < DAY < attacker[-1].at


def test_a_when_idle_attacker_waits_for_the_end_of_the_session() -> None:
    timeline = Timeline(
        devices=(Device("laptop", (Session(0.0, 3 * HOUR),)),),
        end=DAY,
        thefts=(Theft(HOUR / 2, 0),),
        attacker="when_idle",
    )
    trace = execute(policy(), timeline)
    first = next(s for s in trace.steps if s.actor == "attacker 1" and s.kind == REFRESH)
    assert first.at == 3 * HOUR + MINUTE


def test_a_daily_attacker_uses_the_token_once_a_day() -> None:
    timeline = Timeline(
        devices=(Device("laptop", (Session(0.0, 0.0),)),),
        end=4 * DAY,
        thefts=(Theft(10.0, 0),),
        attacker="daily",
    )
    trace = execute(policy(refresh_token_usage="reuse", absolute_lifetime="30d"), timeline)
    assert [s.at for s in trace.steps if s.actor == "attacker 1" and s.kind == REFRESH] == [
        10.0 + k * DAY for k in range(4)
    ]


def test_a_theft_from_a_device_without_a_token_steals_nothing() -> None:
    timeline = one_device(Session(HOUR, 0.0), thefts=(Theft(0.0, 0),), end=DAY)
    trace = execute(policy(), timeline)
    theft = next(s for s in trace.steps if s.kind == THEFT)
    assert not theft.ok and not [s for s in trace.steps if s.actor == "attacker 1" and s.kind == REFRESH]


def test_same_instant_order_is_changes_thefts_devices_attackers() -> None:
    # all at one hour: the password change first, then the theft (copies the revoked token), then the
    # device's refresh (refused, forced login), then the attacker (refused too)
    timeline = one_device(Session(0.0, 2 * HOUR), thefts=(Theft(HOUR, 0),), password_changes=(HOUR,), end=DAY)
    trace = execute(policy(), timeline)
    at_hour = [(s.actor, s.kind, s.reason) for s in trace.steps if s.at == HOUR and s.kind != SESSION]
    assert at_hour[:3] == [
        ("server", PASSWORD_CHANGE, None),
        ("attacker 1", THEFT, None),
        ("laptop", REFRESH, "revoked"),
    ]
    assert at_hour[-1] == ("attacker 1", REFRESH, "revoked")


def test_every_step_carries_the_facts_of_its_request() -> None:
    trace = execute(policy(absolute_lifetime="30d"), one_device(Session(0.0, 0.0), Session(2 * DAY, 0.0)))
    refresh = next(s for s in trace.steps if s.kind == REFRESH)
    assert refresh.chain_login_at == 0.0 and refresh.token_idle == 2 * DAY and not refresh.replay
    assert trace.chains[1].rotations == [2 * DAY]
