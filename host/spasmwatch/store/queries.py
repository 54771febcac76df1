"""Reading the store: episodes and faults in a time window, link sessions, gaps, devices, notes, counts."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, tzinfo

from spasmwatch.store.database import Database
from spasmwatch.store.notes import Note, read_notes
from spasmwatch.store.rows import GAP_COLS, SESSION_COLS, Gap, Session, StoredEvent, event_cols, stored_event
from spasmwatch.when import to_wall

When = datetime | float | None
_DEVICE_COLS = ("device_id", "first_seen", "last_hello", "fw_version", "boot_id", "name", "channel_names", "info")


class Queries:
    """Every read of the event database, the same on a writable store and a read-only one."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def devices(self) -> list[dict[str, object]]:
        """One dict per device, first seen first: device_id, first_seen, last_hello, fw_version, boot_id, name
        (None if never given), channel_names (a list, [] if unknown) and info (the config its latest hello
        carried, as text)."""
        out = []
        for r in self._db.rows(f"SELECT {', '.join(_DEVICE_COLS)} FROM devices ORDER BY first_seen, device_id"):
            d = dict(zip(_DEVICE_COLS, r, strict=True))
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
        row = self._db.row("SELECT max(seq) FROM events WHERE device_id=?", (device_id,))
        return 0 if row is None or row[0] is None else int(row[0])

    def event_by_seq(self, device_id: str, seq: int) -> StoredEvent | None:
        """The row that holds event-log record `seq` of the device (its end's, or its onset's while open)."""
        row = self._db.row(f"SELECT {event_cols(self._db.columns)} FROM events WHERE device_id=? AND seq=?",
                           (device_id, seq))
        return None if row is None else stored_event(row)

    def events(self, since: When = None, until: When = None, device: str | None = None, *,
               states: tuple[str, ...] = ("open", "closed"), channel: int | None = None) -> list[StoredEvent]:
        """Rows with onset in [since, until) by wall clock (rows of unknown wall time only when unbounded)."""
        where: list[str] = [f"state IN ({', '.join('?' * len(states))})"]
        args: list[object] = list(states)
        for cond, value in (("onset_wall >= ?", to_wall(since)), ("onset_wall < ?", to_wall(until)),
                            ("device_id = ?", device), ("channel = ?", channel)):
            if value is not None:
                where.append(cond)
                args.append(value)
        rows = self._db.rows(f"SELECT {event_cols(self._db.columns)} FROM events WHERE {' AND '.join(where)} "
                             "ORDER BY onset_wall IS NULL, onset_wall, device_id, boot_id, onset_ms, id", args)
        return [stored_event(r) for r in rows]

    def recent(self, device: str, n: int) -> list[StoredEvent]:
        """The device's last n rows (open and closed) by onset, oldest first."""
        rows = self._db.rows(f"SELECT {event_cols(self._db.columns)} FROM events WHERE device_id = ? AND state IN "
                             "('open', 'closed') ORDER BY onset_wall IS NULL, onset_wall DESC, id DESC LIMIT ?",
                             (device, n))
        return [stored_event(r) for r in reversed(rows)]

    def gaps(self, since: When = None, until: When = None, device: str | None = None) -> list[Gap]:
        where, args = _window("coalesce(end_wall, start_wall)", "start_wall", "device_id = ?", since, until, device)
        rows = self._db.rows(f"SELECT {GAP_COLS} FROM gaps WHERE {' AND '.join(where)} ORDER BY start_wall", args)
        return [Gap(*r) for r in rows]

    def links(self, since: When = None, until: When = None, device: str | None = None) -> list[Session]:
        where, args = _window("coalesce(disconnected_at, last_seen_at)", "connected_at",
                              "(device_id = ? OR device_id IS NULL)", since, until, device)
        rows = self._db.rows(f"SELECT {SESSION_COLS} FROM links WHERE {' AND '.join(where)} ORDER BY connected_at",
                             args)
        return [Session(*r) for r in rows]

    def counts(self, by: str = "hour", since: When = None, until: When = None, device: str | None = None,
               tz: tzinfo | None = None) -> dict[datetime, Counter[str]]:
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
        row = self._db.row(f"SELECT min(onset_wall), max(onset_wall) FROM events {where}", args)
        return (row[0], row[1]) if row else (None, None)

    def notes(self, since: When = None, until: When = None, device: str | None = None,
              invalid: bool = False) -> list[Note]:
        """As notes.read_notes: those with a date out of range only when `invalid` (to list them for fixing)."""
        with self._db.lock:
            return read_notes(self._db.db, to_wall(since), to_wall(until), device, invalid)


def _window(end_col: str, start_col: str, device_clause: str, since: When, until: When,
            device: str | None) -> tuple[list[str], list[object]]:
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
