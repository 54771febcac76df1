"""`--on-event CMD`: one shell command per live event, in a worker thread, never blocking the monitor."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

from spasmwatch.link import wire
from spasmwatch.when import iso_utc

HOOK_TIMEOUT_S = 30.0
HOOK_QUEUE = 256


def payload(sent: dict, msg: wire.Message, device: str | None, boot: str | None, wall: float,
            port: str | None) -> dict:
    """What the command reads on stdin: the message as the device sent it (without seq), plus where and
    when it came from, and an end's strength (peak / floor)."""
    out = {k: v for k, v in sent.items() if k != "seq"}
    out.update(event=sent.get("t"), device=device, boot=boot, received_at=iso_utc(wall), port=port)
    if isinstance(msg, wire.End):
        out["peak_x"] = msg.peak_x
    return out


def synced_payload(sent: dict, msg: wire.Log, device: str | None, wall: float, port: str | None) -> dict:
    """A record the live stream missed and `sync` brought: the fields of the live message it stands for, its
    own boot, and `synced: true` (it may be minutes old; `received_at` is when the sync brought it)."""
    live = {k: v for k, v in sent.items() if k not in ("ev", "boot")}
    live["t"] = sent.get("ev")
    out = payload(live, msg.record, device, str(msg.boot), wall, port)
    out["synced"] = True
    return out


class HookRunner:
    """Runs `--on-event CMD` once per event with the event as JSON on stdin, in a worker thread.

    One command at a time, in event order, each killed after `timeout` s; the monitor loop never waits.
    """

    def __init__(self, cmd: str, timeout: float = HOOK_TIMEOUT_S,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.cmd = cmd
        self.timeout = timeout
        self.on_error = on_error or (lambda text: print(text, file=sys.stderr))
        self.q: queue.Queue[dict | None] = queue.Queue(HOOK_QUEUE)
        self.ran = 0
        self.failed = 0
        self.dropped = 0
        self.thread = threading.Thread(target=self._work, name="on-event", daemon=True)
        self.thread.start()

    def submit(self, payload: dict) -> None:
        try:
            self.q.put_nowait(payload)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                self.on_error("--on-event command is too slow: events are being skipped")

    def _work(self) -> None:
        while True:
            payload = self.q.get()
            if payload is None:
                return
            data = (json.dumps(payload, separators=(",", ":")) + "\n").encode()
            try:
                res = subprocess.run(self.cmd, shell=True, input=data, capture_output=True,
                                     timeout=self.timeout)
                self.ran += 1
                if res.returncode != 0:
                    self.failed += 1
                    self.on_error(f"{self._name()} {_exit_text(res.returncode)}: {_last_line(res.stderr)}; "
                                  f"monitoring goes on")
            except subprocess.TimeoutExpired as exc:
                self.failed += 1
                self.on_error(f"{self._name()} killed after {self.timeout:g} s: {_last_line(exc.stderr)}; "
                              "monitoring goes on")
            except OSError as exc:
                self.failed += 1
                self.on_error(f"{self._name()} could not run: {exc}; monitoring goes on")

    def _name(self) -> str:
        """The hook as the user wrote it, shortened to fit one line."""
        cmd = " ".join(self.cmd.split())
        return f'--on-event "{cmd if len(cmd) <= 60 else cmd[:59] + "…"}"'

    def close(self, wait: float = 5.0) -> None:
        """Let queued commands finish (up to `wait` s)."""
        try:
            self.q.put(None, timeout=wait)
        except queue.Full:
            return
        self.thread.join(wait)


def _exit_text(code: int) -> str:
    """How a command ended: `exited with 3`, or `was killed by signal 9 (SIGKILL)` (a negative returncode)."""
    if code >= 0:
        return f"exited with {code}"
    try:
        return f"was killed by signal {-code} ({signal.Signals(-code).name})"
    except ValueError:
        return f"was killed by signal {-code}"


def _last_line(err: bytes | str | None) -> str:
    """The last non-blank line of a command's stderr (cut to 200 characters), or "no output"."""
    text = err.decode(errors="replace") if isinstance(err, bytes) else err or ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "no output"


