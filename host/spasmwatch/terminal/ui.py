"""What a command says besides its result: warnings, notes, details (-v) and progress bars, all on stderr.

`spasmwatch -q` / `--quiet` (before or after the command name) hides notes and progress bars; warnings and errors
still print. `-v` / `--verbose` adds details (how a file was read, timings). Progress bars show only when
stderr is a terminal, so pipes, files and cron logs never receive them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

QUIET, NORMAL, VERBOSE = -1, 0, 1
level = NORMAL  # set by cli.main from -q/-v

# Characters a terminal acts on instead of showing: C0 controls (ESC starts colour, title and clipboard
# sequences, BEL rings, CR overwrites a line, LF forges one), DEL, C1 controls, and the bidi overrides and
# isolates (U+202E shows text reversed, so a name or a file name can read as something else).
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_UNSAFE.update({ord(c): f"\\u{ord(c):04x}" for c in _BIDI})


def safe(text: object, lines: bool = False) -> str:
    """Text from a device or a file as it may reach a terminal: control and bidi characters shown escaped
    (ESC as \\x1b, U+202E as \\u202e); everything else, accents and all, unchanged. `lines` keeps line
    breaks (a message of several lines)."""
    if lines:
        return "\n".join(part.translate(_UNSAFE) for part in str(text).split("\n"))
    return str(text).translate(_UNSAFE)


def set_level(quiet: bool, verbose: int) -> None:
    global level
    level = QUIET if quiet else VERBOSE if verbose else NORMAL


def warn(text: str) -> None:
    """Something the user should know about the data or the result (shown even with -q)."""
    print(f"warning: {safe(text, True)}", file=sys.stderr, flush=True)


def note(text: str) -> None:
    """Something worth a line, but not needed (hidden by -q)."""
    if level >= NORMAL:
        print(f"note: {safe(text, True)}", file=sys.stderr, flush=True)


def detail(text: str) -> None:
    """Only with -v."""
    if level >= VERBOSE:
        print(safe(text, True), file=sys.stderr, flush=True)


def show_recording(rec: Any) -> None:
    """A recording's reader warnings, and with -v how it was read."""
    for text in rec.warnings:
        warn(text)
    detail(f"{rec.source}: {rec.n_samples} samples x {len(rec.channels)} channel(s) ({', '.join(rec.names)}); "
           + "; ".join(rec.notes))


def interactive() -> bool:
    """Progress bars only for a person watching a terminal, and not with -q."""
    return level >= NORMAL and sys.stderr.isatty()


class Progress:
    """A progress bar on stderr (a no-op when not interactive): `step(n)` advances by n of `total` units."""

    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def step(self, n: float = 1.0, label: str | None = None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=n, **({"description": label} if label else {}))

    def label(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text)


@contextmanager
def progress(label: str, total: float | None) -> Iterator[Progress]:
    """`with ui.progress("replaying", total=n) as p: ... p.step(k)`; total None shows a pulsing bar."""
    t0 = time.monotonic()
    if not interactive():
        yield Progress(None, None)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        console = Console(stderr=True)
        with Bar(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                 console=console, transient=True) as bar:
            yield Progress(bar, bar.add_task(label, total=total))
    detail(f"{label}: {time.monotonic() - t0:.1f} s")
