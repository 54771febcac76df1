"""Several weeks of simulated spasm-log events (wear sessions, episodes, faults, gaps, an intervention) for a store.

The dashboard and `report --from/--to` need a store that looks like weeks of daily wear: days with long and
short wear, days without, a medication started partway through that lowers the spasm rate, clonus trains of
every SCATS-style duration class, sensor faults and disconnections. `simulate_weeks` makes that as plain
records (deterministic for a seed); `fill_store` writes them through the methods of the host's event store
(passed in by the caller: the simulator never imports the host tool).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

KINDS = ("twitch", "tonic", "clonus")
KIND_SHARE = (0.5, 0.3, 0.2)
# log-normal duration per kind: median seconds, sigma of log; clonus spans the <3 s, 3-10 s, >10 s classes
DURATION = {"twitch": (0.4, 0.5), "tonic": (8.0, 0.7), "clonus": (5.0, 0.8)}
STRENGTH = {"twitch": (6.0, 0.4), "tonic": (14.0, 0.4), "clonus": (10.0, 0.4)}  # peak as x resting floor
FLOOR = 40.0  # resting envelope, ADC counts


@dataclass(frozen=True)
class Episode:
    channel: int
    kind: str  # twitch | tonic | clonus | fault
    onset_wall: float
    duration_s: float
    peak_x: float | None
    boot_id: str
    onset_ms: int
    seq: int
    detail: str = ""


@dataclass(frozen=True)
class Session:
    """One link session (the board worn and connected)."""

    start: float
    end: float
    boot_id: str


@dataclass(frozen=True)
class Note:
    at: float
    kind: str
    text: str


@dataclass
class Weeks:
    device_id: str
    name: str
    channel_names: list[str]
    first_day: date
    days: int
    sessions: list[Session] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)  # faults included (kind "fault")
    gaps: list[tuple[float, float, str]] = field(default_factory=list)  # start, end, detail (disconnects)
    notes: list[Note] = field(default_factory=list)
    boot_walls: dict[str, float] = field(default_factory=dict)

    def day_start(self, i: int) -> float:
        """Local midnight starting day i (DST-aware: each date's own offset)."""
        d = self.first_day + timedelta(days=i)
        return datetime(d.year, d.month, d.day).astimezone().timestamp()


def simulate_weeks(days: int = 42, *, first_day: date | None = None, seed: int = 1, rate_before: float = 6.0,
                   rate_after: float = 3.0, change_day: int | None = None, channels: int = 2,
                   device_id: str = "sim0weeks001") -> Weeks:
    """`days` days from `first_day` (default: ending yesterday) of simulated wear and spasms.

    The spasm rate per worn hour is `rate_before` until `change_day` (default the middle day), where a
    medication note is taken at 09:00, and `rate_after` from the next day on; each day's rate varies around
    it (log-normal, sigma 0.35), as real days do.
    """
    rng = random.Random(seed)
    first = first_day or (date.today() - timedelta(days=days))
    change = days // 2 if change_day is None else change_day
    names = ["left calf", "right calf", "left thigh", "right thigh"][:channels]
    w = Weeks(device_id=device_id, name="legs", channel_names=names, first_day=first, days=days)
    seq = 0
    for i in range(days):
        midnight = w.day_start(i)
        if i == change:  # the notes are taken whether the board is worn that day or not
            w.notes.append(Note(midnight + 9 * 3600, "medication", "baclofen 10 mg three times a day"))
        if i == 3:
            w.notes.append(Note(midnight + 18 * 3600, "therapy", "stretching routine, 20 min"))
        if rng.random() < 0.08:
            continue  # a day the board stayed in the drawer
        boot = str(i + 1)
        start = float(round(midnight + 3600 * rng.uniform(7.0, 9.5)))  # whole seconds: exact boot origin
        hours = rng.choice((2.0, 6.0, 9.0, 11.0, 13.0)) + rng.uniform(-0.5, 0.5)
        w.boot_walls[boot] = start - 5.0
        spans = [(start, start + hours * 3600)]
        if hours > 8 and rng.random() < 0.3:  # unplugged for a while mid-day
            a, b = spans[0]
            cut = a + (b - a) * rng.uniform(0.3, 0.7)
            back = cut + rng.uniform(600, 2400)
            spans = [(a, cut), (back, b)]
            w.gaps.append((cut, back, "board unplugged"))
        rate = (rate_before if i < change else rate_after) * math.exp(rng.gauss(0.0, 0.35))
        for a, b in spans:
            w.sessions.append(Session(a, b, boot))
            for ch in range(channels):
                for ep in _episodes(rng, a, b, rate / channels, ch, boot, w.boot_walls[boot]):
                    seq += 2  # the device logs an onset record and an end record
                    w.episodes.append(Episode(**{**ep.__dict__, "seq": seq}))
        if rng.random() < 0.15:  # a loose electrode
            a, b = spans[-1]
            t = rng.uniform(a, max(a, b - 600))
            seq += 2
            w.episodes.append(Episode(0, "fault", t, rng.uniform(20, 300), None, boot,
                                      int((t - w.boot_walls[boot]) * 1000), seq, rng.choice(("flat", "rail"))))
    w.episodes.sort(key=lambda e: e.onset_wall)
    return w


def _episodes(rng: random.Random, a: float, b: float, rate_h: float, ch: int, boot: str,
              boot_wall: float) -> Iterator[Episode]:
    """A Poisson process of episodes in [a, b) on one channel; an episode never starts inside the last one."""
    t = a
    while True:
        t += rng.expovariate(rate_h / 3600) if rate_h > 0 else math.inf
        kind = rng.choices(KINDS, KIND_SHARE)[0]
        med, sig = DURATION[kind]
        dur = round(min(600.0, med * math.exp(rng.gauss(0.0, sig))), 3)
        if t + dur >= b:
            return
        pmed, psig = STRENGTH[kind]
        onset_ms = int(round((t - boot_wall) * 1000))
        yield Episode(ch, kind, boot_wall + onset_ms / 1000, dur, round(pmed * math.exp(rng.gauss(0.0, psig)), 2),
                      boot, onset_ms, 0)
        t += dur + 1.0


class EventStore(Protocol):
    """The writing methods of spasmwatch.store.Store that fill_store uses."""

    def batch(self) -> AbstractContextManager[object]: ...

    def note_hello(self, device_id: str, boot_id: str, *, fw_version: str | None = ..., uptime_ms: int | None = ...,
                   wall: float | None = ..., info: str | None = ..., name: str | None = ...,
                   channel_names: list[str] | None = ...) -> None: ...

    def add_end(self, device_id: str, boot_id: str, channel: int, kind: str, onset_ms: int, offset_ms: int, *,
                seq: int | None = ..., onset_wall: float | None = ..., offset_wall: float | None = ...,
                peak: float | None = ..., peak_x: float | None = ..., floor: float | None = ...,
                received_at: float | None = ...) -> bool: ...

    def add_fault(self, device_id: str, boot_id: str, channel: int, detail: str, onset_ms: int,
                  offset_ms: int | None = ..., *, seq: int | None = ..., received_at: float | None = ...) -> bool: ...

    def link_open(self, port: str | None, device_id: str | None = ..., wall: float | None = ...) -> int: ...

    def link_close(self, link_id: int, wall: float | None = ..., reason: str = ...) -> None: ...

    def add_gap(self, kind: str, start_wall: float, end_wall: float | None = ..., *, device_id: str | None = ...,
                boot_id: str | None = ..., detail: str = ...) -> int: ...


def fill_store(w: Weeks, store: EventStore, port: str = "/dev/simulated") -> None:
    """Write the weeks into an event store as a monitor would have (hello per boot, links, rows, gaps)."""
    with store.batch():
        for s in w.sessions:
            store.note_hello(w.device_id, s.boot_id, fw_version="sim", uptime_ms=int((s.start - w.boot_walls[
                s.boot_id]) * 1000), wall=s.start, name=w.name, channel_names=w.channel_names)
            link = store.link_open(port, w.device_id, s.start)
            store.link_close(link, s.end, reason="board unplugged")
        for e in w.episodes:
            off_ms = e.onset_ms + int(round(e.duration_s * 1000))
            if e.kind == "fault":
                store.add_fault(w.device_id, e.boot_id, e.channel, e.detail, e.onset_ms, off_ms, seq=e.seq,
                                received_at=e.onset_wall + e.duration_s)
            else:
                store.add_end(w.device_id, e.boot_id, e.channel, e.kind, e.onset_ms, off_ms, seq=e.seq,
                              peak=(e.peak_x or 0) * FLOOR, peak_x=e.peak_x, floor=FLOOR,
                              received_at=e.onset_wall + e.duration_s)
        for a, b, detail in w.gaps:
            store.add_gap("disconnect", a, b, device_id=w.device_id, detail=detail)
