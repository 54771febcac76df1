"""The live monitor screen (rich, fitted to the terminal) and the plain log lines, drawn from view.MonitorState."""

from __future__ import annotations

import time
from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from spasmcore import kinds
from spasmwatch.link import wire
from spasmwatch.terminal.view import Level, MonitorState, onset_wall

BAR_WIDTH = 36

# ---- rendering -------------------------------------------------------------------------------------------
#
# Laid out for an 80x24 terminal first: every line is cut to the width (never wrapped), and the parts are
# stacked in order of importance (who and how is the link; counts of this hour and today; the channels; what
# is happening now; the last events), with the last events filling whatever height is left. A wider screen
# gets longer level bars and names, a taller one more of the last events.

WIDTH, HEIGHT = 80, 24
MAX_CHANNEL_NAME = 16


def fmt_uptime(ms: int | None) -> str:
    if ms is None:
        return "?"
    s = ms // 1000
    return f"{s // 86400}d {s % 86400 // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 86400 else \
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def level_bar(level: Level, width: int = BAR_WIDTH) -> Text:
    """Envelope as a bar; ':' marks the off threshold and '|' the on threshold."""
    top = max(level.env, (level.on or 0) * 1.5, (level.floor or 0) * 4, 1.0)
    pos = lambda v: min(width - 1, int(v / top * width))  # noqa: E731
    filled = pos(level.env) if level.env > 0 else -1
    style = "green"
    if level.on is not None and level.env >= level.on:
        style = "bold red"
    elif level.off is not None and level.env >= level.off:
        style = "yellow"
    bar = Text()
    for i in range(width):
        if level.on is not None and i == pos(level.on):
            bar.append("|", style="bold white")
        elif level.off is not None and i == pos(level.off):
            bar.append(":", style="white")
        elif i <= filled:
            bar.append("█", style=style)
        else:
            bar.append("·", style="bright_black")
    return bar


def _line(text: Text, width: int) -> Text:
    """One screen line: cut with an ellipsis, never wrapped."""
    text.no_wrap = True
    text.overflow = "ellipsis"
    text.truncate(width, overflow="ellipsis")
    return text


def _device_label(state: MonitorState) -> str:
    dev = state.device_id or "?"
    if state.device_name and state.device_name not in ("spasmwatch", dev):
        return f"{state.device_name} ({dev})"
    return dev


def _port(port: str | None, room: int) -> str:
    """The port path, its start elided when it does not fit: the tail (by-id name, pty number) tells ports apart."""
    port = port or "?"
    return port if len(port) <= room else "…" + port[len(port) - max(1, room - 1):]


def _header(state: MonitorState, width: int) -> list[Text]:
    link = state.link
    conn = Text("● connected", style="green") if state.connected else Text("● disconnected", style="bold red")
    who = Text.assemble(
        conn, f"  {_device_label(state)}  fw {state.fw or '?'}  boot {state.boot or '?'}  ",
        f"up {fmt_uptime(state.uptime_ms)}",
    )
    health = Text("link ok", style="green") if link.ok else Text("link degraded", style="yellow")
    how = Text.assemble(health)
    if state.rate or state.mode:
        how.append(f"  {state.rate or '?'} Hz {state.mode or ''}".rstrip())
    long = (f"  msgs {link.messages}  seq gaps {link.seq_gaps} ({link.lost} lost)  errors {link.errors}  "
            f"reconnects {link.reconnects}")
    short = (f"  msgs {link.messages}  gaps {link.seq_gaps}/{link.lost} lost  err {link.errors}  "
             f"reconn {link.reconnects}")
    how.append(long if len(how) + len(long) <= width else short)  # an 80-column screen: the short labels
    if link.corrupt:
        how.append(f"  corrupt {link.corrupt}", style="yellow")
    one = f"  on {state.port or '?'}"
    if width >= len(who) + len(one) + len(how) + 3:  # a wide screen: one line
        return [_line(Text.assemble(who, one, "   ", how), width)]
    if width >= len(who) + len(one):
        return [_line(Text.assemble(who, one), width), _line(how, width)]
    return [_line(who, width), _line(Text(f"on {_port(state.port, width - 3)}"), width), _line(how, width)]


def _counts(state: MonitorState, now: float | None, width: int) -> Text:
    hour, day = state.counts(now)
    detail = lambda c: ", ".join(f"{k.label} {c[k.name]}" for k in kinds.episodes() if c[k.name])  # noqa: E731
    text = Text(f"this hour: {sum(hour.values())}", style="bold")
    if hour:
        text.append(f" ({detail(hour)})")
    text.append(f"   today: {sum(day.values())}", style="bold")
    if day:
        text.append(f" ({detail(day)})")
    return _line(text, width)


def channel_label(state: MonitorState, ch: int) -> str:
    """The channel's name from the device config (e.g. "left calf"), "" for the default chN names."""
    name = state.channel_names.get(ch, "")
    return "" if name in ("", f"ch{ch}") else name


def _channels(state: MonitorState, width: int) -> Table:
    num = lambda v: "-" if v is None else f"{v:.0f}" if v >= 100 else f"{v:.1f}"  # noqa: E731 - ADC counts
    names = {ch: channel_label(state, ch) for ch in state.levels}
    name_w = min(MAX_CHANNEL_NAME + (width - WIDTH) // 4, max([len(n) for n in names.values()] + [0]))
    name_w = max(0, name_w)
    # ch, name, env, floor, on, state columns and the spaces between columns; the bar takes the rest
    fixed = 2 + (name_w + 1 if name_w else 0) + 6 + 6 + 6 + 10 + 5
    bar_w = max(10, min(60, width - fixed - 1))
    table = Table(box=None, padding=(0, 1, 0, 0), pad_edge=False, show_edge=False, expand=False,
                  header_style="bold")
    table.add_column("ch", justify="right", no_wrap=True)
    if name_w:
        table.add_column("muscle", no_wrap=True, overflow="ellipsis", max_width=name_w)
    table.add_column(Text("counts (: off, | on)", no_wrap=True, overflow="ellipsis"), no_wrap=True,
                     width=bar_w)
    for col in ("env", "floor", "on"):
        table.add_column(col, justify="right", no_wrap=True, width=5)
    table.add_column("state", no_wrap=True, overflow="ellipsis", width=10)
    for ch in sorted(state.levels):
        lv = state.levels[ch]
        if ch in state.faults:
            st = Text(f"FAULT {state.faults[ch]}", style="bold bright_black")
        elif ch in state.open:
            st = Text("SPASM", style="bold red")
        else:
            st = Text("quiet", style="green")
        cells: list[RenderableType] = [str(ch)]
        if name_w:
            cells.append(names[ch])
        cells += [level_bar(lv, bar_w), num(lv.env), num(lv.floor), num(lv.on), st]
        table.add_row(*cells)
    return table


def _now(state: MonitorState, now: float | None, width: int) -> list[Text]:
    if not state.open:
        return [_line(Text("now: no episode in progress", style="green"), width)]
    lines = []
    for ep in sorted(state.open.values(), key=lambda e: e.channel):
        name = channel_label(state, ep.channel)
        where = f"ch {ep.channel}" + (f" ({name})" if name else "")
        lines.append(_line(Text(f"now: episode in progress on {where}: {state.elapsed(ep, now):.1f} s",
                                style="bold red"), width))
    return lines


def _recent(state: MonitorState, rows: int, width: int) -> Table:
    table = Table(box=None, padding=(0, 1, 0, 0), pad_edge=False, show_edge=False, header_style="bold")
    named = any(channel_label(state, r.channel) for r in state.recent)
    table.add_column("last events: onset", no_wrap=True)  # the time it began, as events and the report show
    table.add_column("ch", justify="right", no_wrap=True)
    if named:
        table.add_column("muscle", no_wrap=True, overflow="ellipsis",
                         max_width=MAX_CHANNEL_NAME + max(0, width - WIDTH) // 4)
    table.add_column("kind", no_wrap=True, overflow="ellipsis", max_width=12)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("strength", justify="right", no_wrap=True)
    shown = list(state.recent)[:max(0, rows)]
    for r in shown:
        row = kinds.get(r.kind)
        kind = f"{r.kind} {r.detail}" if r.kind == kinds.FAULT else row.label if row else r.kind
        cells = [datetime.fromtimestamp(r.wall).strftime("%H:%M:%S"), str(r.channel)]
        if named:
            cells.append(channel_label(state, r.channel))
        table.add_row(*cells, Text(kind, style=row.style if row else ""), f"{r.duration_s:.1f} s",
                      f"{r.peak_x:.1f}x" if r.peak_x else "-")
    if not state.recent:
        table.add_row("none yet", "", *([""] if named else []), "", "", "")
    return table


def render(state: MonitorState, now: float | None = None, width: int | None = None,
           height: int | None = None) -> RenderableType:
    """The whole live screen, for rich.live.Live or Console.print, fitted to width x height (80x24 if not
    given): no line wraps, and the last events get the rows that are left."""
    width = WIDTH if width is None else max(40, width)
    height = HEIGHT if height is None else max(12, height)
    top: list[RenderableType] = [*_header(state, width), _counts(state, now, width)]
    if state.last_error:
        top.append(_line(Text(f"last error: {state.last_error}", style="yellow"), width))
    top.append(Text(""))
    top.append(_channels(state, width))
    top.append(Text(""))
    top += _now(state, now, width)
    top.append(Text(""))
    used = len(top) - 1 + 1 + len(state.levels)  # the channel table is a header and one row per channel
    # one line is kept free: the terminal's cursor sits below the live screen
    rows = height - 1 - used - 1  # the events table's header
    if rows < 1:  # very short screen: drop the spacing before giving up the last events
        top = [part for part in top if not (isinstance(part, Text) and not part.plain)]
        rows = height - 1 - (used - 3) - 1
    return Group(*top, _recent(state, max(1, rows), width))


def plain_line(msg: wire.Message, wall: float | None = None) -> str | None:
    """One log line per hello, onset, end, fault and error message (for a non-terminal stdout), else None."""
    stamp = datetime.fromtimestamp(time.time() if wall is None else wall).strftime("%Y-%m-%d %H:%M:%S")
    match msg:
        case wire.Onset():
            return f"{stamp} onset ch{msg.ch} at {msg.onset_ms} ms"
        case wire.End():
            peak = f" peak {msg.peak_x:.1f}x floor" if msg.peak_x else ""
            began = datetime.fromtimestamp(onset_wall(msg, time.time() if wall is None else wall))
            return f"{stamp} end ch{msg.ch} {msg.kind} {msg.duration_s:.2f} s{peak}, onset {began:%H:%M:%S}"
        case wire.Fault() if msg.ended:
            return f"{stamp} fault ch{msg.ch} {msg.detail} cleared after {msg.duration_s:.1f} s"
        case wire.Fault():
            return f"{stamp} fault ch{msg.ch} {msg.detail} started"
        case wire.Hello():
            return f"{stamp} hello device {msg.id} fw {msg.fw} boot {msg.boot}"
        case wire.Error():
            return f"{stamp} device error: {msg.cmd or ''} {msg.msg}".rstrip()
    return None
