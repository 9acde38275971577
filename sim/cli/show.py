"""What the commands print: rich tables of a run, a sweep, a comparison and a check, from typed results.

Every number is written in the one format of `sim.report.numbers` (shares as percentages, three
significant digits otherwise, `(low–high)` intervals, `= in every replication` for an interval of no
width). When standard output is not a terminal (a CI log), tables are drawn 160 columns wide so that
they do not wrap.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sim.analysis.summary import ComparisonSummary, Estimate, RunSummary, SweepSummary
from sim.analysis.tradeoff import FRICTION, exposure_label
from sim.core.metric_names import HEADLINE
from sim.experiments.check import CheckResult
from sim.report.numbers import (
    difference_with_ci,
    formatter,
    interval,
    metric_text,
    zero_width,
)
from sim.scenario.paths import short_names, value_text

if TYPE_CHECKING:
    from sim.fit.workflow import FitOutcome

#: The metrics of a sweep's table.
SWEEP_COLUMNS = (
    (FRICTION, "forced re-auths / user / month"),
    ("users_with_forced_reauth_share_monthly", "users forced / month"),
    ("evictions_per_user_month", "evictions / user / month"),
    ("active_chains_per_user", "valid chains / user"),
)
#: The metrics of a comparison's table.
COMPARE_COLUMNS = (
    (FRICTION, "forced re-auths / user / month"),
    ("users_with_forced_reauth_share_monthly", "users forced / month"),
    ("refresh_requests_per_user_month", "refreshes / user / month"),
    ("active_chains_per_user", "valid chains / user"),
    ("token_requests_per_second_peak", "peak token req / s"),
)
ZERO_WIDTH_NOTE = ("(=): every replication gave the same value; the interval has no width, which is not "
                   "certainty")


def output_console(quiet: bool = False) -> Console:
    """The console for results on stdout: wide lines when not a terminal (CI logs), so tables do not wrap."""
    console = Console(quiet=quiet)
    return console if console.is_terminal else Console(quiet=quiet, width=160)


def _mean(name: str, estimate: Estimate | None) -> str:
    return "n/a" if estimate is None else formatter(name)(estimate.mean)


def _interval(name: str, estimate: Estimate | None) -> str:
    if estimate is None:
        return ""
    return interval(estimate, formatter(name), compact=True).strip("()")


def run_summary(summary: RunSummary, console: Console, seconds: float, out: Path) -> None:
    """The short human summary: headline metrics with their intervals, overall and per persona."""
    personas = list(summary.by_persona)
    table = Table(
        title=escape(
            f"{summary.scenario}: {summary.users:,} users, {summary.horizon_days:g} days "
            f"(warm-up {summary.warmup_days:g}), {summary.replications} replication(s), seed {summary.seed}"
        ),
        title_justify="left",
    )
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right", overflow="fold")
    several = len(personas) > 1
    for persona in personas if several else ():
        table.add_column(escape(persona), justify="right")
    flagged = False
    for name, label in HEADLINE:
        estimate = summary.metrics.get(name)
        cells = [label, _mean(name, estimate), _interval(name, estimate)]
        flagged |= zero_width(estimate)
        if several:
            cells += [_mean(name, summary.by_persona[p].get(name)) for p in personas]
        table.add_row(*cells)
    console.print(table)
    total = summary.metrics[FRICTION].mean or 0.0
    causes = {
        name.split(".", 1)[1]: estimate.mean
        for name, estimate in summary.metrics.items()
        if name.startswith(f"{FRICTION}.") and estimate.mean
    }
    if causes and total:
        ranked = sorted(causes.items(), key=lambda kv: -kv[1])
        console.print("forced re-authentications by cause: "
                      + ", ".join(f"{cause} {value / total:.0%}" for cause, value in ranked))
    for line in exposure_lines(summary):
        console.print(line, highlight=False)
    if flagged:
        console.print(ZERO_WIDTH_NOTE, style="dim")
    console.print(escape(f"wrote {out}/ in {seconds:.1f} s"), style="dim")
    sys.stdout.flush()


def exposure_lines(summary: RunSummary) -> list[str]:
    """Thefts, revocation lag and storage in a few lines (each only when the run has the figure)."""
    m = summary.metrics

    def has(name: str) -> bool:
        return name in m and m[name].mean is not None

    def text(name: str) -> str:
        return metric_text(name, m[name]) if has(name) else "n/a"

    lines = []
    if has("thefts_active_at_horizon_share"):
        lines.append(
            f"thefts: attacker dwell mean {text('attacker_dwell_days_mean')} days "
            f"(p95 {text('attacker_dwell_days_p95')}), detected {text('theft_detected_share')}, "
            f"still active at the horizon {text('thefts_active_at_horizon_share')}"
        )
    if has("revocation_lag_minutes_mean"):
        lines.append(f"access after a revocation: {text('revocation_lag_minutes_mean')} minutes on average")
    if has("stored_rows_mean") and has("stored_rows_peak"):
        lines.append(f"token store: {text('stored_rows_mean')} rows on average, "
                     f"{text('stored_rows_peak')} at peak")
    return lines


def cell_key(summary: SweepSummary) -> tuple[str, str, dict[str, str]]:
    """(column heading, key line, each cell's short label): for a grid the swept values alone (`7d, 5`),
    keyed once above the table by the paths they are the values of; for cases the case names. The table
    stays readable at 120 columns however long the paths are."""
    paths = list(summary.swept)
    names = short_names(paths)
    grid = "grid" in (summary.resolved_scenario.get("sweep") or {})
    if grid and paths:
        values = {c.cell: ", ".join(value_text(c.overrides.get(p, "")) for p in paths) for c in summary.cells}
        return "values", "values: " + ", ".join(names[p] for p in paths), values
    return "case", "", {c.cell: c.label for c in summary.cells}


def sweep_table(summary: SweepSummary, console: Console, seconds: float, out: Path, reused: int = 0) -> None:
    """A table of the cells: their swept values, headline metrics with 95% intervals, and the paired
    difference to the baseline."""
    table = Table(
        title=escape(
            f"{summary.scenario}: {len(summary.cells)} cells x {summary.replications} replication(s), "
            f"seed {summary.seed}; mean (95% interval)"
        ),
        title_justify="left",
    )
    table.add_column("cell", no_wrap=True)
    heading, key, values = cell_key(summary)
    table.add_column(escape(heading), no_wrap=True)
    for _, label in SWEEP_COLUMNS:
        table.add_column(label, justify="right", overflow="fold")
    table.add_column("Δ forced re-auths vs baseline (paired)", justify="right", overflow="fold")
    flagged = False
    for cell in summary.cells:
        number = cell.cell.split("-", 1)[0]
        texts = [metric_text(m, cell.metrics[m], compact=True, separator="\n") if m in cell.metrics else ""
                 for m, _ in SWEEP_COLUMNS]
        flagged |= any(zero_width(cell.metrics.get(m)) for m, _ in SWEEP_COLUMNS)
        diff = (cell.difference_from_baseline or {}).get(FRICTION)
        paired = "baseline" if diff is None else difference_with_ci(diff.mean, diff.low, diff.high,
                                                                     compact=True, separator="\n")
        table.add_row(number, escape(values[cell.cell]), *texts, paired)
    if key:
        table.caption = escape(key)
        table.caption_justify = "left"
    console.print(table)
    for skipped in summary.skipped:
        console.print(escape(f"skipped {skipped.cell}: {skipped.error}"), style="yellow", highlight=False)
    if flagged:
        console.print(ZERO_WIDTH_NOTE, style="dim")
    note = f" ({reused} cell(s) reused)" if reused else ""
    console.print(escape(f"wrote {out}/ in {seconds:.1f} s{note}"), style="dim")


def comparison_table(summary: ComparisonSummary, console: Console, seconds: float, out: Path | None) -> None:
    """One row per preset: headline metrics with 95% intervals and the paired difference to the baseline."""
    table = Table(
        title=escape(f"{summary.scenario}: {summary.users:,} users, {summary.horizon_days:g} days, "
                     f"{summary.replications} replication(s), seed {summary.seed}; mean (95% interval)"),
        title_justify="left",
    )
    table.add_column("preset", no_wrap=True)
    for metric, heading in COMPARE_COLUMNS:
        table.add_column(heading, justify="right")
        if metric == FRICTION:
            table.add_column(f"Δ vs {summary.baseline} (paired)", justify="right")
    for preset in summary.presets:
        cells = [preset]
        for metric, _ in COMPARE_COLUMNS:
            row = summary.row(preset, metric)
            cells.append("n/a" if row is None else metric_text(metric, {"mean": row.mean,
                                                                         "ci95": (row.ci_low, row.ci_high)}))
            if metric == FRICTION:
                diff = summary.difference(preset, FRICTION)
                paired = ("n/a" if diff is None
                          else difference_with_ci(diff.mean_diff, diff.ci_low, diff.ci_high))
                cells.append("baseline" if preset == summary.baseline else paired)
        table.add_row(*cells)
    console.print(table)
    if summary.pareto_front:
        sources = [row.exposure_source for row in summary.tradeoff]
        console.print(f"Pareto front of friction against {exposure_label(sources)}: "
                      f"{', '.join(summary.pareto_front)}")
    where = f"wrote {out}/ in" if out is not None else "took"
    console.print(escape(f"{where} {seconds:.1f} s"), style="dim")
    sys.stdout.flush()


def check_report(result: CheckResult, console: Console) -> list[str]:
    """The verdicts as a table (cells by requirements for a sweep); returns the failure lines."""
    failures = []
    sweep = result.results and result.results[0].cell is not None
    title = f"{result.scenario}: requirements{' in every cell' if sweep else ''} (95% confidence)"
    table = Table(title=escape(title), title_justify="left")
    if sweep:
        table.add_column("cell", no_wrap=True)
        for requirement in result.requirements:
            table.add_column(escape(requirement.text), justify="right")
        for cell in result.results:
            marks = [("ok " if v.holds else "FAIL ") + _verdict_text(v) for v in cell.verdicts]
            table.add_row(escape(cell.label or cell.cell or ""), *(escape(m) for m in marks))
    else:
        for column in ("requirement", "estimate (95% CI)", "result"):
            table.add_column(column)
        for v in result.results[0].verdicts:
            fmt = formatter(v.requirement.metric)
            table.add_row(escape(v.requirement.text), escape(_verdict_text(v)),
                          escape("holds" if v.holds else f"FAILS: {v.reason(fmt)}"))
    console.print(table)
    for cell, verdict in result.failures:
        where = f"cell {cell.cell} ({cell.label}): " if cell.cell else ""
        fmt = formatter(verdict.requirement.metric)
        failures.append(f"FAILED {where}{verdict.requirement.text}: estimate {_verdict_text(verdict)}; "
                        f"{verdict.reason(fmt)}")
    for cell_id, error in result.skipped:
        console.print(escape(f"not checked: cell {cell_id} was skipped: {error}"), highlight=False)
    return failures


def _verdict_text(verdict: object) -> str:
    from sim.analysis.verdicts import Verdict

    assert isinstance(verdict, Verdict)
    if verdict.mean is None:
        return "n/a"
    estimate = {"mean": verdict.mean, "ci95": (verdict.low, verdict.high)}
    text = metric_text(verdict.requirement.metric, estimate)
    return text if verdict.low is not None else f"{text} (no interval)"


def lines(texts: Sequence[str]) -> None:
    """Print plain lines to stdout."""
    for text in texts:
        print(text)


def fit_summary(outcome: FitOutcome, console: Console) -> None:
    """The personas `tokensim fit` found, each parameter with its interval, and where the files are."""
    from sim.report.numbers import num

    fit = outcome.fit
    table = Table(title=escape(f"{fit.users:,} users, {fit.sessions:,} sessions, {fit.span_days:g} days: "
                               f"{len(fit.personas)} persona(s) ({fit.clustering.method})"))
    for column in ("persona", "users", "devices / user", "schedule", "sessions / device / active day",
                   "median session", "absences / year"):
        table.add_column(column, justify="left" if column in ("persona", "schedule") else "right")
    for p in fit.personas:
        s, d, a = p.schedule, p.duration, p.absences
        median = f"{num(d.median / 60)} min ({num(d.median_ci[0] / 60)}–{num(d.median_ci[1] / 60)})"
        table.add_row(
            escape(p.name), f"{len(p.users):,}",
            f"{num(p.devices.mean)} ({num(p.devices.mean_ci[0])}–{num(p.devices.mean_ci[1])})",
            s.chosen.name,
            f"{num(s.sessions_per_day)} ({num(s.sessions_per_day_ci[0])}–{num(s.sessions_per_day_ci[1])})",
            median + (" empirical" if d.kind == "empirical" else ""),
            f"{num(a.per_year)} ({num(a.per_year_ci[0])}–{num(a.per_year_ci[1])})",
        )
    console.print(table)
    rejected = [p.name for p in fit.personas if p.duration.rejected]
    if rejected:
        console.print(f"no parametric session duration fits {', '.join(rejected)}: the scenario uses their "
                      "quantiles (see the report)")
    if outcome.comparison is not None:
        from sim.fit.compare import within_share

        covered, total = within_share(outcome.comparison.table, "fitted")
        replayed, replay_total = within_share(outcome.comparison.table, "replayed")
        console.print(f"token events under the policy: the fitted scenario covers {covered} of {total} of "
                      f"the trace's statistics, the replayed trace {replayed} of {replay_total}")
    console.print(f"wrote {outcome.scenario_file} and {outcome.report_dir}/report.html "
                  f"in {outcome.seconds:.1f} s", style="dim")
