"""The store's SQLite file: tables, versioned migrations, transactions, and one-line errors for disk full
and read-only databases."""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
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


class StoreBase:
    """The connection, schema version and transactions; the other store modules add the queries."""

    def __init__(self, path: str | Path, *, must_exist: bool = False, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if (must_exist or readonly) and not self.path.is_file():
            raise InputError(f"no event database at {self.path} (record one with `spasmwatch monitor`)")
        self._depth = 0
        try:
            if readonly:
                self.db = self._connect_readonly()
                self._check_readable()
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves so a batch is exactly one transaction.
            self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transaction survives a killed process (only power loss can lose
            # the last few commits), at a fraction of FULL's fsync cost.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except PermissionError as exc:
            raise StoreReadOnly(f"{self.path}: cannot create the database ({exc}); use --db for another "
                                "file") from None
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from None

    def _connect_readonly(self) -> sqlite3.Connection:
        """mode=ro: SQLite itself refuses every write. A WAL database in a folder we may not write (no -shm
        file to create) is opened immutable: nobody can be writing it there."""
        uri = f"file:{urllib.parse.quote(str(self.path.resolve()))}"
        try:
            db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, timeout=10.0)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None, timeout=10.0)

    def _version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _check_readable(self) -> None:
        version = self._version()
        if version > SCHEMA_VERSION:
            raise InputError(f"{self.path}: schema version {version} is newer than this spasmwatch "
                             f"({SCHEMA_VERSION})")
        if version == 0:
            raise InputError(f"{self.path}: an SQLite file that is not a spasmwatch event database")
        if version < _OLDEST_READABLE:
            raise InputError(f"{self.path}: schema version {version} is too old to read as it is: run "
                             "`spasmwatch monitor` on it once with write access to update it")

    def _migrate(self) -> None:
        version = self._version()
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise InputError(
                f"{self.path}: schema version {version} is newer than this spasmwatch ({SCHEMA_VERSION})"
            )
        if version == 0 and self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise InputError(f"{self.path}: an SQLite file that is not a spasmwatch event database")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            # a new database gets the current schema; an older one the steps from its version (data kept)
            steps = _MIGRATIONS[:1] if version == 0 else _MIGRATIONS[version:]
            for step in steps:
                for statement in step.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    @contextmanager
    def batch(self) -> Iterator[StoreBase]:
        """Group writes into one transaction (nested batches join the outer one). A full disk or a read-only
        file becomes StoreFull / StoreReadOnly (one line for the user); the transaction is rolled back."""
        try:
            if self._depth == 0:
                self.db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if self._depth == 0 and self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._depth == 0 and self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise store_error(self.path, exc) from None

    def close(self) -> None:
        self.db.close()

    def journal_mode(self) -> str:
        return str(self.db.execute("PRAGMA journal_mode").fetchone()[0])
