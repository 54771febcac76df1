"""Which event-log records (eseqs) the store holds per device, and the mark below which none is missing:
the state the monitor's sync policy starts from."""

from __future__ import annotations

from spasmwatch.store.database import Database


class SyncMarks:
    """The `records` and `sync_marks` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def hold(self, device_id: str, eseq: int) -> bool:
        """Note record `eseq` of the device as stored; False when it was held already."""
        return self._db.execute("INSERT OR IGNORE INTO records (device_id, eseq) VALUES (?, ?)",
                                (device_id, eseq)).rowcount > 0

    def sync_mark(self, device_id: str) -> tuple[int, set[int]]:
        """(synced_to, held): every eseq <= synced_to is stored or known not to be on the board; `held` are
        the stored eseqs above it (the policy asks for the holes between them)."""
        row = self._db.row("SELECT synced_to FROM sync_marks WHERE device_id=?", (device_id,))
        synced = int(row[0]) if row else 0
        held = {int(r[0]) for r in self._db.rows("SELECT eseq FROM records WHERE device_id=? AND eseq>?",
                                                 (device_id, synced))}
        return synced, held

    def set_sync_mark(self, device_id: str, synced_to: int, *, reset: bool = False) -> None:
        """Move the device's synced_to mark; `reset` (the board's log restarted lower: re-flashed) also
        forgets which eseqs were held, since the board's new records reuse those numbers."""
        with self._db.batch():
            if reset:
                self._db.execute("DELETE FROM records WHERE device_id=?", (device_id,))
            self._db.execute("INSERT INTO sync_marks (device_id, synced_to) VALUES (?, ?) "
                             "ON CONFLICT(device_id) DO UPDATE SET synced_to=excluded.synced_to",
                             (device_id, synced_to))
