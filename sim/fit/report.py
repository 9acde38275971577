"""The fit report: every fitted distribution against the data, the tests, and the token-event statistics
of the trace against simulations under the log's own policy (Markdown, a self-contained HTML page and
the figures as SVG and PNG, written as one result set), plus `fit.json` and `users.parquet`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from sim import __version__
from sim.core.durations import DAY, format_duration
from sim.core.output import write_text_atomic
from sim.core.resultset import ResultSet
from sim.fit.absences import ALPHA, MIN_DAYS
from sim.fit.compare import TokenComparison, within_share
from sim.fit.durations import REJECT_AT, DurationFit
from sim.fit.fit import FitResult
from sim.fit.personas import PersonaFit
from sim.fit.plots import comparison_figure, duration_figure, schedule_figure, waits_figure
from sim.fit.scenario import scenario_yaml
from sim.report.numbers import num
from sim.report.plots import save_figure
from sim.report.render import markdown_to_html, md_escape

#: Parameters of a family that are durations (shown in minutes, hours, days).
DURATION_PARAMS = ("median", "mean", "scale", "low", "high")
#: p-values under this are "rejected" in the report's words.
SIGNIFICANT = 0.05


def _duration(seconds: float) -> str:
    """Seconds in the largest unit that reads well (`58.3 minutes`, `2.5 days`)."""
    if seconds is None or math.isnan(seconds):
        return "n/a"
    for size, unit in ((DAY, "days"), (3600.0, "hours"), (60.0, "minutes")):
        if seconds >= size:
            return f"{num(seconds / size)} {unit}"
    return f"{num(seconds)} s"


def _p(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _config_text(value: Any) -> str:
    if isinstance(value, dict) and "profile" in value:
        return "weekly profile (7 x 24 hourly rates)"
    if isinstance(value, dict) and "empirical" in value:
        return f"empirical ({len(value['empirical']['values'])} values)"
    return json.dumps(value).replace('"', "")


def persona_summary(fit: FitResult) -> list[str]:
    """A table of the personas' fitted parameters with their intervals."""
    lines = ["| persona | users | devices per user | schedule | sessions per day (per device) "
             "| median session | absences per year |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for p in fit.personas:
        s, d, a = p.schedule, p.duration, p.absences
        lines.append(
            f"| {md_escape(p.name)} | {len(p.users):,} | {num(p.devices.mean)} ({num(p.devices.mean_ci[0])}–"
            f"{num(p.devices.mean_ci[1])}) | {md_escape(s.chosen.name)} | {num(s.sessions_per_day)} "
            f"({num(s.sessions_per_day_ci[0])}–{num(s.sessions_per_day_ci[1])}) | {_duration(d.median)} "
            f"({_duration(d.median_ci[0])}–{_duration(d.median_ci[1])}), {d.kind} | {num(a.per_year)} "
            f"({num(a.per_year_ci[0])}–{num(a.per_year_ci[1])}) |"
        )
    return lines


def _duration_section(d: DurationFit, what: str) -> list[str]:
    lines = ["| family | parameters | log-likelihood | AIC | in the scenario language |",
             "| --- | --- | --- | --- | --- |"]
    for family in sorted(d.families, key=lambda f: f.aic):
        params = ", ".join(f"{k} {_duration(v) if k in DURATION_PARAMS else num(v)}"
                           for k, v in family.params.items())
        lines.append(f"| {family.family} | {params} | {num(family.log_likelihood)} | {num(family.aic)} | "
                     f"{'yes' if family.expressible else 'no'} |")
    text = []
    if d.kind == "fixed":
        text.append(f"Every {what} lasts {_duration(d.median)}: the scenario uses that fixed value.")
    elif d.best is None:
        text.append(f"No parametric family can describe these {what}s (some are 0, or too few): the "
                    "scenario uses their quantiles (`empirical`).")
    else:
        ks = d.ks
        assert ks is not None
        verdict = (f"The best family in the scenario language is **{d.best.family}** (lowest AIC). Its "
                   f"Kolmogorov-Smirnov test gives D = {num(ks[0])}, p = {_p(ks[1])} ({ks[2]:,} values; the "
                   "p-value comes from a parametric bootstrap that re-estimates the parameters on every "
                   "sample, so it allows for the parameters having been fitted to these data).")
        if d.rejected:
            verdict += (f" **The parametric model does not fit** (p < {REJECT_AT}): the scenario uses the "
                        "data's own quantiles (`empirical`) instead.")
        elif ks[1] < SIGNIFICANT:
            verdict += (" The fit is rejected at the 5% level but not at 1%: the scenario uses it, and the "
                        "figure shows where it departs from the data.")
        else:
            verdict += " The test does not reject it: the scenario uses it."
        text.append(verdict)
        if d.better_unexpressible is not None:
            text.append(f"A {d.better_unexpressible.family} distribution would fit better (AIC "
                        f"{num(d.better_unexpressible.aic)} against {num(d.best.aic)}), but the scenario "
                        "language has no such family.")
    text.append(f"The median is {_duration(d.median)} (95% interval {_duration(d.median_ci[0])} to "
                f"{_duration(d.median_ci[1])}, a bootstrap over users); the data's own median is "
                f"{_duration(d.sample_median)}.")
    return [*lines, "", " ".join(text)]


def _schedule_section(p: PersonaFit) -> list[str]:
    s = p.schedule
    lines = ["| schedule | parameters | log-likelihood | AIC |", "| --- | --- | --- | --- |"]
    for c in sorted(s.candidates, key=lambda c: c.aic):
        chosen = " (chosen)" if c is s.chosen else ""
        finite = math.isfinite(c.log_likelihood)
        ll = num(c.log_likelihood) if finite else "−∞ (starts where it allows none)"
        aic = "∞" if not math.isfinite(c.aic) else num(c.aic)
        lines.append(f"| {c.name}{chosen} | {c.parameters} | {ll} | {aic} |")
    text = [f"Session starts are a Poisson process on each device's idle time (between its sessions, outside "
            f"absences); the schedule with the lowest AIC is **{s.chosen.name}**, at "
            f"**{num(s.sessions_per_day)} sessions per device and active day** (95% interval "
            f"{num(s.sessions_per_day_ci[0])} to {num(s.sessions_per_day_ci[1])}, a bootstrap over users)."]
    if s.chi_square is not None:
        statistic, dof, pvalue = s.chi_square
        verdict = "does not fit" if pvalue < SIGNIFICANT else "is not rejected"
        text.append(f"A chi-square test of the hour-of-week starts against the best fixed schedule "
                    f"({s.chi_square_schedule}) gives χ² = {num(statistic)} on {dof} degrees of freedom, p = "
                    f"{_p(pvalue)}: it {verdict} (one degree of freedom is taken off for the fitted rate).")
    if s.chosen.name == "profile":
        text.append("None of the fixed schedules describes when these users start sessions, so the "
                    "scenario gets the fitted weekly profile (`schedule: {profile: ...}`, 7 rows of 24 "
                    "relative rates).")
    text.append(f"On days with at least one session, a user starts {num(p.sessions_per_active_user_day)} "
                "sessions on average (all devices).")
    if p.waits_ks is not None:
        statistic, pvalue = p.waits_ks
        fits = "consistent with" if pvalue >= SIGNIFICANT else "**not** consistent with"
        text.append(f"The idle time before each start, in units of the fitted intensity, should be "
                    f"exponential with mean 1 if all users of the persona follow one Poisson process: KS D = "
                    f"{num(statistic)}, p = {_p(pvalue)} ({len(p.waits):,} waits; the rate was estimated, so "
                    "p is approximate): "
                    f"{fits} the model. Users who differ from each other, or who are more regular than a "
                    "Poisson process, show here.")
    return [*lines, "", " ".join(text)]


def _absence_section(p: PersonaFit) -> list[str]:
    a = p.absences
    text = (f"A gap in a user's sessions (all devices) is an absence when the fitted process would give it a "
            f"probability below {ALPHA:g} and it lasts at least {MIN_DAYS:g} days; for this persona's "
            f"typical user that means a gap of more than {_duration(a.typical_threshold)}. Found: "
            f"{a.count:,} absences, {num(a.per_year)} per user and year (95% interval "
            f"{num(a.per_year_ci[0])} to {num(a.per_year_ci[1])}).")
    if a.count:
        text += (" Shorter absences cannot be told from ordinary gaps and are not counted, so the rate is a "
                 "lower bound and the durations lean long.")
    lines = [text]
    if a.duration is not None:
        lines += ["", *(_duration_section(a.duration, "absence"))]
    return lines


def _comparison_section(comparison: TokenComparison) -> list[str]:
    table = comparison.table
    lines = [
        "## Token events: the trace against simulations",
        "",
        f"Both simulations use the log's own policy (`{md_escape(json.dumps(comparison.policy))}`), run over "
        f"the trace's whole span with no warm-up and {comparison.replications} replications: the **fitted** "
        "scenario, and the trace **replayed** as recorded. A statistic of the trace outside the replayed "
        "interval points at the policy or the client model; outside only the fitted one, at the personas.",
        "",
        "| per user and month | trace | fitted scenario | trace replayed |",
        "| --- | --- | --- | --- |",
    ]

    def cell(row: Any, label: str) -> str:
        mean, low, high = row[label], row[f"{label}_low"], row[f"{label}_high"]
        text = f"{num(mean)} ({num(low)}–{num(high)})"
        covers = row[f"{label}_covers"]
        return text if covers is None or (isinstance(covers, float) and math.isnan(covers)) else (
            text + ("" if covers else " ✗"))

    for _, row in table.iterrows():
        lines.append(f"| {md_escape(row['counts'])} | {num(row['trace'])} | {cell(row, 'fitted')} | "
                     f"{cell(row, 'replayed')} |")
    fitted_in, fitted_n = within_share(table, "fitted")
    replay_in, replay_n = within_share(table, "replayed")
    lines += ["", f"✗: the trace's value is outside the 95% interval. The fitted scenario's intervals cover "
              f"{fitted_in} of {fitted_n} statistics, the replay's {replay_in} of {replay_n}. Sessions "
              "differ by construction: a session that starts while the device's access token is still "
              "valid makes no request, so no log sees it, while a simulation counts every session. With few "
              "replications the intervals reflect the simulation's randomness only, not the trace's."]
    return lines


def build_fit_report(
    fit: FitResult,
    out: Path,
    scenario_config: dict[str, Any],
    comparison: TokenComparison | None = None,
    force: bool = False,
    scenario_file: Path | None = None,
) -> dict[str, Path]:
    """Write the fit report into the folder `out` (a result set); return the paths of its main files."""
    with ResultSet.open(Path(out), kind="fit", force=force) as results:
        figures_dir = results.path("figures")
        figures_dir.mkdir(parents=True, exist_ok=True)
        images: dict[str, Path] = {}

        def figure(name: str, fig: Any) -> str:
            paths = save_figure(fig, figures_dir, name)
            images[f"figures/{name}.svg"] = paths["svg"]
            return f"![{name}](figures/{name}.svg)"

        trace_name = Path(fit.trace).name
        lines = [
            f"# Personas fitted to {md_escape(trace_name)}",
            "",
            f"The trace `{md_escape(fit.trace)}` has {fit.users:,} users and {fit.sessions:,} sessions over "
            f"{num(fit.span_days)} days. {len(fit.personas)} persona(s) were fitted "
            f"({md_escape(fit.clustering.method)}); every parameter is a maximum-likelihood estimate with a "
            "95% interval from a bootstrap over users. The method is described in docs/replay-fit.md.",
            "",
            *persona_summary(fit),
            "",
        ]
        if scenario_file is not None:
            lines += [f"The scenario is in `{md_escape(str(scenario_file))}`.", ""]
        lines += ["## Personas", ""]
        if fit.clustering.scores:
            lines += ["| personas K | BIC (Gaussian mixture) | silhouette (k-means) |", "| --- | --- | --- |"]
            for entry in fit.clustering.scores:
                silhouette = "" if entry["silhouette"] is None else f"{entry['silhouette']:.3f}"
                mark = " (chosen)" if entry["k"] == fit.clustering.k else ""
                lines.append(f"| {entry['k']}{mark} | {num(entry['bic'])} | {silhouette} |")
            lines.append("")
        if fit.clustering.centres is not None:
            centres = fit.clustering.centres
            names = [p.name for p in fit.personas]
            lines += ["Users were grouped on their activity features (standardized); the groups' means:", "",
                      "| feature | " + " | ".join(md_escape(n) for n in names) + " |",
                      "| --- " * (len(names) + 1) + "|"]
            for feature in centres.columns:
                values = centres[feature].tolist()[: len(names)]
                lines.append(f"| {feature} | " + " | ".join(num(v) for v in values) + " |")
            lines.append("")
        for index, p in enumerate(fit.personas):
            lines += [f"### {md_escape(p.name)}: {len(p.users):,} users, {p.sessions:,} sessions", ""]
            lines += ["#### Devices per user", "",
                      "| devices | users |", "| --- | --- |",
                      *(f"| {v} | {w:,} |" for v, w in zip(p.devices.values, p.devices.weights, strict=True)),
                      "", f"Mean {num(p.devices.mean)} (95% interval {num(p.devices.mean_ci[0])} to "
                      f"{num(p.devices.mean_ci[1])}); the scenario uses these counts as they are "
                      "(`empirical`), so it matches them exactly.", ""]
            lines += ["#### When sessions start", "", *_schedule_section(p), ""]
            lines.append(figure(f"schedule-{index}",
                                schedule_figure(p.schedule, f"{p.name}: session starts")))
            lines.append(figure(f"waits-{index}", waits_figure(p, f"{p.name}: time between sessions")))
            lines += ["", "#### Session duration", "", *_duration_section(p.duration, "session"), ""]
            lines.append(figure(f"duration-{index}",
                                duration_figure(p.duration, f"{p.name}: session duration")))
            lines += ["", "#### Absences", "", *_absence_section(p), ""]
            if p.absences.duration is not None and len(p.absences.durations) > 1:
                lines.append(figure(f"absences-{index}", duration_figure(
                    p.absences.duration, f"{p.name}: absence duration", DAY, "days")))
                lines.append("")
            lines += ["What the trace cannot tell is left at the scenario's defaults: tabs, lost responses, "
                      "persist failures, logouts, fresh logins, device replacements, password changes.", ""]
        if comparison is not None:
            lines += [*_comparison_section(comparison), "",
                      figure("token-events",
                             comparison_figure(comparison.table, "Simulated against the trace")),
                      ""]
        lines += ["## The fitted scenario", "", "```yaml", scenario_yaml(scenario_config).rstrip(), "```", "",
                  "---", "", f"*Generated by tokensim {__version__} (`tokensim fit`, seed {fit.seed}).*", ""]
        text = "\n".join(lines)
        write_text_atomic(results.path("report.md"), text)
        write_text_atomic(results.path("report.html"),
                          markdown_to_html(text, f"Personas fitted to {trace_name}", images))
        write_text_atomic(results.path("fit.json"), json.dumps(fit_json(fit, comparison), indent=2) + "\n")
        fit.features.to_parquet(results.path("users.parquet"), index=False)
        results.commit()
    folder = Path(out)
    return {"markdown": folder / "report.md", "html": folder / "report.html", "json": folder / "fit.json",
            "users": folder / "users.parquet"}


def _clean(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _duration_json(d: DurationFit | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "n": d.n, "kind": d.kind, "config": d.config, "rejected": d.rejected,
        "median": d.median, "median_ci95": list(d.median_ci), "sample_median": d.sample_median,
        "ks": None if d.ks is None else {"statistic": d.ks[0], "pvalue": d.ks[1], "n": d.ks[2]},
        "families": [{"family": f.family, "params": f.params, "log_likelihood": f.log_likelihood,
                      "aic": f.aic, "expressible": f.expressible} for f in d.families],
    }


def fit_json(fit: FitResult, comparison: TokenComparison | None = None) -> dict[str, Any]:
    """Everything the report shows, as plain data."""
    personas = []
    for p in fit.personas:
        s = p.schedule
        personas.append({
            "name": p.name, "users": len(p.users), "sessions": p.sessions, "config": p.config,
            "devices": {"values": p.devices.values, "weights": p.devices.weights, "mean": p.devices.mean,
                        "mean_ci95": list(p.devices.mean_ci)},
            "schedule": {"chosen": s.chosen.name, "sessions_per_day": s.sessions_per_day,
                         "sessions_per_day_ci95": list(s.sessions_per_day_ci),
                         "candidates": [{"name": c.name, "parameters": c.parameters,
                                         "log_likelihood": c.log_likelihood, "aic": c.aic}
                                        for c in s.candidates],
                         "chi_square": None if s.chi_square is None else {
                             "schedule": s.chi_square_schedule, "statistic": s.chi_square[0],
                             "dof": s.chi_square[1], "pvalue": s.chi_square[2]}},
            "sessions_per_active_user_day": p.sessions_per_active_user_day,
            "waits_ks": None if p.waits_ks is None else {"statistic": p.waits_ks[0], "pvalue": p.waits_ks[1]},
            "duration": _duration_json(p.duration),
            "absences": {"count": p.absences.count, "per_year": p.absences.per_year,
                         "per_year_ci95": list(p.absences.per_year_ci),
                         "threshold_s": p.absences.typical_threshold,
                         "duration": _duration_json(p.absences.duration)},
        })
    return _clean({
        "trace": fit.trace, "span_days": fit.span_days, "users": fit.users, "sessions": fit.sessions,
        "seed": fit.seed, "tool_version": __version__,
        "clustering": {"k": fit.clustering.k, "method": fit.clustering.method,
                       "scores": fit.clustering.scores},
        "personas": personas,
        "token_events": None if comparison is None else {
            "policy": comparison.policy, "replications": comparison.replications,
            "table": comparison.table.to_dict(orient="records")},
        "horizon": format_duration(fit.span),
    })
