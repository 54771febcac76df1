"""Reading the store: episodes and faults in a time window, link sessions, gaps, counts per hour or day."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, tzinfo

from spasmcore.events import Event
from spasmwatch.store.episodes import Episodes
from spasmwatch.store.schema import FAULT
from spasmwatch.store.sessions import Gap, Session
from spasmwatch.when import to_wall

_EVENT_COLS = (
    "id device_id boot_id seq channel kind detail state onset_ms offset_ms detected_ms onset_wall "
    "offset_wall duration_s peak mean peak_x mean_x floor received_at"
).split()


@dataclass(frozen=True)
class StoredEvent:
    """One row of the events table: an episode or fault, open or closed."""

    id: int
    device_id: str
    boot_id: str
    seq: int | None
    channel: int
    kind: str | None
    detail: str
    state: str
    onset_ms: int
    offset_ms: int | None
    detected_ms: int | None
    onset_wall: float | None
    offset_wall: float | None
    duration_s: float | None
    peak: float | None
    mean: float | None
    peak_x: float | None
    mean_x: float | None
    floor: float | None
    received_at: float

    @property
    def is_fault(self) -> bool:
        return self.kind == FAULT

    def to_event(self) -> Event:
        """The replay-style record; times are device seconds since boot."""
        onset = self.onset_ms / 1000
        offset = self.offset_ms / 1000 if self.offset_ms is not None else onset
        return Event(
            channel=self.channel,
            kind=self.kind or "open",
            onset_s=onset,
            offset_s=offset,
            detected_s=self.detected_ms / 1000 if self.detected_ms is not None else onset,
            duration_s=self.duration_s if self.duration_s is not None else offset - onset,
            peak=self.peak or 0.0,
            mean=self.mean or 0.0,
            peak_x=self.peak_x or 0.0,
            mean_x=self.mean_x or 0.0,
            detail=self.detail,
        )



class Queries(Episodes):
    def devices(self) -> list[dict[str, object]]:
        """One dict per device: device_id, first_seen, last_hello, fw_version, boot_id, name (None if never
        given), channel_names (a list, [] if unknown) and info (the config its latest hello carried, as text)."""
        cur = self.db.execute("SELECT device_id, first_seen, last_hello, fw_version, boot_id, name, "
                              "channel_names, info FROM devices")
        names = ("device_id", "first_seen", "last_hello", "fw_version", "boot_id", "name", "channel_names", "info")
        out = []
        for r in cur:
            d = dict(zip(names, r, strict=True))
            try:
                chans = json.loads(str(d["channel_names"])) if d["channel_names"] else []
            except ValueError:
                chans = []
            d["channel_names"] = [str(c) for c in chans] if isinstance(chans, list) else []
            out.append(d)
        return out

    def last_seq(self, device_id: str) -> int:
        """Highest event-log seq stored for the device across boots, 0 when none: `sync N` resumes after it
        (the device's eseq starts at 1 and an end always has a higher eseq than its onset)."""
        row = self.db.execute("SELECT max(seq) FROM events WHERE device_id=?", (device_id,)).fetchone()
        return 0 if row[0] is None else int(row[0])

    def event_by_seq(self, device_id: str, seq: int) -> StoredEvent | None:
        """The row that holds event-log record `seq` of the device (its end's, or its onset's while open)."""
        row = self.db.execute(f"SELECT {', '.join(_EVENT_COLS)} FROM events WHERE device_id=? AND seq=?",
                              (device_id, seq)).fetchone()
        return None if row is None else StoredEvent(*row)

    def events(
        self,
        since: datetime | float | None = None,
        until: datetime | float | None = None,
        device: str | None = None,
        *,
        states: tuple[str, ...] = ("open", "closed"),
    ) -> list[StoredEvent]:
        """Rows with onset in [since, until) by wall clock (rows of unknown wall time only when unbounded)."""
        where: list[str] = [f"state IN ({', '.join('?' * len(states))})"]
        args: list[object] = list(states)
        if since is not None:
            where.append("onset_wall >= ?")
            args.append(to_wall(since))
        if until is not None:
            where.append("onset_wall < ?")
            args.append(to_wall(until))
        if device is not None:
            where.append("device_id = ?")
            args.append(device)
        cur = self.db.execute(
            f"SELECT {', '.join(_EVENT_COLS)} FROM events WHERE {' AND '.join(where)} "
            "ORDER BY onset_wall IS NULL, onset_wall, device_id, boot_id, onset_ms, id",
            args,
        )
        return [StoredEvent(*row) for row in cur]

    def gaps(self, since: datetime | float | None = None, until: datetime | float | None = None,
             device: str | None = None) -> list[Gap]:
        where, args = _window("coalesce(end_wall, start_wall)", "start_wall", "device_id = ?", since, until, device)
        cur = self.db.execute(f"SELECT * FROM gaps WHERE {' AND '.join(where)} ORDER BY start_wall", args)
        return [Gap(*row) for row in cur]

    def links(self, since: datetime | float | None = None, until: datetime | float | None = None,
              device: str | None = None) -> list[Session]:
        where, args = _window("coalesce(disconnected_at, last_seen_at)", "connected_at",
                              "(device_id = ? OR device_id IS NULL)", since, until, device)
        cur = self.db.execute(f"SELECT * FROM links WHERE {' AND '.join(where)} ORDER BY connected_at", args)
        return [Session(*row) for row in cur]

    def counts(
        self,
        by: str = "hour",
        since: datetime | float | None = None,
        until: datetime | float | None = None,
        device: str | None = None,
        tz: tzinfo | None = None,
    ) -> dict[datetime, Counter[str]]:
        """Closed episodes and faults per hour or day (bucket start in tz, default local time) by kind."""
        if by not in ("hour", "day"):
            raise ValueError("by must be 'hour' or 'day'")
        out: dict[datetime, Counter[str]] = {}
        for ev in self.events(since, until, device, states=("closed",)):
            if ev.onset_wall is None:
                continue
            t = datetime.fromtimestamp(ev.onset_wall, tz)
            if tz is None:
                t = t.astimezone()  # local zone with the DST offset of that instant
            start = t.replace(minute=0, second=0, microsecond=0)
            if by == "day":
                start = start.replace(hour=0)
            out.setdefault(start, Counter())[ev.kind or "open"] += 1
        return dict(sorted(out.items()))

    def first_last_wall(self, device: str | None = None) -> tuple[float | None, float | None]:
        where, args = ("WHERE device_id=?", [device]) if device else ("", [])
        row = self.db.execute(f"SELECT min(onset_wall), max(onset_wall) FROM events {where}", args).fetchone()
        return row[0], row[1]


def _window(end_col: str, start_col: str, device_clause: str, since: datetime | float | None,
            until: datetime | float | None, device: str | None) -> tuple[list[str], list[object]]:
    """WHERE clauses and arguments for rows overlapping [since, until) of one device (gaps and link sessions)."""
    where: list[str] = ["1"]
    args: list[object] = []
    if since is not None:
        where.append(f"{end_col} >= ?")
        args.append(to_wall(since))
    if until is not None:
        where.append(f"{start_col} < ?")
        args.append(to_wall(until))
    if device is not None:
        where.append(device_clause)
        args.append(device)
    return where, args
