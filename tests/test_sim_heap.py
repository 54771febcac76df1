"""--heap on the simulated boards (`board-sim`, `device`): a bad size is one line and exit 2 before anything starts;
an interpreter that dies at every start ends board-sim's boot loop with one line; a heap too small for the
firmware says so in one line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from spasmcore.errors import ConfigError, LinkError
from spasmsim.boardsim import BoardSim
from spasmsim.heapsize import heap_bytes
from spasmwatch.cli import main

BAD = ["abc", "1", "1.5k", "-5", "0", "2g", "15k", "2000m", ""]


@pytest.mark.parametrize("cmd", [["board-sim"], ["device", "--example"]])
def test_a_bad_heap_is_one_line_and_exit_2(cmd: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    for heap in BAD:
        t0 = time.monotonic()
        assert main([*cmd, "--heap", heap]) == 2, heap
        assert time.monotonic() - t0 < 5  # refused before any interpreter started (no boot loop)
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and (f"--heap {heap!r}" in err[0] or f"--heap {heap}:" in err[0]), err


def test_heap_sizes_as_micropython_reads_them() -> None:
    assert [heap_bytes(t) for t in ("100k", "100K", "16384", "1m", "1M")] == [102400, 102400, 16384, 1 << 20,
                                                                              1 << 20]
    with pytest.raises(ConfigError, match="too small"):
        heap_bytes("1")
    with pytest.raises(ConfigError, match="such as 100k"):
        heap_bytes("abc")


def crashing_interpreter(tmp_path: Path) -> str:
    exe = tmp_path / "micropython"
    exe.write_text("#!/bin/sh\necho 'MemoryError: memory allocation failed, allocating 224 bytes'\nexit 1\n")
    exe.chmod(0o755)
    return str(exe)


def test_board_sim_stops_a_boot_loop_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    board = BoardSim(tmp_path / "flash", micropython=crashing_interpreter(tmp_path))
    try:
        board.start()
        end = time.monotonic() + 20
        while not board.failed and time.monotonic() < end:
            time.sleep(0.05)
        assert board.failed, f"still booting after {board.boots} boots"
        time.sleep(1)
        assert board.boots == 3 and not board.running  # and no more
        assert board.failed.endswith("3 times in a row: MemoryError: memory allocation failed, allocating 224 bytes")
    finally:
        board.close()
    assert "booting again" not in capsys.readouterr().err  # crashes at start: no line each


def test_board_sim_cli_boot_loop_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["board-sim", "--flash", str(tmp_path / "f"), "--micropython", crashing_interpreter(tmp_path)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln]
    assert len(err) == 1 and "the simulated board stopped: MicroPython exited with code 1" in err[0]


@pytest.mark.micropython
def test_device_heap_too_small_for_the_firmware_is_one_line(tmp_path: Path) -> None:
    from importlib import resources

    from spasmcore.tools import find_tool
    from spasmsim.device import VirtualDevice

    example = Path(str(resources.files("spasmwatch") / "examples" / "example_raw.csv"))
    fixed = find_tool("micropython")  # a fixed heap (a growing one would just grow past 20k)
    dev = VirtualDevice(example, speed=0, state_dir=tmp_path / "s", heapsize="20k", micropython=fixed)
    try:
        with pytest.raises(LinkError) as exc:
            dev.start()
            end = time.monotonic() + 15  # the traceback may come after the first output
            while dev.exit_code is None and time.monotonic() < end:
                time.sleep(0.05)
            raise LinkError(f"exited: {dev.why_stopped()}")
        text = str(exc.value)
        assert "\n" not in text and "MemoryError" in text and "--heap 20k is too small for the firmware" in text
    finally:
        dev.close()
