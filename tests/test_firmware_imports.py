"""Firmware modules import each other one way: `from . import x` first (CPython's spasmfw package), flat after.

Issue 9: config.py and app.py had opposite fallbacks. Relative-first cannot pick up a same-named module from
elsewhere on a CPython path; on the board the relative import fails at once and the flat one runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"
OURS = {p.stem for p in FIRMWARE.glob("*.py")}


def _imported(stmts: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for s in stmts:
        if isinstance(s, ast.Import):
            names |= {a.name for a in s.names}
        elif isinstance(s, ast.ImportFrom):
            names |= {s.module or ""} | ({a.name for a in s.names} if s.level else set())
    return names & OURS


def test_every_import_guard_of_our_modules_is_relative_first() -> None:
    guards = 0
    for path in sorted(FIRMWARE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Try):
                continue
            handled = [h for h in node.handlers if isinstance(h.type, ast.Name) and h.type.id == "ImportError"]
            if not handled or not (_imported(node.body) | _imported(handled[0].body)):
                continue  # a guard for a MicroPython built-in (micropython, binascii), not for our modules
            guards += 1
            first = [s for s in node.body if isinstance(s, (ast.Import, ast.ImportFrom))]
            assert first and all(isinstance(s, ast.ImportFrom) and s.level == 1 for s in first), (
                f"{path.name}:{node.lineno}: the try body must be the relative import (from . import x)")
            assert all(not (isinstance(s, ast.ImportFrom) and s.level) for s in handled[0].body), (
                f"{path.name}:{node.lineno}: the fallback must be the flat import")
    assert guards >= 5  # app, config, protocol, protohost, detector ... (the check must see them)
