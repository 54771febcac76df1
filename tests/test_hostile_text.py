"""Text from a device or a file reaches the terminal escaped, and a wrong path is one line (issue 22, 6 and 13)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from spasmcore.errors import InputError
from spasmfw import protocol
from spasmwatch import cli
from spasmwatch.link import wire
from spasmwatch.monitor import PlainSink
from spasmwatch.store import Store
from spasmwatch.store.notes import add_note
from spasmwatch.terminal import ui
from spasmwatch.terminal.screen import render
from spasmwatch.terminal.view import MonitorState

EVIL = "x\x1b]0;pwned\x07\x1b[2J\u202egnp.exe\x9b1m\r\nforged line"
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # what a terminal acts on


def message(t: str, **fields: object) -> wire.Message:
    return wire.read_line(protocol.encode(t, 1, fields).rstrip(b"\n"), proto=2)[1]


def test_safe_escapes_what_a_terminal_acts_on_and_keeps_the_rest() -> None:
    shown = ui.safe(EVIL)
    assert not RAW.search(shown) and "\n" not in shown
    assert "\\x1b]0;pwned\\x07" in shown and "\\u202e" in shown and "\\x9b" in shown
    assert ui.safe("Wade, mollet gauche: 3 µV") == "Wade, mollet gauche: 3 µV"  # accents, units unchanged
    assert ui.safe("two\nlines\x1b", lines=True) == "two\nlines\\x1b"


def test_device_text_reaches_the_monitor_escaped() -> None:
    """A device `error` message or a hello's names printed raw could retitle, clear or reverse the terminal."""
    out = io.StringIO()
    sink = PlainSink(out)
    hello = message("hello", proto=2, fw=EVIL, id="dev" + EVIL, name=EVIL, boot=1, rate=1000, channels=[EVIL])
    error = message("error", cmd="status", msg=EVIL)
    sink.message(hello, 0.0)
    sink.message(error, 0.0)
    sink.notice(f"a different device answered: {EVIL}")
    assert not RAW.search(out.getvalue()) and out.getvalue().count("\n") == 3  # no forged line
    state = MonitorState()
    state.apply(hello, 0.0)
    state.apply(error, 0.0)
    state.bad_line(f"junk: {EVIL}")
    from rich.console import Console

    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(render(state, width=200, height=40))
    assert "\\x1b" in console.file.getvalue() and not RAW.search(console.file.getvalue())


def test_error_lines_and_stored_text_reach_the_terminal_escaped(tmp_path: Path, monkeypatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    def fail(args: object) -> int:
        raise InputError(f"the device refused `x`: {EVIL}")

    db = tmp_path / "e.sqlite3"
    with Store(db) as store:
        store.add_message(message("hello", proto=2, fw="1", id="d\x1b[31m", boot=1), None, None, wall=1.7e9)
        store.add_end("d\x1b[31m", "1", 0, "tonic", 1000, 5000, seq=2, onset_wall=1.7e9, offset_wall=1.7e9 + 4)
    add_note(db, "baclofen \u202e gm 01", at=1.7e9)
    assert cli.main(["note", "--list", "--db", str(db)]) == 0
    assert cli.main(["events", "--db", str(db), "--since", "2020-01-01"]) == 0
    out = capsys.readouterr().out
    assert "\\u202e" in out and "d\\x1b[31m" in out and not RAW.search(out)
    from spasmwatch.commands import note as note_cmd

    monkeypatch.setattr(note_cmd, "run", fail)
    assert cli.main(["note", "--list", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "\\x1b]0;pwned" in err and not RAW.search(err) and len(err.strip().splitlines()) == 1


def test_board_sim_flash_that_is_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`board-sim --flash A_FILE` was a FileExistsError traceback (and a path under a file NotADirectoryError)."""
    a_file = tmp_path / "A_FILE"
    a_file.write_text("kept\n")
    for flash in (a_file, a_file / "sub"):
        assert cli.main(["board-sim", "--flash", str(flash)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "is a file" in err and "Traceback" not in err
    assert a_file.read_text() == "kept\n"


def test_a_usb_description_reaches_the_port_list_escaped(monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A USB device names itself: `spasmwatch ports` printed that name raw."""
    from spasmwatch.link import ports

    port = ports.Port("/dev/ttyUSB0", "CP2102 " + EVIL, 0x10C4, 0xEA60, "CP210x", ports.LIKELY, True)
    monkeypatch.setattr(ports, "list_ports", lambda: [port])
    assert cli.main(["ports"]) == 0
    out = capsys.readouterr().out
    assert "CP2102 x\\x1b]0;pwned" in out and not RAW.search(out)
