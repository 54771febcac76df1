"""Notes and interventions: stored in their own table of the event database, by `spasmwatch note` and the API."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from spasmcore.errors import InputError
from spasmwatch import cli
from spasmwatch.dashboard.history import ReadOnlyStore
from spasmwatch.notes import add_note, read_notes
from spasmwatch.store import SCHEMA_VERSION, Store


def test_a_note_is_stored_beside_the_events_without_touching_the_store_schema(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    with Store(db) as store:
        store.add_end("dev", "1", 0, "tonic", 1000, 5000, seq=2, onset_wall=1000.0, offset_wall=1004.0)
    n = add_note(db, "  baclofen   10 mg ", "medication", at=2000.0)
    assert (n.text, n.kind, n.at) == ("baclofen 10 mg", "medication", 2000.0)
    add_note(db, "stretching", "therapy", at=1500.0, device_id="dev")
    with Store(db) as store:  # the store still opens it as its own, same version, events intact
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert len(store.events()) == 1
        assert [x.text for x in read_notes(store.db)] == ["stretching", "baclofen 10 mg"]  # by time
        assert [x.text for x in read_notes(store.db, since=1800)] == ["baclofen 10 mg"]
        assert [x.text for x in read_notes(store.db, device="other")] == ["baclofen 10 mg"]  # device notes apart
    with ReadOnlyStore(db) as ro:
        assert [x.id for x in ro.notes()] == [2, 1]


def test_bad_notes_are_one_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    Store(db).close()
    with pytest.raises(InputError, match="needs some text"):
        add_note(db, "   ")
    with pytest.raises(InputError, match="medication, therapy, other"):
        add_note(db, "x", "dose")
    with pytest.raises(InputError, match="at most 500"):
        add_note(db, "x" * 501)
    with pytest.raises(InputError, match="no event database"):
        add_note(tmp_path / "missing.sqlite3", "x")
    with sqlite3.connect(db) as con:  # nothing was written by the refused ones
        assert read_notes(con) == []


def test_a_read_only_store_without_notes_has_none(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    Store(db).close()
    with ReadOnlyStore(db) as ro:
        assert ro.notes() == []  # the table is made by the first note, never by reading


def test_note_command_adds_and_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "new" / "e.sqlite3"  # no database yet: a note may come before the first monitoring
    assert cli.main(["note", "baclofen 10 mg", "--kind", "medication", "--at", "2025-03-10T09:30", "--db",
                     str(db)]) == 0
    assert "noted (medication) at 2025-03-10 09:30: baclofen 10 mg" in capsys.readouterr().out
    assert cli.main(["note", "stretching", "--kind", "therapy", "--db", str(db)]) == 0
    with Store(db) as store:
        notes = read_notes(store.db)
    assert [n.text for n in notes] == ["baclofen 10 mg", "stretching"]
    assert notes[0].at == datetime(2025, 3, 10, 9, 30).astimezone().timestamp()
    capsys.readouterr()
    assert cli.main(["note", "--list", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2025-03-10 09:30  medication  baclofen 10 mg") and "stretching" in lines[1]
    with pytest.raises(SystemExit):  # argparse refuses the kind
        cli.main(["note", "x", "--kind", "dose", "--db", str(db)])
    assert cli.main(["note", "--db", str(db)]) == 2
    assert "what should the note say" in capsys.readouterr().err
