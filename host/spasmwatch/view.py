"""Live monitor view: a state model fed by decoded protocol messages, rendered with rich or as plain lines."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

KIND_CODES = {1: "twitch", 2: "tonic", 3: "clonus"}  # protocol.KINDS, for firmware that sends codes
FAULT_CODES = {1: "flat", 2: "rail"}
KIND_STYLES = {"twitch": "yellow", "tonic": "red", "clonus": "magenta", "fault": "bright_black"}
FAULT_END_STATES = ("end", "off", "clear", "cleared", "closed", "stop", 0, False)
BAR_WIDTH = 36
RECENT_KEPT = 200  # last events kept for the view; it shows as many as the screen has rows for


@dataclass
class Level:
    """Latest envelope of one channel and its thresholds (device units: counts x scale)."""

    env: float = 0.0
    floor: float | None = None
    on: float | None = None
    off: float | None = None
    wall: float = 0.0


@dataclass
class OpenEpisode:
    channel: int
    onset_ms: int
    detected_ms: int | None
    wall: float  # host time the onset arrived
    eseq: int | None = None


@dataclass
class Recent:
    wall: float
    channel: int
    kind: str
    duration_s: float
    peak_x: float | None
    detail: str = ""


@dataclass
class LinkHealth:
    messages: int = 0
    last_seq: int | None = None
    seq_gaps: int = 0
    lost: int = 0  # messages missing according to seq
    errors: int = 0  # device `error` replies and undecodable lines
    reconnects: int = 0

    @property
    def ok(self) -> bool:
        return self.seq_gaps == 0 and self.errors == 0


def kind_name(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return KIND_CODES.get(value, f"kind{value}")
    return str(value) if value else "?"


def fault_name(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return FAULT_CODES.get(value, f"fault{value}")
    return str(value) if value else "fault"


def fault_ended(msg: dict) -> bool:
    """A fault message reports the end (state "end"); a start carries end_ms -1."""
    state = msg.get("state")
    if state is not None:
        return state in FAULT_END_STATES
    end = msg.get("end_ms")
    return isinstance(end, int) and end >= 0


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def strength(msg: dict) -> float | None:
    """Peak as a multiple of the noise floor: the device sends both in the same units."""
    peak, floor = _num(msg.get("peak")), _num(msg.get("floor"))
    if peak is None or not floor:
        return _num(msg.get("peak_x"))
    return peak / floor


@dataclass
class MonitorState:
    """What the live view shows; `apply` each decoded message with the host wall time it arrived."""

    port: str | None = None
    connected: bool = False
    device_id: str | None = None
    device_name: str | None = None  # the config's name, e.g. "left leg"
    channel_names: dict[int, str] = field(default_factory=dict)  # from hello: the config's channel names
    previous_device: str | None = None  # set when a different device answered on the same port
    fw: str | None = None
    boot: str | None = None
    proto: int | None = None
    rate: int | None = None
    mode: str | None = None
    scale: float = 1.0
    uptime_ms: int | None = None
    device_state: str | None = None
    status: dict = field(default_factory=dict)
    link: LinkHealth = field(default_factory=LinkHealth)
    levels: dict[int, Level] = field(default_factory=dict)
    open: dict[int, OpenEpisode] = field(default_factory=dict)
    faults: dict[int, str] = field(default_factory=dict)  # channel -> active fault detail
    recent: deque[Recent] = field(default_factory=lambda: deque(maxlen=RECENT_KEPT))
    history: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=20000))
    last_wall: float | None = None
    last_error: str | None = None
    _was_connected: bool = False

    # ---- connection events (from the monitor, not the device) ----

    def connect(self, port: str, wall: float | None = None) -> None:
        if self._was_connected:
            self.link.reconnects += 1
        self.port, self.connected, self._was_connected = port, True, True
        self.link.last_seq = None  # the device may have rebooted meanwhile: the next seq starts a new run
        self.last_wall = wall if wall is not None else self.last_wall

    def disconnect(self, reason: str = "", wall: float | None = None) -> None:
        self.connected = False
        self.open.clear()  # their end (if any) comes back through sync as log records
        if reason:
            self.last_error = reason
        self.last_wall = wall if wall is not None else self.last_wall

    def bad_line(self, reason: str) -> None:
        """A line that did not decode (noise on the link, a boot banner)."""
        self.link.errors += 1
        self.last_error = reason

    # ---- device messages ----

    def apply(self, msg: dict, wall_time: float | None = None) -> None:
        wall = time.time() if wall_time is None else wall_time
        self.last_wall = wall
        t = msg.get("t")
        self._seq(msg.get("seq"), t)
        handler = getattr(self, f"_on_{t}", None)
        if handler is not None:
            handler(msg, wall)

    def _seq(self, seq: object, t: object) -> None:
        self.link.messages += 1
        if not isinstance(seq, int):
            return
        last = self.link.last_seq
        if t == "hello" or last is None or seq <= last:
            pass  # a new run: first message, device reboot (seq restarts) or reconnect
        elif seq > last + 1:
            self.link.seq_gaps += 1
            self.link.lost += seq - last - 1
        self.link.last_seq = seq

    def _on_hello(self, msg: dict, wall: float) -> None:
        boot = None if msg.get("boot") is None else str(msg.get("boot"))
        dev = None if msg.get("id") is None else str(msg["id"])
        if boot != self.boot or dev != self.device_id:
            self.open.clear()
            self.faults.clear()
        if dev != self.device_id and self.device_id is not None:
            # another board on this port: what was shown (levels, last events, counts) was the other one's
            self.previous_device = self.device_id
            self.levels.clear()
            self.recent.clear()
            self.history.clear()
            self.status = {}
            self.uptime_ms = self.device_state = None
            self.last_error = f"device changed: {dev} (was {self.previous_device}); events kept apart"
        self.device_id = dev
        self.device_name = msg.get("name") if isinstance(msg.get("name"), str) else None
        self.fw = None if msg.get("fw") is None else str(msg["fw"])
        self.boot = boot
        self.proto = msg.get("proto") if isinstance(msg.get("proto"), int) else None
        self.rate = msg.get("rate") if isinstance(msg.get("rate"), int) else None
        self.mode = msg.get("mode") if isinstance(msg.get("mode"), str) else None
        self.scale = _num(msg.get("scale")) or 1.0
        channels = msg.get("channels")
        count = channels if isinstance(channels, int) else len(channels) if isinstance(channels, list) else 0
        self.channel_names = {i: c for i, c in enumerate(channels) if isinstance(c, str)} \
            if isinstance(channels, list) else {}
        for ch in range(count):
            self.levels.setdefault(ch, Level())

    def _on_status(self, msg: dict, wall: float) -> None:
        self.status = {k: v for k, v in msg.items() if k not in ("t", "seq")}
        if isinstance(msg.get("uptime_ms"), int):
            self.uptime_ms = msg["uptime_ms"]
        if msg.get("state") is not None:
            self.device_state = str(msg["state"])

    def _on_env(self, msg: dict, wall: float) -> None:
        ch = msg.get("ch", 0)
        level = self.levels.setdefault(ch, Level())
        values = msg.get("values")
        if isinstance(values, list) and values:
            level.env = _num(values[-1]) or 0.0
        for key in ("floor", "on", "off"):
            if _num(msg.get(key)) is not None:
                setattr(level, key, _num(msg.get(key)))
        level.wall = wall

    def _on_onset(self, msg: dict, wall: float) -> None:
        ch = msg.get("ch", 0)
        onset = msg.get("onset_ms", 0)
        self.levels.setdefault(ch, Level())
        self.open[ch] = OpenEpisode(ch, onset, msg.get("detected_ms"), wall, msg.get("eseq"))

    def _on_end(self, msg: dict, wall: float) -> None:
        ch = msg.get("ch", 0)
        self.open.pop(ch, None)
        kind = kind_name(msg.get("kind"))
        self._record(Recent(wall, ch, kind, _duration(msg), strength(msg)))

    def _on_fault(self, msg: dict, wall: float) -> None:
        ch = msg.get("ch", 0)
        detail = fault_name(msg.get("detail"))
        if fault_ended(msg):
            self.faults.pop(ch, None)
            self._record(Recent(wall, ch, "fault", _duration(msg), None, detail))
        else:
            self.faults[ch] = detail
            self.open.pop(ch, None)  # the detector abandons an episode when the sensor fails

    def _on_error(self, msg: dict, wall: float) -> None:
        self.link.errors += 1
        self.last_error = f"{msg.get('cmd') or 'device'}: {msg.get('msg') or 'error'}"

    def _record(self, rec: Recent) -> None:
        self.recent.appendleft(rec)
        if rec.kind != "fault":
            self.history.append((rec.wall, rec.kind))

    # ---- derived figures ----

    def counts(self, now: float | None = None) -> tuple[Counter[str], Counter[str]]:
        """Episodes by kind in this clock hour and today (local time), as seen live."""
        now = self.last_wall if now is None else now
        if now is None:
            return Counter(), Counter()
        t = datetime.fromtimestamp(now)
        hour0 = t.replace(minute=0, second=0, microsecond=0).timestamp()
        day0 = t.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        hour: Counter[str] = Counter()
        day: Counter[str] = Counter()
        for wall, kind in self.history:
            if day0 <= wall <= now:
                day[kind] += 1
                if wall >= hour0:
                    hour[kind] += 1
        return hour, day

    def elapsed(self, ep: OpenEpisode, now: float | None = None) -> float:
        """Seconds since the episode's onset (it was detected detected_ms - onset_ms after it began)."""
        now = self.last_wall if now is None else now
        lag = (ep.detected_ms - ep.onset_ms) / 1000 if isinstance(ep.detected_ms, int) else 0.0
        return max(0.0, (now or ep.wall) - ep.wall + lag)


def _duration(msg: dict) -> float:
    if _num(msg.get("duration_ms")) is not None:
        return float(msg["duration_ms"]) / 1000
    for a, b in (("onset_ms", "offset_ms"), ("start_ms", "end_ms")):
        if isinstance(msg.get(a), int) and isinstance(msg.get(b), int):
            return (msg[b] - msg[a]) / 1000
    return 0.0


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


def _header(state: MonitorState, width: int) -> list[Text]:
    link = state.link
    conn = Text("● connected", style="green") if state.connected else Text("● disconnected", style="bold red")
    who = Text.assemble(  # the port last: a long /dev/serial/by-id/... path is what gets cut
        conn, f"  {_device_label(state)}  fw {state.fw or '?'}  boot {state.boot or '?'}  ",
        f"up {fmt_uptime(state.uptime_ms)}  on {state.port or '?'}",
    )
    health = Text("link ok", style="green") if link.ok else Text("link degraded", style="yellow")
    how = Text.assemble(health)
    if state.rate or state.mode:
        how.append(f"  {state.rate or '?'} Hz {state.mode or ''}".rstrip())
    how.append(f"  msgs {link.messages}  seq gaps {link.seq_gaps} ({link.lost} lost)  errors {link.errors}  "
               f"reconnects {link.reconnects}")
    if width >= len(who) + len(how) + 3:  # a wide screen: one line
        return [_line(Text.assemble(who, "   ", how), width)]
    return [_line(who, width), _line(how, width)]


def _counts(state: MonitorState, now: float | None, width: int) -> Text:
    hour, day = state.counts(now)
    detail = lambda c: ", ".join(f"{k} {c[k]}" for k in ("twitch", "tonic", "clonus") if c[k])  # noqa: E731
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
    k = state.scale or 1.0  # shown in ADC counts
    num = lambda v: "-" if v is None else f"{v / k:.0f}" if v / k >= 100 else f"{v / k:.1f}"  # noqa: E731
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
    table.add_column(Text("level (: off, | on)", no_wrap=True, overflow="ellipsis"), no_wrap=True,
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
    table.add_column("last events", no_wrap=True)
    table.add_column("ch", justify="right", no_wrap=True)
    if named:
        table.add_column("muscle", no_wrap=True, overflow="ellipsis",
                         max_width=MAX_CHANNEL_NAME + max(0, width - WIDTH) // 4)
    table.add_column("kind", no_wrap=True, overflow="ellipsis", max_width=12)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("strength", justify="right", no_wrap=True)
    shown = list(state.recent)[:max(0, rows)]
    for r in shown:
        kind = r.kind if r.kind != "fault" else f"fault {r.detail}"
        cells = [datetime.fromtimestamp(r.wall).strftime("%H:%M:%S"), str(r.channel)]
        if named:
            cells.append(channel_label(state, r.channel))
        table.add_row(*cells, Text(kind, style=KIND_STYLES.get(r.kind, "")), f"{r.duration_s:.1f} s",
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


def plain_line(msg: dict, wall: float | None = None) -> str | None:
    """One log line per hello, onset, end, fault and error message (for a non-terminal stdout), else None."""
    t = msg.get("t")
    stamp = datetime.fromtimestamp(time.time() if wall is None else wall).strftime("%Y-%m-%d %H:%M:%S")
    ch = msg.get("ch", 0)
    if t == "onset":
        return f"{stamp} onset ch{ch} at {msg.get('onset_ms', '?')} ms"
    if t == "end":
        x = strength(msg)
        peak = f" peak {x:.1f}x floor" if x else ""
        return f"{stamp} end ch{ch} {kind_name(msg.get('kind'))} {_duration(msg):.2f} s{peak}"
    if t == "fault":
        detail = fault_name(msg.get("detail"))
        if fault_ended(msg):
            return f"{stamp} fault ch{ch} {detail} cleared after {_duration(msg):.1f} s"
        return f"{stamp} fault ch{ch} {detail} started"
    if t == "hello":
        return f"{stamp} hello device {msg.get('id', '?')} fw {msg.get('fw', '?')} boot {msg.get('boot', '?')}"
    if t == "error":
        return f"{stamp} device error: {msg.get('cmd') or ''} {msg.get('msg') or ''}".rstrip()
    return None
