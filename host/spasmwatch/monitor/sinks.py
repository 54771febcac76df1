"""Where the monitor shows what happens: plain lines, the live rich screen, or nothing (tests)."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Any, Protocol

from spasmwatch.link import wire
from spasmwatch.terminal.screen import plain_line, render
from spasmwatch.terminal.ui import safe
from spasmwatch.terminal.view import MonitorState


class Sink(Protocol):
    """Where the monitor shows what happens: plain lines, a live screen, or nothing (tests)."""

    def message(self, msg: wire.Message, wall: float) -> None: ...

    def notice(self, text: str) -> None: ...

    def refresh(self, state: MonitorState) -> None: ...


class NullSink:
    def message(self, msg: wire.Message, wall: float) -> None:
        pass

    def notice(self, text: str) -> None:
        pass

    def refresh(self, state: MonitorState) -> None:
        pass


class PlainSink:
    """One line per live event, device error and connection change (stdout is a file or a pipe)."""

    def __init__(self, out: Any = None) -> None:
        self.out = out

    def _print(self, text: str) -> None:
        print(safe(text), file=self.out or sys.stdout, flush=True)  # device text: escaped

    def message(self, msg: wire.Message, wall: float) -> None:
        line = plain_line(msg, wall)
        if line is not None:
            self._print(line)

    def notice(self, text: str) -> None:
        self._print(f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {text}")

    def refresh(self, state: MonitorState) -> None:
        pass


class LiveSink:
    """The rich live screen (screen.render), redrawn a few times a second; notices print above it."""

    def __init__(self, console: Any = None, fps: float = 4.0) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = console or Console()
        self.live = Live(console=self.console, refresh_per_second=fps, transient=False)
        self.period = 1.0 / fps
        self._last = 0.0

    def __enter__(self) -> LiveSink:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def message(self, msg: wire.Message, wall: float) -> None:
        pass  # shown by the screen itself

    def notice(self, text: str) -> None:
        from rich.markup import escape  # a device name like "[blink]" is text, not markup

        self.live.console.print(f"[dim]{datetime.now().strftime('%H:%M:%S')}[/dim] {escape(safe(text))}")

    def refresh(self, state: MonitorState) -> None:
        now = time.monotonic()
        if now - self._last >= self.period:
            self._last = now
            width, height = self.console.size  # read each time: the terminal may have been resized
            self.live.update(render(state, width=width, height=height), refresh=True)
