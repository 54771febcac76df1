"""SQLite store of episodes, faults, link sessions and data gaps received from spasmwatch devices.

schema (file, versions, transactions, errors) < sessions (devices, boots, links, gaps) < episodes (rows from
records, what the sync policy needs) < queries (reads); `Store` is all of them. Time parsing is in `when`.
"""

from __future__ import annotations

from pathlib import Path

from spasmwatch.store.queries import Queries, StoredEvent
from spasmwatch.store.schema import FAULT, SCHEMA_VERSION, StoreFull, StoreReadOnly
from spasmwatch.store.sessions import Gap, Session
from spasmwatch.when import day_bounds, iso_utc, parse_when, to_wall

Link = Session  # the old name of the session row, kept for importers (report, dashboard); new code: Session

__all__ = ["FAULT", "SCHEMA_VERSION", "Gap", "Link", "Session", "Store", "StoreFull", "StoreReadOnly",
           "StoredEvent", "day_bounds", "default_path", "iso_utc", "parse_when", "to_wall"]


def default_path() -> Path:
    """The per-user event database: <user data dir>/spasmwatch/events.sqlite3."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("spasmwatch", appauthor=False)) / "events.sqlite3"


class Store(Queries):
    """The event database. Writes outside `batch()` commit one by one; inside, as one transaction.
    `readonly=True` opens an existing file without ever writing it (events, report)."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
