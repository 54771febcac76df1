"""The store's one SQLite connection: opened for writing (created, migrated) or read-only, and its transactions."""

from __future__ import annotations

import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from spasmcore.errors import InputError
from spasmwatch.store.rows import END_MORE
from spasmwatch.store.schema import StoreReadOnly, add_columns, check_readable, migrate, store_error


class Database:
    """The connection to an event database. Writes outside `batch()` commit one by one; inside, as one
    transaction. `readonly` opens an existing file so that SQLite itself refuses every write.

    One statement or one batch at a time may use it from any thread (the dashboard's server threads share a
    read-only one): `lock` is held for each read and for a whole batch.
    """

    def __init__(self, path: str | Path, *, must_exist: bool = False, readonly: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.readonly = readonly
        if (must_exist or readonly) and not self.path.is_file():
            raise InputError(f"no event database at {self.path} (record one with `spasmwatch monitor`)")
        self.lock = threading.RLock()
        self._depth = 0
        self.columns: set[str] = set()  # the events table's columns (an older read-only database may lack some)
        try:
            self.db = self._open_readonly() if readonly else self._open()
        except PermissionError as exc:
            raise StoreReadOnly(f"{self.path}: cannot create the database ({exc}); use --db for another "
                                "file") from None
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from None

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves so a batch is exactly one transaction.
        db = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed transaction survives a killed process (only power loss can lose the
        # last few commits), at a fraction of FULL's fsync cost.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        migrate(db, self.path)
        self.columns = add_columns(db, END_MORE)
        return db

    def _open_readonly(self) -> sqlite3.Connection:
        """mode=ro: SQLite itself refuses every write. A WAL database in a folder we may not write (no -shm
        file to create) is opened immutable: nobody can be writing it there."""
        uri = f"file:{urllib.parse.quote(str(self.path.resolve()))}"
        try:
            db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, timeout=10.0,
                                 check_same_thread=False)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            db = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None, timeout=10.0,
                                 check_same_thread=False)
        check_readable(db, self.path)
        self.columns = {str(r[1]) for r in db.execute("PRAGMA table_info(events)")}
        return db

    def rows(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        """All rows of one query."""
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def row(self, sql: str, args: Sequence[object] = ()) -> tuple | None:
        """The first row of one query, None when there is none."""
        with self.lock:
            return self.db.execute(sql, args).fetchone()

    def execute(self, sql: str, args: Sequence[object] = ()) -> sqlite3.Cursor:
        """One write; inside `batch()` it joins the batch's transaction. The cursor's rowcount says how many rows
        it changed (an INSERT ... DO NOTHING or OR IGNORE may change none)."""
        with self.lock:
            return self.db.execute(sql, args)

    @contextmanager
    def batch(self) -> Iterator[Database]:
        """Group writes into one transaction (nested batches join the outer one). A full disk or a read-only
        file becomes StoreFull / StoreReadOnly (one line for the user); the transaction is rolled back."""
        with self.lock:
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

    def journal_mode(self) -> str:
        return str(self.rows("PRAGMA journal_mode")[0][0])

    def close(self) -> None:
        self.db.close()
