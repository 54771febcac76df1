"""What the store's SQLite file holds: tables, versioned migrations, and one-line errors for disk full and
read-only databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from spasmcore.errors import FatalError, InputError

SCHEMA_VERSION = 3  # 2: devices.name, channel_names; 3: records and sync_marks (the sync policy's state)
FAULT = "fault"

# Wall-clock times are REAL unix seconds (UTC by definition, sortable, cheap to bucket); exports and reports
# render them as ISO-8601 UTC or local time. Device times are integer ms since the device booted.
_SCHEMA = """
CREATE TABLE devices (
    device_id   TEXT PRIMARY KEY,
    first_seen  REAL NOT NULL,
    last_hello  REAL NOT NULL,
    fw_version  TEXT,
    boot_id     TEXT,
    info        TEXT,
    name        TEXT,              -- config `name`, e.g. "left leg"
    channel_names TEXT             -- JSON list of the config's channel names, e.g. ["left calf", "ch1"]
);
CREATE TABLE boots (
    device_id   TEXT NOT NULL,
    boot_id     TEXT NOT NULL,
    boot_wall   REAL,              -- wall time of device ms 0, estimated from hello/status uptime
    first_seen  REAL NOT NULL,
    last_seen   REAL NOT NULL,
    PRIMARY KEY (device_id, boot_id)
);
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    device_id   TEXT NOT NULL,
    boot_id     TEXT NOT NULL,
    seq         INTEGER,           -- device event-log sequence number (eseq), persistent across boots
    channel     INTEGER NOT NULL,
    kind        TEXT,              -- twitch | tonic | clonus | fault, NULL while an episode is open
    detail      TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL CHECK (state IN ('open', 'closed', 'abandoned')),
    onset_ms    INTEGER NOT NULL,
    offset_ms   INTEGER,
    detected_ms INTEGER,
    onset_wall  REAL,
    offset_wall REAL,
    duration_s  REAL,
    peak        REAL,
    mean        REAL,
    peak_x      REAL,
    mean_x      REAL,
    floor       REAL,
    received_at REAL NOT NULL,
    UNIQUE (device_id, boot_id, seq)
);
CREATE INDEX events_onset_key ON events (device_id, boot_id, channel, onset_ms);
CREATE INDEX events_wall ON events (onset_wall);
CREATE TABLE links (
    id              INTEGER PRIMARY KEY,
    device_id       TEXT,
    port            TEXT,
    connected_at    REAL NOT NULL,
    last_seen_at    REAL NOT NULL,
    disconnected_at REAL,
    reason          TEXT
);
CREATE TABLE gaps (
    id          INTEGER PRIMARY KEY,
    device_id   TEXT,
    boot_id     TEXT,
    kind        TEXT NOT NULL,     -- seq | disconnect | reboot | overflow | ...
    start_wall  REAL NOT NULL,
    end_wall    REAL,
    first_seq   INTEGER,
    last_seq    INTEGER,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX gaps_wall ON gaps (start_wall);
"""

# Version 3: every event-log record (eseq) the store holds, and per device the eseq up to which every record
# is held or known to be absent from the board's log: what the sync policy needs to ask for exactly the holes.
_V3 = """
CREATE TABLE IF NOT EXISTS records (
    device_id   TEXT NOT NULL,
    eseq        INTEGER NOT NULL,
    PRIMARY KEY (device_id, eseq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sync_marks (
    device_id   TEXT PRIMARY KEY,
    synced_to   INTEGER NOT NULL   -- every eseq <= this is in records or not on the board
);
INSERT OR IGNORE INTO records (device_id, eseq) SELECT device_id, seq FROM events WHERE seq IS NOT NULL
"""

# each step takes a database from version N (the index) to N + 1, in the same transaction as the version bump
_MIGRATIONS = [
    _SCHEMA + ";" + _V3,  # 0 -> 3: a new database gets the whole schema
    "ALTER TABLE devices ADD COLUMN name TEXT; ALTER TABLE devices ADD COLUMN channel_names TEXT",
    _V3,
]
_OLDEST_READABLE = 2  # a read-only store of this version or newer is read as it is (v3 only adds tables)


class StoreFull(FatalError):
    """The disk (or the database's size limit) is full: nothing more can be stored."""


class StoreReadOnly(FatalError):
    """The database file or its folder may not be written."""


def store_error(path: Path, exc: sqlite3.Error) -> FatalError:
    """One actionable line for an SQLite error of a write; the data committed so far is intact."""
    text = str(exc).lower()
    if "full" in text:
        return StoreFull(f"{path}: the disk is full ({exc}): free some space and start again; the events "
                         "stored so far are kept")
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return StoreReadOnly(f"{path}: the database cannot be written ({exc}): check the permissions of "
                             "the file and its folder, or use --db for another file")
    if isinstance(exc, sqlite3.OperationalError):  # locked for too long, I/O error: say what SQLite said
        return FatalError(f"{path}: {exc}")
    return InputError(f"{path}: not a spasmwatch event database ({exc})")


def check_readable(db: sqlite3.Connection, path: Path) -> None:
    """InputError unless `db` is an event database this spasmwatch can read as it is (without migrating)."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise InputError(f"{path}: schema version {version} is newer than this spasmwatch ({SCHEMA_VERSION})")
    if version == 0:
        raise InputError(f"{path}: an SQLite file that is not a spasmwatch event database")
    if version < _OLDEST_READABLE:
        raise InputError(f"{path}: schema version {version} is too old to read as it is: run "
                         "`spasmwatch monitor` on it once with write access to update it")


def add_columns(db: sqlite3.Connection, columns: dict[str, str]) -> set[str]:
    """Add each of `columns` (name: SQL type) the events table lacks, NULL in the rows it has (an episode field
    newer than the database); returns the events table's columns."""
    have = {str(r[1]) for r in db.execute("PRAGMA table_info(events)")}
    for name, sqltype in columns.items():
        if name not in have:
            db.execute(f"ALTER TABLE events ADD COLUMN {name} {sqltype}")
            have.add(name)
    return have


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring a new or older event database to SCHEMA_VERSION in one transaction (its data kept)."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise InputError(f"{path}: schema version {version} is newer than this spasmwatch ({SCHEMA_VERSION})")
    if version == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise InputError(f"{path}: an SQLite file that is not a spasmwatch event database")
    db.execute("BEGIN IMMEDIATE")
    try:
        # a new database gets the current schema; an older one the steps from its version (data kept)
        steps = _MIGRATIONS[:1] if version == 0 else _MIGRATIONS[version:]
        for step in steps:
            for statement in step.split(";"):
                if statement.strip():
                    db.execute(statement)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
