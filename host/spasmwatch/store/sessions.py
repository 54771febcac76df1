"""Devices, boots (their wall-clock origin), link sessions and data gaps: what the store knows of the link."""

from __future__ import annotations

import json
import time

from spasmwatch.store.database import Database


class Sessions:
    """The store's writes about the link: devices and their boots, link sessions, data gaps."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
        with self._db.batch():
            self._db.execute(
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
        with self._db.batch():
            self._db.execute(
                "INSERT INTO boots (device_id, boot_id, boot_wall, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(device_id, boot_id) DO UPDATE SET "
                "last_seen=max(last_seen, excluded.last_seen), "
                "boot_wall=CASE WHEN excluded.boot_wall IS NULL THEN boot_wall "
                "WHEN boot_wall IS NULL THEN excluded.boot_wall "
                "ELSE min(boot_wall, excluded.boot_wall) END",
                (device_id, boot_id, boot_wall, wall, wall),
            )

    def boot_wall(self, device_id: str, boot_id: str) -> float | None:
        """The wall-clock time of the boot's device ms 0 (None until a hello or status told its uptime)."""
        row = self._db.row("SELECT boot_wall FROM boots WHERE device_id=? AND boot_id=?", (device_id, boot_id))
        return row[0] if row else None

    def link_open(self, port: str | None, device_id: str | None = None, wall: float | None = None) -> int:
        wall = time.time() if wall is None else wall
        with self._db.batch():
            cur = self._db.execute(
                "INSERT INTO links (device_id, port, connected_at, last_seen_at) VALUES (?, ?, ?, ?)",
                (device_id, port, wall, wall),
            )
            return int(cur.lastrowid or 0)

    def link_seen(self, link_id: int, wall: float | None = None, device_id: str | None = None) -> None:
        wall = time.time() if wall is None else wall
        with self._db.batch():
            self._db.execute(
                "UPDATE links SET last_seen_at=max(last_seen_at, ?), device_id=coalesce(?, device_id) "
                "WHERE id=?",
                (wall, device_id, link_id),
            )

    def link_close(self, link_id: int, wall: float | None = None, reason: str = "") -> None:
        wall = time.time() if wall is None else wall
        with self._db.batch():
            self._db.execute(
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
        with self._db.batch():
            cur = self._db.execute(
                "INSERT INTO gaps (device_id, boot_id, kind, start_wall, end_wall, first_seq, last_seq, "
                "detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (device_id, boot_id, kind, start_wall, end_wall, first_seq, last_seq, detail),
            )
            return int(cur.lastrowid or 0)
