"""The monitor loop: connect, store every event once, re-sync after gaps, reconnect; no terminal needed."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from spasmcore.errors import LinkError
from spasmfw import protocol

from .client import Client, Incoming
from .link import Link, LinkLost, resolve_port, wait_for_port
from .store import Store, iso_utc
from .view import MonitorState, plain_line, render, strength

EVENT_TYPES = ("onset", "end", "fault")
PROBE_S = 2.0  # silence after which the monitor pings the device
DEAD_S = 6.0  # silence after which the device counts as gone (status comes every 10 s, ping replies at once)
LINK_SEEN_S = 10.0  # how often the link session's last_seen_at is refreshed in the store
SYNC_STALL_S = 15.0  # a sync whose records stop coming (its closing ok lost) is asked again
HOOK_TIMEOUT_S = 30.0
HOOK_QUEUE = 256


class Sink(Protocol):
    """Where the monitor shows what happens: plain lines, a live screen, or nothing (tests)."""

    def message(self, msg: dict, wall: float) -> None: ...

    def notice(self, text: str) -> None: ...

    def refresh(self, state: MonitorState) -> None: ...


class NullSink:
    def message(self, msg: dict, wall: float) -> None:
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
        print(text, file=self.out or sys.stdout, flush=True)

    def message(self, msg: dict, wall: float) -> None:
        line = plain_line(msg, wall)
        if line is not None:
            self._print(line)

    def notice(self, text: str) -> None:
        self._print(f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {text}")

    def refresh(self, state: MonitorState) -> None:
        pass


class LiveSink:
    """The rich live screen (view.render), redrawn a few times a second; notices print above it."""

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

    def message(self, msg: dict, wall: float) -> None:
        pass  # shown by the screen itself

    def notice(self, text: str) -> None:
        self.live.console.print(f"[dim]{datetime.now().strftime('%H:%M:%S')}[/dim] {text}")

    def refresh(self, state: MonitorState) -> None:
        now = time.monotonic()
        if now - self._last >= self.period:
            self._last = now
            width, height = self.console.size  # read each time: the terminal may have been resized
            self.live.update(render(state, width=width, height=height), refresh=True)


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


def open_client(port_spec: str | None, hello_timeout: float = 2.0) -> tuple[Client, dict]:
    """Open the port (auto = the one likely ESP32) and greet the firmware; LinkError saying what is wrong."""
    client = Client(Link.open(resolve_port(port_spec)))
    try:
        return client, client.hello(hello_timeout)
    except BaseException:
        client.close()
        raise


class Monitor:
    """Connect to a board, keep the store complete, and feed a MonitorState and a Sink.

    The store ends with every event the device logged exactly once: live events are written as they come
    (onset opens a row, end/fault end closes it), and `sync <last stored eseq>` fills in whatever was
    missed — on every (re)connection, on a new boot, after lost lines (seq jump) and when a `status`
    shows the device logged more than the store holds.
    """

    def __init__(self, store: Store, port: str | None, *, sink: Sink | None = None,
                 on_event: str | None = None, stream_env: bool = False, probe_s: float = PROBE_S,
                 dead_s: float = DEAD_S, hello_timeout: float = 2.0, poll_s: float = 0.5,
                 device: str | None = None) -> None:
        self.store = store
        self.port_spec = port
        self.want_device = device  # --device: only this device id is accepted on the port
        self._refused: str | None = None  # the other device last refused (said once, not on every poll)
        self.sink: Sink = sink or NullSink()
        self.stream_env = stream_env
        self.probe_s, self.dead_s, self.hello_timeout, self.poll_s = probe_s, dead_s, hello_timeout, poll_s
        self.state = MonitorState()
        self.hooks = HookRunner(on_event, on_error=self._hook_error) if on_event else None
        self.client: Client | None = None
        self.device_id: str | None = None
        self.boot_id: str | None = None
        self.scale = 16.0
        self.connected = False
        self.link_id: int | None = None
        self.last_seq_no: int | None = None  # message seq of the current run
        self.last_rx = time.monotonic()
        self.last_rx_wall = self.prev_rx_wall = time.time()
        self.last_probe = 0.0
        self.last_seen_store = 0.0
        self.gap_start: float | None = None  # wall time the device went away
        self.gap_reason = ""
        self.syncing = False
        self.sync_again = False
        self.sync_new = 0  # rows the running sync added or completed
        self.sync_active = 0.0  # monotonic time of the running sync's last sign of life
        self._synced_to = 0  # the device's last eseq as of the last finished sync (log clear takes an eseq)
        self._revived = False  # the device came back after silence: its gap is already recorded
        self.stop_event = threading.Event()
        self.deadline: float | None = None
        self.counts = {"live": 0, "synced": 0, "syncs": 0, "reconnects": 0}
        self.devices_seen: list[str] = []  # device ids that answered this session, in order

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def stop(self) -> None:
        self.stop_event.set()

    def should_stop(self) -> bool:
        return self.stop_event.is_set() or (self.deadline is not None and time.monotonic() >= self.deadline)

    def connect(self) -> None:
        """First connection: LinkError (one line, actionable) if the port or the firmware is not there."""
        self.attach(*open_client(self.port_spec, self.hello_timeout))

    def attach(self, client: Client, hello: dict) -> None:
        """Start from a client that already got its `hello` (see open_client).

        With `device`, a board with another id is a LinkError (the client is closed).
        """
        wrong = self._wrong_device(hello)
        if wrong:
            client.close()
            raise LinkError(f"{client.port}: {wrong}")
        self._connected(client, hello)

    def _wrong_device(self, hello: dict) -> str:
        """Why this hello is not the device --device insists on, "" when it is (or nothing is insisted on)."""
        dev = None if hello.get("id") is None else str(hello["id"])
        if self.want_device is None or dev == self.want_device:
            return ""
        return f"the board there is device {dev or '?'}, not {self.want_device} (--device)"

    def run(self, seconds: float | None = None) -> None:
        """Monitor until stop(), `seconds` elapsed, or Ctrl-C (KeyboardInterrupt propagates after close)."""
        self.deadline = None if seconds is None else time.monotonic() + seconds
        try:
            if self.client is None:
                self.connect()
            while not self.should_stop():
                if self.client is None:
                    self._reconnect()
                else:
                    self.step()
                self.sink.refresh(self.state)
        finally:
            self.close()

    def close(self, reason: str = "monitor stopped") -> None:
        if self.client is not None:
            try:
                if self.stream_env and self.connected:
                    self.client.send("stream env", False)  # leave the board as we found it
            except LinkError:
                pass
            self.client.close()
            self.client = None
        if self.link_id is not None:
            self.store.link_close(self.link_id, reason=reason)
            self.link_id = None
        self.connected = False
        if self.hooks is not None:
            self.hooks.close()
            self.hooks = None

    # ---- one pass ----------------------------------------------------------------------------------------

    def step(self, timeout: float = 0.1) -> None:
        assert self.client is not None
        try:
            items = self.client.poll(timeout)
            for inc in items:
                self._handle(inc)
            self._check_silence()
        except LinkLost as exc:
            self._lost(str(exc))
            return
        if self.link_id is not None and time.monotonic() - self.last_seen_store > LINK_SEEN_S:
            self.last_seen_store = time.monotonic()
            self.store.link_seen(self.link_id, device_id=self.device_id)

    def _handle(self, inc: Incoming) -> None:
        self.last_rx = time.monotonic()
        self.prev_rx_wall, self.last_rx_wall = self.last_rx_wall, inc.wall
        msg = inc.msg
        if msg is None:
            self.state.bad_line(inc.error or "undecodable line")
            return
        if not self.connected:
            self._revive(inc.wall)
        t = msg.get("t")
        if t == "hello":
            self._hello(msg, inc.wall)
            return
        self._track_seq(msg, inc.wall)
        self.state.apply(msg, inc.wall)
        changed = False
        if t in ("onset", "end", "fault", "log", "status") and self.device_id is not None:
            changed = self.store.add_message(msg, self.device_id, self.boot_id, scale=self.scale,
                                             wall=inc.wall)
        if t in EVENT_TYPES:
            self.counts["live"] += 1
            self.sink.message(msg, inc.wall)
            if changed and self.hooks is not None:
                self.hooks.submit(self._payload(msg, inc.wall))
        elif t == "log":
            self.sync_new += int(changed)
            self.sync_active = time.monotonic()
        elif t == "status":
            self._status(msg)
        elif t == "ok" and msg.get("cmd") == "sync":
            self._sync_done(msg)
        elif t == "error":
            self.sink.message(msg, inc.wall)

    def _track_seq(self, msg: dict, wall: float) -> None:
        """A jump in the message seq means lost lines: note the gap and re-sync what they may have held."""
        seq = msg.get("seq")
        last = self.last_seq_no
        if not isinstance(seq, int) or last is None:
            self.last_seq_no = seq if isinstance(seq, int) else last
            return
        if seq <= last:
            return  # a message held while waiting for a reply, already older than the newest seen
        if seq > last + 1 and self.device_id is not None:
            since = self.store.last_seq(self.device_id)  # before this message raises it
            self.store.add_gap("seq", wall, wall, device_id=self.device_id, boot_id=self.boot_id,
                               first_seq=last + 1, last_seq=seq - 1,
                               detail=f"{seq - last - 1} message(s) lost")
            self._sync(since)
        self.last_seq_no = seq

    # ---- device identity, boots, sync ------------------------------------------------------------------

    def _connected(self, client: Client, hello: dict) -> None:
        wall = time.time()
        self.client = client
        self.connected = True
        self.last_rx = time.monotonic()
        self.last_rx_wall = wall
        self.state.connect(client.port, wall)
        self._hello(hello, wall, fresh_link=True)

    def _hello(self, msg: dict, wall: float, fresh_link: bool = False) -> None:
        dev = None if msg.get("id") is None else str(msg["id"])
        boot = None if msg.get("boot") is None else str(msg["boot"])
        wrong = self._wrong_device(msg)
        if wrong:  # a board that came back on the same open port is another one: not ours to store
            self.sink.notice(f"{wrong}; waiting for {self.want_device}")
            self._refused = dev
            raise LinkLost(f"device {dev} answered instead of {self.want_device}")  # step() lets go of the port
        new_boot = dev != self.device_id or boot != self.boot_id
        old = (self.device_id, self.boot_id)
        if dev is not None and dev not in self.devices_seen:
            self.devices_seen.append(dev)
        changed = self.device_id is not None and dev != self.device_id
        if changed:
            self._device_changed(old, dev, wall, fresh_link)
        self.state.apply(msg, wall)
        self.store.add_message(msg, None, None, wall=wall)
        self.device_id, self.boot_id = dev, boot
        self.scale = float(msg.get("scale") or 16)
        self.last_seq_no = msg.get("seq") if isinstance(msg.get("seq"), int) else None
        proto = msg.get("proto")
        if isinstance(proto, int) and proto > protocol.VERSION:
            self.sink.notice(f"warning: the device speaks protocol v{proto}, this spasmwatch knows v"
                             f"{protocol.VERSION}: update spasmwatch")
        if fresh_link or self.link_id is None:
            self.link_id = self.store.link_open(self.client.port if self.client else None, dev, wall)
            self.last_seen_store = time.monotonic()
        elif self.link_id is not None:
            self.store.link_seen(self.link_id, wall, device_id=dev)
        if new_boot and old[0] == dev and old[1] is not None and not fresh_link and not self._revived:
            self.store.add_gap("reboot", self.prev_rx_wall, wall, device_id=dev, boot_id=boot,
                               detail=f"device restarted (boot {old[1]} -> {boot})")
        if self.gap_start is not None:
            self.store.add_gap("disconnect", self.gap_start, wall, device_id=dev, boot_id=boot,
                               detail=self.gap_reason)
            self.gap_start = None
        self._revived = False
        self._refused = None
        if new_boot or fresh_link:
            self.sink.message(msg, wall)
            if self.stream_env and self.client is not None:
                self.client.send("stream env", True)  # not saved on the device: ask again after every boot
            if dev is not None:
                self._sync(self.store.last_seq(dev))

    def _device_changed(self, old: tuple[str | None, str | None], dev: str | None, wall: float,
                        fresh_link: bool) -> None:
        """Another board answered on the port: say so, and start over for it (its events are its own)."""
        port = self.client.port if self.client else self.port_spec
        self.sink.notice(f"warning: a different device answered on {port}: {dev} (was {old[0]}); its "
                         f"events are stored apart (use --device {old[0]} to accept only that one)")
        if self.gap_start is not None:  # the first device went away and has not come back
            self.store.add_gap("disconnect", self.gap_start, wall, device_id=old[0], boot_id=old[1],
                               detail=f"{self.gap_reason}; then device {dev} answered on {port}")
            self.gap_start = None
        if not fresh_link and self.link_id is not None:  # same open port: the session so far was the old one's
            self.store.link_close(self.link_id, wall, reason=f"device {dev} answered instead")
            self.link_id = None
        self._synced_to = 0  # the other device's log position says nothing about this one
        self.syncing = self.sync_again = False  # a sync sent for the old device: its end must not stop ours
        self._revived = False

    def _status(self, msg: dict) -> None:
        if self.device_id is None or self.client is None:
            return
        boot = msg.get("boot")
        if boot is not None and str(boot) != self.boot_id:
            self.client.send("hello")  # a restart whose hello we missed: its reply resets everything
            return
        dev_last = msg.get("eseq")
        if not isinstance(dev_last, int) or self.syncing:
            return
        ours = self.store.last_seq(self.device_id)
        if dev_last < ours:
            self.sink.notice(f"the device's event log restarts at {dev_last} (store has {ours}): its flash "
                             "was erased or re-flashed; syncing its whole log")
            self._sync(0)
        elif dev_last > ours and dev_last > self._synced_to:
            self._sync(ours)

    def _sync(self, since: int) -> None:
        if self.client is None:
            return
        if self.syncing:
            self.sync_again = True  # one sync at a time; run another from the new watermark when it ends
            return
        self.syncing = True
        self.sync_active = time.monotonic()
        self.sync_new = 0
        self.counts["syncs"] += 1
        self.client.send("sync", max(0, since))

    def _sync_done(self, msg: dict) -> None:
        data = msg.get("data") or {}
        self.syncing = False
        if isinstance(data.get("last"), int):
            self._synced_to = data["last"]
        self.counts["synced"] += self.sync_new
        if self.sync_new:
            self.sink.notice(f"sync: {self.sync_new} event record(s) the monitor had missed are now stored")
        if self.device_id is not None and self.boot_id is not None:
            self.store.abandon_open(self.device_id, self.boot_id)  # the end of these will never come
        if self.sync_again and self.device_id is not None:
            self.sync_again = False
            self._sync(self.store.last_seq(self.device_id))

    # ---- silence, loss and return ------------------------------------------------------------------------

    def _check_silence(self) -> None:
        assert self.client is not None
        now = time.monotonic()
        quiet = now - self.last_rx
        if quiet > self.probe_s and now - self.last_probe > self.probe_s:
            self.last_probe = now
            # a ping is answered at once; after a loss, hello also tells whether the device rebooted
            self.client.send("ping" if self.connected else "hello")
        if self.syncing and self.connected and now - self.sync_active > SYNC_STALL_S and self.device_id:
            self.syncing = False  # its end was lost on the wire: ask again from the current watermark
            self._sync(self.store.last_seq(self.device_id))
        if self.connected and quiet > self.dead_s:
            self._went_away(f"no reply from the device for {quiet:.0f} s")
            self.sink.notice(f"device silent on {self.client.port}: waiting for it to come back")

    def _went_away(self, reason: str) -> None:
        self.connected = False
        self.syncing = self.sync_again = False
        self.gap_start = self.last_rx_wall
        self.gap_reason = reason
        self.state.disconnect(reason, time.time())
        if self.link_id is not None:
            self.store.link_close(self.link_id, reason=reason)
            self.link_id = None

    def _lost(self, reason: str) -> None:
        if self.connected:
            self._went_away(reason)
        if self.client is not None:
            self.client.close()
            self.client = None
        self.sink.notice(f"disconnected: {reason}; waiting for the board to come back")

    def _revive(self, wall: float) -> None:
        """A line from a device that had gone silent: it is back on the same open port."""
        assert self.client is not None
        self.connected = True
        self.counts["reconnects"] += 1
        self.state.connect(self.client.port, wall)
        self.sink.notice(f"device answering again on {self.client.port}")
        self.link_id = self.store.link_open(self.client.port, self.device_id, wall)
        self.last_seen_store = time.monotonic()
        if self.gap_start is not None and self.device_id is not None:
            self.store.add_gap("disconnect", self.gap_start, wall, device_id=self.device_id,
                               boot_id=self.boot_id, detail=self.gap_reason)
            self.gap_start = None
        self._revived = True
        self.client.send("hello")  # identity and boot: a restarted device needs a sync and its stream again
        if self.device_id is not None:
            self._sync(self.store.last_seq(self.device_id))

    def _reconnect(self) -> None:
        link = wait_for_port(self.port_spec, self.should_stop, self.poll_s, on_error=self.sink.notice)
        if link is None:
            return
        client = Client(link)
        try:
            hello = client.hello(self.hello_timeout)
        except LinkError as exc:
            client.close()
            self.sink.notice(f"{exc}; retrying")
            self._sleep(self.poll_s * 2)
            return
        wrong = self._wrong_device(hello)
        if wrong:
            client.close()
            if self._refused != hello.get("id"):
                self._refused = hello.get("id")
                self.sink.notice(f"{client.port}: {wrong}; waiting for {self.want_device}")
            self._sleep(self.poll_s * 2)
            return
        self.counts["reconnects"] += 1
        self.sink.notice(f"reconnected on {client.port}")
        self._connected(client, hello)

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.should_stop() and time.monotonic() < end:
            time.sleep(0.05)

    # ---- on-event payload --------------------------------------------------------------------------------

    def _payload(self, msg: dict, wall: float) -> dict:
        out = {k: v for k, v in msg.items() if k != "seq"}
        out.update(event=msg.get("t"), device=self.device_id, boot=self.boot_id, received_at=iso_utc(wall),
                   port=self.client.port if self.client else None)
        if msg.get("t") == "end":
            out["peak_x"] = strength(msg)
        return out

    def _hook_error(self, text: str) -> None:
        """A failing --on-event command: one line on stderr (the live screen shows it as its last error)."""
        self.state.last_error = text
        if isinstance(self.sink, LiveSink):
            self.sink.notice(text)
        else:
            print(f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {text}", file=sys.stderr, flush=True)
