"""SQLite store of episodes, faults, link sessions and data gaps received from spasmwatch devices."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

from spasmcore.errors import InputError
from spasmcore.events import Event

SCHEMA_VERSION = 2  # 2: devices.name and devices.channel_names (the names a user gave in the config)
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

# each step takes a database from version N (the index) to N + 1, in the same transaction as the version bump
_MIGRATIONS = [
    "",  # 0 -> 1: the whole schema (a new database)
    "ALTER TABLE devices ADD COLUMN name TEXT; ALTER TABLE devices ADD COLUMN channel_names TEXT",
]

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


@dataclass(frozen=True)
class Gap:
    id: int
    device_id: str | None
    boot_id: str | None
    kind: str
    start_wall: float
    end_wall: float | None
    first_seq: int | None
    last_seq: int | None
    detail: str


@dataclass(frozen=True)
class Link:
    id: int
    device_id: str | None
    port: str | None
    connected_at: float
    last_seen_at: float
    disconnected_at: float | None
    reason: str | None

    @property
    def end(self) -> float:
        """End of the covered interval: a host killed mid-session leaves only last_seen_at."""
        return self.disconnected_at if self.disconnected_at is not None else self.last_seen_at


def default_path() -> Path:
    """The per-user event database: <user data dir>/spasmwatch/events.sqlite3."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("spasmwatch", appauthor=False)) / "events.sqlite3"


def to_wall(value: datetime | float | None) -> float | None:
    """Unix seconds from an aware datetime (naive = local time) or a number."""
    if value is None or isinstance(value, (int, float)):
        return value
    return value.timestamp()


def iso_utc(wall: float | None) -> str:
    """ISO-8601 UTC with millisecond precision, '' for unknown."""
    if wall is None:
        return ""
    text = datetime.fromtimestamp(wall, timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


class Store:
    """The event database. Writes outside `batch()` commit one by one; inside, as one transaction."""

    def __init__(self, path: str | Path, *, must_exist: bool = False) -> None:
        self.path = Path(path)
        if must_exist and not self.path.is_file():
            raise InputError(f"no event database at {self.path} (record one with `spasmwatch monitor`)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves so a batch is exactly one transaction.
            self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transaction survives a killed process (only power loss can lose
            # the last few commits), at a fraction of FULL's fsync cost.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a spasmwatch event database ({exc})") from None
        self._depth = 0

    # ---- schema and transactions -------------------------------------------------------------------------

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
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
            steps = [_SCHEMA] if version == 0 else _MIGRATIONS[version:]
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
    def batch(self) -> Iterator[Store]:
        """Group writes into one transaction (nested batches join the outer one)."""
        if self._depth == 0:
            self.db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield self
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self.db.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0:
            self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def journal_mode(self) -> str:
        return str(self.db.execute("PRAGMA journal_mode").fetchone()[0])

    # ---- devices and boots -------------------------------------------------------------------------------

    def note_hello(
        self,
        device_id: str,
        boot_id: str,
        *,
        fw_version: str | None = None,
        uptime_ms: int | None = None,
        wall: float | None = None,
        info: str | None = None,
        name: str | None = None,
        channel_names: list[str] | None = None,
    ) -> None:
        """Record a device greeting; uptime_ms fixes the boot's wall-clock origin for replayed records.

        name and channel_names are the config's (the latest greeting's are kept: a user may rename them).
        """
        wall = time.time() if wall is None else wall
        chans = json.dumps(channel_names) if channel_names is not None else None
        with self.batch():
            self.db.execute(
                "INSERT INTO devices (device_id, first_seen, last_hello, fw_version, boot_id, info, name, "
                "channel_names) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(device_id) DO UPDATE SET "
                "last_hello=excluded.last_hello, "
                "fw_version=coalesce(excluded.fw_version, fw_version), boot_id=excluded.boot_id, "
                "info=coalesce(excluded.info, info), name=coalesce(excluded.name, name), "
                "channel_names=coalesce(excluded.channel_names, channel_names)",
                (device_id, wall, wall, fw_version, boot_id, info, name, chans),
            )
            self.note_uptime(device_id, boot_id, uptime_ms, wall)

    def note_uptime(self, device_id: str, boot_id: str, uptime_ms: int | None,
                    wall: float | None = None) -> None:
        """A device time seen at host time `wall`: bounds the boot's wall-clock origin by wall - uptime.

        A line can only arrive late (USB latency, a busy or suspended host reading a backlog), never early, so
        the smallest estimate is kept (docs/protocol.md). `status` uptime_ms is stamped when sent; a record's
        own times (onset/offset ms) are earlier than its sending and give a looser bound.
        """
        wall = time.time() if wall is None else wall
        boot_wall = wall - uptime_ms / 1000 if uptime_ms is not None else None
        with self.batch():
            self.db.execute(
                "INSERT INTO boots (device_id, boot_id, boot_wall, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(device_id, boot_id) DO UPDATE SET "
                "last_seen=max(last_seen, excluded.last_seen), "
                "boot_wall=CASE WHEN excluded.boot_wall IS NULL THEN boot_wall "
                "WHEN boot_wall IS NULL THEN excluded.boot_wall "
                "ELSE min(boot_wall, excluded.boot_wall) END",
                (device_id, boot_id, boot_wall, wall, wall),
            )

    def devices(self) -> list[dict[str, object]]:
        """One dict per device: device_id, first_seen, last_hello, fw_version, boot_id, name (None if never
        given) and channel_names (a list, [] if unknown)."""
        cur = self.db.execute("SELECT device_id, first_seen, last_hello, fw_version, boot_id, name, "
                              "channel_names FROM devices")
        names = ("device_id", "first_seen", "last_hello", "fw_version", "boot_id", "name", "channel_names")
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

    def boot_wall(self, device_id: str, boot_id: str) -> float | None:
        row = self.db.execute(
            "SELECT boot_wall FROM boots WHERE device_id=? AND boot_id=?", (device_id, boot_id)
        ).fetchone()
        return row[0] if row else None

    def _wall(self, device_id: str, boot_id: str, ms: int | None, given: float | None) -> float | None:
        if given is not None or ms is None:
            return given
        origin = self.boot_wall(device_id, boot_id)
        return origin + ms / 1000 if origin is not None else None

    # ---- episodes and faults -----------------------------------------------------------------------------

    def add_onset(
        self,
        device_id: str,
        boot_id: str,
        channel: int,
        onset_ms: int,
        *,
        seq: int | None = None,
        detected_ms: int | None = None,
        onset_wall: float | None = None,
        peak: float | None = None,
        floor: float | None = None,
        received_at: float | None = None,
    ) -> bool:
        """Write an open episode row; False when the episode is already stored (open or closed)."""
        return self._open(device_id, boot_id, channel, onset_ms, None, "", seq, detected_ms, onset_wall, peak,
                          floor, received_at)

    def add_end(
        self,
        device_id: str,
        boot_id: str,
        channel: int,
        kind: str,
        onset_ms: int,
        offset_ms: int,
        *,
        seq: int | None = None,
        detected_ms: int | None = None,
        onset_wall: float | None = None,
        offset_wall: float | None = None,
        peak: float | None = None,
        mean: float | None = None,
        peak_x: float | None = None,
        mean_x: float | None = None,
        floor: float | None = None,
        detail: str = "",
        received_at: float | None = None,
    ) -> bool:
        """Complete an episode (from an `end` or a replayed `log` record); False when it was already closed.

        Matching: the row with the same (device, boot, seq) if any, else the row of the same
        (device, boot, channel, onset_ms) episode or fault, else a new closed row. The firmware logs the
        onset and the end as two records with their own eseq: the row takes the end's eseq when it closes.
        """
        received_at = time.time() if received_at is None else received_at
        onset_wall = self._wall(device_id, boot_id, onset_ms, onset_wall)
        offset_wall = self._wall(device_id, boot_id, offset_ms, offset_wall)
        values = dict(
            kind=kind, detail=detail, offset_ms=offset_ms, detected_ms=detected_ms, onset_wall=onset_wall,
            offset_wall=offset_wall, duration_s=(offset_ms - onset_ms) / 1000, peak=peak, mean=mean,
            peak_x=peak_x, mean_x=mean_x, floor=floor,
        )
        with self.batch():
            row = self._find(device_id, boot_id, seq, channel, onset_ms, kind == FAULT)
            if row is not None:
                row_id, state = row
                if state == "closed":
                    return False  # re-sync of something we already have: never touch it
                sets = ", ".join(f"{k}=coalesce(?, {k})" for k in values)
                self.db.execute(
                    f"UPDATE events SET state='closed', seq=coalesce(?, seq), {sets} WHERE id=?",
                    (seq, *values.values(), row_id),
                )
                return True
            cols = ["device_id", "boot_id", "seq", "channel", "state", "onset_ms", "received_at", *values]
            self.db.execute(
                f"INSERT INTO events ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                "ON CONFLICT(device_id, boot_id, seq) DO NOTHING",
                (device_id, boot_id, seq, channel, "closed", onset_ms, received_at, *values.values()),
            )
            return self.db.execute("SELECT changes()").fetchone()[0] > 0

    def add_fault(
        self,
        device_id: str,
        boot_id: str,
        channel: int,
        detail: str,
        onset_ms: int,
        offset_ms: int | None = None,
        *,
        seq: int | None = None,
        onset_wall: float | None = None,
        offset_wall: float | None = None,
        floor: float | None = None,
        received_at: float | None = None,
    ) -> bool:
        """A sensor fault (flat/rail): open without offset_ms, closed with it (same matching as add_end)."""
        if offset_ms is None:
            return self._open(device_id, boot_id, channel, onset_ms, FAULT, detail, seq, None, onset_wall,
                              None, floor, received_at)
        return self.add_end(
            device_id, boot_id, channel, FAULT, onset_ms, offset_ms, seq=seq, detail=detail,
            onset_wall=onset_wall, offset_wall=offset_wall, floor=floor, received_at=received_at,
        )

    def _open(self, device_id: str, boot_id: str, channel: int, onset_ms: int, kind: str | None, detail: str,
              seq: int | None, detected_ms: int | None, onset_wall: float | None, peak: float | None,
              floor: float | None, received_at: float | None) -> bool:
        received_at = time.time() if received_at is None else received_at
        onset_wall = self._wall(device_id, boot_id, onset_ms, onset_wall)
        with self.batch():
            if self._find(device_id, boot_id, seq, channel, onset_ms, kind == FAULT) is not None:
                return False
            self.db.execute(
                "INSERT INTO events (device_id, boot_id, seq, channel, kind, detail, state, onset_ms, "
                "detected_ms, onset_wall, peak, floor, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)",
                (device_id, boot_id, seq, channel, kind, detail, onset_ms, detected_ms, onset_wall, peak,
                 floor, received_at),
            )
            return True

    def _find(self, device_id: str, boot_id: str, seq: int | None, channel: int, onset_ms: int,
              fault: bool) -> tuple[int, str] | None:
        if seq is not None:
            row = self.db.execute(
                "SELECT id, state FROM events WHERE device_id=? AND boot_id=? AND seq=?",
                (device_id, boot_id, seq),
            ).fetchone()
            if row is not None:
                return row[0], row[1]
        # The onset record (own eseq) and the end record (a later eseq) are one episode: within one boot a
        # channel cannot start two episodes (or two faults) at the same millisecond, so that is the key.
        kind_test = "kind = 'fault'" if fault else "(kind IS NULL OR kind != 'fault')"
        row = self.db.execute(
            f"SELECT id, state FROM events WHERE device_id=? AND boot_id=? AND channel=? AND onset_ms=? "
            f"AND {kind_test} ORDER BY id LIMIT 1",
            (device_id, boot_id, channel, onset_ms),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def add_message(self, msg: dict, device_id: str | None, boot_id: str | None, *, scale: float = 16.0,
                    wall: float | None = None) -> bool:
        """Store one decoded protocol message; True when it changed the database.

        hello (device_id/boot_id come from the message itself), status (uptime fixes the boot's wall-clock
        origin), onset / end / fault (live, of the current boot) and log (replayed by `sync`, carries its own
        boot). peak, mean and floor arrive in counts x scale (hello's `scale`) and are stored in ADC counts.
        Anything else, or a record before the device is known, is ignored.
        """
        wall = time.time() if wall is None else wall
        t = msg.get("t")
        if t == "hello":
            if msg.get("id") is None or msg.get("boot") is None:
                return False
            chans = msg.get("channels")
            self.note_hello(str(msg["id"]), str(msg["boot"]), fw_version=_str(msg.get("fw")), wall=wall,
                            info=_str(msg.get("config")),
                            name=msg["name"] if isinstance(msg.get("name"), str) else None,
                            channel_names=[str(c) for c in chans] if isinstance(chans, list) else None)
            return True
        if device_id is None:
            return False
        if t == "status":
            boot = _str(msg.get("boot")) or boot_id
            if boot is None or not isinstance(msg.get("uptime_ms"), int):
                return False
            self.note_uptime(device_id, boot, msg["uptime_ms"], wall)
            return True
        if t == "log":
            boot, what = _str(msg.get("boot")), msg.get("ev")
        elif t in ("onset", "end", "fault"):
            boot, what = boot_id, t
            # the device sent this no earlier than its last device time: a bound on the boot's origin
            ref = max(v for v in (msg.get("detected_ms"), msg.get("offset_ms"), msg.get("start_ms"),
                                  msg.get("end_ms"), 0) if isinstance(v, int))
            if boot is not None:
                self.note_uptime(device_id, boot, ref, wall)
        else:
            return False
        if boot is None:
            return False
        seq = msg.get("eseq") if isinstance(msg.get("eseq"), int) and msg["eseq"] > 0 else None  # 0: not logged
        ch = int(msg.get("ch", 0))
        if what == "onset":
            return self.add_onset(device_id, boot, ch, int(msg["onset_ms"]), seq=seq,
                                  detected_ms=_int(msg.get("detected_ms")), received_at=wall)
        if what == "end":
            k = scale or 1.0
            peak, mean, floor = (_num(msg.get(x)) for x in ("peak", "mean", "floor"))
            ratio = lambda v: v / floor if v is not None and floor else None  # noqa: E731 - same units
            return self.add_end(
                device_id, boot, ch, str(msg.get("kind") or "twitch"), int(msg["onset_ms"]), int(msg["offset_ms"]),
                seq=seq, detected_ms=_int(msg.get("detected_ms")),
                peak=None if peak is None else peak / k, mean=None if mean is None else mean / k,
                peak_x=ratio(peak), mean_x=ratio(mean), floor=None if floor is None else floor / k,
                received_at=wall,
            )
        if what == "fault":
            end_ms = _int(msg.get("end_ms"))
            ended = msg.get("state") == "end" and end_ms is not None and end_ms >= 0
            return self.add_fault(device_id, boot, ch, str(msg.get("detail") or "fault"), int(msg["start_ms"]),
                                  end_ms if ended else None, seq=seq, received_at=wall)
        return False

    def abandon_open(self, device_id: str, current_boot: str) -> int:
        """Mark open rows of earlier boots as abandoned (the device rebooted before their end)."""
        with self.batch():
            cur = self.db.execute(
                "UPDATE events SET state='abandoned' WHERE device_id=? AND boot_id!=? AND state='open'",
                (device_id, current_boot),
            )
            return cur.rowcount

    def last_seq(self, device_id: str) -> int:
        """Highest event-log seq stored for the device across boots, 0 when none: `sync N` resumes after it
        (the device's eseq starts at 1 and an end always has a higher eseq than its onset)."""
        row = self.db.execute("SELECT max(seq) FROM events WHERE device_id=?", (device_id,)).fetchone()
        return 0 if row[0] is None else int(row[0])

    # ---- link health -------------------------------------------------------------------------------------

    def link_open(self, port: str | None, device_id: str | None = None, wall: float | None = None) -> int:
        wall = time.time() if wall is None else wall
        with self.batch():
            cur = self.db.execute(
                "INSERT INTO links (device_id, port, connected_at, last_seen_at) VALUES (?, ?, ?, ?)",
                (device_id, port, wall, wall),
            )
            return int(cur.lastrowid or 0)

    def link_seen(self, link_id: int, wall: float | None = None, device_id: str | None = None) -> None:
        wall = time.time() if wall is None else wall
        with self.batch():
            self.db.execute(
                "UPDATE links SET last_seen_at=max(last_seen_at, ?), device_id=coalesce(?, device_id) "
                "WHERE id=?",
                (wall, device_id, link_id),
            )

    def link_close(self, link_id: int, wall: float | None = None, reason: str = "") -> None:
        wall = time.time() if wall is None else wall
        with self.batch():
            self.db.execute(
                "UPDATE links SET disconnected_at=?, last_seen_at=max(last_seen_at, ?), reason=? WHERE id=?",
                (wall, wall, reason, link_id),
            )

    def add_gap(
        self,
        kind: str,
        start_wall: float,
        end_wall: float | None = None,
        *,
        device_id: str | None = None,
        boot_id: str | None = None,
        first_seq: int | None = None,
        last_seq: int | None = None,
        detail: str = "",
    ) -> int:
        """A stretch with missing data: a link seq gap, a disconnect, a reboot, a device queue overflow."""
        with self.batch():
            cur = self.db.execute(
                "INSERT INTO gaps (device_id, boot_id, kind, start_wall, end_wall, first_seq, last_seq, "
                "detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (device_id, boot_id, kind, start_wall, end_wall, first_seq, last_seq, detail),
            )
            return int(cur.lastrowid or 0)

    # ---- queries -----------------------------------------------------------------------------------------

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
        where: list[str] = ["1"]
        args: list[object] = []
        if since is not None:
            where.append("coalesce(end_wall, start_wall) >= ?")
            args.append(to_wall(since))
        if until is not None:
            where.append("start_wall < ?")
            args.append(to_wall(until))
        if device is not None:
            where.append("device_id = ?")
            args.append(device)
        cur = self.db.execute(f"SELECT * FROM gaps WHERE {' AND '.join(where)} ORDER BY start_wall", args)
        return [Gap(*row) for row in cur]

    def links(self, since: datetime | float | None = None, until: datetime | float | None = None,
              device: str | None = None) -> list[Link]:
        where: list[str] = ["1"]
        args: list[object] = []
        if since is not None:
            where.append("coalesce(disconnected_at, last_seen_at) >= ?")
            args.append(to_wall(since))
        if until is not None:
            where.append("connected_at < ?")
            args.append(to_wall(until))
        if device is not None:
            where.append("(device_id = ? OR device_id IS NULL)")
            args.append(device)
        cur = self.db.execute(f"SELECT * FROM links WHERE {' AND '.join(where)} ORDER BY connected_at", args)
        return [Link(*row) for row in cur]

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


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def day_bounds(day: str | datetime, tz: tzinfo | None = None) -> tuple[datetime, datetime]:
    """[start, end) of a calendar day in tz (default: local time, DST-aware)."""
    if isinstance(day, str):
        try:
            d = datetime.strptime(day, "%Y-%m-%d")
        except ValueError:
            raise InputError(f"bad day {day!r}: expected YYYY-MM-DD") from None
    else:
        d = day.replace(tzinfo=None)
    d = d.replace(hour=0, minute=0, second=0, microsecond=0)
    nxt = d + timedelta(days=1)
    if tz is None:
        return d.astimezone(), nxt.astimezone()  # naive -> local zone with the right DST offset for that date
    return d.replace(tzinfo=tz), nxt.replace(tzinfo=tz)


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """A user's time bound: ISO-8601 (naive = local time), YYYY-MM-DD (local midnight), now, today,
    yesterday, or a time ago: 30m / 24h / 7d / 2w (also written -24h)."""
    local = now is None
    now = now or datetime.now().astimezone()
    s = text.strip().lower()
    if s == "now":
        return now
    if s in ("today", "yesterday"):
        day = now.date() - timedelta(days=1 if s == "yesterday" else 0)
        if local:  # local midnight with that date's DST offset
            return day_bounds(day.isoformat())[0]
        return datetime(day.year, day.month, day.day, tzinfo=now.tzinfo)
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    # "24h" means the same as "-24h": argparse takes `--since -24h` for an option, `--since=-24h` works
    rel = s[1:] if s.startswith("-") else s
    if len(rel) > 1 and rel[-1] in units and (rel[0].isdigit() or rel[0] == "."):
        try:
            amount = float(rel[:-1])
        except ValueError:
            amount = -1.0
        if amount >= 0:
            return now - timedelta(seconds=amount * units[s[-1]])
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(
            f"bad time {text!r}: use ISO-8601 (2025-01-31T14:00), a date (2025-01-31), now, today, "
            "yesterday, or a time ago like 30m, 24h, 7d"
        ) from None
    return when if when.tzinfo is not None else when.astimezone()
