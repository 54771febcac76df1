"""One day of stored episodes loaded for the report (DayData) and the clinician's summary table rows."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from spasmcore import kinds
from spasmwatch.store import Gap, Link, Store, StoredEvent, day_bounds, split_events

MIN_RATE_S = 15 * 60  # less monitored time than this gives no per-hour rate (30 s would be multiplied by 120)
DEFAULT_DEVICE_NAME = "spasmwatch"  # firmware/config.py's default `name`: not a name the user gave


@dataclass
class DayData:
    """Everything the report shows for one calendar day (times as unix seconds)."""

    day: str
    start: float
    end: float
    tz: tzinfo | None
    episodes: list[StoredEvent] = field(default_factory=list)  # closed, of an episode kind
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
        return merge_spans(self.links, self.start, stop)

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
    data.episodes, data.open_episodes, data.faults = split_events(
        store.events(start, end, device, states=("open", "closed")))
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
    for kind in kinds.episodes():
        kd = [e.duration_s or 0.0 for e in eps if e.kind == kind.name]
        rows.append((f"  {kind.label}", f"{len(kd)}" + (f" (total {fmt_duration(sum(kd))})" if kd else "")))
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


def latest_day(store: Store, device: str | None = None, tz: tzinfo | None = None) -> str | None:
    """The local date of the most recent stored event, for a helpful 'empty day' message."""
    last = store.first_last_wall(device)[1]
    if last is None:
        return None
    t = datetime.fromtimestamp(last, tz)
    return (t if tz else t.astimezone()).strftime("%Y-%m-%d")


def today(tz: tzinfo | None = None) -> str:
    return (datetime.now(tz) if tz else datetime.now().astimezone()).strftime("%Y-%m-%d")


def merge_spans(links: list[Link], start: float, end: float) -> list[tuple[float, float]]:
    """The union of the link sessions clipped to [start, end)."""
    spans = sorted((max(lk.connected_at, start), min(lk.end, end)) for lk in links)
    merged: list[tuple[float, float]] = []
    for a, b in spans:
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged
