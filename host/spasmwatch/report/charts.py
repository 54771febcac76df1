"""The one-day report's charts (timeline, per hour, duration and strength histograms) as matplotlib figures and
embedded PNGs; matplotlib is imported inside the functions that plot, so `spasmwatch --help` never loads it."""

from __future__ import annotations

import base64
import io
import math

from spasmcore import kinds
from spasmwatch.report.data import DayData
from spasmwatch.store import FAULT

NO_DATA_COLOR = "#e8e8e8"
MIN_BAR_H = 1 / 60  # episodes shorter than a minute are drawn one minute wide so they show on a 24 h axis
# duration axis ticks (seconds) and how they read
DURATION_TICKS = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)


def _png(fig) -> str:  # noqa: ANN001 - a matplotlib Figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _hour_axis(ax, data: DayData) -> None:  # noqa: ANN001
    ticks = list(range(0, int(round(data.hours)) + 1, 2))
    ax.set_xticks(ticks)
    # the day's end is labelled 24, not 00, so the axis reads as one day
    ax.set_xticklabels([f"{data.local(data.start + h * 3600):%H}" if h < data.hours else "24" for h in ticks])
    ax.set_xlim(0, data.hours)
    ax.set_xlabel("hour of the day")


def chart_timeline(data: DayData) -> str:
    return _png(fig_timeline(data))


def fig_timeline(data: DayData):  # noqa: ANN201 - a matplotlib Figure
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    everything = data.faults + data.episodes + data.open_episodes
    rows = sorted({(e.device_id, e.channel) for e in everything}) or [("", 0)]
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.6 * len(rows)))
    stop = min(data.end, data.now) if data.now else data.end
    if data.links:  # shade what was not monitored
        last = data.start
        for a, b in data.covered() + [(stop, stop)]:
            if a > last:
                ax.axvspan(data.h(last), data.h(a), color=NO_DATA_COLOR, zorder=0)
            last = max(last, b)
    for g in data.gaps:
        ax.axvline(data.h(g.start_wall), color="#999999", lw=0.8, ls=":", zorder=1)
    for row, key in enumerate(rows):
        for e in everything:
            if (e.device_id, e.channel) != key or e.onset_wall is None:
                continue
            kind = e.kind or kinds.open_kind()
            width = max((e.duration_s or 0.0) / 3600, MIN_BAR_H)
            ax.broken_barh([(data.h(e.onset_wall), width)], (row - 0.35, 0.7), color=kinds.color(kind),
                           hatch="//" if kind == FAULT else None, alpha=0.5 if e.state == "open" else 1.0,
                           zorder=2)
    ax.set_yticks(range(len(rows)))
    several = len({dev for dev, _ in rows}) > 1
    ax.set_yticklabels([(f"{data.device_label(dev)}: " if several else "") + data.channel_name(dev, ch)
                        for dev, ch in rows])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    _hour_axis(ax, data)
    handles = [Patch(color=k.color, label=k.label) for k in (*kinds.episodes(), kinds.get(FAULT)) if k]
    if data.links:
        handles.append(Patch(color=NO_DATA_COLOR, label="not monitored"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title(f"Episodes on {data.day} (short episodes widened to 1 min)", fontsize=10)
    fig.tight_layout()
    return fig


def _legend_outside(ax, **kw) -> None:  # noqa: ANN001
    """The legend right of the plot, where it can never cover a bar."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8, frameon=False, **kw)


def chart_per_hour(data: DayData) -> str:
    return _png(fig_per_hour(data))


def fig_per_hour(data: DayData):  # noqa: ANN201 - a matplotlib Figure
    import matplotlib.pyplot as plt

    n = int(-(-data.hours // 1))
    fig, ax = plt.subplots(figsize=(10, 2.6))
    bottom = [0] * n
    for kind in kinds.episodes():
        counts = [0] * n
        for e in data.episodes:
            if e.kind == kind.name and e.onset_wall is not None:
                counts[min(n - 1, int(data.h(e.onset_wall)))] += 1
        ax.bar([i + 0.5 for i in range(n)], counts, width=0.85, bottom=bottom, color=kind.color,
               label=kind.label)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    _hour_axis(ax, data)
    ax.set_ylim(0, max(bottom + [1]) * 1.1)
    ax.set_ylabel("episodes")
    _count_axis(ax.yaxis)
    _legend_outside(ax)
    ax.set_title("Spasm episodes per hour", fontsize=10)
    fig.tight_layout()
    return fig


def rate_axis(ax, rates: list[float]) -> None:  # noqa: ANN001 - a matplotlib Axes
    """A rate axis from 0 (no rate is negative: matplotlib centres all-zero bars on 0) to at least 1."""
    ax.set_ylim(0, max([1.0, *rates]) * 1.1)


def _count_axis(axis) -> None:  # noqa: ANN001
    """Whole numbers only: there is no half an episode."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def fmt_tick_s(seconds: float) -> str:
    """A duration tick: 0.5 s, 2 s, 30 s, 1 min, 1.5 min, 1 h."""
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def _duration_axis(ax, lo: float, hi: float) -> None:  # noqa: ANN001
    """Log-scaled seconds with round, labelled ticks (never 3×10⁰), at least two of them."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    ticks: list[float] = []
    min_gap = math.log10(hi / lo) / 6 if hi > lo > 0 else 0.0  # at most ~6 labels: they never run together
    for t in DURATION_TICKS:
        if lo <= t <= hi and (not ticks or math.log10(t / ticks[-1]) >= min_gap):
            ticks.append(t)
    if len(ticks) < 2:  # a narrow range: the round ticks around it, and the axis widened to show them
        below = [t for t in DURATION_TICKS if t <= lo][-1:] or [DURATION_TICKS[0]]
        above = [t for t in DURATION_TICKS if t >= hi][:1] or [DURATION_TICKS[-1]]
        ticks = sorted(set(below + ticks + above))
        ax.set_xlim(min(ticks[0], lo) * 0.9, max(ticks[-1], hi) * 1.1)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_tick_s(v)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _hist(data: DayData, value, title: str, xlabel: str, log: bool) -> str:  # noqa: ANN001
    return _png(fig_hist(data, value, title, xlabel, log))


def fig_hist(data: DayData, value, title: str, xlabel: str, log: bool):  # noqa: ANN001, ANN201
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(5, 3))
    series = [[v for e in data.episodes if e.kind == k.name and (v := value(e)) is not None and v > 0]
              for k in kinds.episodes()]
    flat = [v for s in series for v in s]
    if flat:
        lo, hi = min(flat), max(flat)
        if log:
            bins = np.geomspace(lo * 0.9, hi * 1.1, 20).tolist()
            ax.set_xscale("log")
        else:
            bins = np.linspace(lo * 0.9, hi * 1.1, 20).tolist()
        shown = [k for k, s in zip(kinds.episodes(), series, strict=True) if s]
        ax.hist([s for s in series if s], bins=bins, stacked=True, label=[k.label for k in shown],
                color=[k.color for k in shown])
        if log:
            _duration_axis(ax, lo * 0.9, hi * 1.1)
        _legend_outside(ax)
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="#777777")
    _count_axis(ax.yaxis)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("episodes")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def chart_durations(data: DayData) -> str:
    return _hist(data, lambda e: e.duration_s, "Episode durations", "duration (log scale)", log=True)


def chart_strength(data: DayData) -> str:
    return _hist(data, lambda e: e.peak_x, "Episode strength", "peak envelope (× resting level)", log=False)
