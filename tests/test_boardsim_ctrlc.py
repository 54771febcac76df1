"""board-sim takes a Ctrl-C at any moment as an ESP32 does: KeyboardInterrupt while code runs, the byte otherwise,
and never a dead board; the races are made to happen on purpose (an interpreter held at its start, a handler
that goes right after the launcher looked at it).

The waits are generous bounds for a loaded machine and end as soon as what they wait for has happened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from polling import wait_for

from spasmcore.firmware import UNIX_DIR
from spasmsim import boardsim
from spasmsim.boardsim import BoardSim

MPREMOTE_S = 60  # one mpremote call takes ~1 s; on a pty it has no timeout of its own


def ctrl_c(board: BoardSim) -> None:
    """Type one Ctrl-C on the board's port and wait until the launcher has handled it."""
    before = board.ctrl_c
    fd = os.open(board.port, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, b"\x03")
    finally:
        os.close(fd)
    assert wait_for(lambda: board.ctrl_c > before), "the launcher never took the Ctrl-C"


def program(path: Path, body: str) -> str:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return str(path)


@pytest.mark.micropython
@pytest.mark.slow
def test_a_ctrl_c_while_the_interpreter_starts_neither_kills_it_nor_breaks_the_next_soft_reset(
        tmp_path: Path, micropython_bin: str) -> None:
    # A CPython program in front of MicroPython (as the pip `micropython` is), held at its start until the
    # Ctrl-C has been taken: with Python's own SIGINT handler it died of a KeyboardInterrupt (or, had the
    # Ctrl-C come once MicroPython was running inside it, kept it pending until MicroPython's soft reset
    # exited, which then looked like a crash and mpremote waited for "soft reboot" forever).
    gate = tmp_path / "gate"
    gate.mkdir()
    slow = program(tmp_path / "slow-micropython", f"""
import os, sys, time
open({str(gate / "started")!r}, "w").close()
while not os.path.exists({str(gate / "go")!r}):
    time.sleep(0.01)
os.execv({micropython_bin!r}, [{micropython_bin!r}, *sys.argv[1:]])
""")
    with BoardSim(tmp_path / "flash", micropython=slow) as board:
        assert wait_for(lambda: (gate / "started").exists())
        ctrl_c(board)
        (gate / "go").touch()
        try:
            res = subprocess.run([sys.executable, "-m", "mpremote", "connect", board.port, "exec", "print(6 * 7)"],
                                 capture_output=True, text=True, timeout=MPREMOTE_S)
        except subprocess.TimeoutExpired:
            res = None
        log = bytes(board.log).decode(errors="replace")
        assert res is not None, f"mpremote did not return within {MPREMOTE_S} s; the board said:\n{log[-2000:]}"
        assert not board.crashes, log
        assert "KeyboardInterrupt" not in log
        assert res.returncode == 0 and res.stdout.strip() == "42", res.stdout + res.stderr
        assert board.soft_resets == 1 and board.boots == 2


def test_a_handler_that_goes_right_after_the_look_does_not_let_the_ctrl_c_kill_the_board(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The interpreter drops its SIGINT handler (code ends, the REPL is back) just after the launcher saw it:
    # a SIGINT then has no handler and kills the board. The stand-in drops its handler on SIGUSR1, which the
    # patched look sends, waiting (bounded: a stopped interpreter cannot do it) until the handler is gone.
    fake = program(tmp_path / "fake-micropython", """
import signal, sys, time
def took(signum, frame):
    sys.stdout.write("KeyboardInterrupt\\n")
    sys.stdout.flush()
signal.signal(signal.SIGINT, took)
signal.signal(signal.SIGUSR1, lambda signum, frame: signal.signal(signal.SIGINT, signal.SIG_DFL))
sys.stdout.write("running\\n")
sys.stdout.flush()
while True:
    time.sleep(0.05)
""")
    look = boardsim.sigint_caught
    fired: list[int] = []

    def look_then_move_on(pid: int) -> bool:
        caught = look(pid)
        if caught and not fired:
            fired.append(pid)
            os.kill(pid, boardsim.signal.SIGUSR1)
            wait_for(lambda: not look(pid), 0.5)
        return caught

    monkeypatch.setattr(boardsim, "sigint_caught", look_then_move_on)
    with BoardSim(tmp_path / "flash", micropython=fake) as board:
        assert wait_for(lambda: b"running" in board.log), bytes(board.log)
        ctrl_c(board)
        assert fired, "the handler was never seen"
        assert wait_for(lambda: b"KeyboardInterrupt" in board.log or not board.running, 30)
        assert not board.crashes and board.running, f"the board died: exit codes {board.crashes}"
        assert b"KeyboardInterrupt" in board.log


@pytest.mark.micropython
def test_a_ctrl_c_while_the_board_sets_up_its_flash_leaves_a_whole_board(
        tmp_path: Path, micropython_bin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The unix board's start-up (ROM stand-ins, the flash mounted at /) is held inside its first ROM import
    # until the Ctrl-C has been taken: the ESP32's C start-up takes no Ctrl-C, so the board must still come up
    # whole (before, a KeyboardInterrupt there left a REPL on the host's / without the flash).
    rom = tmp_path / "rom"
    shutil.copytree(UNIX_DIR, rom)
    gate = tmp_path / "gate"
    gate.mkdir()
    held = (rom / "rom_esp.py").read_text()
    (rom / "rom_esp.py").write_text(f"""import os, time
open({str(gate / "started")!r}, "w").close()
while True:
    try:
        os.stat({str(gate / "go")!r})
        break
    except OSError:
        time.sleep_ms(10)
""" + held)
    monkeypatch.setattr(boardsim, "UNIX_DIR", rom)
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "on-the-flash.txt").write_text("")
    with BoardSim(flash, micropython=micropython_bin) as board:
        assert wait_for(lambda: (gate / "started").exists()), bytes(board.log)
        ctrl_c(board)
        (gate / "go").touch()
        assert wait_for(lambda: board.log.endswith(b">>> ")), bytes(board.log)
        fd = os.open(board.port, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"import os, machine; print(os.listdir('/'), machine.unique_id())\r")
        finally:
            os.close(fd)
        assert wait_for(lambda: b"on-the-flash.txt" in board.log or b"Error" in board.log), bytes(board.log)
        log = bytes(board.log).decode(errors="replace")
        assert "KeyboardInterrupt" not in log and "on-the-flash.txt" in log and "Error" not in log, log
        assert not board.crashes and board.boots == 1
