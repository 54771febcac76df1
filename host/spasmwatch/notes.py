"""Notes and interventions (a new dose, a therapy, anything worth marking) kept beside the events in the store.

The notes live in their own table of the event database, created on first use with `CREATE TABLE IF NOT
EXISTS`, so the event store's schema and its version stay the store's own. Everything else in the database is
only read by the dashboard; notes are the one thing it writes.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from spasmcore.errors import InputError

KINDS = ("medication", "therapy", "other")
MAX_TEXT = 500

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


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), isolation_level=None, timeout=10.0)
    db.execute("PRAGMA journal_mode=WAL")  # as the store: a monitor writing events is never blocked by a note
    db.execute(_TABLE)
    return db


def add_note(path: str | Path, text: str, kind: str = "other", at: float | None = None,
             device_id: str | None = None) -> Note:
    """Store a note in the event database at `path` (which must exist); returns it with its id."""
    text, kind = check(text, kind)
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no event database at {p} (create it with `spasmwatch monitor`, or give --db)")
    now = time.time()
    at = now if at is None else float(at)
    db = _connect(p)
    try:
        cur = db.execute("INSERT INTO notes (at, kind, text, device_id, created_at) VALUES (?, ?, ?, ?, ?)",
                         (at, kind, text, device_id, now))
        return Note(int(cur.lastrowid or 0), at, kind, text, device_id, now)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{p}: cannot store the note ({exc})") from None
    finally:
        db.close()


def read_notes(db: sqlite3.Connection, since: float | None = None, until: float | None = None,
               device: str | None = None) -> list[Note]:
    """Notes with `at` in [since, until) on an open (possibly read-only) connection; [] before the first note."""
    where, args = ["1"], []  # type: list[str], list[object]
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
