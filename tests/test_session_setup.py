"""The suite's time savers in conftest.py are in force (each one is a few minutes of CI when it is not)."""

from __future__ import annotations

import gc
import os
import tempfile
from pathlib import Path

from conftest import RAM_TMP, ram_free
from mpy_runner import run_json


def test_the_firmware_log_runs_without_os_sync_under_cpython() -> None:
    assert not hasattr(os, "sync")  # conftest.no_machine_wide_sync, in this process
    assert run_json("import json, os\nprint(json.dumps(hasattr(os, 'sync')))", "cpython") is False  # snippets


def test_temporary_files_are_in_ram_where_the_machine_has_a_tmpfs(tmp_path: Path) -> None:
    if os.environ.get("TMPDIR") != str(RAM_TMP):  # conftest.temp_in_ram leaves a TMPDIR given by the user
        assert not RAM_TMP.is_dir() or os.environ.get("TMPDIR") or ram_free() < 2 << 30
        return
    assert Path(tempfile.gettempdir()) == RAM_TMP and tmp_path.is_relative_to(RAM_TMP)


def test_what_collection_imported_is_frozen_out_of_the_collector() -> None:
    assert gc.get_freeze_count() > 10000  # conftest.gc_frozen
