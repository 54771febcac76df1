"""One-day HTML report of stored episodes for a clinician: charts (embedded PNGs) and a summary table."""

from __future__ import annotations

import base64
import html
import io
import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from spasmcore.events import EPISODE_KINDS

from .store import FAULT, Gap, Link, Store, StoredEvent, day_bounds

# far apart in hue and lightness, and told apart with the common colour-vision deficiencies (Okabe-Ito blue
# and vermillion, a dark purple); faults grey
KIND_COLORS = {"twitch": "#56b4e9", "tonic": "#d55e00", "clonus": "#5e3c99", "fault": "#555555"}
NO_DATA_COLOR = "#e8e8e8"
MIN_BAR_H = 1 / 60  # episodes shorter than a minute are drawn one minute wide so they show on a 24 h axis
MIN_RATE_S = 15 * 60  # less monitored time than this gives no per-hour rate (30 s would be multiplied by 120)
DEFAULT_DEVICE_NAME = "spasmwatch"  # firmware/config.py's default `name`: not a name the user gave
# duration axis ticks (seconds) and how they read
DURATION_TICKS = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)


@dataclass
class DayData:
    """Everything the report shows for one calendar day (times as unix seconds)."""

    day: str
    start: float
    end: float
    tz: tzinfo | None
    episodes: list[StoredEvent] = field(default_factory=list)  # closed twitch/tonic/clonus
    open_episodes: list[StoredEvent] = field(default_factory=list)
    faults: list[StoredEvent] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    devices: list[dict[str, object]] = field(default_factory=list)
    now: float | None = None

    @property
    def empty(self) -> bool:
        return not (self.episodes or self.faults or self.open_episodes)

    @property
    def hours(self) -> float:
        return (self.end - self.start) / 3600

    def h(self, wall: float) -> float:
        """Hours since the start of the day."""
        return (wall - self.start) / 3600

    def local(self, wall: float) -> datetime:
        t = datetime.fromtimestamp(wall, self.tz)
        return t if self.tz is not None else t.astimezone()

    def covered(self) -> list[tuple[float, float]]:
        """Merged intervals of the day when a device link was up (the host was receiving)."""
        stop = min(self.end, self.now) if self.now is not None else self.end
        spans = sorted((max(lk.connected_at, self.start), min(lk.end, stop)) for lk in self.links)
        merged: list[tuple[float, float]] = []
        for a, b in spans:
            if b <= a:
                continue
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    def device_label(self, device_id: str) -> str:
        """The name the user gave the device (config `name`) with its id, else the id."""
        for d in self.devices:
            if d["device_id"] == device_id:
                name = d.get("name")
                if isinstance(name, str) and name and name not in (DEFAULT_DEVICE_NAME, device_id):
                    return f"{name} ({device_id})"
        return device_id

    def channel_name(self, device_id: str, channel: int) -> str:
        """The channel's muscle from the device config (e.g. "left calf"), else "ch N"."""
        for d in self.devices:
            if d["device_id"] == device_id:
                names = d.get("channel_names")
                if isinstance(names, list) and 0 <= channel < len(names) and names[channel] not in ("",
                                                                                                  f"ch{channel}"):
                    return str(names[channel])
        return f"ch {channel}"

    def where(self, ev: StoredEvent) -> str:
        """Where an episode was: the channel's name, and the device's when the day has several devices."""
        ch = self.channel_name(ev.device_id, ev.channel)
        if len({e.device_id for e in self.episodes + self.faults + self.open_episodes}) > 1:
            return f"{self.device_label(ev.device_id)}: {ch}"
        return ch

    def coverage_s(self) -> float | None:
        """Seconds of the day with a live link, None when no link sessions were recorded."""
        if not self.links:
            return None
        return sum(b - a for a, b in self.covered())


def load_day(store: Store, day: str, device: str | None = None, tz: tzinfo | None = None,
             now: float | None = None) -> DayData:
    start, end = day_bounds(day, tz)
    data = DayData(day=day, start=start.timestamp(), end=end.timestamp(), tz=tz, now=now)
    for ev in store.events(start, end, device, states=("open", "closed")):
        if ev.kind == FAULT:
            data.faults.append(ev)
        elif ev.state == "open":
            data.open_episodes.append(ev)
        else:
            data.episodes.append(ev)
    data.gaps = store.gaps(start, end, device)
    data.links = store.links(start, end, device)
    data.devices = [d for d in store.devices() if device is None or d["device_id"] == device]
    return data


# ---- summary -------------------------------------------------------------------------------------------


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def summary(data: DayData) -> list[tuple[str, str]]:
    """(label, value) rows of the clinician's summary table."""
    eps = data.episodes
    durs = [e.duration_s or 0.0 for e in eps]
    rows: list[tuple[str, str]] = [("Spasm episodes", str(len(eps)))]
    for kind in EPISODE_KINDS:
        kd = [e.duration_s or 0.0 for e in eps if e.kind == kind]
        rows.append((f"  {kind}", f"{len(kd)}" + (f" (total {fmt_duration(sum(kd))})" if kd else "")))
    rows.append(("Total time in spasm", fmt_duration(sum(durs)) if eps else "–"))
    if eps:
        med, top = fmt_duration(statistics.median(durs)), fmt_duration(max(durs))
        rows.append(("Median / max duration", f"{med} / {top}"))
    cover = data.coverage_s()
    if cover is not None and cover < MIN_RATE_S:  # a rate from a few minutes would be a wild extrapolation
        rows.append(("Spasms per hour", f"too little monitored time ({fmt_duration(cover)}; a rate needs at "
                     f"least {MIN_RATE_S // 60} min)"))
    else:
        hours = (cover if cover else data.hours * 3600) / 3600
        basis = "monitored hour" if cover else "hour of the day"
        rows.append(("Spasms per hour", f"{len(eps) / hours:.1f} per {basis}" if hours > 0 else "–"))
    if eps:
        per_hour = [0] * (int(data.hours) + 1)
        for e in eps:
            per_hour[int(data.h(e.onset_wall or data.start))] += 1
        busiest = max(range(len(per_hour)), key=per_hour.__getitem__)
        t = data.local(data.start + busiest * 3600)
        rows.append(("Busiest hour", f"{t:%H}:00–{t:%H}:59 ({per_hour[busiest]} episodes)"))
        longest = max(eps, key=lambda e: e.duration_s or 0.0)
        strength = f", {longest.peak_x:.1f}× rest" if longest.peak_x else ""
        rows.append(("Longest episode", f"{fmt_duration(longest.duration_s)} {longest.kind} at "
                     f"{data.local(longest.onset_wall or data.start):%H:%M:%S} ({data.where(longest)}"
                     f"{strength})"))
        strong = [e.peak_x for e in eps if e.peak_x]
        if strong:
            rows.append(("Median / max strength", f"{statistics.median(strong):.1f}× / {max(strong):.1f}× "
                         "resting level"))
    if data.open_episodes:
        rows.append(("Episodes without an end", str(len(data.open_episodes))))
    fault_s = sum(f.duration_s or 0.0 for f in data.faults)
    fault_text = f"{len(data.faults)}" + (f" ({fmt_duration(fault_s)})" if data.faults else "")
    rows.append(("Sensor faults", fault_text))
    rows.append(("Data gaps", str(len(data.gaps))))
    if cover is None:
        rows.append(("Data coverage", "not recorded (no link sessions in the database)"))
    else:
        span = (min(data.end, data.now) if data.now else data.end) - data.start
        pct = 100 * cover / span if span > 0 else 0.0
        so_far = " of the day so far" if data.now and data.now < data.end else ""
        rows.append(("Data coverage", f"{fmt_duration(cover)} monitored ({pct:.0f}%{so_far})"))
    return rows


# ---- charts --------------------------------------------------------------------------------------------


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
            kind = e.kind or "twitch"
            width = max((e.duration_s or 0.0) / 3600, MIN_BAR_H)
            ax.broken_barh([(data.h(e.onset_wall), width)], (row - 0.35, 0.7), color=KIND_COLORS.get(kind),
                           hatch="//" if kind == FAULT else None, alpha=0.5 if e.state == "open" else 1.0,
                           zorder=2)
    ax.set_yticks(range(len(rows)))
    several = len({dev for dev, _ in rows}) > 1
    ax.set_yticklabels([(f"{data.device_label(dev)}: " if several else "") + data.channel_name(dev, ch)
                        for dev, ch in rows])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    _hour_axis(ax, data)
    handles = [Patch(color=KIND_COLORS[k], label=k) for k in (*EPISODE_KINDS, FAULT)]
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
    for kind in EPISODE_KINDS:
        counts = [0] * n
        for e in data.episodes:
            if e.kind == kind and e.onset_wall is not None:
                counts[min(n - 1, int(data.h(e.onset_wall)))] += 1
        ax.bar([i + 0.5 for i in range(n)], counts, width=0.85, bottom=bottom, color=KIND_COLORS[kind],
               label=kind)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    _hour_axis(ax, data)
    ax.set_ylim(0, max(bottom + [1]) * 1.1)
    ax.set_ylabel("episodes")
    _count_axis(ax.yaxis)
    _legend_outside(ax)
    ax.set_title("Spasm episodes per hour", fontsize=10)
    fig.tight_layout()
    return fig


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
    series = [[v for e in data.episodes if e.kind == k and (v := value(e)) is not None and v > 0]
              for k in EPISODE_KINDS]
    flat = [v for s in series for v in s]
    if flat:
        lo, hi = min(flat), max(flat)
        if log:
            bins = np.geomspace(lo * 0.9, hi * 1.1, 20).tolist()
            ax.set_xscale("log")
        else:
            bins = np.linspace(lo * 0.9, hi * 1.1, 20).tolist()
        kinds = [k for k, s in zip(EPISODE_KINDS, series, strict=True) if s]
        ax.hist([s for s in series if s], bins=bins, stacked=True, label=kinds,
                color=[KIND_COLORS[k] for k in kinds])
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


# ---- page ----------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1050px;margin:1.5em auto;
padding:0 1em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .8em;border-bottom:1px solid #eee;
text-align:left;vertical-align:top}th{background:#f6f6f6}td.sub{padding-left:2em;color:#444}
img{max-width:100%;height:auto}.row{display:flex;flex-wrap:wrap;gap:1em}.note{color:#666;font-size:.9em}
.empty{font-size:1.2em;padding:1em;background:#f6f6f6;border-radius:6px}
"""


def _table(head: list[str], rows: list[list[str]]) -> str:
    out = ["<table><tr>", *(f"<th>{html.escape(h)}</th>" for h in head), "</tr>"]
    for r in rows:
        # a label indented with two spaces is a sub-row (e.g. a kind under the episode count)
        cells = [f"<td class='sub'>{html.escape(c.strip())}</td>" if c.startswith("  ") else
                 f"<td>{html.escape(c)}</td>" for c in r]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _img(b64: str, alt: str) -> str:
    return f'<img src="data:image/png;base64,{b64}" alt="{html.escape(alt)}">'


def render_html(data: DayData, source: str = "") -> str:
    """The complete self-contained page (no external files, scripts or fonts)."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; safe to call again
    tzname = data.local(data.start).tzname() or "local time"
    title = f"spasmwatch report — {data.day}"
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             f"<title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    devs = ", ".join(f"{data.device_label(str(d['device_id']))} (firmware {d['fw_version'] or '?'})"
                     for d in data.devices)
    devs = devs or "unknown"
    parts.append(f"<p class='note'>Times in {html.escape(tzname)}. Device(s): {html.escape(devs)}.</p>")
    if data.empty:
        cover = data.coverage_s()
        monitored = f" during {fmt_duration(cover)} of monitoring" if cover else ""
        parts.append(f"<p class='empty'>No spasm episodes or sensor faults were recorded on {data.day}"
                     f"{html.escape(monitored)}.</p>")
        if not data.links:
            parts.append("<p class='note'>The database has no monitoring session on this day: the device may "
                         "not have been connected.</p>")
    else:
        parts.append("<h2>Summary</h2>")
        parts.append(_table(["", "value"], [[a, b] for a, b in summary(data)]))
        parts.append("<h2>Timeline</h2>" + _img(chart_timeline(data), "timeline of episodes by kind"))
        parts.append("<h2>Spasms per hour</h2>" + _img(chart_per_hour(data), "episodes per hour by kind"))
        parts.append("<h2>Duration and strength</h2><div class='row'>"
                     + _img(chart_durations(data), "histogram of episode durations")
                     + _img(chart_strength(data), "histogram of episode peak strength") + "</div>")
        longest = sorted(data.episodes, key=lambda e: -(e.duration_s or 0.0))[:10]
        if longest:
            parts.append("<h2>Longest episodes</h2>")
            parts.append(_table(
                ["start", "kind", "duration", "strength (× rest)", "where"],
                [[f"{data.local(e.onset_wall or data.start):%H:%M:%S}", e.kind or "",
                  fmt_duration(e.duration_s), f"{e.peak_x:.1f}" if e.peak_x else "–", data.where(e)]
                 for e in longest],
            ))
    parts.append("<h2>Sensor faults and data gaps</h2>")
    if data.faults or data.gaps:
        rows = [[f"{data.local(f.onset_wall or data.start):%H:%M:%S}", f"sensor fault: {f.detail or 'fault'}",
                 fmt_duration(f.duration_s) if f.state == "closed" else "still open", data.where(f)]
                for f in data.faults]
        rows += [[f"{data.local(g.start_wall):%H:%M:%S}", f"data gap: {g.kind}",
                  fmt_duration(g.end_wall - g.start_wall) if g.end_wall else "–", _gap_detail(g)]
                 for g in data.gaps]
        rows.sort(key=lambda r: r[0])
        parts.append(_table(["time", "what", "duration", "detail"], rows))
    else:
        parts.append("<p>None.</p>")
    parts.append("<p class='note'>Episodes are detected automatically from surface EMG and may be missed or "
                 "mis-classified; spasmwatch is not a medical device. Strength is the peak EMG envelope as a "
                 "multiple of the resting noise floor.")
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    origin = f" from {html.escape(source)}" if source else ""
    parts.append(f" Generated {html.escape(stamp)}{origin}.</p>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _gap_detail(g: Gap) -> str:
    bits = []
    if g.first_seq is not None:
        upto = f"–{g.last_seq}" if g.last_seq not in (None, g.first_seq) else ""
        bits.append(f"seq {g.first_seq}{upto}")
    if g.detail:
        bits.append(g.detail)
    return ", ".join(bits)


def latest_day(store: Store, device: str | None = None, tz: tzinfo | None = None) -> str | None:
    """The local date of the most recent stored event, for a helpful 'empty day' message."""
    last = store.first_last_wall(device)[1]
    if last is None:
        return None
    t = datetime.fromtimestamp(last, tz)
    return (t if tz else t.astimezone()).strftime("%Y-%m-%d")


def today(tz: tzinfo | None = None) -> str:
    return (datetime.now(tz) if tz else datetime.now().astimezone()).strftime("%Y-%m-%d")

