"""`python -m spasmwatch` runs the CLI, as the `spasmwatch` command does (exit codes included)."""

from __future__ import annotations

import subprocess
import sys


def test_python_m_spasmwatch_is_the_cli() -> None:
    ok = subprocess.run([sys.executable, "-m", "spasmwatch", "--help"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "usage: spasmwatch" in ok.stdout and "replay" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "spasmwatch", "replay", "/nonexistent/x.csv"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
