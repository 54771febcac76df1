"""Read-only access to the event database for the dashboard and range reports (SQLite `mode=ro`).

The same queries as the store's `events`/`gaps`/`links`/`devices`, returning the store's own row types, but on
a connection SQLite itself refuses to write through: looking at the history can never change it. Notes, the
one thing the dashboard writes, go through spasmwatch.store.notes on a connection of their own.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.parse
from dataclasses import fields
from datetime import datetime
from pathlib import Path

from spasmcore.errors import InputError
from spasmwatch.store import Gap, Link, StoredEvent, to_wall
from spasmwatch.store.notes import Note, read_notes

_EVENT_COLS = [f.name for f in fields(StoredEvent)]
_GAP_COLS = [f.name for f in fields(Gap)]
_LINK_COLS = [f.name for f in fields(Link)]

When = datetime | float | None


class ReadOnlyStore:
    """The event database opened read-only; safe to share between threads (one query at a time)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().resolve()
        if not self.path.is_file():
            raise InputError(f"no event database at {self.path} (record one with `spasmwatch monitor`)")
        uri = f"file:{urllib.parse.quote(str(self.path))}?mode=ro"
        try:
            self.db = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=10.0)
            self.db.execute("SELECT count(*) FROM events").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a spasmwatch event database ({exc})") from None
        self.lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ReadOnlyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, sql: str, args: list[object]) -> list[tuple]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def events(self, since: When = None, until: When = None, device: str | None = None, *,
               states: tuple[str, ...] = ("open", "closed"), channel: int | None = None) -> list[StoredEvent]:
        """Rows with onset in [since, until) by wall clock, as Store.events (plus a channel filter)."""
        where: list[str] = [f"state IN ({', '.join('?' * len(states))})"]
        args: list[object] = list(states)
        for cond, value in (("onset_wall >= ?", to_wall(since)), ("onset_wall < ?", to_wall(until)),
                            ("device_id = ?", device), ("channel = ?", channel)):
            if value is not None:
                where.append(cond)
                args.append(value)
        rows = self._rows(f"SELECT {', '.join(_EVENT_COLS)} FROM events WHERE {' AND '.join(where)} "
                          "ORDER BY onset_wall IS NULL, onset_wall, device_id, boot_id, onset_ms, id", args)
        return [StoredEvent(*r) for r in rows]

    def recent(self, device: str, n: int) -> list[StoredEvent]:
        """The device's last n rows (open and closed) by onset, oldest first."""
        rows = self._rows(f"SELECT {', '.join(_EVENT_COLS)} FROM events WHERE device_id = ? AND state IN "
                          "('open', 'closed') ORDER BY onset_wall IS NULL, onset_wall DESC, id DESC LIMIT ?",
                          [device, n])
        return [StoredEvent(*r) for r in reversed(rows)]

    def gaps(self, since: When = None, until: When = None, device: str | None = None) -> list[Gap]:
        where, args = _span_filter("coalesce(end_wall, start_wall)", "start_wall", since, until)
        if device is not None:
            where.append("device_id = ?")
            args.append(device)
        rows = self._rows(f"SELECT {', '.join(_GAP_COLS)} FROM gaps WHERE {' AND '.join(where)} "
                          "ORDER BY start_wall", args)
        return [Gap(*r) for r in rows]

    def links(self, since: When = None, until: When = None, device: str | None = None) -> list[Link]:
        where, args = _span_filter("coalesce(disconnected_at, last_seen_at)", "connected_at", since, until)
        if device is not None:
            where.append("(device_id = ? OR device_id IS NULL)")
            args.append(device)
        rows = self._rows(f"SELECT {', '.join(_LINK_COLS)} FROM links WHERE {' AND '.join(where)} "
                          "ORDER BY connected_at", args)
        return [Link(*r) for r in rows]

    def devices(self) -> list[dict[str, object]]:
        """As Store.devices: device_id, first_seen, last_hello, fw_version, boot_id, name, channel_names."""
        names = ("device_id", "first_seen", "last_hello", "fw_version", "boot_id", "name", "channel_names")
        out = []
        for r in self._rows(f"SELECT {', '.join(names)} FROM devices ORDER BY first_seen", []):
            d = dict(zip(names, r, strict=True))
            try:
                chans = json.loads(str(d["channel_names"])) if d["channel_names"] else []
            except ValueError:
                chans = []
            d["channel_names"] = [str(c) for c in chans] if isinstance(chans, list) else []
            out.append(d)
        return out

    def first_last_wall(self, device: str | None = None) -> tuple[float | None, float | None]:
        where, args = ("WHERE device_id=?", [device]) if device else ("", [])
        (row,) = self._rows(f"SELECT min(onset_wall), max(onset_wall) FROM events {where}", list(args))
        return row[0], row[1]

    def notes(self, since: When = None, until: When = None, device: str | None = None,
              invalid: bool = False) -> list[Note]:
        """As notes.read_notes: those with a date out of range only when `invalid` (to list them for fixing)."""
        with self.lock:
            return read_notes(self.db, to_wall(since), to_wall(until), device, invalid)


def _span_filter(end_expr: str, start_col: str, since: When, until: When) -> tuple[list[str], list[object]]:
    """Rows of an interval table that overlap [since, until)."""
    where: list[str] = ["1"]
    args: list[object] = []
    if since is not None:
        where.append(f"{end_expr} >= ?")
        args.append(to_wall(since))
    if until is not None:
        where.append(f"{start_col} < ?")
        args.append(to_wall(until))
    return where, args
