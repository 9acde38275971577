"""Figures of the fit report: each fitted distribution against the data (matplotlib, no pyplot)."""

from __future__ import annotations

import math

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from sim.fit.durations import DurationFit
from sim.fit.personas import PersonaFit
from sim.fit.schedule import ScheduleFit
from sim.report.plots import COLORS, STYLE

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _figure(width: float = 8.0, height: float = 4.2, columns: int = 1) -> tuple[Figure, list]:
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(figure)
        axes = [figure.add_subplot(1, columns, i + 1) for i in range(columns)]
    return figure, axes


def duration_figure(fit: DurationFit, title: str, unit: float = 60.0, unit_name: str = "minutes") -> Figure:
    """A histogram of the durations on a log scale with every fitted family's density over it (densities
    per decade, so that the areas on the log axis are the probabilities)."""
    with mpl.rc_context(STYLE):
        figure, (ax,) = _figure()
        x = fit.values[fit.values > 0] / unit
        if len(x) == 0:
            ax.text(0.5, 0.5, "no positive durations", transform=ax.transAxes, ha="center")
            return figure
        low, high = np.quantile(x, [0.001, 0.999]) if len(x) > 100 else (x.min(), x.max())
        low, high = max(low, x.min()), max(high, low * 1.01)
        bins = np.logspace(math.log10(low), math.log10(high), 40)
        weights = np.full(len(x), 1.0 / (len(x) * np.diff(np.log10(bins))[0]))
        ax.hist(np.clip(x, low, high), bins=bins, weights=weights, color="0.8",
                label=f"data ({len(fit.values):,})")
        grid = np.logspace(math.log10(low), math.log10(high), 300)
        for index, family in enumerate(sorted(fit.families, key=lambda f: f.aic)):
            chosen = not fit.rejected and family.family == fit.kind
            style = "-" if family.expressible else ":"
            label = family.family + (" (used)" if chosen else "")
            label += "" if family.expressible else " (not in the language)"
            per_decade = family.pdf(grid * unit) * grid * unit * math.log(10)
            ax.plot(grid, per_decade, style, color=COLORS[index % len(COLORS)], lw=2.2 if chosen else 1.2,
                    label=label)
        if fit.rejected:
            ax.plot([], [], " ", label="no family fits: the scenario uses the data's quantiles")
        ax.set_xscale("log")
        ax.set_xlabel(f"{unit_name} (log scale)")
        ax.set_ylabel("share per decade")
        ax.set_title(title)
        ax.legend(loc="best")
    return figure


def schedule_figure(fit: ScheduleFit, title: str) -> Figure:
    """Session starts per idle device-hour by weekday and hour: the data and the fitted schedule."""
    with mpl.rc_context(STYLE):
        figure, axes = _figure(10.0, 3.6, columns=2)
        with np.errstate(divide="ignore", invalid="ignore"):
            observed = np.where(fit.exposure > 0, fit.counts / fit.exposure * 3600, np.nan)
        fitted = fit.chosen.rates * 3600
        top = np.nanmax([np.nanmax(observed), fitted.max()])
        panels = ((axes[0], observed, "data"), (axes[1], fitted, f"fitted: {fit.chosen.name}"))
        for ax, values, name in panels:
            image = ax.imshow(values.reshape(7, 24), aspect="auto", cmap="viridis", vmin=0, vmax=top)
            ax.set_yticks(range(7), DAYS)
            ax.set_xticks(range(0, 24, 3))
            ax.set_xlabel("hour of the day")
            ax.set_title(name)
            ax.grid(False)
        figure.colorbar(image, ax=axes, label="starts per idle device-hour")
        figure.suptitle(title, x=0.02, ha="left", fontweight="bold")
    return figure


def waits_figure(fit: PersonaFit, title: str) -> Figure:
    """Quantiles of the idle time before each start (in expected starts) against the exponential's."""
    with mpl.rc_context(STYLE):
        figure, (ax,) = _figure(5.5, 4.2)
        waits = np.sort(fit.waits)
        if len(waits) < 2:
            ax.text(0.5, 0.5, "too few sessions", transform=ax.transAxes, ha="center")
            return figure
        if len(waits) > 2000:
            waits = waits[np.linspace(0, len(waits) - 1, 2000).astype(int)]
        probabilities = (np.arange(len(waits)) + 0.5) / len(waits)
        theory = stats.expon.ppf(probabilities)
        ax.plot(theory, waits, ".", ms=3, color=COLORS[0], label="data")
        top = max(theory.max(), waits.max())
        ax.plot([0, top], [0, top], "-", color="0.4", lw=1, label="exponential (the model)")
        ax.set_xlabel("exponential quantile")
        ax.set_ylabel("idle time before a start (expected starts)")
        ax.set_title(title)
        ax.legend(loc="upper left")
    return figure


def comparison_figure(table: pd.DataFrame, title: str) -> Figure:
    """Each statistic of the simulations relative to the trace's value (1: the same), with 95% intervals."""
    with mpl.rc_context(STYLE):
        rows = table[(table["trace"] > 0) & table["trace"].notna()].reset_index(drop=True)
        figure, (ax,) = _figure(8.0, 0.45 * max(3, len(rows)) + 1.2)
        top = 1.5
        for offset, (label, color) in ((-0.15, ("fitted", COLORS[0])), (0.15, ("replayed", COLORS[1]))):
            ratio = (rows[label] / rows["trace"]).to_numpy()
            low = (rows[f"{label}_low"] / rows["trace"]).to_numpy()
            high = (rows[f"{label}_high"] / rows["trace"]).to_numpy()
            y = np.arange(len(rows)) + offset
            error = np.nan_to_num(np.vstack([np.clip(ratio - low, 0, None), np.clip(high - ratio, 0, None)]))
            ax.errorbar(ratio, y, xerr=error, fmt="o", color=color, capsize=3,
                        label="fitted scenario" if label == "fitted" else "trace replayed")
            top = max(top, float(np.nanmax(np.r_[high, ratio])) * 1.05)
        ax.axvline(1.0, color="0.3", lw=1)
        ax.set_yticks(range(len(rows)), rows["counts"])
        ax.invert_yaxis()
        ax.set_xlim(-0.03 * top, top)
        ax.set_xlabel("simulated / trace (per user-month; 1: the same)")
        ax.set_title(title)
        ax.legend(loc="lower right")
    return figure
