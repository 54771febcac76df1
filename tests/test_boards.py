"""The interpreter is a choice (--micropython, $SPASMWATCH_MICROPYTHON) and the board a profile (--board)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import micropython32

from spasmcore import boards
from spasmcore.errors import ConfigError
from spasmcore.firmware import interpreter_march
from spasmcore.tools import MICROPYTHON_ENV, find_micropython


def test_chosen_interpreter_wins_over_env_and_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = tmp_path / "mp"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    other = tmp_path / "other"
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    monkeypatch.setenv(MICROPYTHON_ENV, str(other))
    assert find_micropython(str(exe)) == str(exe)
    assert find_micropython() == str(other)
    monkeypatch.delenv(MICROPYTHON_ENV)
    assert find_micropython() != str(other)


def test_missing_interpreter_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"--micropython /no/such/mp: no such program"):
        find_micropython("/no/such/mp")
    monkeypatch.setenv(MICROPYTHON_ENV, "/no/such/mp")
    with pytest.raises(ConfigError, match=MICROPYTHON_ENV):
        find_micropython()


def test_native_code_for_the_interpreters_architecture(micropython_bin: str) -> None:
    assert interpreter_march(micropython32()) == "x86"  # i386 build: sys.implementation._mpy >> 10 == 1
    if sys.maxsize > 2**32 and "micropython32" not in micropython_bin:
        assert interpreter_march(micropython_bin) == "x64"


def test_profiles_model_the_growing_heap_with_wifi_reserved() -> None:
    esp32 = boards.board(None)
    assert esp32.name == "esp32" and esp32.initial == 56 * 1024 and esp32.budget == 100 * 1024
    args, env = boards.heap_args("/x/micropython-esp32heap", esp32)
    assert args == ["-X", "heapsize=56k"] and env == {"MICROPY_SYSTEM_HEAP": "44k"}  # 110k less Wi-Fi's 66k
    assert boards.heap_args("/x/micropython", esp32) == (["-X", "heapsize=100k"], {})
    assert boards.heap_args("/x/micropython", esp32, "80k") == (["-X", "heapsize=80k"], {})
    assert boards.board("esp32s3").budget > 1024 * 1024
    with pytest.raises(ConfigError, match="unknown board profile .*esp32, esp32s3"):
        boards.board("uno")


@pytest.mark.parametrize("cmd", ["device", "board-sim"])
def test_cli_bad_interpreter_or_board_is_one_line_exit_2(cmd: str) -> None:
    extra = ["--example"] if cmd == "device" else []
    env = {k: v for k, v in os.environ.items() if k != MICROPYTHON_ENV}
    for opts, word in ((["--micropython", "/no/such/mp"], "no such program"), (["--board", "uno"], "unknown board")):
        proc = subprocess.run([sys.executable, "-m", "spasmwatch.cli", cmd, *extra, *opts], capture_output=True,
                              text=True, timeout=60, env=env)
        assert proc.returncode == 2, proc.stderr
        assert word in proc.stderr and "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
