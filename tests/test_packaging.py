"""The wheel: it builds without setuptools warnings and carries the data files the installed tool reads."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# what the build reads; copied, so that the build neither writes build/ into the checkout nor packs a stale one
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "host", "sim", "firmware")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.mpy", "*.egg-info")


def data_files(folder: Path, package: str, pattern: str = "*") -> set[str]:
    """The files of a data folder as wheel paths (`package` is the folder's path inside the wheel)."""
    return {f"{package}/{p.name}" for p in folder.glob(pattern) if p.is_file()}


@pytest.mark.timeout(300)
def test_wheel_builds_without_warnings_and_carries_the_data_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=SKIP)
        else:
            shutil.copy2(path, src / name)
    out = tmp_path / "wheel"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "-w", str(out), "--no-deps"],
                          capture_output=True, text=True, timeout=280)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    warnings = [line for line in log.splitlines() if "Warning" in line or "would be ignored" in line]
    assert not warnings, "\n".join(warnings)
    (wheel,) = out.glob("spasmwatch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    static = ROOT / "host/spasmwatch/dashboard/static"
    want = (data_files(static, "spasmwatch/dashboard/static")
            | data_files(static / "vendor", "spasmwatch/dashboard/static/vendor")
            | data_files(ROOT / "host/spasmwatch/examples", "spasmwatch/examples")
            | data_files(ROOT / "firmware/unix", "spasmfw/unix", "*.py"))
    assert len(want) > 15 and want <= names, sorted(want - names)
    assert "spasmwatch/cli.py" in names and "spasmfw/app.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: MIT" in zipfile.ZipFile(wheel).read(metadata).decode()
