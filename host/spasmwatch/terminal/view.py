"""Live monitor view: the state model the typed messages update (screen.py draws it, or as plain lines)."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime

from spasmwatch.link import wire
from spasmwatch.terminal.ui import safe

RECENT_KEPT = 200  # last events kept for the view; it shows as many as the screen has rows for


@dataclass
class Level:
    """Latest envelope of one channel and its thresholds, ADC counts."""

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
    wall: float  # host time of the onset: the arrival less the device's time from onset to sending
    channel: int
    kind: str
    duration_s: float
    peak_x: float | None
    detail: str = ""


def onset_wall(msg: wire.End | wire.Fault, wall: float) -> float:
    """When the episode or fault began, by the host clock: the line arrived at `wall`, sent no earlier than
    its latest device time, so the onset was that much earlier (the store dates it the same way)."""
    start = msg.start_ms if isinstance(msg, wire.Fault) else msg.onset_ms
    return wall - (msg.latest_ms - start) / 1000


@dataclass
class LinkHealth:
    messages: int = 0
    last_seq: int | None = None
    seq_gaps: int = 0
    lost: int = 0  # messages missing according to seq
    errors: int = 0  # device `error` replies and undecodable lines
    corrupt: int = 0  # lines dropped for a bad checksum or an invalid field (also counted in errors)
    reconnects: int = 0

    @property
    def ok(self) -> bool:
        return self.seq_gaps == 0 and self.errors == 0


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

    def bad_line(self, reason: str, kind: str = "junk") -> None:
        """A line that was refused (noise on the link, a boot banner, a bad checksum or field)."""
        self.link.errors += 1
        if kind != "junk":
            self.link.corrupt += 1
        self.last_error = safe(reason)

    # ---- device messages ----

    def apply(self, msg: wire.Message, wall_time: float | None = None) -> None:
        wall = time.time() if wall_time is None else wall_time
        self.last_wall = wall
        self._seq(msg.seq, isinstance(msg, wire.Hello))
        match msg:
            case wire.Hello():
                self._on_hello(msg)
            case wire.Status():
                self.status = {"uptime_ms": msg.uptime_ms, "state": msg.state, "eseq": msg.eseq, "boot": msg.boot,
                               **dict(msg.counters)}
                self.uptime_ms = msg.uptime_ms
                if msg.state is not None:
                    self.device_state = msg.state
            case wire.Env():
                level = self.levels.setdefault(msg.ch, Level())
                if msg.values:
                    level.env = msg.values[-1]
                for key in ("floor", "on", "off"):
                    if getattr(msg, key) is not None:
                        setattr(level, key, getattr(msg, key))
                level.wall = wall
            case wire.Onset():
                self.levels.setdefault(msg.ch, Level())
                self.open[msg.ch] = OpenEpisode(msg.ch, msg.onset_ms, msg.detected_ms, wall, msg.eseq)
            case wire.End():
                self.open.pop(msg.ch, None)
                self._record(Recent(onset_wall(msg, wall), msg.ch, msg.kind, msg.duration_s, msg.peak_x))
            case wire.Fault() if msg.ended:
                self.faults.pop(msg.ch, None)
                self._record(Recent(onset_wall(msg, wall), msg.ch, "fault", msg.duration_s, None, msg.detail))
            case wire.Fault():
                self.faults[msg.ch] = msg.detail
                self.open.pop(msg.ch, None)  # the detector abandons an episode when the sensor fails
            case wire.Error():
                self.link.errors += 1
                self.last_error = safe(f"{msg.cmd or 'device'}: {msg.msg}")

    def _seq(self, seq: int, hello: bool) -> None:
        self.link.messages += 1
        last = self.link.last_seq
        if hello or last is None or seq <= last:
            pass  # a new run: first message, device reboot (seq restarts) or reconnect
        elif seq > last + 1:
            self.link.seq_gaps += 1
            self.link.lost += seq - last - 1
        self.link.last_seq = seq

    def _on_hello(self, msg: wire.Hello) -> None:
        boot, dev = str(msg.boot), safe(msg.id)  # what the device says of itself is shown escaped
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
        self.device_name = None if msg.name is None else safe(msg.name)
        self.fw = safe(msg.fw)
        self.boot = boot
        self.proto = msg.proto
        self.rate = msg.rate
        self.mode = msg.mode
        self.scale = float(msg.scale)
        self.channel_names = {ch: safe(name) for ch, name in enumerate(msg.channels)}
        for ch in range(len(msg.channels)):
            self.levels.setdefault(ch, Level())

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
