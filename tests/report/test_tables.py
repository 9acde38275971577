"""The tables behind the figures, on small inputs whose answers are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis.summary import RunSummary
from sim.analysis.tradeoff import idle_window_days, pareto_mask
from sim.core.durations import DAY, HOUR, WEEK
from sim.report import plots, tables
from sim.report.numbers import interval, num, pct
from sim.report.text import run_headline


def chains(rows: list[tuple[str, int, int, float, float | None]], replication: int = 0) -> pd.DataFrame:
    """(persona, user, chain, authorized_day, ended_day or None) -> a chains table."""
    return pd.DataFrame(
        {
            "replication": replication,
            "persona": [r[0] for r in rows],
            "user": [r[1] for r in rows],
            "device": 0,
            "chain": [r[2] for r in rows],
            "authorized_at_s": [r[3] * DAY for r in rows],
            "ended_at_s": [math.nan if r[4] is None else r[4] * DAY for r in rows],
        }
    )


def test_kaplan_meier_by_hand_with_censoring() -> None:
    # lifetimes 1, 2, 2, 4 days ended; one chain authorized on day 6 still valid at the horizon (day 9):
    # censored at 3 days. KM: S(1) = 4/5, S(2) = 4/5 * (1 - 2/4) = 0.4, S(4) = 0.4 * (1 - 1/1) = 0
    table = chains([("a", 0, 0, 1, 2), ("a", 0, 1, 1, 3), ("a", 1, 0, 2, 4), ("a", 1, 1, 3, 7),
                    ("a", 2, 0, 6, None), ("a", 2, 1, 0.5, 5)])  # the last starts in the warm-up: left out
    km = tables.survival_table(table, warmup=1 * DAY, horizon=9 * DAY)
    curve = km[km["persona"] == "a"]
    assert curve["chains"].iloc[0] == 5 and curve["censored"].iloc[0] == 1
    steps = dict(zip(curve["days"].round(9), curve["survival"], strict=True))
    assert steps[0.0] == 1.0
    assert steps[1.0] == pytest.approx(0.8)
    assert steps[2.0] == pytest.approx(0.4)
    assert steps[4.0] == pytest.approx(0.0)
    assert tables.km_median(km, "a") == pytest.approx(2.0)
    assert (curve["ci_low"] <= curve["survival"] + 1e-12).all()
    assert (curve["survival"] <= curve["ci_high"] + 1e-12).all()


def test_censored_chains_keep_the_curve_up() -> None:
    # 3 chains ended after 1 day, 7 still valid at the horizon 10 days after their login
    rows = [("a", i, 0, 0, 1) for i in range(3)] + [("a", i, 0, 0, None) for i in range(3, 10)]
    km = tables.survival_table(chains(rows), warmup=0, horizon=10 * DAY)
    assert km["survival"].iloc[-1] == pytest.approx(0.7)  # censored chains are not counted as ended
    assert km["days"].iloc[-1] == pytest.approx(10.0)  # the flat tail reaches the censoring time
    assert math.isnan(tables.km_median(km, "a"))
    everything_censored = tables.survival_table(chains([("b", 0, 0, 0, None)]), warmup=0, horizon=5 * DAY)
    assert everything_censored["survival"].tolist() == [1.0, 1.0]


def test_long_curves_are_thinned_to_the_same_step_function() -> None:
    rng = np.random.default_rng(0)
    ends = rng.exponential(3.0, 5000)
    table = chains([("a", i, 0, 0.0, float(e)) for i, e in enumerate(ends)])
    full = tables.survival_table(table, 0, 100 * DAY, max_points=10**6)
    thin = tables.survival_table(table, 0, 100 * DAY, max_points=300)
    assert len(thin) == 300 < len(full)
    index = np.searchsorted(full["days"].to_numpy(), thin["days"].to_numpy(), side="right") - 1
    assert np.allclose(thin["survival"].to_numpy(), full["survival"].to_numpy()[index])


def test_active_per_user_counts_include_users_without_chains() -> None:
    # persona a: user 0 holds two chains all along, user 1 one chain that ends on day 3 at 00:00, user 2 none
    table = chains([("a", 0, 0, 0, None), ("a", 0, 1, 0, None), ("a", 1, 0, 0, 3)])
    counts = tables.active_per_user_counts(table, {"a": 3}, replications=1, warmup=DAY, horizon=5 * DAY)
    # noon samples on days 1..4: user 0 -> 2 (x4), user 1 -> 1 on days 1, 2 and 0 on days 3, 4, user 2 -> 0
    shares = dict(zip(counts["chains"], counts["user_days"], strict=True))
    assert shares == {0: 6, 1: 2, 2: 4}
    assert counts["share"].sum() == pytest.approx(1.0)


def test_weekly_load_means_requests_per_second_by_hour_of_week() -> None:
    hours = np.arange(3 * 168)
    frame = pd.DataFrame({"replication": 0, "persona": "a", "hour": hours, "t_s": hours * HOUR,
                          "active_chains": 0, "failures": 0,
                          "authorizations": np.where(hours % 168 == 9, 3600, 0),
                          "refreshes": np.where(hours < 168, 7200, 1800)})
    load = tables.weekly_load(frame, warmup=WEEK)  # the first week (heavy refreshes) is the warm-up
    assert len(load) == 168
    assert load.loc[9, "logins_per_s"] == pytest.approx(1.0)
    assert load.loc[10, "logins_per_s"] == 0.0
    assert load["refreshes_per_s"].to_numpy() == pytest.approx(0.5)
    assert load["total_per_s"].to_numpy() == pytest.approx(load["logins_per_s"] + 0.5)


def test_pareto_mask_and_exposure() -> None:
    exposure = np.array([30.0, 30.0, 60.0, 90.0, 90.0, math.nan])
    friction = np.array([1.0, 0.8, 0.8, 0.2, 0.2, 0.0])
    # (30, 0.8) dominates (30, 1.0) and (60, 0.8); the two (90, 0.2) tie and both stay; NaN never counts
    assert pareto_mask(exposure, friction).tolist() == [False, True, False, True, True, False]
    assert idle_window_days({"absolute_lifetime": "30d", "sliding_lifetime": "none"}, 365) == 30.0
    assert idle_window_days({"absolute_lifetime": "unlimited", "sliding_lifetime": "15d"}, 365) == 15.0
    assert idle_window_days({"absolute_lifetime": "30d", "sliding_lifetime": "90d"}, 365) == 30.0
    assert idle_window_days({"absolute_lifetime": "30d", "absolute_anchor": "token"}, 90) == 30.0
    assert idle_window_days({"absolute_lifetime": "400d"}, 365) == 365.0
    assert idle_window_days({"absolute_lifetime": "unlimited", "sliding_lifetime": "none"}, 365) == 365.0
    tolerant = {"absolute_lifetime": "unlimited", "sliding_lifetime": "1d", "idle_tolerance": "120s"}
    assert idle_window_days(tolerant, 365) == pytest.approx(1 + 120 / 86400)


def test_number_formats() -> None:
    assert pct(0.031) == "3.1%" and pct(0.2701) == "27.0%" and pct(0.0045) == "0.45%" and pct(1.0) == "100%"
    assert num(0.45432) == "0.454" and num(132.6) == "133" and num(5.0) == "5" and num(12345.6) == "12,346"
    assert num(0.0000004) == "0" and num(None) == "n/a"
    assert interval({"ci95": [0.028, 0.034]}, pct) == "(2.8–3.4%)"
    assert interval({"ci95": [-0.011, 0.074]}, pct) == "(-1.1 to 7.4%)"
    assert interval({"ci95": [None, None]}) == ""


def summary_with(share: float, ci: list[float], causes: dict[str, float]) -> RunSummary:
    blank = {"mean": 0.0, "ci95": [0.0, 0.0], "unit": ""}
    total = sum(causes.values())
    metrics = {name: dict(blank) for name in (
        "mid_session_reauth_per_user_month", "active_chains_per_user", "active_chains_per_user_max",
        "evictions_per_user_month", "chains_censored_share", "token_requests_per_second_peak",
        "refresh_requests_per_user_month")}
    metrics["chain_lifetime_days_median"] = {"mean": None, "ci95": [None, None], "unit": "days"}
    metrics["forced_reauth_per_user_month"] = {"mean": total, "ci95": [total, total], "unit": ""}
    metrics["users_with_forced_reauth_share_monthly"] = {"mean": share, "ci95": ci, "unit": ""}
    for cause, value in causes.items():
        metrics[f"forced_reauth_per_user_month.{cause}"] = {"mean": value, "ci95": [value, value], "unit": ""}
    return RunSummary.parse({
        "scenario": "s", "tool_version": "0", "seed": 0, "replications": 3, "users": 100,
        "horizon_days": 30.0, "warmup_days": 0.0, "metrics": metrics, "by_persona": {}, "per_replication": {},
        "resolved_scenario": {"policy": {"max_tokens_per_user": "unlimited"}, "population": []},
    })


def test_the_issue_example_sentence() -> None:
    summary = summary_with(0.031, [0.028, 0.034], {"sliding_expiry": 0.071, "revoked": 0.029})
    assert run_headline(summary)[0] == (
        "3.1% of users (2.8–3.4%) are forced to log in again in a month; 71.0% of these forced logins are "
        "because of sliding expiry and 29.0% because of revocation (password change)."
    )
    nobody = summary_with(0.0, [0.0, 0.0], {})
    assert run_headline(nobody)[0] == "Nobody is forced to log in again in the measured window."


def test_every_figure_function_returns_a_titled_labelled_figure() -> None:
    km = tables.survival_table(chains([("a", 0, 0, 0, 1), ("a", 1, 0, 0, None)]), 0, 5 * DAY)
    causes = pd.DataFrame({"persona": ["*"], "cause": ["sliding_expiry"], "label": ["sliding expiry"],
                           "mean": [0.2], "ci_low": [0.1], "ci_high": [0.3], "share": [1.0]})
    active = pd.DataFrame({"persona": "a", "day": [0.5, 1.5], "mean": [1.0, 2.0], "low": [1, 2],
                           "high": [1, 2]})
    counts = pd.DataFrame({"persona": "a", "chains": [0, 1], "share": [0.4, 0.6]})
    load = pd.DataFrame({"hour_of_week": range(168), "logins_per_s": 0.1, "refreshes_per_s": 1.0,
                         "total_per_s": 1.1})
    values = pd.DataFrame({"x": ["7d", "15d"], "mean": [1.0, 0.5], "ci_low": [0.8, 0.4],
                           "ci_high": [1.2, 0.6]})
    front = pd.DataFrame({"label": ["a", "b"], "friction": [1.0, 0.5], "friction_low": [0.8, 0.4],
                          "friction_high": [1.2, 0.6], "exposure_days": [30.0, 60.0],
                          "exposure_low": math.nan, "exposure_high": math.nan, "pareto": [True, True]})
    figures = [
        plots.survival_curves(km), plots.reauth_causes(causes), plots.active_chains_over_time(active, 1.0),
        plots.chains_per_user(counts, 2, "evict_oldest"), plots.weekly_load(load),
        plots.metric_over_values(values, "x", "friction (per user per month)", "Friction"),
        plots.metric_heatmap(values.assign(y="a"), "x", "y", "Friction", "per user per month"),
        plots.pareto_front(front),
    ]
    for figure in figures:
        ax = figure.axes[0]
        title = ax.get_title(loc="left") or ax.get_title()
        assert title and ax.get_xlabel() and ax.get_ylabel(), title
        if figure is not figures[1]:  # one persona's causes need no legend
            assert ax.get_legend() is not None or len(figure.axes) > 1, title  # a legend, or a colour bar
        assert plots.figure_bytes(figure, "png")[:4] == b"\x89PNG"


def test_the_active_chains_band_is_the_t_interval_over_replications() -> None:
    rng = np.random.default_rng(4)
    rows = [{"replication": r, "persona": "a", "hour": h, "active_chains": int(rng.integers(0, 30))}
            for r in range(4) for h in (12, 36)]
    frame = tables.active_over_time(pd.DataFrame(rows), {"a": 10})
    for hour, row in zip((12, 36), frame.itertuples(), strict=True):
        values = [r["active_chains"] / 10 for r in rows if r["hour"] == hour]
        low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
        assert (row.low, row.high) == (pytest.approx(low), pytest.approx(high))
    one = tables.active_over_time(pd.DataFrame([r for r in rows if r["replication"] == 0]), {"a": 10})
    assert one["low"].isna().all() and one["high"].isna().all()  # one replication: no interval


def test_the_weekly_load_band_is_the_t_interval_of_each_replication_s_profile() -> None:
    rows = []
    for replication in range(3):
        for hour in range(2 * 168):  # two weeks; the hour of week 5 differs between replications
            refreshes = 3600 * (1 + replication) if hour % 168 == 5 else 3600
            rows.append({"replication": replication, "persona": "a", "hour": hour, "authorizations": 0,
                         "refreshes": refreshes})
    load = tables.weekly_load(pd.DataFrame(rows), warmup=0.0).set_index("hour_of_week")
    low, high = stats.t.interval(0.95, 2, loc=2.0, scale=stats.sem([1.0, 2.0, 3.0]))
    assert load.loc[5, "total_per_s"] == pytest.approx(2.0)
    assert (load.loc[5, "total_low"], load.loc[5, "total_high"]) == (pytest.approx(low), pytest.approx(high))
    assert load.loc[6, "total_low"] == load.loc[6, "total_high"] == pytest.approx(1.0)  # no spread


def test_causes_are_sorted_from_the_most_frequent() -> None:
    metrics = pd.DataFrame([
        {"persona": "*", "metric": "forced_reauth_per_user_month", "mean": 1.0, "ci_low": 0.9, "ci_high": 1.1,
         "unit": ""},
        *({"persona": "*", "metric": f"forced_reauth_per_user_month.{cause}", "mean": value, "ci_low": value,
           "ci_high": value, "unit": ""}
          for cause, value in (("absolute_expiry", 0.1), ("sliding_expiry", 0.6), ("evicted", 0.3))),
    ])
    assert tables.cause_frame(metrics)["cause"].tolist() == ["sliding_expiry", "evicted", "absolute_expiry"]
