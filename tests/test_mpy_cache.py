"""The session's mpy-cross memory (tests/mpy_cache.py): boards boot the bytes mpy-cross makes, compiled once."""

from __future__ import annotations

from pathlib import Path

import pytest
from mpy_cache import MpyCache

from spasmcore.firmware import FIRMWARE_DIR, compile_mpy
from spasmcore.tools import find_tool
from spasmsim import devstate

pytestmark = pytest.mark.skipif(find_tool("mpy-cross") is None, reason="mpy-cross is not installed")


def test_a_copy_is_what_mpy_cross_makes_and_a_changed_source_is_compiled_again(tmp_path: Path) -> None:
    src = tmp_path / "codes.py"
    src.write_bytes((FIRMWARE_DIR / "codes.py").read_bytes())
    cache = MpyCache(compile_mpy, tmp_path / "kept")
    first, again = cache(src, tmp_path / "a.mpy", None), cache(src, tmp_path / "b.mpy", None)
    fresh = compile_mpy(src, tmp_path / "fresh.mpy", None).read_bytes()
    assert first.read_bytes() == again.read_bytes() == fresh and cache.runs == 1
    src.write_text(src.read_text() + "\nEXTRA = 1\n")  # the firmware edited during a run
    changed = cache(src, tmp_path / "c.mpy", None).read_bytes()
    assert cache.runs == 2 and changed != fresh and changed == compile_mpy(src, tmp_path / "f2.mpy", None).read_bytes()


def test_virtual_boards_of_the_session_share_the_compiled_firmware(tmp_path: Path) -> None:
    cache = devstate.compile_mpy
    assert isinstance(cache, MpyCache)  # conftest.mpy_once
    done = devstate.precompile(tmp_path / "one")
    runs = cache.runs
    assert done and devstate.precompile(tmp_path / "two") == done and cache.runs == runs  # no mpy-cross run
    for name in done:
        assert (tmp_path / "one" / f"{name}.mpy").read_bytes() == (tmp_path / "two" / f"{name}.mpy").read_bytes()
