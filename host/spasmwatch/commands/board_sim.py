"""`spasmwatch board-sim`: a simulated ESP32 with MicroPython's REPL on a pty, to try `deploy` without hardware."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

from spasmcore.errors import InputError, LinkError
from spasmwatch.commands.device import add_board_options

DESCRIPTION = """\
Start a simulated ESP32 running MicroPython, with no firmware on it, and print its serial port
(`board ready on /dev/pts/N`). Point `spasmwatch deploy --port /dev/pts/N` at it to see what a deployment
does, or use mpremote on it as on a board (`mpremote connect /dev/pts/N fs ls`, `repl`, `reset`).

It is the MicroPython unix port's own REPL (raw REPL, raw-paste mode and all), so the real mpremote copies
the files; --flash DIR is the board's filesystem (default: a temporary directory, removed on exit; keep a
directory to keep what was deployed). After `deploy` resets it, the board boots the deployed boot.py and
main.py like an ESP32 and the firmware answers `hello`; `spasmwatch monitor --port /dev/pts/N` then works.
What differs from an ESP32 (see docs/firmware.md, "Trying deploy without a board"): the CPU is this PC's, so
deploy compiles for -march=x64 (not xtensawin); `machine` and `esp` are stand-ins (the ADC reads a resting
sensor, the watchdog never fires, the BOOT button is never pressed); the firmware's sampling loop
busy-waits as on the board, so it keeps one CPU core busy while the app runs. Linux only. Ctrl-C stops it.
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("board-sim", help="a simulated ESP32 with MicroPython's REPL on a pty, for deploy",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flash", metavar="DIR", help="the board's filesystem (default: a temporary directory)")
    add_board_options(p)
    p.set_defaults(func=run)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _check_flash(flash: str | None) -> None:
    """--flash must be a directory or a path one can be made at: one line, not a FileExistsError."""
    if flash is None:
        return
    path = Path(flash).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"--flash {flash}: that is a file; give a directory (the board's filesystem)")
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if not path.exists() and parent is not None and not parent.is_dir():
        raise InputError(f"--flash {flash}: {parent} is a file, so no directory can be made there")


def run(args: argparse.Namespace) -> int:
    from spasmsim.boardsim import BoardSim

    _check_flash(args.flash)
    board = BoardSim(args.flash, heapsize=args.heap, micropython=args.micropython, board=args.board)
    signal.signal(signal.SIGTERM, _interrupt)  # a supervisor's stop is as clean as Ctrl-C
    signal.signal(signal.SIGINT, _interrupt)  # set explicitly: a shell starts background jobs with it ignored
    try:
        port = board.start()
        print(f"board ready on {port}", flush=True)
        kept = "" if args.flash else " (temporary, removed on exit)"
        print(f"flash: {board.flash}{kept}; try: spasmwatch deploy --port {port}", file=sys.stderr, flush=True)
        while not board.failed:
            time.sleep(0.5)
        raise LinkError(f"the simulated board stopped: {board.failed}")
    except KeyboardInterrupt:
        print("stopping the simulated board", file=sys.stderr)
        return 0
    finally:
        board.close()
