"""Figures of a run or a sweep: one function per figure, each reading tidy DataFrames, returning a Figure.

The functions never see simulator objects: they draw the small tables built by `sim.report.tables`
from the files a run writes (or any DataFrame with the documented columns, e.g. in a notebook).
Figures are made on matplotlib's Agg canvas without pyplot, so building them touches no global state
and works in scripts, worker processes and notebooks alike (in Jupyter a returned Figure displays
inline). `save_figure` writes PNG and SVG atomically.

Functions (and the columns of the frame each one reads):

- `survival_curves`: Kaplan-Meier survival of chains per persona with 95% bands
  (persona, days, survival, ci_low, ci_high, chains, censored).
- `reauth_causes`: forced re-authentications by cause per persona with 95% CIs
  (persona, label, mean, ci_low, ci_high, share).
- `active_chains_over_time`: valid chains per user over time per persona (persona, day, mean, low, high).
- `chains_per_user`: distribution of valid chains per user against the cap (persona, chains, share).
- `weekly_load`: token-endpoint requests per second over a typical week
  (hour_of_week, logins_per_s, refreshes_per_s).
- `dwell_curves`: Kaplan-Meier survival of attacker dwell time per persona with 95% bands and medians
  (persona, days, survival, ci_low, ci_high, thefts, censored, median_days, active_share).
- `stored_rows_over_time`: rows in the token store over time (persona, day, mean, low, high).
- `metric_over_values`: one metric over swept values with 95% bands (x, mean, ci_low, ci_high[, group]).
- `metric_heatmap`: one metric over two swept values (x, y, mean, ci_low, ci_high).
- `pareto_front`: friction against exposure per cell and the Pareto front (label, friction,
  friction_low, friction_high, exposure_days, exposure_low, exposure_high, pareto).
"""

from __future__ import annotations

import functools
import io
import math
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

from sim.core.output import write_atomic

#: The look of every figure (applied while a figure is built and saved; global rcParams untouched).
STYLE: dict[Any, Any] = {
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.dpi": 120,
    "svg.hashsalt": "tokensim",
    "svg.fonttype": "none",  # text stays text: smaller files, selectable and searchable
}
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
EVERYONE = "*"
#: Tick labels of a share axis: 0.25 -> "25%", 0.005 -> "0.5%".
PERCENT = FuncFormatter(lambda value, _: f"{100 * value:.4g}%")
WIDTH, HEIGHT = 8.0, 4.5


@contextmanager
def _style() -> Iterator[None]:
    with mpl.rc_context(STYLE):
        yield


def _figure(width: float = WIDTH, height: float = HEIGHT) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def persona_color(index: int) -> str:
    """The colour of the `index`-th persona (the same in every figure)."""
    return COLORS[index % len(COLORS)]


def _persona_colors(personas: Sequence[str]) -> dict[str, str]:
    """Colours by persona: everyone (`"*"`) dark grey, the personas in order as in every other figure."""
    named = [p for p in personas if p != EVERYONE]
    colors = {p: persona_color(i) for i, p in enumerate(named)}
    colors[EVERYONE] = "#4d4d4d"
    return colors


def _legend_below(ax: Axes, title: str | None) -> None:
    """A legend under the axes (it never covers the data), in as many columns (up to 3) as fit the width."""
    labels = ax.get_legend_handles_labels()[1]
    widest = max((len(label) for label in labels), default=1) + 8  # characters, with the marker
    columns = max(1, min(3, len(labels), 105 // widest))
    ax.legend(title=title, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=columns)


def _warmup(ax: Axes, warmup_days: float) -> None:
    """The warm-up (excluded from every metric) shaded grey from day 0."""
    if warmup_days > 0:
        ax.axvspan(0, warmup_days, color="0.85", alpha=0.6, lw=0, label="warm-up (not measured)")


def _labels(ax: Axes, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)


def _persona_name(persona: str) -> str:
    return "everyone" if persona == EVERYONE else persona


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4", wrap=True)


def _yerr(mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray | None:
    if np.all(np.isnan(low)) or np.all(np.isnan(high)):
        return None
    lower = np.where(np.isnan(low), 0.0, np.clip(mean - low, 0, None))
    upper = np.where(np.isnan(high), 0.0, np.clip(high - mean, 0, None))
    return np.vstack([lower, upper])


# --- a run ----------------------------------------------------------------------------------------


def survival_curves(km: pd.DataFrame, title: str = "How long refresh-token chains last") -> Figure:
    """Kaplan-Meier survival of chains (share still valid by age in days) per persona, 95% bands.

    Chains still valid at the horizon are right-censored (they count as at risk until the horizon).
    """
    with _style():
        figure, ax = _figure()
        personas = list(dict.fromkeys(km["persona"]))
        for index, persona in enumerate(personas):
            curve = km[km["persona"] == persona]
            color = persona_color(index)
            n, censored = int(curve["chains"].iloc[0]), int(curve["censored"].iloc[0])
            label = f"{_persona_name(persona)} ({n:,} chains, {censored / max(n, 1):.0%} censored)"
            ax.step(curve["days"], curve["survival"], where="post", color=color, lw=1.8, label=label)
            ax.fill_between(curve["days"], curve["ci_low"], curve["ci_high"], step="post", color=color,
                            alpha=0.2, lw=0)
        if not personas:
            _note(ax, "No chain was authorized in the measured window")
        ax.axhline(0.5, color="0.4", ls=":", lw=1)
        ax.text(0.995, 0.5, "median", transform=ax.get_yaxis_transform(), ha="right", va="bottom",
                color="0.35", fontsize=8)
        ax.set_ylim(0, 1.02)
        ax.set_xlim(left=0)
        ax.yaxis.set_major_formatter(PERCENT)
        _labels(ax, "chain age (days since the login that started it)", "chains still valid (%)", title)
        if personas:
            _legend_below(ax, "persona (Kaplan-Meier estimate; shaded: 95% CI)")
    return figure


def reauth_causes(
    causes: pd.DataFrame, title: str = "Why users are forced to log in again"
) -> Figure:
    """Forced re-authentications per user and month by cause (horizontal bars per persona, 95% CI).

    The share of the persona's forced re-authentications is written beside each bar.
    """
    with _style():
        labels = list(dict.fromkeys(causes["label"]))
        personas = list(dict.fromkeys(causes["persona"]))
        height = max(2.8, 1.2 + 0.45 * max(1, len(labels)) * max(1, len(personas)) ** 0.6)
        figure, ax = _figure(height=height)
        if not labels:
            _note(ax, "No forced re-authentication in the measured window")
            ax.set_yticks([])
        bar = 0.8 / max(1, len(personas))
        right = 0.0
        colors = _persona_colors(personas)
        for index, persona in enumerate(personas):
            rows = causes[causes["persona"] == persona].set_index("label").reindex(labels)
            y = np.arange(len(labels)) + (index - (len(personas) - 1) / 2) * bar
            mean = rows["mean"].fillna(0.0).to_numpy(dtype=float)
            low, high = rows["ci_low"].to_numpy(dtype=float), rows["ci_high"].to_numpy(dtype=float)
            ax.barh(y, mean, height=bar * 0.9, color=colors[persona], label=_persona_name(persona), alpha=0.8)
            # whiskers drawn over the bars in a dark colour, so the lower end shows inside the bar too
            err = _yerr(mean, low, high)
            if err is not None:
                ax.errorbar(mean, y, xerr=err, fmt="none", ecolor="0.05", capsize=3, lw=1.1, zorder=3)
            ends = np.fmax(mean, np.nan_to_num(high, nan=0.0))
            right = max(right, float(ends.max(initial=0.0)))
            for yi, end, share in zip(y, ends, rows["share"].to_numpy(dtype=float), strict=True):
                if not math.isnan(share) and share > 0:
                    text = "<1%" if share < 0.005 else f"{share:.0%}"
                    ax.text(end, yi, f"  {text}", va="center", ha="left", fontsize=8, color="0.2")
        wrapped = [textwrap.fill(label, 22, break_on_hyphens=False) for label in labels]
        ax.set_yticks(np.arange(len(labels)), wrapped)
        ax.invert_yaxis()
        ax.set_xlim(0, right * 1.18 if right > 0 else 1)
        ax.grid(axis="y", visible=False)
        _labels(ax, "forced re-authentications per user per month\n"
                "(bars: mean; whiskers: 95% CI; %: share of the persona's forced logins)",
                "cause (why the refresh failed)", title)
        if len(personas) > 1:
            ax.legend(title="persona", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure


def active_chains_over_time(
    active: pd.DataFrame, warmup_days: float, title: str = "Valid refresh-token chains per user over time"
) -> Figure:
    """Valid chains per user (mean over replications, band: its 95% CI) per persona, warm-up shaded."""
    with _style():
        figure, ax = _figure()
        _warmup(ax, warmup_days)
        for index, persona in enumerate(dict.fromkeys(active["persona"])):
            rows = active[active["persona"] == persona]
            color = persona_color(index)
            ax.plot(rows["day"], rows["mean"], color=color, lw=1.6, label=_persona_name(persona))
            ax.fill_between(rows["day"], rows["low"], rows["high"], color=color, alpha=0.2, lw=0)
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        _labels(ax, "simulated time (days; sampled daily at 12:00)", "valid chains per user", title)
        _legend_below(ax, "persona (line: mean over replications; band: its 95% confidence interval)")
    return figure


def chains_per_user(
    counts: pd.DataFrame,
    cap: int | None,
    on_cap: str | None = None,
    title: str = "How many valid chains a user holds, against the cap",
) -> Figure:
    """Share of user-days at which a user holds 0, 1, 2, ... valid chains (daily at noon), with the cap."""
    with _style():
        figure, ax = _figure()
        personas = list(dict.fromkeys(counts["persona"]))
        top = int(counts["chains"].max()) if len(counts) else 0
        right = max(top, cap or 0)
        width = 0.8 / max(1, len(personas))
        for index, persona in enumerate(personas):
            rows = counts[counts["persona"] == persona]
            x = rows["chains"].to_numpy(dtype=float) + (index - (len(personas) - 1) / 2) * width
            ax.bar(x, rows["share"], width=width * 0.95, color=persona_color(index),
                   label=_persona_name(persona))
        if cap is not None:
            rule = f", {on_cap.replace('_', ' ')}" if on_cap else ""
            ax.axvline(cap, color="#d62728", ls="--", lw=1.5, label=f"cap: {cap} per user{rule}")
        else:
            ax.plot([], [], " ", label="no per-user cap")
        ax.set_xlim(-0.6, right + 0.8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(PERCENT)
        ax.set_ylim(0, None)
        ax.grid(axis="x", visible=False)
        _labels(ax, "valid refresh-token chains held by one user (count)", "share of user-days (%)", title)
        ax.legend(title="persona" if len(personas) > 1 else None, loc="best")
    return figure


#: Ticks of a logarithmic dwell-time axis: (days, label).
DWELL_TICKS = ((1 / 1440, "1 min"), (10 / 1440, "10 min"), (1 / 24, "1 hour"), (6 / 24, "6 hours"),
               (1.0, "1 day"), (7.0, "1 week"), (30.0, "30 days"), (90.0, "90 days"), (365.0, "1 year"))


def duration_words(days: float) -> str:
    """A duration in days for reading: `25 minutes`, `16 hours`, `3.2 days`, `n/a` for NaN."""
    if days is None or math.isnan(days):
        return "n/a"
    minutes = days * 1440
    if minutes < 90:
        return f"{minutes:.0f} minutes" if minutes >= 1.5 else f"{minutes:.2g} minute"
    if days < 2:
        return f"{days * 24:.0f} hours"
    return f"{days:.3g} days"


def dwell_curves(km: pd.DataFrame, personas: Sequence[str] | None = None,
                 title: str = "How long an attacker keeps access after a theft") -> Figure:
    """Kaplan-Meier survival of attacker dwell time per persona (log time axis), 95% bands, medians marked.

    `km` is a `sim.report.tables.dwell_table`. A theft still active at the horizon is right-censored; the
    legend gives each curve's thefts, median and share still active at the horizon. `personas` fixes the
    colours (in the order of every other figure; everyone, `"*"`, is dark grey).
    """
    with _style():
        figure, ax = _figure(WIDTH, HEIGHT + 0.5)
        names = list(dict.fromkeys(km["persona"]))
        colors = _persona_colors(list(dict.fromkeys([*(personas or []), *names])))
        positive = km["days"][km["days"] > 0]
        longest = float(km["days"].max()) if len(km) else 1.0
        left = min(1 / 24, float(positive.min()) / 1.5) if len(positive) else 1 / 24
        right = max(longest * 1.5, left * 20)
        for persona in names:
            curve = km[km["persona"] == persona]
            color = colors[persona]
            days = np.maximum(curve["days"].to_numpy(dtype=float), left)  # dwell 0 drawn at the left edge
            first = curve.iloc[0]
            median, active = float(first["median_days"]), float(first["active_share"])
            label = (f"{_persona_name(persona)}: {int(first['thefts']):,} thefts, median "
                     f"{duration_words(median)}, {active:.0%} still active at the horizon")
            width = 2.2 if persona == EVERYONE else 1.6
            ax.step(days, curve["survival"], where="post", color=color, lw=width, label=label)
            ax.fill_between(days, curve["ci_low"], curve["ci_high"], step="post", color=color, alpha=0.15,
                            lw=0)
            if not math.isnan(median):
                ax.plot([max(median, left)], [0.5], marker="o", ms=7, color=color, mec="white", mew=1.2,
                        zorder=5)
        if not names:
            _note(ax, "No theft in the measured window")
        ax.set_xscale("log")
        ax.set_xlim(left, right)
        ticks = [(d, text) for d, text in DWELL_TICKS if left <= d <= right]
        ax.set_xticks([d for d, _ in ticks], [text for _, text in ticks])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.axhline(0.5, color="0.4", ls=":", lw=1)
        ax.text(0.005, 0.5, "median (dots)", transform=ax.get_yaxis_transform(), ha="left", va="bottom",
                color="0.35", fontsize=8)
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PERCENT)
        _labels(ax, "attacker dwell time since the theft (days, logarithmic scale)",
                "attackers still holding access (%)", title)
        if names:
            _legend_below(ax, "Kaplan-Meier estimate, thefts in the measured window; shaded: 95% CI")
    return figure


def stored_rows_over_time(storage: pd.DataFrame, warmup_days: float, row_bytes: int | None = None,
                          title: str = "Rows in the token store over time") -> Figure:
    """Rows in the token store per day (line: the mean; band: lowest to highest hour), warm-up shaded.

    `storage` is a `sim.report.tables.storage_over_time`: everyone (`"*"`, dark grey) and, with several
    personas, each persona's share of the rows. With `row_bytes`, a right axis gives the table's size.
    """
    with _style():
        figure, ax = _figure()
        _warmup(ax, warmup_days)
        names = list(dict.fromkeys(storage["persona"]))
        colors = _persona_colors(names)
        for persona in names:
            rows = storage[storage["persona"] == persona]
            label = "all rows" if persona == EVERYONE else f"rows of {persona} users"
            ax.plot(rows["day"], rows["mean"], color=colors[persona], lw=1.8 if persona == EVERYONE else 1.2,
                    label=label)
            ax.fill_between(rows["day"], rows["low"], rows["high"], color=colors[persona], alpha=0.2, lw=0)
        if not names:
            _note(ax, "No storage figures in this run's time series")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        ax.set_xlabel("simulated time (days)")
        ax.set_ylabel("rows in the token store")
        if row_bytes:
            scale, unit = _byte_unit(float(storage["high"].max()) * row_bytes if len(storage) else 0.0)
            per_row = float(row_bytes)

            def to_size(rows: Any) -> Any:
                return rows * per_row / scale

            def to_rows(size: Any) -> Any:
                return size * scale / per_row

            size = ax.secondary_yaxis("right", functions=(to_size, to_rows))
            size.set_ylabel(f"table size ({unit}, at {row_bytes:,} bytes a row)")
        ax.set_title(title)
        _legend_below(ax, "line: the day's mean; band: its lowest to highest hour (mean over replications)")
    return figure


def _byte_unit(largest: float) -> tuple[float, str]:
    """The unit to show sizes up to `largest` bytes in: (bytes per unit, name)."""
    for scale, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if largest >= scale:
            return scale, unit
    return 1.0, "bytes"


DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def weekly_load(load: pd.DataFrame, title: str = "Token endpoint load over a typical week") -> Figure:
    """Mean requests per second for each hour of the week: refreshes and logins stacked."""
    with _style():
        figure, ax = _figure()
        hours = load["hour_of_week"].to_numpy(dtype=float)
        # each hour's mean drawn as a flat step across the hour
        edges = np.append(hours, hours[-1] + 1) if len(hours) else hours
        refresh = load["refreshes_per_s"].to_numpy(dtype=float)
        logins = load["logins_per_s"].to_numpy(dtype=float)
        ax.stairs(refresh, edges, fill=True, color=COLORS[0], alpha=0.75, label="refresh requests")
        ax.stairs(refresh + logins, edges, baseline=refresh, fill=True, color=COLORS[1], alpha=0.85,
                  label="logins (authorizations)")
        ax.stairs(refresh + logins, edges, color="0.15", lw=0.8, label="total")
        if "total_low" in load and load["total_low"].notna().any():
            low = load["total_low"].to_numpy(dtype=float)
            high = load["total_high"].to_numpy(dtype=float)
            ax.fill_between(edges, np.append(low, low[-1]), np.append(high, high[-1]), step="post",
                            color="0.1", alpha=0.18, lw=0, label="total: 95% CI over replications")
        ax.set_xlim(0, 168)
        ax.set_xticks(np.arange(0, 169, 24))
        ax.set_xticks(np.arange(12, 168, 24), labels=DAYS, minor=True)
        ax.tick_params(axis="x", which="major", labelbottom=False, length=6)
        ax.tick_params(axis="x", which="minor", length=0)
        highest = np.fmax(refresh + logins, load.get("total_high", refresh + logins))
        top = float(np.nanmax(highest, initial=0.0))
        ax.set_ylim(0, top * 1.22 if top > 0 else 1.0)  # headroom for the legend above the data
        _labels(ax, "hour of the week (Monday 00:00 to Sunday 24:00)", "requests per second (hourly mean)",
                title)
        ax.legend(loc="upper right", ncols=2)
    return figure


# --- sweeps and comparisons -----------------------------------------------------------------------


def metric_over_values(
    frame: pd.DataFrame,
    x: str,
    ylabel: str,
    title: str,
    group: str | None = None,
    xlabel: str | None = None,
    percent: bool = False,
    connect: bool = True,
    log: bool = False,
) -> Figure:
    """One metric (columns mean, ci_low, ci_high) over the values in column `x`, with 95% intervals.

    A numeric `x` is drawn to scale; text values (`7d`, `unlimited`) as ordered categories in the order
    they first appear. `group` draws one line per value of that column. With `connect=False` (values
    without an order, such as named cases) each value is a point with whiskers instead of a line with a
    band. `log=True` draws the metric on a logarithmic axis (values spanning several orders of magnitude).
    """
    with _style():
        figure, ax = _figure()
        numeric = pd.api.types.is_numeric_dtype(frame[x])
        categories = list(dict.fromkeys(frame[x]))
        groups = list(dict.fromkeys(frame[group])) if group else [None]
        offset = 0.0 if connect or len(groups) == 1 else 0.12
        named = [g for g in groups if g != "everyone"]  # everyone: grey, as in the run figures
        for index, value in enumerate(groups):
            rows = frame if value is None else frame[frame[group] == value]
            if numeric:
                xs = rows[x].to_numpy(dtype=float)
            else:
                xs = np.array([categories.index(v) for v in rows[x]], dtype=float)
            order = np.argsort(xs, kind="stable")
            xs = xs[order] + (index - (len(groups) - 1) / 2) * offset
            mean, low, high = (rows[c].to_numpy(dtype=float)[order] for c in ("mean", "ci_low", "ci_high"))
            color = "#4d4d4d" if value == "everyone" else persona_color(named.index(value))
            label = "mean" if value is None else f"{group} = {value}"
            yerr = _yerr(mean, low, high)  # None without an interval
            if connect:
                ax.plot(xs, mean, marker="o", color=color, lw=1.8, label=label)
                if yerr is not None:
                    ax.fill_between(xs, low, high, color=color, alpha=0.2, lw=0)
            else:
                ax.errorbar(xs, mean, yerr=yerr, fmt="o", color=color, ms=7, capsize=4, lw=1.4, label=label)
        if not numeric:
            ax.set_xticks(range(len(categories)), [str(c) for c in categories])
            ax.set_xlim(-0.5, len(categories) - 0.5)
            if len(categories) > 6 or max((len(str(c)) for c in categories), default=0) > 12:
                ax.tick_params(axis="x", labelrotation=25)
                for tick in ax.get_xticklabels():
                    tick.set_horizontalalignment("right")
        if percent:
            ax.yaxis.set_major_formatter(PERCENT)
        if log:
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        _labels(ax, xlabel or x, ylabel, title)
        note = "line: mean; band: 95% CI over replications" if connect else "point: mean; whiskers: 95% CI"
        ax.legend(title=note, loc="best")
    return figure


def metric_heatmap(frame: pd.DataFrame, x: str, y: str, title: str, unit: str,
                   xlabel: str | None = None, ylabel: str | None = None) -> Figure:
    """One metric over two swept values: colour = mean, each cell annotated with mean and 95% CI."""
    with _style():
        xs = list(dict.fromkeys(frame[x]))
        ys = list(dict.fromkeys(frame[y]))
        grid = np.full((len(ys), len(xs)), np.nan)
        texts: dict[tuple[int, int], str] = {}
        for row in frame.to_dict("records"):
            i, j = ys.index(row[y]), xs.index(row[x])
            mean, low, high = (float(row[c]) for c in ("mean", "ci_low", "ci_high"))
            grid[i, j] = mean
            interval = "" if math.isnan(low) else f"\n({_short(low)}–{_short(high)})"
            texts[(i, j)] = f"{_short(mean)}{interval}"
        width = min(12.0, max(6.0, 1.3 * len(xs) + 2.5))
        height = min(9.0, max(3.5, 0.7 * len(ys) + 1.8))
        figure, ax = _figure(width, height)
        ax.grid(False)
        image = ax.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
        span = np.nanmax(grid) - np.nanmin(grid) if np.isfinite(grid).any() else 0.0
        for (i, j), text in texts.items():
            dark = span == 0 or (grid[i, j] - np.nanmin(grid)) / span < 0.6
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
        ax.set_xticks(range(len(xs)), [str(v) for v in xs])
        ax.set_yticks(range(len(ys)), [str(v) for v in ys])
        _labels(ax, xlabel or x, ylabel or y, title)
        colorbar = figure.colorbar(image, ax=ax)
        colorbar.set_label(f"{unit}\n(each cell: mean and 95% CI)")
    return figure


def _short(value: float) -> str:
    return f"{value:.3g}"


def pareto_front(
    frame: pd.DataFrame,
    title: str = "Trade-off: user friction against how long a token stays usable",
    xlabel: str = "idle window: a leaked refresh token stays usable (days)",
    ylabel: str = "forced re-authentications per user per month",
    label: str = "label",
    label_note: str | None = None,
    point_name: str = "cell",
) -> Figure:
    """Each cell as a point with 95% error bars (labelled from column `label`); the Pareto front joined.

    `point_name` is what a point is in the legend (`cell` of a sweep, `preset` of a comparison).
    Columns: friction, friction_low, friction_high, exposure_days, exposure_low, exposure_high, pareto
    (bool) and the label column. Lower is better on both axes: a cell is on the front when no other cell
    is at least as good on both and better on one. Labels are placed where they overlap nothing else;
    `label_note` (e.g. which swept values the labels list) is shown in the legend.
    """
    with _style():
        figure, ax = _figure(WIDTH + 1.5, HEIGHT + 0.8)
        x = frame["exposure_days"].to_numpy(dtype=float)
        y = frame["friction"].to_numpy(dtype=float)
        front = frame["pareto"].to_numpy(dtype=bool)
        xerr = _yerr(x, frame["exposure_low"].to_numpy(dtype=float), frame["exposure_high"].to_numpy(float))
        yerr = _yerr(y, frame["friction_low"].to_numpy(dtype=float), frame["friction_high"].to_numpy(float))
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor="0.55", capsize=3, lw=1, zorder=2)
        if (~front).any():
            ax.scatter(x[~front], y[~front], s=36, color="0.55", zorder=3, label=f"dominated {point_name}")
        ax.scatter(x[front], y[front], s=60, color="#d62728", zorder=4, label=f"Pareto-optimal {point_name}")
        order = np.argsort(x[front], kind="stable")
        fx, fy = x[front][order], y[front][order]
        if len(fx) > 1:
            ax.step(fx, fy, where="post", color="#d62728", lw=1.4, ls="--", zorder=3, label="Pareto front")
        _labels(ax, xlabel, ylabel, title)
        _set_limits(ax, x, y, frame)
        legend_title = "lower-left is better; whiskers: 95% CI"
        if label_note:
            legend_title += f"\n{label_note}"
        legend = ax.legend(loc="upper right", title=legend_title)
        legend.set_zorder(1)
        if len(x) > 1 and np.nanmin(x) == np.nanmax(x):
            same = (f"Every {point_name} has the same exposure ({x[0]:g} days):\n"
                    "the choice is on friction alone.")
            ax.text(0.02, 0.97, same, transform=ax.transAxes, ha="left", va="top", fontsize=9, color="0.3")
        segments = _segments(x, y, frame, fx, fy)
        _place_labels(ax, figure, x, y, [str(v) for v in frame[label]], front, segments, legend)
    return figure


def _segments(x: np.ndarray, y: np.ndarray, frame: pd.DataFrame, fx: np.ndarray,
              fy: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Axis-aligned segments (x0, y0, x1, y1) that labels must not cover: whiskers and the front's steps."""
    segments = []
    for i in range(len(x)):
        low, high = frame["friction_low"].iloc[i], frame["friction_high"].iloc[i]
        if not (math.isnan(low) or math.isnan(high)):
            segments.append((x[i], float(low), x[i], float(high)))
        left, right = frame["exposure_low"].iloc[i], frame["exposure_high"].iloc[i]
        if not (math.isnan(left) or math.isnan(right)):
            segments.append((float(left), y[i], float(right), y[i]))
    for i in range(len(fx) - 1):
        segments.append((fx[i], fy[i], fx[i + 1], fy[i]))
        segments.append((fx[i + 1], fy[i], fx[i + 1], fy[i + 1]))
    return segments


def _set_limits(ax: Axes, x: np.ndarray, y: np.ndarray, frame: pd.DataFrame) -> None:
    """Both axes from 0 (exposure and friction are amounts); room on the right and the top for labels."""
    high_y = np.nanmax(np.append(frame["friction_high"].to_numpy(dtype=float), y)) if len(y) else 1.0
    high_x = np.nanmax(np.append(frame["exposure_high"].to_numpy(dtype=float), x)) if len(x) else 1.0
    ax.set_xlim(0.0, (high_x if high_x > 0 else 1.0) * 1.3)
    ax.set_ylim(0.0, (high_y if high_y > 0 else 1.0) * 1.45)


def _place_labels(ax: Axes, figure: Figure, x: np.ndarray, y: np.ndarray, labels: Sequence[str],
                  front: np.ndarray, segments: list[tuple[float, float, float, float]],
                  legend: object) -> None:
    """Greedy label placement: for each point, the first candidate spot (nearest first, around the point)
    whose box overlaps no label placed so far, no marker, whisker or front segment, nor the legend, and
    lies inside the axes. A label placed away from its point gets a thin leader line."""
    if not len(x):
        return
    figure.canvas.draw()  # fixes the layout, so data can be turned into pixels
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    to_pixels = ax.transData.transform
    frame_box = ax.get_window_extent()
    pad = 2.0
    obstacles: list[tuple[float, float, float, float]] = []
    for px, py in to_pixels(np.column_stack([x, y])):
        obstacles.append((px - 6, py - 6, px + 6, py + 6))
    for x0, y0, x1, y1 in segments:
        (a, b), (c, d) = to_pixels([(x0, y0), (x1, y1)])
        obstacles.append((min(a, c) - 1, min(b, d) - 1, max(a, c) + 1, max(b, d) + 1))
    box = legend.get_window_extent(renderer)  # type: ignore[attr-defined]
    obstacles.append((box.x0, box.y0, box.x1, box.y1))

    def free(b: tuple[float, float, float, float]) -> bool:
        inside = (b[0] >= frame_box.x0 and b[2] <= frame_box.x1 and b[1] >= frame_box.y0
                  and b[3] <= frame_box.y1)
        return inside and not any(
            b[0] < o[2] and b[2] > o[0] and b[1] < o[3] and b[3] > o[1] for o in obstacles
        )

    scale = figure.dpi / 72.0
    order = sorted(range(len(x)), key=lambda i: (not front[i], -y[i]))  # the front's labels first
    for i in order:
        px, py = to_pixels((x[i], y[i]))
        probe = ax.text(0, 0, labels[i], fontsize=8)
        extent = probe.get_window_extent(renderer)
        probe.remove()
        w, h = extent.width + 2 * pad, extent.height + 2 * pad
        chosen = None
        for distance in (8, 16, 28, 44, 64, 90, 120):
            d = distance * scale
            for dx, dy in ((1, 0), (-1, 0), (1, 1), (1, -1), (0, 1), (0, -1), (-1, 1), (-1, -1)):
                cx = px + dx * (d + w / 2) if dx else px
                cy = py + dy * (d + h / 2) if dy else py
                b = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                if free(b):
                    chosen = (cx, cy, b, distance > 16)
                    break
            if chosen:
                break
        if chosen is None:  # nowhere free: right of the point, as close as possible
            cx, cy = px + 8 * scale + w / 2, py
            chosen = (cx, cy, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), False)
        cx, cy, b, leader = chosen
        obstacles.append(b)
        tx, ty = ax.transData.inverted().transform((cx, cy))
        arrow = {"arrowstyle": "-", "color": "0.6", "lw": 0.6, "shrinkA": 2, "shrinkB": 4} if leader else None
        ax.annotate(labels[i], xy=(x[i], y[i]), xytext=(tx, ty), textcoords="data", ha="center",
                    va="center", fontsize=8, color="#a01c1c" if front[i] else "0.25", arrowprops=arrow,
                    zorder=5)


def paired_differences(frame: pd.DataFrame, baseline: str, xlabel: str, title: str) -> Figure:
    """Each cell's difference from the baseline: the paired 95% interval (common random numbers) as a
    dark bar, the unpaired (Welch) interval of the same replications as a light one behind it.

    Columns read: label, mean, ci_low, ci_high, unpaired_low, unpaired_high.
    """
    with _style():
        height = max(2.6, 1.3 + 0.42 * max(1, len(frame)))
        figure, ax = _figure(height=height)
        if frame.empty:
            _note(ax, "Only the baseline: no difference to show")
        y = np.arange(len(frame))
        for yi, row in zip(y, frame.itertuples(index=False), strict=True):
            ax.plot([row.unpaired_low, row.unpaired_high], [yi, yi], color=COLORS[0], alpha=0.3, lw=8,
                    solid_capstyle="butt", label="unpaired (Welch) 95% CI" if yi == 0 else None)
            ax.plot([row.ci_low, row.ci_high], [yi, yi], color=COLORS[0], lw=2.5,
                    label="paired 95% CI (common random numbers)" if yi == 0 else None)
            ax.plot([row.mean], [yi], "o", color="0.1", ms=5, label="mean difference" if yi == 0 else None)
        ax.axvline(0, color="0.3", lw=1, ls="--")
        labels = [textwrap.fill(str(label), 34, break_on_hyphens=False) for label in frame["label"]]
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        _labels(ax, xlabel, "", title)
        if len(frame):
            _legend_below(ax, f"each cell minus the baseline ({textwrap.shorten(baseline, 70)})")
    return figure


# --- saving ---------------------------------------------------------------------------------------


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """The figure encoded as PNG or SVG, reproducibly (no dates or software versions in the file)."""
    metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    buffer = io.BytesIO()
    with _style():
        figure.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


def save_figure(figure: Figure, directory: Path, name: str) -> dict[str, Path]:
    """Write `name.png` and `name.svg` into `directory` atomically; return {"png": path, "svg": path}."""
    paths = {}
    for fmt in ("png", "svg"):
        data = figure_bytes(figure, fmt)
        path = Path(directory) / f"{name}.{fmt}"
        write_atomic(path, functools.partial(Path.write_bytes, data=data))
        paths[fmt] = path
    return paths
