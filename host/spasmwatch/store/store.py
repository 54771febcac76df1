"""The event store: one connection and the parts that write and read through it."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from spasmwatch.store.database import Database
from spasmwatch.store.episodes import Episodes
from spasmwatch.store.queries import Queries
from spasmwatch.store.sessions import Sessions
from spasmwatch.store.syncmarks import SyncMarks

S = TypeVar("S", bound="Store")


class Store:
    """The event database: a `Database` (the connection and its transactions) and the parts that use it,
    each one job: `sessions` (devices, boots, link sessions, gaps), `marks` (the records held, for the sync
    policy), `episodes` (episode and fault rows from records) and `queries` (every read).

    Their methods are also the store's own (`store.add_message`, `store.events`, ...), so a caller needs only
    the store. `readonly=True` opens an existing file that SQLite itself never lets be written: the same
    queries, and every write fails with StoreReadOnly (events, report, the dashboard)."""

    def __init__(self, path: str | Path, *, must_exist: bool = False, readonly: bool = False) -> None:
        self.database = d = Database(path, must_exist=must_exist, readonly=readonly)
        self.path, self.readonly, self.db = d.path, readonly, d.db
        self.batch, self.close, self.journal_mode = d.batch, d.close, d.journal_mode
        self.sessions = s = Sessions(d)
        self.note_hello, self.note_uptime, self.boot_wall = s.note_hello, s.note_uptime, s.boot_wall
        self.link_open, self.link_seen, self.link_close = s.link_open, s.link_seen, s.link_close
        self.add_gap = s.add_gap
        self.marks = m = SyncMarks(d)
        self.sync_mark, self.set_sync_mark = m.sync_mark, m.set_sync_mark
        self.episodes = e = Episodes(d, s, m)
        self.add_message, self.add_record, self.abandon_open = e.add_message, e.add_record, e.abandon_open
        self.add_onset, self.add_end, self.add_fault = e.add_onset, e.add_end, e.add_fault
        self.queries = q = Queries(d)
        self.devices, self.last_seq, self.event_by_seq, self.events = q.devices, q.last_seq, q.event_by_seq, q.events
        self.recent, self.gaps, self.links, self.counts = q.recent, q.gaps, q.links, q.counts
        self.first_last_wall, self.notes = q.first_last_wall, q.notes

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReadOnlyStore(Store):
    """The event database opened read-only (`Store(path, readonly=True)`): looking at the history can never
    change it. Safe to share between threads (one query at a time). Notes, the one thing the dashboard
    writes, go through spasmwatch.store.notes on a connection of their own."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, readonly=True)
