"""The fault soak's harness: the virtual device through the fault relay into the real monitor and store, with
SIGKILL power cuts; returns what was lost, doubled or stored wrong (store vs the flash log by a clean `sync 0`).
tests/test_soak.py runs short seeded soaks with it; bench/soak.py runs long ones and prints the figures."""

from __future__ import annotations

import io
import json
import random
import resource
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt

from spasmcore.errors import LinkError
from spasmcore.recording import write_recording
from spasmsim.device import VirtualDevice
from spasmsim.relay import FAULTS, FaultRelay
from spasmwatch.link.client import Client
from spasmwatch.link.serial_link import Link
from spasmwatch.monitor import Monitor, PlainSink
from spasmwatch.store import Store

RATE = 1000
REC_S = 60  # the recording loops: a twitch every 6 s, 10 episodes a minute of device time
# The settle phase (link healed, cuts over) runs the last boot at this speed. At full speed the board makes
# ~280 lines/s (a status every 2 device seconds at ~340x real time): more than a monitor committing each message
# (issue 9: one message, one transaction) stores on this machine's disk, so it could never catch up; 20x real
# time is still ~20 times what a real board sends.
SETTLE_SPEED = 20.0


def make_recording(path: Path, seed: int = 7) -> Path:
    """60 s of band-limited rest noise with 0.4 s bursts every 6 s (ADC counts, like tests/signals.emg)."""
    rng = np.random.default_rng(seed)
    n = REC_S * RATE
    sos = butter(4, [20, 200], btype="band", fs=RATE, output="sos")
    noise = sosfilt(sos, rng.normal(0, 1, n))
    noise /= noise.std()
    amp = np.full(n, 1.5)
    for k in range(REC_S // 6):
        a = int((1 + 6 * k) * RATE)
        amp[a:a + 400] = np.hypot(1.5, 150.0)
    counts = np.clip(np.rint(2048 + noise * amp), 0, 4095).astype(np.int64)
    write_recording(path, RATE, [counts], units="counts", mode="raw")
    return path


class Watch:
    """Reads the device's status lines as they pass the relay (before faults): device time and heap."""

    def __init__(self) -> None:
        self.uptime: dict[int, int] = {}  # boot -> latest uptime_ms
        self.heap_min: int | None = None
        self.ring_lost = 0  # detector records its RAM queue overwrote before the app drained them (status `lost`)
        self.backlog_max = 0  # records a running `sync` had still to send (status `queue`)
        self.last_eseq = 0
        self.live: set[int] = set()
        self.statuses = 0  # status lines seen: a new one after the heal tells the device's latest eseq

    def __call__(self, direction: str, line: bytes) -> None:
        if direction != "up" or not line.startswith((b'{"t":"status"', b'{"t":"onset"', b'{"t":"end"',
                                                     b'{"t":"fault"')):
            return
        try:
            m = json.loads(line.rsplit(b" *", 1)[0])
        except ValueError:  # a line torn by a power cut
            return
        if m["t"] != "status":
            self.live.add(m["eseq"])  # the detector's own events, as the board announced them
            return
        self.statuses += 1
        self.uptime[m["boot"]] = max(self.uptime.get(m["boot"], 0), m["uptime_ms"])
        self.heap_min = m["heap_free"] if self.heap_min is None else min(self.heap_min, m["heap_free"])
        self.last_eseq = max(self.last_eseq, m["eseq"])
        self.ring_lost = max(self.ring_lost, m.get("lost", 0))
        self.backlog_max = max(self.backlog_max, m.get("queue", 0))

    def hours(self) -> float:
        return sum(self.uptime.values()) / 3.6e6


def episodes(logs: list[dict]) -> dict[tuple, dict]:
    """The device log's episodes and faults keyed like store rows: (boot, ch, onset ms, is fault) -> records."""
    out: dict[tuple, dict] = {}
    for m in logs:
        fault = m["ev"] == "fault"
        key = (str(m["boot"]), m["ch"], m["start_ms"] if fault else m["onset_ms"], fault)
        ep = out.setdefault(key, {"start": None, "end": None})
        if m["ev"] == "end" or (fault and m["state"] == "end"):
            ep["end"] = m
        else:
            ep["start"] = m
    return out


def compare(rows: list, logs: list[dict], synced: int) -> dict[str, int]:
    """Lost: a logged record at or below the store's synced mark not reflected by its row; duplicated: two rows
    for one episode; corrupted-stored: a row the log does not have, or with other values than its end record."""
    first = min((m["eseq"] for m in logs), default=1)  # older records rotated out of the flash log: unverifiable
    want = episodes(logs)
    keys = Counter((r.boot_id, r.channel, r.onset_ms, r.kind == "fault") for r in rows)
    by_key = {(r.boot_id, r.channel, r.onset_ms, r.kind == "fault"): r for r in rows}
    lost = corrupted = 0
    examples: list[str] = []
    for key, ep in want.items():
        row = by_key.get(key)
        for rec in (ep["start"], ep["end"]):
            if rec is None or rec["eseq"] > synced:
                continue
            if row is None or (rec is ep["end"] and (row.state != "closed" or row.seq != rec["eseq"])):
                lost += 1
                examples.append(f"lost {rec} row {row}")
        end = ep["end"]
        if row is not None and row.state == "closed" and end is not None:
            off = end.get("offset_ms") if end["ev"] == "end" else end["end_ms"]
            if row.offset_ms != off or row.kind != (end.get("kind") or "fault") or row.seq != end["eseq"]:
                corrupted += 1
                examples.append(f"differs {end} row {row}")
    for key, row in by_key.items():
        if key not in want and (row.seq or 0) >= first:
            corrupted += 1
            examples.append(f"not logged: row {row}")
    boot_of = {m["eseq"]: str(m["boot"]) for m in logs}
    wrong_boot = sum(1 for r in rows if r.seq in boot_of and boot_of[r.seq] != r.boot_id)
    return {"lost": lost, "wrong_boot": wrong_boot, "duplicated": sum(n - 1 for n in keys.values() if n > 1),
            "corrupted": corrupted,
            "unverifiable": sum(1 for r in rows if (r.seq or 0) < first), "examples": examples[:20]}


class Sampler(threading.Thread):
    """Host RSS and the board's flash log size every `every` s: a curve, so "flat" can be read, not a peak."""

    def __init__(self, log_dir: Path, every: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.log_dir, self.every = log_dir, every
        self.points: list[tuple[float, float, float]] = []  # (wall s, RSS MB, flash log kB)
        self.halt = threading.Event()

    def run(self) -> None:
        t0 = time.monotonic()
        while True:
            self.points.append((time.monotonic() - t0, _rss_mb(), _dir_kb(self.log_dir)))
            if self.halt.wait(self.every):
                return


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:  # resident pages now (ru_maxrss is only the peak)
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _dir_kb(d: Path) -> float:
    return sum(p.stat().st_size for p in d.glob("*") if p.is_file()) / 1024 if d.is_dir() else 0.0


def curve(points: list[tuple[float, float, float]], n: int = 6) -> str:
    """A few evenly spaced samples: 'wall s: RSS MB / flash kB'."""
    if not points:
        return "(no samples)"
    picks = sorted({round(i * (len(points) - 1) / (n - 1)) for i in range(n)})
    return ", ".join(f"{points[i][0]:.0f} s: {points[i][1]:.0f} MB / {points[i][2]:.0f} kB" for i in picks)


def _cutter(dev: VirtualDevice, rnd: random.Random, every: tuple[float, float], stop: threading.Event,
            cuts: list[int], relay: FaultRelay, lose_hello: bool) -> None:
    while not stop.wait(rnd.uniform(*every)):
        dev.kill()  # SIGKILL: a power cut, perhaps mid flash write
        cuts[0] += 1
        if lose_hello:
            relay.drop_next(b'"t":"hello"')  # the new boot's hello is lost on the link
        time.sleep(rnd.uniform(0.05, 0.5))
        for _ in range(3):
            try:
                dev.start(timeout=30)
                break
            except LinkError:
                time.sleep(0.5)


def _connect(mon: Monitor, deadline: float) -> None:
    while True:  # the hello or its answer may be lost on the faulty link
        try:
            mon.connect()
            return
        except LinkError:
            if time.monotonic() > deadline:
                raise


def clean_log(port: str, tries: int = 5) -> list[dict]:
    """The device's whole flash log by `sync 0` over the healed relay (a plain pipe by now)."""
    for k in range(tries):
        client = Client(Link.open(port))
        try:
            client.hello(timeout=10, tries=3)
            return client.sync(0, timeout=120)[0]
        except LinkError:  # opening flushed input mid-line: the first line read was a torn one
            if k == tries - 1:
                raise
        finally:
            client.close()
    return []


def _last_boot_at(dev: VirtualDevice, speed: float) -> None:
    """A last power cut, and the board boots again at `speed` x real time for the settle phase."""
    dev.kill()
    path = dev.state_dir / "vboard.json"
    path.write_text(json.dumps(dict(json.loads(path.read_text()), speed=speed)))
    dev.start(timeout=30)


def _settled(mon: Monitor, watch: Watch) -> bool:
    """The monitor has synced what the device last said it logged, and no sync is due."""
    return (not mon.syncing and mon.policy.synced_to >= watch.last_eseq
            and mon.policy.due(time.monotonic() + 1) is None)


def _conduct(mon: Monitor, dev: VirtualDevice, relay: FaultRelay, watch: Watch, goal: tuple[float, int],
             cutter: threading.Thread, stop: threading.Event, cuts: list[int], until: float, done: dict) -> None:
    """Beside the monitor's loop: power cuts until the goal (simulated hours, cuts), then heal the link and stop
    the monitor once it has caught up (or at `until`, monotonic)."""
    cutter.start()
    while (watch.hours() < goal[0] or cuts[0] < goal[1]) and time.monotonic() < until:
        time.sleep(0.2)
    stop.set()
    cutter.join()
    _last_boot_at(dev, SETTLE_SPEED)
    cuts[0] += 1
    seen = watch.statuses
    relay.heal()
    end = min(until + 120, time.monotonic() + 120)
    while watch.statuses < seen + 2 and time.monotonic() < end:  # a status of the settle boot, after the heal,
        time.sleep(0.05)  # tells the device's latest eseq (the first one may have passed just before the heal)
    # Settled once caught up: asking again later races the still-running board (a status passes the relay, and
    # so raises last_eseq, before the monitor has stored the records just ahead of it).
    while not done["settled"] and time.monotonic() < end:
        done["settled"] = _settled(mon, watch)
        time.sleep(0.2)
    mon.stop()


def soak(hours: float, seed: int = 1, rate: float = 0.05, cut_every: tuple[float, float] = (0.5, 1.5),
         workdir: Path | None = None, faults: tuple[str, ...] = FAULTS, max_wall: float = 3600,
         min_cuts: int = 0, lose_hello: bool = False, cut_s: float = 0.1) -> dict:
    """Run one soak; returns the figures (see the module docstring)."""
    work = Path(workdir or tempfile.mkdtemp(prefix="spasmwatch-soak-"))
    state = work / "state"
    state.mkdir(parents=True, exist_ok=True)
    (state / "config.json").write_text('{"log_kb": 1024, "status_s": 2}')  # log room; heartbeats for the figures
    rec = make_recording(work / "twitches.csv")
    rnd = random.Random(seed)
    watch = Watch()
    dev = VirtualDevice(rec, speed=0, loop=True, state_dir=state, clock="sim")
    dev.start()
    relay = FaultRelay(dev.port, seed=seed, rate=rate, faults=faults, cut_s=cut_s, on_line=watch)
    stop, cuts = threading.Event(), [0]
    cutter = threading.Thread(target=_cutter, args=(dev, rnd, cut_every, stop, cuts, relay, lose_hello), daemon=True)
    t0 = time.monotonic()
    out = io.StringIO()
    sampler = Sampler(state / "events")
    sampler.start()
    try:
        with Store(work / "events.sqlite3") as store:
            mon = Monitor(store, relay.port, sink=PlainSink(out), probe_s=1.0, dead_s=3.0)
            _connect(mon, time.monotonic() + 60)
            done: dict = {"settled": False}
            conductor = threading.Thread(target=_conduct, daemon=True, args=(
                mon, dev, relay, watch, (hours, min_cuts), cutter, stop, cuts, t0 + max_wall, done))
            conductor.start()
            mon.run(max_wall + 300)
            conductor.join(5)
            settled = done["settled"]
            synced = store.last_seq(mon.device_id or "")
            rows = store.events(states=("open", "closed", "abandoned"))
        logs = clean_log(relay.port)
    finally:
        sampler.halt.set()
        stop.set()
        relay.close()
        dev.close()
    result = compare(rows, logs, synced)
    first = min((m["eseq"] for m in logs), default=1)
    last = max((m["eseq"] for m in logs), default=0)  # records logged after `sync 0` began are not in its list
    missing = sorted({e for e in watch.live if first <= e <= last} - {m["eseq"] for m in logs})
    result.update(
        sim_hours=watch.hours(), events=len(logs), rows=len(rows), faults=dict(relay.counts), by_dir=dict(relay.by_dir),
        injected=relay.injected(), power_cuts=cuts[0], heap_min=watch.heap_min, settled=settled,
        ring_lost=watch.ring_lost, backlog_max=watch.backlog_max,
        rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, wall_s=time.monotonic() - t0,
        curve=sampler.points, flash_kb=max((p[2] for p in sampler.points), default=0.0),
        rejected=mon.rejected, synced=synced, logs=logs, live=len(watch.live),
        live_not_logged=len(missing), live_missing=missing[:20])
    return result
