"""SQLite store of episodes, faults, link sessions and data gaps received from spasmwatch devices.

`Store` owns one `Database` (connection, schema, transactions) and composes its parts: `Sessions` (devices,
boots, link sessions, gaps), `SyncMarks` (records held, for the sync policy), `Episodes` (rows from records)
and `Queries` (every read, shared by the read-only store). Row records are in `rows`, time parsing in `when`.
"""

from __future__ import annotations

from pathlib import Path

from spasmwatch.store.rows import Gap, Session, StoredEvent, split_events
from spasmwatch.store.schema import FAULT, SCHEMA_VERSION, StoreFull, StoreReadOnly
from spasmwatch.store.store import ReadOnlyStore, Store
from spasmwatch.when import day_bounds, iso_utc, parse_when, to_wall

Link = Session  # the old name of the session row, kept for importers (report, dashboard); new code: Session

__all__ = ["split_events", "FAULT", "SCHEMA_VERSION", "Gap", "Link", "ReadOnlyStore", "Session", "Store", "StoreFull",
           "StoreReadOnly", "StoredEvent", "day_bounds", "default_path", "iso_utc", "parse_when", "to_wall"]


def default_path() -> Path:
    """The per-user event database: <user data dir>/spasmwatch/events.sqlite3."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("spasmwatch", appauthor=False)) / "events.sqlite3"
