"""Notes and interventions (a new dose, a therapy, anything worth marking) kept beside the events in the store.

The notes live in their own table of the event database, created on first use with `CREATE TABLE IF NOT
EXISTS`, so the event store's schema and its version stay the store's own. Everything else in the database is
only read by the dashboard; notes are the one thing it writes.

For the dashboard: `add_note`, `edit_note` and `delete_note` are the store functions an HTTP handler calls (each
checks its input and raises InputError naming what is wrong); `check_at` alone checks a date.
"""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from spasmcore.errors import InputError

KINDS = ("medication", "therapy", "other")
MAX_TEXT = 500
MIN_AT = 946_684_800.0  # 2000-01-01 UTC: no note is about an earlier day
AHEAD_S = 366 * 86400.0  # a note may be about a planned dose, at most a year ahead

_TABLE = """
CREATE TABLE IF NOT EXISTS notes (
    id          INTEGER PRIMARY KEY,
    at          REAL NOT NULL,          -- unix seconds the note is about (when the dose was taken)
    kind        TEXT NOT NULL CHECK (kind IN ('medication', 'therapy', 'other')),
    text        TEXT NOT NULL,
    device_id   TEXT,                   -- NULL: about the person, shown with every device
    created_at  REAL NOT NULL
)
"""


@dataclass(frozen=True)
class Note:
    id: int
    at: float
    kind: str
    text: str
    device_id: str | None
    created_at: float

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def check(text: str, kind: str) -> tuple[str, str]:
    """The note's text and kind as stored, or InputError saying what is wrong."""
    text = " ".join(str(text).split())
    if not text:
        raise InputError("a note needs some text, e.g. \"baclofen 10 mg\"")
    if len(text) > MAX_TEXT:
        raise InputError(f"a note is at most {MAX_TEXT} characters (this one has {len(text)})")
    if kind not in KINDS:
        raise InputError(f"note kind {kind!r}: use one of {', '.join(KINDS)}")
    return text, kind


def check_at(at: object, now: float | None = None) -> float:
    """A note's date as unix seconds, or InputError: a finite number from 2000 to a year after `now`.
    Stored dates feed calendar arithmetic (the weeks around a note): one out of range would break every page."""
    if isinstance(at, bool) or not isinstance(at, (int, float)):
        raise InputError(f"a note's date must be a time, not {str(at)[:40]!r}")
    at = float(at)
    now = time.time() if now is None else now
    if not math.isfinite(at) or not MIN_AT <= at <= now + AHEAD_S:
        raise InputError(f"a note's date must lie between 2000-01-01 and a year from now (got {show_at(at)})")
    return at


def show_at(at: float) -> str:
    """A stored date as local time, or the raw number when no calendar holds it."""
    try:
        return f"{datetime.fromtimestamp(at).astimezone():%Y-%m-%d %H:%M}"
    except (ValueError, OverflowError, OSError):
        return f"{at:g} s"


def _connect(path: Path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(str(path), isolation_level=None, timeout=10.0)
        db.execute("PRAGMA journal_mode=WAL")  # as the store: a monitor writing events is never blocked by a note
        db.execute(_TABLE)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path}: not a spasmwatch event database ({exc})") from None
    return db


def _existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no event database at {p} (create it with `spasmwatch monitor`, or give --db)")
    return p


def add_note(path: str | Path, text: str, kind: str = "other", at: float | None = None,
             device_id: str | None = None) -> Note:
    """Store a note in the event database at `path` (which must exist); returns it with its id."""
    text, kind = check(text, kind)
    p = _existing(path)
    now = time.time()
    at = now if at is None else check_at(at, now)
    db = _connect(p)
    try:
        cur = db.execute("INSERT INTO notes (at, kind, text, device_id, created_at) VALUES (?, ?, ?, ?, ?)",
                         (at, kind, text, device_id, now))
        return Note(int(cur.lastrowid or 0), at, kind, text, device_id, now)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{p}: cannot store the note ({exc})") from None
    finally:
        db.close()


def _note(db: sqlite3.Connection, p: Path, note_id: int) -> Note:
    """The stored note `note_id`; InputError if there is no such note."""
    row = db.execute("SELECT id, at, kind, text, device_id, created_at FROM notes WHERE id=?", (note_id,)).fetchone()
    if row is None:
        raise InputError(f"no note {note_id} in {p} (see `spasmwatch note --list`)")
    return Note(*row)


def edit_note(path: str | Path, note_id: int, text: str | None = None, kind: str | None = None,
              at: float | None = None) -> Note:
    """Change a note's text, kind and/or date (what is None stays); InputError if there is no such note."""
    p = _existing(path)
    db = _connect(p)
    try:
        old = _note(db, p, note_id)
        new_text, new_kind = check(old.text if text is None else text, old.kind if kind is None else kind)
        new_at = old.at if at is None else check_at(at)
        db.execute("UPDATE notes SET at=?, kind=?, text=? WHERE id=?", (new_at, new_kind, new_text, note_id))
        return Note(old.id, new_at, new_kind, new_text, old.device_id, old.created_at)
    finally:
        db.close()


def delete_note(path: str | Path, note_id: int) -> Note:
    """Remove a note; returns what it was. InputError if there is no such note."""
    p = _existing(path)
    db = _connect(p)
    try:
        old = _note(db, p, note_id)
        db.execute("DELETE FROM notes WHERE id=?", (note_id,))
        return old
    finally:
        db.close()


def read_notes(db: sqlite3.Connection, since: float | None = None, until: float | None = None,
               device: str | None = None, invalid: bool = False) -> list[Note]:
    """Notes with `at` in [since, until) on an open (possibly read-only) connection; [] before the first note.
    A note whose date check_at would refuse (stored by an older spasmwatch) is left out unless `invalid`:
    `note --list` shows it, so that it can be edited or deleted."""
    where, args = ["1"] if invalid else [f"at >= {MIN_AT!r}", "at <= ?"], []  # type: list[str], list[object]
    if not invalid:
        args.append(time.time() + AHEAD_S)
    if since is not None:
        where.append("at >= ?")
        args.append(since)
    if until is not None:
        where.append("at < ?")
        args.append(until)
    if device is not None:
        where.append("(device_id IS NULL OR device_id = ?)")
        args.append(device)
    try:
        cur = db.execute(f"SELECT id, at, kind, text, device_id, created_at FROM notes WHERE {' AND '.join(where)} "
                         "ORDER BY at, id", args)
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []  # no note written yet: the table is made by the first one
        raise
    return [Note(*row) for row in cur]
