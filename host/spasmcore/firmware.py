"""Where the firmware sources live and the one way to compile them with mpy-cross."""

from __future__ import annotations

import functools
import platform
import re
import subprocess
from pathlib import Path

import spasmfw

from .errors import ConfigError, FatalError
from .tools import find_tool, missing

FIRMWARE_DIR = Path(spasmfw.__file__).resolve().parent
# The unix-port board (vboard, the ROM stand-ins, the REPL board) and the replay runner: firmware for another
# board, so it lives beside the firmware; deploy copies only firmware/*.py, never this folder.
UNIX_DIR = FIRMWARE_DIR / "unix"
HOST_MARCH = {"x86_64": "x64", "AMD64": "x64", "i686": "x86", "i386": "x86"}  # native emitter of the unix port


def host_march() -> str | None:
    """mpy-cross -march for the unix port on this PC, or None where mpy-cross has no native emitter."""
    return HOST_MARCH.get(platform.machine())


# MP_NATIVE_ARCH_* of py/persistentcode.h (sys.implementation._mpy >> 10) -> mpy-cross -march
NATIVE_ARCH = {1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m", 6: "armv7em", 7: "armv7emsp",
               8: "armv7emdp", 9: "xtensa", 10: "xtensawin", 11: "rv32imc", 12: "rv64imc"}


@functools.lru_cache(maxsize=8)
def interpreter_march(exe: str) -> str | None:
    """mpy-cross -march for the native code interpreter `exe` runs (None: bytecode only), asked of it."""
    try:
        res = subprocess.run([exe, "-c", "import sys;print(getattr(sys.implementation,'_mpy',0)>>10)"],
                             capture_output=True, text=True, timeout=30)
        return NATIVE_ARCH.get(int(res.stdout.strip() or 0))
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return host_march()


def mpy_cross() -> str:
    exe = find_tool("mpy-cross")
    if exe is None:
        raise ConfigError(f"{missing('mpy-cross')} (the same version as the board's MicroPython)")
    return exe


def mpy_cross_version() -> tuple[int, int]:
    """(version, sub-version) of the .mpy files mpy-cross writes, e.g. (6, 3)."""
    out = subprocess.run([mpy_cross(), "--version"], capture_output=True, text=True).stdout
    m = re.search(r"mpy v(\d+)\.(\d+)", out)
    if not m:
        raise ConfigError(f"cannot tell which .mpy version mpy-cross writes from {out.strip()!r}")
    return int(m.group(1)), int(m.group(2))


def compile_mpy(src: Path, dest: Path, march: str | None) -> Path:
    """Compile one module to dest (a .mpy file) for CPU `march` (None: bytecode only); FatalError if it fails."""
    # -s: the bare file name, as the board holds it; the default (the host path given) is kept in the .mpy as a
    # qstr per module, so the board's heap and layout would depend on where the project was checked out
    cmd = [mpy_cross(), *([f"-march={march}"] if march else []), "-s", src.name, "-o", str(dest), str(src)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise FatalError(f"mpy-cross could not compile {src.name}: {res.stderr.strip()[-300:]}")
    return dest
