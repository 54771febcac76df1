"""Episodes and faults: an incoming record finds its row (onset and end are two records of one row) or
makes one; each message is one transaction, and the eseqs held feed the sync policy."""

from __future__ import annotations

import time
from typing import Any

from spasmwatch.link import wire
from spasmwatch.store.database import Database
from spasmwatch.store.rows import END_VALUES
from spasmwatch.store.schema import FAULT
from spasmwatch.store.sessions import Sessions
from spasmwatch.store.syncmarks import SyncMarks


class Episodes:
    """The store's writes of episodes and faults, from typed messages or their fields."""

    def __init__(self, db: Database, sessions: Sessions, marks: SyncMarks) -> None:
        self._db, self._sessions, self._marks = db, sessions, marks

    def _wall(self, device_id: str, boot_id: str, ms: int | None, given: float | None) -> float | None:
        if given is not None or ms is None:
            return given
        origin = self._sessions.boot_wall(device_id, boot_id)
        return origin + ms / 1000 if origin is not None else None

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
        **more: Any,
    ) -> bool:
        """Complete an episode (from an `end` or a replayed `log` record); False when it was already closed.
        `more`: the values of the End fields beyond these (store.rows.END_MORE), each in its own column.

        Matching: the row with the same (device, boot, seq) if any, else the row of the same
        (device, boot, channel, onset_ms) episode or fault, else a new closed row. The firmware logs the
        onset and the end as two records with their own eseq: the row takes the end's eseq when it closes.
        """
        received_at = time.time() if received_at is None else received_at
        if onset_wall is None or offset_wall is None:  # one look-up of the boot's origin for both
            origin = self._sessions.boot_wall(device_id, boot_id)
            if origin is not None:
                onset_wall = origin + onset_ms / 1000 if onset_wall is None else onset_wall
                offset_wall = origin + offset_ms / 1000 if offset_wall is None else offset_wall
        values = dict(
            kind=kind, detail=detail, offset_ms=offset_ms, detected_ms=detected_ms, onset_wall=onset_wall,
            offset_wall=offset_wall, duration_s=(offset_ms - onset_ms) / 1000, peak=peak, mean=mean,
            peak_x=peak_x, mean_x=mean_x, floor=floor, **more,
        )
        with self._db.batch():
            row = self._find(device_id, boot_id, seq, channel, onset_ms, kind == FAULT)
            if row is not None:
                row_id, state = row
                if state == "closed":
                    return False  # re-sync of something we already have: never touch it
                # detected_ms keeps the onset record's: when the episode was detected, as replay means it
                sets = ", ".join(f"{k}=coalesce({k}, ?)" if k == "detected_ms" else f"{k}=coalesce(?, {k})"
                                 for k in values)
                self._db.execute(
                    f"UPDATE events SET state='closed', seq=coalesce(?, seq), {sets} WHERE id=?",
                    (seq, *values.values(), row_id),
                )
                return True
            cols = ["device_id", "boot_id", "seq", "channel", "state", "onset_ms", "received_at", *values]
            return self._db.execute(
                f"INSERT INTO events ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                "ON CONFLICT(device_id, boot_id, seq) DO NOTHING",
                (device_id, boot_id, seq, channel, "closed", onset_ms, received_at, *values.values()),
            ).rowcount > 0

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
        with self._db.batch():
            found = self._find(device_id, boot_id, seq, channel, onset_ms, kind == FAULT)
            if found is not None:
                if detected_ms is not None and kind != FAULT:  # its end came first: the onset says when detected
                    self._db.execute("UPDATE events SET detected_ms=? WHERE id=?", (detected_ms, found[0]))
                return False
            self._db.execute(
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
            row = self._db.row("SELECT id, state FROM events WHERE device_id=? AND boot_id=? AND seq=?",
                               (device_id, boot_id, seq))
            if row is not None:
                return row[0], row[1]
        # The onset record (own eseq) and the end record (a later eseq) are one episode: within one boot a
        # channel cannot start two episodes (or two faults) at the same millisecond, so that is the key.
        kind_test = "kind = 'fault'" if fault else "(kind IS NULL OR kind != 'fault')"
        row = self._db.row(
            f"SELECT id, state FROM events WHERE device_id=? AND boot_id=? AND channel=? AND onset_ms=? "
            f"AND {kind_test} ORDER BY id LIMIT 1",
            (device_id, boot_id, channel, onset_ms),
        )
        return (row[0], row[1]) if row else None

    def add_message(self, msg: wire.Message, device_id: str | None, boot_id: str | None, *,
                    wall: float | None = None) -> bool:
        """Store one typed message in one transaction; True when it changed the database.

        hello (device and boot come from the message itself), status (its uptime fixes the boot's wall-clock
        origin), onset / end / fault (live, of the current boot `boot_id`) and log (replayed by `sync`, with
        its own boot). Levels are already ADC counts (wire.parse scaled them). Anything else, or a record
        before the device is known, is ignored.
        """
        wall = time.time() if wall is None else wall
        with self._db.batch():
            match msg:
                case wire.Hello():
                    self._sessions.note_hello(msg.id, str(msg.boot), fw_version=msg.fw, wall=wall,
                                    info=None if msg.config is None else str(msg.config), name=msg.name,
                                    channel_names=list(msg.channels))
                    return True
                case _ if device_id is None:
                    return False
                case wire.Status(uptime_ms=uptime, boot=boot):
                    b = str(boot) if boot is not None else boot_id
                    if b is None:
                        return False
                    self._sessions.note_uptime(device_id, b, uptime, wall)
                    return True
                case wire.Log(boot=boot, record=record):
                    return self.add_record(record, device_id, str(boot), wall)
                case wire.Onset() | wire.End() | wire.Fault() if boot_id is not None:
                    # the device sent this no earlier than its latest device time: a bound on the boot's origin
                    self._sessions.note_uptime(device_id, boot_id, msg.latest_ms, wall)
                    return self.add_record(msg, device_id, boot_id, wall)
            return False

    def add_record(self, rec: wire.Record, device_id: str, boot_id: str, wall: float | None = None) -> bool:
        """One onset, end or fault record (live or replayed): its row written or completed, its eseq noted
        as held. True when the events table changed (a replay of what is stored changes nothing)."""
        seq = rec.eseq if rec.eseq > 0 else None  # eseq 0: the board could not log it
        with self._db.batch():
            if seq is not None and not self._marks.hold(device_id, seq):
                return False  # this record was stored before: the first copy stays, whatever this one says
            match rec:
                case wire.Onset():
                    return self.add_onset(device_id, boot_id, rec.ch, rec.onset_ms, seq=seq,
                                          detected_ms=rec.detected_ms, received_at=wall)
                case wire.End():
                    values = {n: getattr(rec, n) for n in END_VALUES if n not in ("kind", "onset_ms", "offset_ms")}
                    return self.add_end(device_id, boot_id, rec.ch, rec.kind, rec.onset_ms, rec.offset_ms, seq=seq,
                                        received_at=wall, **values)
                case wire.Fault():
                    return self.add_fault(device_id, boot_id, rec.ch, rec.detail, rec.start_ms, rec.end_ms, seq=seq,
                                          received_at=wall)
        return False

    def abandon_open(self, device_id: str, current_boot: str) -> int:
        """Mark open rows of earlier boots as abandoned (the device rebooted before their end)."""
        with self._db.batch():
            cur = self._db.execute(
                "UPDATE events SET state='abandoned' WHERE device_id=? AND boot_id!=? AND state='open'",
                (device_id, current_boot),
            )
            return cur.rowcount
