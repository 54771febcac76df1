"""A printable report over a range of days for a clinic visit: rates per monitored hour, clinical-style bands,
distributions, notes, and a before/after comparison around the latest note (self-contained HTML)."""

from __future__ import annotations

import html
import statistics
from datetime import datetime, tzinfo

from spasmcore import kinds
from spasmwatch.dashboard import stats
from spasmwatch.report.charts import rate_axis
from spasmwatch.report.day import _CSS, DayData, _img, _png, _table, fig_hist, fmt_duration
from spasmwatch.store import ReadOnlyStore

PRINT_CSS = """
@media print{body{max-width:none;margin:0}h2{break-after:avoid}table,img{break-inside:avoid}}
td:first-child{white-space:nowrap}
.caveat{background:#fff8e5;border-left:4px solid #e0a800;padding:.5em .8em}
"""


def _pct(v: object) -> str:
    return "–" if not isinstance(v, (int, float)) else f"{v:.1f} %"


def _num(v: object, digits: int = 1) -> str:
    return "–" if not isinstance(v, (int, float)) else f"{v:.{digits}f}"


def fig_daily(data: stats.RangeData, days: list[dict[str, object]]):  # noqa: ANN201 - a matplotlib Figure
    """Spasms per monitored hour per day (bars), monitored hours (line), notes as dashed lines."""
    import matplotlib.pyplot as plt
    from matplotlib.dates import DateFormatter, date2num

    fig, ax = plt.subplots(figsize=(10, 3.2))
    xs = [float(date2num(datetime.fromtimestamp(float(d["start"]) + 43200))) for d in days]  # type: ignore[arg-type]
    rates = [float(d["rate_h"]) if d["rate_h"] is not None else 0.0 for d in days]  # type: ignore[arg-type]
    ax.bar(xs, rates, width=0.8, color=kinds.ALL_SPASMS_COLOR, alpha=0.75, label="spasms per monitored hour")
    ax.set_ylabel("spasms / monitored h")
    rate_axis(ax, rates)
    ax2 = ax.twinx()
    mon = [(d["monitored_s"] or 0.0) / 3600 for d in days]  # type: ignore[operator]
    ax2.plot(xs, mon, color="#2a9d3a", marker="o", ms=3, lw=1.5, label="monitored hours")
    ax2.set_ylim(0, 24)
    ax2.set_ylabel("monitored h")
    for n in data.notes:
        t = float(date2num(datetime.fromtimestamp(n.at)))
        ax.axvline(t, color="#b8860b", ls="--", lw=1.2)
        ax.text(t, ax.get_ylim()[1] * 0.97, f" {n.text}", fontsize=7, color="#7a5a00", va="top")
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(DateFormatter("%d %b"))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", bbox_to_anchor=(1.08, 1.0), fontsize=8, frameon=False)
    ax.set_title("Spasms per monitored hour, per day (days with under 1 h monitored: no bar)", fontsize=10)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def summary_rows(fig: dict[str, object], days: list[dict[str, object]]) -> list[list[str]]:
    by_kind = fig["by_kind"]
    assert isinstance(by_kind, dict)
    rated = [d for d in days if d["rate_h"] is not None]
    daily = [float(d["rate_h"]) for d in rated]  # type: ignore[arg-type]
    classes = [0, 0, 0]
    for d in days:
        per_day = d["clonus_classes"]
        assert isinstance(per_day, list)
        classes = [c + int(x) for c, x in zip(classes, per_day, strict=True)]
    durs_med, monitored = fig["median_duration_s"], fig["monitored_s"]
    rows = [["Days", f"{len(days)} ({len(rated)} with at least 1 h monitored)"],
            ["Monitored time", fmt_duration(monitored) if isinstance(monitored, float) else "not recorded"],
            ["Spasm episodes", str(fig["episodes"])]]
    rows += [[f"  {k.label}", str(by_kind[k.name])] for k in kinds.episodes()]
    rows += [["Spasms per monitored hour", _num(fig["rate_h"], 2)],
             ["Median of the daily rates", _num(statistics.median(daily), 2) if daily else "–"],
             ["Time in spasm", f"{fmt_duration(fig['spasm_s'])} ({_pct(fig['spasm_pct'])} of monitored time)"],  # type: ignore[arg-type]
             ["Median duration", fmt_duration(durs_med) if isinstance(durs_med, float) else "–"],
             ["Median strength", f"{_num(fig['median_peak_x'])}× resting level"],
             ["Clonus by duration (< 3 s / 3–10 s / > 10 s)", " / ".join(map(str, classes))],
             ["Sensor faults", str(fig["faults"])], ["Data gaps", str(fig["gaps"])]]
    return rows


def day_rows(days: list[dict[str, object]]) -> list[list[str]]:
    out = []
    for d in days:
        mon = d["monitored_s"]
        band = str(d["band"]) if d["band_level"] is not None else f"– ({d['band']})"
        shown = fmt_duration(mon) if isinstance(mon, (int, float)) else "not recorded"
        out.append([str(d["day"]), shown, str(d["episodes"]),
                    _num(d["rate_h"]), band, fmt_duration(d["spasm_s"]),  # type: ignore[arg-type]
                    *(str(n) for n in d["clonus_classes"]), str(d["faults"]), str(d["gaps"])])  # type: ignore[attr-defined]
    return out


def split_at(data: stats.RangeData, at: float) -> tuple[stats.RangeData, stats.RangeData]:
    """The range's rows before `at` and from `at` on (a note's exact time): the note's day is cut in two, so
    an episode at 11:58 counts before a note made at 11:59, whatever the calendar day."""
    def part(lo: float, hi: float) -> stats.RangeData:
        days = [(d, max(s, lo), min(e, hi)) for d, s, e in data.days if max(s, lo) < min(e, hi)]
        inside = lambda w: w is not None and lo <= w < hi  # noqa: E731
        return stats.RangeData(
            days[0][0], days[-1][0], days, episodes=[e for e in data.episodes if inside(e.onset_wall)],
            open_episodes=[e for e in data.open_episodes if inside(e.onset_wall)],
            faults=[f for f in data.faults if inside(f.onset_wall)],
            gaps=[g for g in data.gaps if inside(g.start_wall)], links=data.links,
            notes=[n for n in data.notes if inside(n.at)], now=data.now)

    return part(data.start, at), part(at, data.end)


# The range report's before/after split at a note's exact time (the dashboard's Compare splits the same way,
# with stats.compare(..., clips=stats.split_at(t))).
def compare_at(data: stats.RangeData, at: float) -> dict[str, object]:
    """stats.compare's figures for the periods before and from `at`, split at that instant."""
    out: dict[str, object] = {"caveat": stats.OBSERVATIONAL}
    figs = []
    for key, part in zip(("a", "b"), split_at(data, at), strict=True):
        fig = stats.period_figures(part, stats.day_stats(part))
        fig.update(first=part.first, last=part.last, start=part.start, end=part.end)
        out[key] = fig
        figs.append(fig)
    out["rate_test"] = stats.rank_test(figs[0]["daily_rates"], figs[1]["daily_rates"])  # type: ignore[arg-type]
    out["spasm_time_test"] = stats.rank_test(figs[0]["daily_spasm_pct"],  # type: ignore[arg-type]
                                             figs[1]["daily_spasm_pct"])  # type: ignore[arg-type]
    return out


def compare_section(data: stats.RangeData, tz: tzinfo | None) -> str:
    """Before/after the latest note in the range, split at the note's time, when both sides have time."""
    if not data.notes:
        return ""
    note = data.notes[-1]
    if not data.start < note.at < data.end:
        return ""
    res = compare_at(data, note.at)
    a, b = res["a"], res["b"]
    assert isinstance(a, dict) and isinstance(b, dict)
    when = f"{datetime.fromtimestamp(note.at, tz):%Y-%m-%d %H:%M}"
    rows = [["Days (the note's day in both, split at its time)", str(a["days"]), str(b["days"])],
            ["Spasms per monitored hour", _num(a["rate_h"], 2), _num(b["rate_h"], 2)],
            ["Time in spasm (of monitored time)", _pct(a["spasm_pct"]), _pct(b["spasm_pct"])],
            ["Median duration", fmt_duration(a["median_duration_s"]), fmt_duration(b["median_duration_s"])],
            ["Median strength (× rest)", _num(a["median_peak_x"]), _num(b["median_peak_x"])]]
    rows += [[f"{k.label} share", _pct(a["kind_pct"][k.name]), _pct(b["kind_pct"][k.name])] for k in kinds.episodes()]
    test = res["rate_test"]
    assert isinstance(test, dict)
    p = (f"{test['test']} of the daily rates: p = {test['p']:.2g}." if test["p"] is not None
         else f"No test: {test['reason']}.")
    return (f"<h2>Before and after “{html.escape(note.text)}” ({when})</h2>"
            + _table(["", f"before ({a['first']} – {when})", f"after ({when} – {b['last']})"], rows)
            + f"<p>{html.escape(p)}</p><p class='caveat'>{html.escape(stats.OBSERVATIONAL)}</p>")


def render_range(ro: ReadOnlyStore, first: str, last: str, device: str | None = None, tz: tzinfo | None = None,
                 now: float | None = None, source: str = "") -> tuple[str, stats.RangeData]:
    """The page (no scripts, fonts or external files: charts are embedded PNGs) and the data it shows."""
    import matplotlib

    matplotlib.use("Agg")
    data = stats.load_range(ro, first, last, device, None, tz, now)
    days = stats.day_stats(data)
    fig = stats.period_figures(data, days)
    title = f"spasmwatch report — {first} to {last}"
    devs = ", ".join(str(d.get("name") or d["device_id"]) + f" ({d['device_id']})" for d in ro.devices()
                     if device is None or d["device_id"] == device) or "unknown"
    zone = datetime.fromtimestamp(data.start).astimezone(tz).tzname() or "local time"
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>", f"<title>{html.escape(title)}</title>",
             f"<style>{_CSS}{PRINT_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p class='note'>Times in {html.escape(zone)}. Device(s): {html.escape(devs)}.</p>",
             "<h2>Summary</h2>", _table(["", "value"], summary_rows(fig, days))]
    if data.episodes or data.links:
        parts.append("<h2>Spasms per monitored hour</h2>" + _img(_png(fig_daily(data, days)),
                                                                   "spasms per monitored hour per day"))
        as_day = DayData(day=first, start=data.start, end=data.end, tz=tz, episodes=data.episodes)
        parts.append("<h2>Duration and strength</h2><div class='row'>"
                     + _img(_png(fig_hist(as_day, lambda e: e.duration_s, "Episode durations",
                                          "duration (log scale)", True)), "histogram of durations")
                     + _img(_png(fig_hist(as_day, lambda e: e.peak_x, "Episode strength",
                                          "peak envelope (× resting level)", False)), "histogram of strength")
                     + "</div>")
    parts.append("<h2>Per day</h2><p class='note'>Frequency band: Penn-Spasm-Frequency-Scale-style, by spasms per "
                 "monitored hour (none, &lt; 1/h, 1–10/h, &gt; 10/h; needs 1 h of monitoring). Clonus by duration: "
                 f"SCATS-style classes. Both {html.escape(stats.SENSOR_NOTE)}.</p>")
    parts.append(_table(list(stats.DAY_HEADS), day_rows(days)))
    if data.notes:
        parts.append("<h2>Notes and interventions</h2>" + _table(
            ["time", "kind", "note"], [[f"{datetime.fromtimestamp(n.at, tz):%Y-%m-%d %H:%M}", n.kind, n.text]
                                       for n in data.notes]))
    parts.append(compare_section(data, tz))
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    origin = f" from {html.escape(source)}" if source else ""
    parts.append("<p class='note'>Episodes are detected automatically from surface EMG and may be missed or "
                 "mis-classified; spasmwatch is not a medical device, and the bands above are not clinical "
                 f"scores. Generated {html.escape(stamp)}{origin}.</p></body></html>\n")
    return "".join(parts), data
