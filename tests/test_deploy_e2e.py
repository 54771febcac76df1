"""deploy end to end, no mocks: the real mpremote against the MicroPython unix port's REPL on a pty (board-sim).

Timeouts here are generous on purpose: every step is a real process (mpremote, a fresh MicroPython per soft
reset) and a CI machine running the rest of the suite in parallel can be many times slower than a desk. The
waits end as soon as the awaited output arrives, so a fast machine does not pay for them.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from polling import wait_for

from spasmcore.firmware import UNIX_DIR
from spasmsim.boardsim import HARD_RESET, SOFT_RESET, BoardSim
from spasmwatch import cli
from spasmwatch.commands import deploy as dp

pytestmark = [pytest.mark.micropython, pytest.mark.slow]

MPREMOTE_S = 120  # one mpremote call; it takes ~0.5 s here, its own raw-REPL waits are 10 s per step
X64 = 2  # sys.implementation._mpy arch code of the unix port on a PC (what mpy-cross -march=x64 writes)


def mpremote(port: str, *args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, *args], capture_output=True,
                         text=True, timeout=MPREMOTE_S)
    assert res.returncode == 0, f"mpremote {' '.join(args)}: {res.stdout}\n{res.stderr}"
    return res.stdout


@pytest.fixture
def board(tmp_path: Path, micropython_bin: str):  # noqa: ANN201
    with BoardSim(tmp_path / "flash", micropython=micropython_bin) as b:
        yield b


def test_mpremote_copies_runs_and_resets_on_the_unix_port_repl(board: BoardSim, tmp_path: Path) -> None:
    # exec goes through the raw REPL (raw-paste mode) after mpremote's own Ctrl-D soft reset
    out = mpremote(board.port, "exec", "import os, sys; print(os.listdir('/'), sys.implementation._mpy >> 10)")
    assert out.strip() == f"[] {X64}"
    assert board.soft_resets >= 1 and not board.crashes
    data = bytes(range(256)) * 40  # every byte value, 10 kB: more than one raw-paste window
    (tmp_path / "blob.bin").write_bytes(data)
    mpremote(board.port, "fs", "cp", str(tmp_path / "blob.bin"), ":blob.bin")
    assert (board.flash / "blob.bin").read_bytes() == data  # the flash is the --flash directory
    mpremote(board.port, "fs", "cp", ":blob.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    mpremote(board.port, "fs", "mkdir", ":lib", "+", "fs", "rm", ":blob.bin")
    assert sorted(p.name for p in board.flash.iterdir()) == ["lib"]
    # the firmware's temp-file + rename pattern, with absolute paths, inside the flash root
    out = mpremote(board.port, "exec", "open('/a.tmp', 'w').write('1'); import os; os.rename('/a.tmp', '/a'); "
                                       "print(open('/a').read(), os.getcwd())")
    assert out.split() == ["1", "/"] and (board.flash / "a").read_text() == "1"
    boots = board.boots
    mpremote(board.port, "reset")  # its own soft reset, then machine.reset(): a new boot, same pty
    assert wait_for(lambda: board.hard_resets == 1 and board.boots == boots + 2 and board.running)
    assert mpremote(board.port, "exec", "print(6 * 7)").strip() == "42"
    assert not board.crashes


def test_deploy_copies_checks_resets_and_the_firmware_answers_hello(board: BoardSim,
                                                                    capsys: pytest.CaptureFixture) -> None:
    (board.flash / "app.py").write_text("print('an old app')\n")  # would shadow app.mpy
    (board.flash / "notes.txt").write_text("mine")
    assert cli.main(["deploy", "--port", board.port]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    version = dp.expected_version()
    assert "remove app.py" in out and "file(s) checked on the board" in out
    assert f"firmware {version} running on {board.port}" in out and "boot 1," in out
    names = {p.name for p in board.flash.iterdir()}
    assert {"app.mpy", "detector.mpy", "board.mpy", "boot.py", "main.py", "config.json"} <= names
    assert "app.py" not in names and (board.flash / "notes.txt").read_text() == "mine"
    # compiled for the board it found: the unix port's x64 (the detector's native code would not load otherwise)
    assert (board.flash / "detector.mpy").read_bytes()[2] >> 2 == X64
    local = dp.build(board.flash.parent / "build", "x64")
    for name, data in local.items():
        assert (board.flash / name).read_bytes() == data, name
    cfg = json.loads((board.flash / "config.json").read_text())
    assert cfg["id"] == "" and cfg["watchdog"] is False
    # the board now runs the deployed firmware (real boot.py, main.py, board.mpy): the protocol on the same port
    assert b'"t":"hello"' in bytes(board.log).replace(b" ", b"")
    # a second deploy stops the running app with Ctrl-C (KeyboardInterrupt), copies nothing, boots again
    assert cli.main(["deploy", "--port", board.port]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "0 file(s) copied" in out and "boot 2," in out
    assert not board.crashes, bytes(board.log[-2000:]).decode(errors="replace")


def test_board_sim_command_prints_its_port_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "spasmwatch.cli", "board-sim", "--flash", str(tmp_path / "f")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""  # blocks until the board is up (or the command died)
        assert line.startswith("board ready on /dev/"), line + (proc.stderr.read() if proc.stderr else "")
        port = line.split()[-1]
        assert mpremote(port, "exec", "print('hi')").strip() == "hi"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "stopping the simulated board" in err


def test_the_launcher_and_the_machine_stand_in_agree_on_the_reset_codes() -> None:
    text = (UNIX_DIR / "rom_machine.py").read_text()
    assert f"HARD_RESET = {HARD_RESET}" in text and f"SOFT_RESET = {SOFT_RESET}" in text
