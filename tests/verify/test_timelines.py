"""Behaviour classes and their timelines: every generated timeline is in its class, and bounded."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.scenario.invariants import Behaviour
from sim.verify.execute import REFRESH, execute
from sim.verify.strategies import behaviours, policies, timelines
from sim.verify.timelines import Device, Session, Theft, Timeline, admits, timeline_strategy

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(behaviours(), st.data())
def test_every_generated_timeline_is_admitted_by_its_class(who: Behaviour, data: st.DataObject) -> None:
    timeline = data.draw(timeline_strategy(who))
    assert admits(who, timeline) == []
    assert Timeline.from_dict(json.loads(json.dumps(timeline.to_dict()))) == timeline
    # bounded in count and time
    assert len(timeline.devices) <= who.devices.high
    assert all(len(d.sessions) <= who.sessions for d in timeline.devices)
    assert all(s.end <= who.over for d in timeline.devices for s in d.sessions)


@SETTINGS
@given(behaviours(), policies(), st.data())
def test_executing_a_timeline_stays_within_its_bounds(who: Behaviour, policy, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
    timeline = data.draw(timelines(who, policy=policy))
    trace = execute(policy, timeline)
    assert all(step.at <= timeline.end for step in trace.steps)
    shortest = min(
        policy.access_token_lifetime.value if policy.fixed_access_token_lifetime else 60.0, 86400.0
    )
    requests = sum(1 for s in trace.steps if s.kind == REFRESH)
    assert requests <= who.max_requests(shortest) + 1


def test_admits_names_what_is_outside_the_class() -> None:
    who = Behaviour.model_validate({"devices": "1..2", "largest_gap": "1d", "sessions": 2, "over": "10d"})
    fine = Timeline((Device("device 1", (Session(0.0, 60.0), Session(86460.0, 0.0))),), end=864000.0)
    assert admits(who, fine) == []
    too_long_gap = Timeline(
        (Device("device 1", (Session(0.0, 0.0), Session(2 * 86400.0, 0.0))),), end=864000.0
    )
    assert any("a gap of" in problem for problem in admits(who, too_long_gap))
    three = Timeline(tuple(Device(f"device {i}", (Session(0.0, 0.0),)) for i in (1, 2, 3)), end=864000.0)
    assert any("3 devices" in problem for problem in admits(who, three))
    thief = Timeline(fine.devices, end=864000.0, thefts=(Theft(10.0, 0),))
    assert "too many thefts" in admits(who, thief)


def test_device_names_come_from_the_class() -> None:
    who = Behaviour.model_validate({"devices": ["laptop", "phone"]})
    assert (who.devices.low, who.devices.high) == (2, 2)
    assert [who.devices.name(i) for i in range(2)] == ["laptop", "phone"]
    assert Behaviour.model_validate({"devices": "1..3"}).devices.name(2) == "device 3"
