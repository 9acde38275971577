"""`tokensim compare SCENARIO --presets a,b,c --out DIR`: one population under several vendors' defaults.

The scenario's population runs once under each preset's defaults (`policy: {preset: NAME}`; the
scenario's own policy is ignored) with the scenario's seed and replications, so replication r of every
preset simulates the same users with the same random numbers (common random numbers). The first preset
is the baseline: every metric's difference against it is paired by replication, which removes the users'
own variation; the unpaired (Welch) interval of the same difference is written beside it for contrast.

Files written into DIR (each atomically):

- `comparison.parquet` (or `.csv`): one row per preset, persona (`*` = everyone) and headline metric:
  `preset, persona, metric, mean, ci_low, ci_high, unit`;
- `differences.parquet`: the same rows minus the baseline, paired by replication: `preset, baseline,
  persona, metric, mean_diff, ci_low, ci_high, unpaired_ci_low, unpaired_ci_high, unit, diff_rep0, ...`
  (the baseline's own rows are zero);
- `replications.parquet`: every metric per preset, replication and persona (the values behind it all);
- `comparison.json`: the tables above as records, each preset's resolved policy and the scenario;
- `comparison.png` / `comparison.svg`: forced re-authentications per user-month and the share of users
  forced in a month, per preset, with 95% intervals;
- `tradeoff.png` / `tradeoff.svg`: friction (forced re-authentications per user-month) against exposure,
  one point per preset with 95% intervals and the Pareto front. Exposure is the mean attacker dwell time
  when the scenario models thefts, else the preset's worst-case refresh-token usability window: the
  measure the sweep report uses (`sim.report.tables.exposure_point`);
- `comparison.md`: a report section with the table and both charts.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.analysis.differences import differences, summary_table
from sim.analysis.stats import json_number
from sim.analysis.summary import run_header
from sim.cli.commands.options import (
    add_output_options,
    add_scenario_overrides,
    check_out_dir,
    load_with_overrides,
)
from sim.cli.commands.run import HEADLINE
from sim.cli.commands.sweep import output_console
from sim.core.metric_names import ALL, METRIC_UNITS
from sim.core.output import write_table, write_text_atomic
from sim.core.validation import ConfigError, suggest
from sim.policy.model import Policy
from sim.policy.presets import PRESETS
from sim.report.plots import STYLE, pareto_front, save_figure
from sim.report.tables import DWELL, exposure_label, exposure_point, exposure_words, pareto_mask
from sim.run.executors import local_executor
from sim.run.runner import RunResult, run_scenario
from sim.run.shards import default_workers
from sim.scenario import Scenario

HELP = (
    "run a scenario's population under several vendor presets' defaults (the scenario's own policy is "
    "ignored) on common random numbers and compare them"
)
COMPARE_FORMAT = 1
#: The headline metrics compared (those of `tokensim run`), with their labels.
METRICS: tuple[tuple[str, str], ...] = tuple((name, label.strip()) for name, label in HEADLINE)
FORCED = "forced_reauth_per_user_month"
USERS_FORCED = "users_with_forced_reauth_share_monthly"
#: Columns of the terminal table: (metric, heading).
TERMINAL = (
    (FORCED, "forced re-auths / user / month"),
    (USERS_FORCED, "users forced / month"),
    ("refresh_requests_per_user_month", "refreshes / user / month"),
    ("active_chains_per_user", "valid chains / user"),
    ("token_requests_per_second_peak", "peak token req / s"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tokensim compare`."""
    parser.add_argument("scenario", type=Path, help="scenario YAML file (its population, horizon and seed)")
    parser.add_argument(
        "--presets",
        required=True,
        metavar="A,B,...",
        help=f"comma-separated presets; the first is the baseline (available: {', '.join(PRESETS)})",
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    add_scenario_overrides(parser)
    add_output_options(parser)


# --- input ----------------------------------------------------------------------------------------


def parse_presets(text: str) -> list[str]:
    """`"auth0, okta"` -> `["auth0", "okta"]`; UsageError for none, an unknown name or a repeated one."""
    from sim.cli.main import UsageError

    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError(f"--presets needs at least one preset (available: {', '.join(PRESETS)})")
    for name in names:
        if name not in PRESETS:
            hint = suggest(name, list(PRESETS))
            raise UsageError(
                f"--presets: unknown preset {name!r}"
                + (f"; did you mean {hint!r}?" if hint else f"; available: {', '.join(PRESETS)}")
            )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"--presets lists {', '.join(repeated)} more than once")
    return names


def preset_policies(names: Sequence[str]) -> dict[str, Policy]:
    """Each preset's default policy; UsageError naming the preset when one cannot be built."""
    from sim.cli.main import UsageError

    policies = {}
    for name in names:
        try:
            policies[name] = Policy.from_dict({"preset": name})
        except ConfigError as exc:
            raise UsageError(f"preset {name!r} cannot be built: {exc.render()}") from None
    return policies


# --- running --------------------------------------------------------------------------------------


def run_presets(
    scenario: Scenario,
    policies: dict[str, Policy],
    workers: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, RunResult]:
    """Run the scenario's population under each policy (one process pool for all); results by preset.

    A comparison needs only the metrics: each result is closed at once, so its row tables (`chains`,
    `reauths`, `thefts`) are not kept on disk and cannot be read.
    """
    results = {}
    with local_executor(workers) as executor:
        for name, policy in policies.items():
            update = None
            if progress is not None:
                def update(done: int, total: int, name: str = name) -> None:
                    progress(name, done, total)

            variant = scenario.model_copy(update={"policy": policy})
            results[name] = run_scenario(variant, workers=workers, progress=update, executor=executor)
            results[name].close()
    return results


@dataclass
class Comparison:
    """The tables of a comparison (see the module docstring for their columns)."""

    presets: list[str]
    replications: pd.DataFrame
    comparison: pd.DataFrame
    differences: pd.DataFrame
    #: One row per preset: friction against exposure (see `tradeoff_frame`).
    tradeoff: pd.DataFrame = field(default_factory=pd.DataFrame)


def compare_results(results: dict[str, RunResult]) -> Comparison:
    """Means, intervals and paired differences against the first preset, for the headline metrics."""
    presets = list(results)
    baseline = presets[0]
    names = [name for name, _ in METRICS]
    frames = [
        result.replication_metrics.assign(preset=name) for name, result in results.items()
    ]
    replications = pd.concat(frames, ignore_index=True)
    replications = replications[["preset", *[c for c in replications.columns if c != "preset"]]]
    cells = replications[["preset", "replication", "persona", *names]].rename(columns={"preset": "cell"})
    comparison = summary_table(cells).rename(columns={"cell": "preset"})
    diffs = differences(cells, baseline).rename(columns={"cell": "preset"})
    diffs["unit"] = diffs["metric"].map(METRIC_UNITS)
    per_rep = _per_replication_differences(cells, baseline)
    base_rows = comparison[comparison["preset"] == baseline][["preset", "persona", "metric", "unit"]]
    base_rows = base_rows.assign(
        baseline=baseline, mean_diff=0.0, ci_low=0.0, ci_high=0.0, unpaired_ci_low=0.0, unpaired_ci_high=0.0
    )
    diffs = pd.concat([base_rows[diffs.columns], diffs], ignore_index=True)
    diffs = diffs.merge(per_rep, on=["preset", "persona", "metric"], how="left")
    policies = {name: result.scenario.policy.to_config() for name, result in results.items()}
    horizon_days = results[baseline].scenario.horizon / 86400
    tradeoff = tradeoff_frame(replications, policies, horizon_days)
    return Comparison(presets, replications, comparison, diffs, tradeoff)


TRADEOFF_COLUMNS = ("preset", "friction", "friction_low", "friction_high", "exposure_days", "exposure_low",
                    "exposure_high", "exposure_source", "pareto")


def tradeoff_frame(
    replications: pd.DataFrame, policies: dict[str, dict[str, Any]], horizon_days: float
) -> pd.DataFrame:
    """Friction against exposure, one row per preset (everyone), in the order of `policies`.

    Friction: forced re-authentications per user-month. Exposure: `exposure_point` of the preset's
    metrics and resolved policy (the mean attacker dwell time when thefts are modelled, else the
    worst-case refresh-token usability window over `horizon_days`). Means and 95% intervals over
    replications. Columns: TRADEOFF_COLUMNS; `pareto` marks the presets no other preset beats on both.
    """
    everyone = replications[replications["persona"] == ALL]
    columns = [name for name in (FORCED, DWELL) if name in everyone.columns]
    cells = everyone[["preset", "replication", "persona", *columns]].rename(columns={"preset": "cell"})
    table = summary_table(cells)
    rows = []
    for preset, policy in policies.items():
        blocks = {
            row.metric: {"mean": json_number(row.mean),
                         "ci95": [json_number(row.ci_low), json_number(row.ci_high)]}
            for row in table[table["cell"] == preset].itertuples()
        }
        friction = blocks.get(FORCED, {"mean": None, "ci95": [None, None]})
        rows.append({
            "preset": preset,
            "friction": _float(friction["mean"]),
            "friction_low": _float(friction["ci95"][0]),
            "friction_high": _float(friction["ci95"][1]),
            **exposure_point(blocks, policy, horizon_days),
        })
    frame = pd.DataFrame(rows, columns=list(TRADEOFF_COLUMNS[:-1]))
    frame["pareto"] = pareto_mask(frame["exposure_days"].to_numpy(), frame["friction"].to_numpy())
    return frame


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def front_presets(tradeoff: pd.DataFrame) -> list[str]:
    """The Pareto-optimal presets, from the least exposure to the most."""
    front = tradeoff[tradeoff["pareto"]].sort_values(["exposure_days", "friction"], kind="stable")
    return front["preset"].tolist()


def _per_replication_differences(cells: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """One column `diff_rep<r>` per replication: metric(preset, r) - metric(baseline, r)."""
    long = cells.melt(
        id_vars=["cell", "replication", "persona"], var_name="metric", value_name="value"
    )
    base = long[long["cell"] == baseline].drop(columns="cell")
    merged = long.merge(base, on=["replication", "persona", "metric"], suffixes=("", "_base"))
    merged["diff"] = merged["value"].astype(float) - merged["value_base"].astype(float)
    wide = merged.pivot_table(
        index=["cell", "persona", "metric"], columns="replication", values="diff", dropna=False, sort=False
    )
    wide.columns = [f"diff_rep{int(r)}" for r in wide.columns]
    return wide.reset_index().rename(columns={"cell": "preset"})


# --- writing --------------------------------------------------------------------------------------


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts (NaN -> null)."""
    rows = []
    for row in frame.to_dict(orient="records"):
        rows.append({k: json_number(v) if isinstance(v, float) else v for k, v in row.items()})
    return rows


def comparison_json(scenario: Scenario, policies: dict[str, Policy], result: Comparison) -> dict[str, Any]:
    """The content of comparison.json (no timestamps: the same inputs give the same file)."""
    config = scenario.to_config()
    config.pop("policy", None)
    return {
        "format": COMPARE_FORMAT,
        "kind": "compare",
        **run_header(scenario),
        "presets": result.presets,
        "baseline": result.presets[0],
        "metrics": {name: {"label": label, "unit": METRIC_UNITS[name]} for name, label in METRICS},
        "comparison": _records(result.comparison),
        "differences": _records(result.differences),
        "tradeoff": _records(result.tradeoff),
        "pareto_front": front_presets(result.tradeoff),
        "policies": {name: policy.to_config() for name, policy in policies.items()},
        "scenario_without_policy": config,
    }


def write_comparison(
    out: Path, scenario: Scenario, policies: dict[str, Policy], result: Comparison, fmt: str
) -> dict[str, Any]:
    """Write every file of a comparison into `out` (atomically); return comparison.json's content."""
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (
        ("comparison", result.comparison),
        ("differences", result.differences),
        ("replications", result.replications),
    ):
        write_table(frame, out / f"{name}.{fmt}", fmt)
    content = comparison_json(scenario, policies, result)
    write_text_atomic(out / "comparison.json", json.dumps(content, indent=2, allow_nan=False) + "\n")
    figure = comparison_figure(result.comparison, result.presets, _title(scenario))
    save_figure(figure, out, "comparison")
    save_figure(tradeoff_figure(result.tradeoff, scenario.name), out, "tradeoff")
    write_text_atomic(out / "comparison.md", comparison_markdown(content))
    return content


def _title(scenario: Scenario) -> str:
    users = sum(p.users for p in scenario.population)
    return (
        f"{scenario.name}: {users:,} users, {scenario.horizon / 86400:g} days "
        f"(warm-up {scenario.warmup / 86400:g}), {scenario.replications} replication(s)"
    )


# --- the chart ------------------------------------------------------------------------------------


def _bars(
    ax: Any,
    frame: pd.DataFrame,
    presets: Sequence[str],
    metric: str,
    color: str,
    scale: float = 1.0,
    suffix: str = "",
) -> None:
    """Horizontal bars of one metric per preset (everyone), whiskers at the 95% interval."""
    rows = frame[(frame["persona"] == ALL) & (frame["metric"] == metric)].set_index("preset").reindex(presets)
    mean = rows["mean"].to_numpy(dtype=float) * scale
    low = rows["ci_low"].to_numpy(dtype=float) * scale
    high = rows["ci_high"].to_numpy(dtype=float) * scale
    y = np.arange(len(presets))
    has_ci = ~(np.isnan(low) | np.isnan(high))
    err = np.vstack([np.where(has_ci, mean - low, 0.0), np.where(has_ci, high - mean, 0.0)]).clip(min=0)
    ax.barh(y, np.nan_to_num(mean), height=0.6, color=color, xerr=err if has_ci.any() else None,
            error_kw={"ecolor": "0.2", "capsize": 4, "lw": 1.2}, label="mean")
    ends = np.fmax(np.nan_to_num(mean), np.nan_to_num(high))
    right = float(ends.max(initial=0.0))
    for yi, end, value in zip(y, ends, mean, strict=True):
        text = "n/a" if math.isnan(value) else f"{num(value)}{suffix}"
        ax.text(end + right * 0.02, yi, text, va="center", ha="left", fontsize=9, color="0.15")
    ax.set_xlim(0, right * 1.25 if right > 0 else 1)
    ax.grid(axis="y", visible=False)


def comparison_figure(comparison: pd.DataFrame, presets: Sequence[str], title: str) -> Figure:
    """Two panels, one bar per preset: forced re-authentications per user-month, and the share of users
    with a forced re-authentication in a month; whiskers are 95% confidence intervals."""
    with mpl.rc_context(STYLE):
        height = 1.9 + 0.42 * len(presets)
        figure = Figure(figsize=(11.0, height), layout="constrained")
        FigureCanvasAgg(figure)
        left, right = figure.subplots(1, 2, sharey=True)
        labels = [p + " (baseline)" if i == 0 else p for i, p in enumerate(presets)]
        _bars(left, comparison, presets, FORCED, "#1f77b4")
        _bars(right, comparison, presets, USERS_FORCED, "#ff7f0e", scale=100.0, suffix="%")
        left.set_yticks(np.arange(len(presets)), labels)
        left.invert_yaxis()
        left.set_xlabel("forced re-authentications per user per month")
        left.set_title("Forced re-authentications")
        right.set_xlabel("users with a forced re-authentication in a 30-day month (%)")
        right.xaxis.set_major_formatter(PercentFormatter(100.0, decimals=0))
        right.set_title("Users affected")
        right.tick_params(axis="y", left=False)
        subtitle = "each preset's defaults on the same simulated users; bars: mean, whiskers: 95% CI"
        lines = [*textwrap.wrap(title, 120), subtitle]
        figure.suptitle("\n".join(lines), fontsize=10, x=0.01, ha="left")
    return figure


def tradeoff_figure(tradeoff: pd.DataFrame, name: str) -> Figure:
    """Friction against exposure, one labelled point per preset with 95% whiskers, the Pareto front drawn."""
    return pareto_front(
        tradeoff,
        title=f"Friction against token exposure per preset ({name})",
        xlabel=exposure_label(list(tradeoff["exposure_source"])),
        ylabel="forced re-authentications per user per month",
        label="preset",
        point_name="preset",
    )


# --- the report section and the terminal ------------------------------------------------------------


def num(value: float, sign: str = "") -> str:
    """Three significant digits, without exponents: `0.0828`, `8.2`, `961`, `1,093`."""
    if abs(value) >= 1000:
        return f"{value:{sign},.0f}"
    return f"{value:{sign}.3g}"


def _cell(mean: float | None, low: float | None, high: float | None, share: bool = False) -> str:
    if mean is None:
        return "n/a"
    fmt = (lambda v: f"{v:.1%}") if share else num
    return fmt(mean) + ("" if low is None or high is None else f" ({fmt(low)} – {fmt(high)})")


def _lookup(records: list[dict[str, Any]], preset: str, metric: str) -> dict[str, Any]:
    for row in records:
        if row["preset"] == preset and row["persona"] == ALL and row["metric"] == metric:
            return row
    return {}


def _diff_format(share: bool) -> Callable[[float], str]:
    """Signed differences: percentage points for a share, else `num` with a sign."""
    return (lambda v: f"{v * 100:+.1f} pp") if share else (lambda v: num(v, "+"))


def _diff_text(row: dict[str, Any], share: bool = False) -> str:
    if row.get("mean_diff") is None:
        return "n/a"
    fmt = _diff_format(share)
    text = fmt(row["mean_diff"])
    if row.get("ci_low") is not None and row.get("ci_high") is not None:
        text += f" ({fmt(row['ci_low'])} – {fmt(row['ci_high'])})"
    return text


def comparison_markdown(content: dict[str, Any]) -> str:
    """A report section: what was compared, a table with 95% intervals, the paired differences, the chart."""
    baseline = content["baseline"]
    lines = [
        "## Comparing vendor presets",
        "",
        f"Scenario `{content['scenario']}`: {content['users']:,} users over {content['horizon_days']:g} days "
        f"(the first {content['warmup_days']:g} excluded), {content['replications']} replication(s), seed "
        f"{content['seed']}. Each preset runs with its vendor's defaults on the same simulated users "
        "(common random numbers); the scenario's own policy is not used. Figures are means with 95% "
        f"confidence intervals; differences are paired by replication against `{baseline}`.",
        "",
        "![Forced re-authentications and users affected per preset](comparison.svg)",
        "",
        "| preset | " + " | ".join(heading for _, heading in TERMINAL) + " |",
        "| --- |" + " ---: |" * len(TERMINAL),
    ]
    for preset in content["presets"]:
        cells = []
        for metric, _ in TERMINAL:
            row = _lookup(content["comparison"], preset, metric)
            share = metric == USERS_FORCED
            cells.append(_cell(row.get("mean"), row.get("ci_low"), row.get("ci_high"), share))
        lines.append(f"| `{preset}` | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Paired differences against `{baseline}` (paired 95% interval; unpaired Welch interval for "
        "contrast):",
        "",
        "| preset | Δ forced re-auths / user / month | unpaired | Δ users forced / month | unpaired |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for preset in content["presets"][1:]:
        forced = _lookup(content["differences"], preset, FORCED)
        users = _lookup(content["differences"], preset, USERS_FORCED)
        lines.append(
            f"| `{preset}` | {_diff_text(forced)} | {_unpaired(forced)} | {_diff_text(users, True)} | "
            f"{_unpaired(users, True)} |"
        )
    lines += _tradeoff_markdown(content)
    lines += ["", "Policies as resolved:", ""]
    for preset, policy in content["policies"].items():
        fields = ", ".join(f"{k} {_plain(v)}" for k, v in policy.items() if k != "preset")
        lines.append(f"- `{preset}`: {fields}")
    return "\n".join(lines) + "\n"


def _tradeoff_markdown(content: dict[str, Any]) -> list[str]:
    """The friction-versus-exposure chart, what its exposure axis measures, a table and the Pareto front."""
    rows = content.get("tradeoff", [])
    if not rows:
        return []
    front = content.get("pareto_front", [])
    sources = [row["exposure_source"] for row in rows]
    lines = [
        "",
        "### Friction against exposure",
        "",
        "![Forced re-authentications against token exposure per preset](tradeoff.svg)",
        "",
        f"Exposure is {exposure_words(sources)}. Pareto-optimal presets (no other preset has both less "
        f"friction and less exposure): {', '.join(f'`{name}`' for name in front)}.",
        "",
        "| preset | exposure (days) | forced re-auths / user / month | Pareto |",
        "| --- | ---: | ---: | --- |",
    ]
    for row in rows:
        exposure = _cell(row["exposure_days"], row["exposure_low"], row["exposure_high"])
        friction = _cell(row["friction"], row["friction_low"], row["friction_high"])
        lines.append(f"| `{row['preset']}` | {exposure} | {friction} | {'yes' if row['pareto'] else ''} |")
    return lines


def _unpaired(row: dict[str, Any], share: bool = False) -> str:
    low, high = row.get("unpaired_ci_low"), row.get("unpaired_ci_high")
    if low is None or high is None:
        return "n/a"
    fmt = _diff_format(share)
    return f"{fmt(low)} – {fmt(high)}"


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _pm(
    mean: float | None, low: float | None, high: float | None, share: bool = False, sign: str = ""
) -> str:
    """`8.2 ± 0.33` (t intervals are symmetric), `44% ± 1.1 pp`, or `n/a`."""
    if mean is None:
        return "n/a"
    scale, unit, points = (100.0, "%", " pp") if share else (1.0, "", "")
    text = f"{num(mean * scale, sign)}{unit}"
    if low is not None and high is not None:
        text += f" ± {num((high - low) * scale / 2)}{points}"
    return text


def print_comparison(content: dict[str, Any], console: Console, elapsed: float, out: Path) -> None:
    """The terminal table: one row per preset, headline metrics with 95% intervals, paired difference."""
    baseline = content["baseline"]
    table = Table(
        title=f"{content['scenario']}: {content['users']:,} users, {content['horizon_days']:g} days, "
        f"{content['replications']} replication(s), seed {content['seed']}; mean ± 95% CI half-width",
        title_justify="left",
    )
    table.add_column("preset", no_wrap=True)
    for metric, heading in TERMINAL:
        table.add_column(heading, justify="right")
        if metric == FORCED:
            table.add_column(f"Δ vs {baseline} (paired)", justify="right")
    for preset in content["presets"]:
        cells = [preset]
        for metric, _ in TERMINAL:
            row = _lookup(content["comparison"], preset, metric)
            cells.append(_pm(row.get("mean"), row.get("ci_low"), row.get("ci_high"), metric == USERS_FORCED))
            if metric == FORCED:
                diff = _lookup(content["differences"], preset, FORCED)
                paired = _pm(diff.get("mean_diff"), diff.get("ci_low"), diff.get("ci_high"), sign="+")
                cells.append("baseline" if preset == baseline else paired)
        table.add_row(*cells)
    console.print(table)
    if content.get("pareto_front"):
        sources = [row["exposure_source"] for row in content["tradeoff"]]
        console.print(f"Pareto front of friction against {exposure_label(sources)}: "
                      f"{', '.join(content['pareto_front'])} (tradeoff.png)")
    console.print(f"wrote {out}/ in {elapsed:.1f} s", style="dim")
    sys.stdout.flush()


# --- the command ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Implement `tokensim compare` (bad input raises ConfigError / UsageError, reported by the CLI)."""
    presets = parse_presets(args.presets)
    policies = preset_policies(presets)
    scenario = load_with_overrides(args)
    check_out_dir(args.out, args.force)
    workers = args.workers or default_workers()
    errors = Console(stderr=True, quiet=args.quiet)
    started = time.perf_counter()
    if errors.is_terminal and not args.quiet:
        columns = (TextColumn("[bold]{task.description}"), BarColumn(),
                   TextColumn("{task.completed:,}/{task.total:,} users"), TimeElapsedColumn())
        with Progress(*columns, console=errors, transient=True) as bars:
            tasks = {name: bars.add_task(name, total=None) for name in presets}

            def progress(name: str, done: int, total: int) -> None:
                bars.update(tasks[name], completed=done, total=total)

            results = run_presets(scenario, policies, workers, progress)
    else:
        results = run_presets(scenario, policies, workers)
    content = write_comparison(args.out, scenario, policies, compare_results(results), args.format)
    if not args.quiet:
        print_comparison(content, output_console(), time.perf_counter() - started, args.out)
    return 0
