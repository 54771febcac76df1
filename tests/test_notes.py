"""Notes and interventions: stored in their own table of the event database, by `spasmwatch note` and the API."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from spasmcore.errors import InputError
from spasmwatch import cli
from spasmwatch.store import SCHEMA_VERSION, ReadOnlyStore, Store
from spasmwatch.store.notes import add_note, delete_note, edit_note, read_notes

T0 = 1_700_000_000.0  # 2023-11-14: notes are about days since 2000


def test_a_note_is_stored_beside_the_events_without_touching_the_store_schema(tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite3"
    with Store(db) as store:
        store.add_end("dev", "1", 0, "tonic", 1000, 5000, seq=2, onset_wall=1000.0, offset_wall=1004.0)
    n = add_note(db, "  baclofen   10 mg ", "medication", at=T0 + 2000.0)
    assert (n.text, n.kind, n.at) == ("baclofen 10 mg", "medication", T0 + 2000.0)
    add_note(db, "stretching", "therapy", at=T0 + 1500.0, device_id="dev")
    with Store(db) as store:  # the store still opens it as its own, same version, events intact
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert len(store.events()) == 1
        assert [x.text for x in read_notes(store.db)] == ["stretching", "baclofen 10 mg"]  # by time
        assert [x.text for x in read_notes(store.db, since=T0 + 1800)] == ["baclofen 10 mg"]
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
    assert lines[0].endswith("2025-03-10 09:30  medication  baclofen 10 mg") and "stretching" in lines[1]
    with pytest.raises(SystemExit):  # argparse refuses the kind
        cli.main(["note", "x", "--kind", "dose", "--db", str(db)])
    assert cli.main(["note", "--db", str(db)]) == 2
    assert "what should the note say" in capsys.readouterr().err


@pytest.mark.parametrize("at", [float("inf"), float("nan"), 1e300, -1.0, 253402214400.0, "soon", True])
def test_a_note_date_out_of_range_is_refused_on_every_path(tmp_path: Path, at: object) -> None:
    """`at` Infinity, 1e300 or 9999-12-31 broke the weeks-around-a-note arithmetic (compare, note --list)."""
    db = tmp_path / "e.sqlite3"
    Store(db).close()
    with pytest.raises(InputError, match="date"):
        add_note(db, "x", at=at)  # type: ignore[arg-type]
    n = add_note(db, "x", at=T0)
    with pytest.raises(InputError, match="date"):
        edit_note(db, n.id, at=at)  # type: ignore[arg-type]
    with sqlite3.connect(db) as con:
        assert [x.at for x in read_notes(con)] == [T0]


@pytest.mark.parametrize("when", ["9999-12-31", "Infinity", "1e300d", "0001-01-01", "1e300"])
def test_note_at_out_of_range_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 when: str) -> None:
    db = tmp_path / "e.sqlite3"
    assert cli.main(["note", "x", "--at", when, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_stored_absurd_date_is_listed_but_kept_from_the_pages(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A note stored before dates were checked: `note --list` shows it (to delete it), the pages skip it."""
    db = tmp_path / "e.sqlite3"
    Store(db).close()
    add_note(db, "fine", at=T0)
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO notes (at, kind, text, created_at) VALUES (1e300, 'other', 'absurd', 0)")
    with ReadOnlyStore(db) as ro:
        assert [n.text for n in ro.notes()] == ["fine"]
    assert cli.main(["note", "--list", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "absurd" in out and "1e+300 s" in out
    assert cli.main(["note", "--delete", "2", "--db", str(db)]) == 0
    with sqlite3.connect(db) as con:
        assert [n.text for n in read_notes(con, invalid=True)] == ["fine"]


def test_note_edit_and_delete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "e.sqlite3"
    assert cli.main(["note", "baclofen 10 mg", "--at", "2025-03-10T09:30", "--db", str(db)]) == 0
    assert cli.main(["note", "--edit", "1", "baclofen 20 mg", "--kind", "medication", "--db", str(db)]) == 0
    assert "changed:" in capsys.readouterr().out
    with sqlite3.connect(db) as con:
        (n,) = read_notes(con)
    assert (n.text, n.kind, n.at) == ("baclofen 20 mg", "medication",
                                      datetime(2025, 3, 10, 9, 30).astimezone().timestamp())
    assert cli.main(["note", "--edit", "1", "--at", "2025-03-11T08:00", "--db", str(db)]) == 0
    with sqlite3.connect(db) as con:
        assert read_notes(con)[0].at == datetime(2025, 3, 11, 8, 0).astimezone().timestamp()
    assert cli.main(["note", "--edit", "1", "--db", str(db)]) == 2  # nothing to change
    assert cli.main(["note", "--delete", "7", "--db", str(db)]) == 2
    assert "no note 7" in capsys.readouterr().err
    assert cli.main(["note", "--delete", "1", "--db", str(db)]) == 0
    with sqlite3.connect(db) as con:
        assert read_notes(con) == []
    with pytest.raises(InputError, match="no note 1"):
        edit_note(db, 1, text="x")
    with pytest.raises(InputError, match="no note 1"):
        delete_note(db, 1)


def test_note_on_a_file_that_is_not_a_database_is_one_line(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "NOT_A_DB"
    bad.write_text("hello\n")
    assert cli.main(["note", "x", "--db", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not a spasmwatch event database" in err and "Traceback" not in err
    assert bad.read_text() == "hello\n"
