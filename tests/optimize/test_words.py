"""How an optimisation's answer, evidence and exploration read in the cases the example met: a single
feasible candidate, a requirement without a value in some replications, a requirement that fails almost
everywhere, tables of many named columns, and a sliding lifetime that cannot act (checked once against a
simulation)."""

from __future__ import annotations

import math

from sim import api
from sim.analysis.optimization import ConstraintCheck, ExploreBox, ExploreRequirement
from sim.experiments.explore import _answer
from sim.experiments.selection import feasibility
from sim.report.optimize_words import check_cell, check_words, moot_sliding_words
from sim.report.render import markdown_to_html
from sim.scenario.loader import scenario_from_dict
from sim.scenario.optimize import Variable

DWELL = "attacker_dwell_days_p95 <= 14"


def test_a_requirement_without_a_value_fails_and_says_why():
    decided = feasibility([10.0, math.nan, 12.0, 11.0], 14.0, "<=")
    assert (decided.status, decided.missing, decided.replications) == ("fails", 1, 4)
    assert decided.mean == 11.0 and math.isnan(decided.bound)
    check = ConstraintCheck(requirement=DWELL, status=decided.status, mean=decided.mean, bound=None,
                            missing=decided.missing, replications=decided.replications)
    words = check_words(check)
    assert words.startswith("no value in 1 of 4 replications (the Kaplan-Meier 95th percentile")
    assert words.endswith("; the other replications average 11")
    assert check_cell(check, point=True) == "**fails**: no value in 1 of 4 replications, point 1"
    held = ConstraintCheck(requirement=DWELL, status="holds", mean=10.3, bound=12.6, replications=3)
    assert check_words(held) == "estimate 10.3, one-sided 95% bound 12.6"
    assert check_cell(held, point=False) == "ok: 10.3 (bound 12.6)"


def test_an_explored_requirement_failing_almost_everywhere_blames_the_policy():
    box = ExploreBox(limits={"population.office.activity.sessions_per_day": (None, 2.6)}, coverage=0.86,
                     density=1.0, mass=0.75, points=12)
    almost = ExploreRequirement(requirement=DWELL, failures=14, points=16, undecided=14, box=box,
                                rules=["sessions_per_day <= 2.6"])
    some = almost.model_copy(update={"failures": 5, "undecided": 0})
    ranges = {"population.office.activity.sessions_per_day": Variable(low=1.0, high=3.0)}
    first, second = _answer([almost, some], ranges)
    assert "fails at 14 of 16 points (0 shown to fail, 14 undecided" in first
    assert "almost everywhere" in first and "only trims the 2 points where it holds" in first
    assert "fails mainly when **sessions_per_day <= 2.6**" in second and "undecided" not in second


def test_table_headers_wrap_after_underscores_but_cells_do_not():
    page = markdown_to_html("| `max_tokens_per_user` | plain |\n| --- | --- |\n| a_b | 1 |\n", "t", {})
    assert "<th><code>max_<wbr>tokens_<wbr>per_<wbr>user</code></th>" in page
    assert "<td>a_b</td>" in page


def test_a_sliding_lifetime_past_the_absolute_one_is_said_to_be_moot():
    visma = {"absolute_anchor": "chain", "idle_tolerance": "0s", "absolute_lifetime": "unlimited"}
    chosen = {"policy.absolute_lifetime": "12d", "policy.sliding_lifetime": "16d"}
    assert "every sliding lifetime from 12d up" in moot_sliding_words(chosen, visma)
    shorter = {**chosen, "policy.sliding_lifetime": "11d"}
    assert moot_sliding_words(shorter, visma) == ""
    assert moot_sliding_words({"policy.sliding_lifetime": "16d"}, visma) == ""  # no absolute limit at all
    tokens = {**visma, "absolute_anchor": "token"}  # each rotated token's own limit: sliding still acts
    assert moot_sliding_words(chosen, tokens) == ""


def test_what_the_moot_note_claims_holds_in_the_simulation():
    """Sliding 16d and no sliding limit at all give the same results under a 12-day absolute lifetime."""
    scenario = scenario_from_dict({
        "name": "moot-sliding", "description": "d", "seed": 3, "horizon": "60d", "replications": 2,
        "policy": {"preset": "visma_connect", "absolute_lifetime": "12d", "sliding_lifetime": "16d"},
        "population": [{"name": "p", "users": 30, "devices": 2, "activity": {
            "sessions_per_day": 0.4, "session_duration": {"exponential": {"mean": "1h"}}}}],
    })
    sixteen = api.run(scenario, workers=1)
    unlimited = api.run(scenario, workers=1, policy__sliding_lifetime="unlimited")
    assert sixteen.summary.metrics == unlimited.summary.metrics
    assert api.metric(sixteen, "forced_reauth_per_user_month").mean > 0
