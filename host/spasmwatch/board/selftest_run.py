"""Run firmware/selftest.py on a board through mpremote's raw REPL and collect what it prints, line by line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

MARK = "SELFTEST "  # firmware/selftest.py MARK
MARGIN_S = 120.0  # beyond the run itself: mpremote's soft reset, boot, ADC and flash checks (a loaded PC is slow)

# Boots the firmware as main.py does, prints the heap left, and only then loads the self-test, so its code
# never takes the heap the firmware boots in. A boot or a heap that fails is printed (E), not raised: it is a
# finding (E before H: the boot failed; after it: the heap ran out while running).
BOARD_SCRIPT = """\
import gc
gc.collect()
print('SELFTEST F', gc.mem_free())
try:
    import board
    app = __import__('start').boot(board)
except Exception as e:
    print('SELFTEST E', type(e).__name__ + ':', e)
else:
    gc.collect()
    h = gc.mem_free()
    print('SELFTEST H', h)
    try:
        import selftest
        selftest.main(app, h, {seconds})
    except MemoryError as e:
        print('SELFTEST E', 'the heap ran out during the self-test:', e)
"""


@dataclass
class BoardRun:
    """What the board printed: heap before boot, a boot failure, the result, and the app's error lines."""

    heap_start: int | None = None
    heap_boot: int | None = None
    boot_error: str = ""  # the board's E line: before heap_boot, the boot failed; after it, the run did
    result: dict[str, Any] | None = None
    boot_errors: list[str] = field(default_factory=list)  # the app's `error` messages before the heap line
    run_errors: list[str] = field(default_factory=list)  # and after it
    tail: list[str] = field(default_factory=list)  # the last lines that were neither, for an error message


def _app_error(line: str) -> str | None:
    """The message of one of the app's protocol `error` lines, or None for anything else."""
    from spasmcore import protohost
    from spasmfw import protocol

    if '"error"' not in line:
        return None
    try:
        msg = protohost.decode(line)
    except (protocol.ProtocolError, ValueError):
        return None
    return str(msg.get("msg")) if msg["t"] == "error" else None


def parse(lines: Iterable[str], progress: Callable[[str, int, int], None] = lambda p, d, t: None) -> BoardRun:
    """Read the board's output until the result line (or the end); progress(phase, done, total) as it goes."""
    run = BoardRun()
    for raw in lines:
        line = raw.strip()
        if line.startswith(MARK):
            kind, _, rest = line[len(MARK):].partition(" ")
            if kind == "F":
                run.heap_start = int(rest)
            elif kind == "H":
                run.heap_boot = int(rest)
                progress("boot", 1, 1)
            elif kind == "E":
                run.boot_error = rest
                return run
            elif kind == "P":
                phase, done, total = rest.split()
                progress(phase, int(done), int(total))
            elif kind == "R":
                run.result = json.loads(rest)
                return run
            continue
        msg = _app_error(line)
        if msg is not None:
            (run.boot_errors if run.heap_boot is None else run.run_errors).append(msg)
        elif line:
            run.tail = (run.tail + [line])[-8:]
    return run


def run_on_board(port: str, seconds: int, progress: Callable[[str, int, int], None]) -> BoardRun:
    """`mpremote exec` of BOARD_SCRIPT (its soft reset first gives a clean heap); stopped if it overruns.

    A run with neither a result nor a boot error ended early: `tail` holds the last lines (mpremote's or the
    board's traceback)."""
    script = BOARD_SCRIPT.format(seconds=int(seconds))
    cmd = [sys.executable, "-m", "mpremote", "connect", port, "exec", script]
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # lines as the board prints them, for the progress bar
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            errors="replace")
    limit = seconds + MARGIN_S
    killed: list[bool] = []

    def stop() -> None:
        killed.append(True)
        proc.kill()

    timer = threading.Timer(limit, stop)
    timer.start()
    try:
        assert proc.stdout is not None
        run = parse(proc.stdout, progress)
    finally:
        try:
            proc.wait(timeout=10)  # mpremote leaves the raw REPL once the script returns
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        timer.cancel()
    if killed and run.result is None:
        run.tail.append(f"(no result within {limit:g} s: stopped)")
    return run
