"""One-day HTML report of stored episodes for a clinician: charts (embedded PNGs) and a summary table.

The page is rendered here; the day's data and summary live in report_data, the charts in report_charts. The names
other modules and tests import from `spasmwatch.report.day` are re-exported below."""

from __future__ import annotations

import html
from datetime import datetime

from spasmwatch.report.charts import (
    DURATION_TICKS,
    MIN_BAR_H,
    NO_DATA_COLOR,
    _png,
    chart_durations,
    chart_per_hour,
    chart_strength,
    chart_timeline,
    fig_hist,
    fig_per_hour,
    fig_timeline,
    fmt_tick_s,
)
from spasmwatch.report.data import (
    DEFAULT_DEVICE_NAME,
    MIN_RATE_S,
    DayData,
    fmt_duration,
    latest_day,
    load_day,
    summary,
    today,
)
from spasmwatch.sensitivity import from_info, words
from spasmwatch.store import Gap

__all__ = ["DEFAULT_DEVICE_NAME", "DURATION_TICKS", "MIN_BAR_H", "MIN_RATE_S", "NO_DATA_COLOR",
           "_CSS", "DayData", "_img", "_png", "_table", "chart_durations", "chart_per_hour", "chart_strength",
           "chart_timeline", "fig_hist", "fig_per_hour", "fig_timeline", "fmt_duration", "fmt_tick_s", "latest_day",
           "load_day", "render_html", "summary", "today"]

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


def _sensitivity(info: object) -> str:
    """', detector sensitivity: 0.1 false alarms per hour of rest' from a device's stored config, or ''."""
    sens = from_info(info)
    return "" if sens is None else f", detector sensitivity: {words(sens[0])}{'' if sens[1] else ' (default)'}"


def render_html(data: DayData, source: str = "") -> str:
    """The complete self-contained page (no external files, scripts or fonts)."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; safe to call again
    tzname = data.local(data.start).tzname() or "local time"
    title = f"spasmwatch report — {data.day}"
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             f"<title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    devs = ", ".join(f"{data.device_label(str(d['device_id']))} (firmware {d['fw_version'] or '?'}"
                     f"{_sensitivity(d.get('info'))})" for d in data.devices)
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
