"""Store edges (issue 11.5): a full disk and a read-only database are one-line errors; events and report read
a database without writing it; the sync policy's state (records held, synced_to) survives a restart."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from spasmcore.errors import FatalError, InputError
from spasmwatch import cli
from spasmwatch.link import wire
from spasmwatch.store import Store, StoreFull, StoreReadOnly

DEV = "dev1"


def filled(path: Path, n: int = 3) -> None:
    with Store(path) as s:
        s.note_hello(DEV, "1", fw_version="0.1.0", uptime_ms=0, wall=1_700_000_000.0)
        for i in range(n):
            s.add_record(wire.End(i, 0, 2 * i + 2, "tonic", 1000 * i, 1000 * i + 500, 1000 * i + 600, 50.0, 20.0,
                                  5.0, 10.0, 4.0), DEV, "1", wall=1_700_000_001.0)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_full_disk_is_one_line_and_keeps_what_was_stored(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite3"
    filled(path)
    with Store(path) as s:
        pages = s.db.execute("PRAGMA page_count").fetchone()[0]
        s.db.execute(f"PRAGMA max_page_count={pages}")  # as if the disk had no room for one more page
        with pytest.raises(StoreFull) as exc:
            for i in range(10, 400):
                s.add_record(wire.Onset(i, 0, 1000 + i, 10**6 + 1000 * i, 10**6 + 1000 * i), DEV, "1")
        assert isinstance(exc.value, FatalError) and "\n" not in str(exc.value)
        assert "disk is full" in str(exc.value) and str(path) in str(exc.value)
        assert not s.db.in_transaction  # the failed message was rolled back as a whole
    with Store(path, readonly=True) as s:
        assert len([e for e in s.events() if e.kind == "tonic"]) == 3


def test_a_read_only_store_reads_and_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite3"
    filled(path)
    before = digest(path)
    with Store(path, readonly=True) as s:
        assert [e.seq for e in s.events()] == [2, 4, 6] and s.devices()[0]["device_id"] == DEV
        with pytest.raises(StoreReadOnly) as exc:
            s.note_hello(DEV, "2")
        assert "cannot be written" in str(exc.value) and "\n" not in str(exc.value)
    assert digest(path) == before
    with pytest.raises(InputError, match="no event database"):
        Store(tmp_path / "missing.sqlite3", readonly=True)
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE x (a)").connection.commit()
    with pytest.raises(InputError, match="not a spasmwatch event database"):
        Store(other, readonly=True)


def test_events_and_report_open_the_store_read_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "e.sqlite3"
    filled(path)
    before = digest(path)
    assert cli.main(["events", "--db", str(path)]) == 0
    assert capsys.readouterr().out.count("tonic") == 3
    assert cli.main(["report", "--db", str(path), "--day", "2023-11-14", "--utc", "--out",
                     str(tmp_path / "r.html")]) == 0
    assert digest(path) == before  # (SQLite may add an empty -shm beside a WAL file it reads)


def test_an_older_database_is_read_as_it_is(tmp_path: Path) -> None:
    """A schema-2 database (before the sync tables) is readable read-only without migrating it."""
    path = tmp_path / "e.sqlite3"
    filled(path)
    raw = sqlite3.connect(path)
    raw.executescript("DROP TABLE records; DROP TABLE sync_marks; PRAGMA user_version=2;")
    raw.close()
    with Store(path, readonly=True) as s:
        assert len(s.events()) == 3
    with Store(path) as s:  # opened for writing: migrated, the records it holds taken from its rows
        assert s.sync_mark(DEV) == (0, {2, 4, 6})


def test_the_sync_mark_and_held_records_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite3"
    filled(path)
    with Store(path) as s:
        s.add_record(wire.Onset(9, 0, 1, 0, 10), DEV, "1")
        s.set_sync_mark(DEV, 2)
    with Store(path) as s:
        assert s.sync_mark(DEV) == (2, {4, 6})
        s.set_sync_mark(DEV, 0, reset=True)  # the board's log restarted: its numbers are new ones
        assert s.sync_mark(DEV) == (0, set())


def test_the_monitor_stops_on_a_full_disk_with_one_line(tmp_path: Path, monkeypatch) -> None:
    from test_monitor_e2e import FakeLink, ScriptedBoard

    from spasmwatch.link.serial_link import Link
    from spasmwatch.monitor import Monitor

    board = ScriptedBoard()
    monkeypatch.setattr(Link, "open", staticmethod(lambda port, **kw: FakeLink(board, port)))
    with Store(tmp_path / "e.sqlite3") as store:
        mon = Monitor(store, "/dev/ttyFAKE0")
        mon.connect()
        mon.step()
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count={pages}")
        with pytest.raises(StoreFull):
            for k in range(300):
                board.episode(1000 * (k + 1))
                mon.step(0)
        mon.close()  # closing the link session cannot be written either: it must not hide the error
    with Store(tmp_path / "e.sqlite3", readonly=True) as s:
        assert all(e.state in ("open", "closed") for e in s.events())
