"""The monitor's connection: open, greet, poll, notice silence and loss, reconnect; messages go to Dispatch."""

from __future__ import annotations

import sys
import threading
import time
from datetime import datetime

from spasmcore.errors import FatalError, LinkError
from spasmwatch.link import wire
from spasmwatch.link.client import Client
from spasmwatch.link.serial_link import Link, LinkLost, resolve_port, wait_for_port
from spasmwatch.monitor.dispatch import Dispatch
from spasmwatch.monitor.hooks import HookRunner
from spasmwatch.monitor.sinks import LiveSink, NullSink, Sink
from spasmwatch.monitor.syncpolicy import SyncPolicy
from spasmwatch.store import Store
from spasmwatch.terminal.ui import safe
from spasmwatch.terminal.view import MonitorState

PROBE_S = 2.0  # silence after which the monitor pings the device
DEAD_S = 6.0  # silence after which the device counts as gone (status comes every 10 s, ping replies at once)
LINK_SEEN_S = 10.0  # how often the link session's last_seen_at is refreshed in the store


def open_client(port_spec: str | None, hello_timeout: float = 2.0) -> tuple[Client, wire.Hello]:
    """Open the port (auto = the one likely ESP32) and greet the firmware; LinkError saying what is wrong."""
    client = Client(Link.open(resolve_port(port_spec)))
    try:
        client.hello(hello_timeout)
        assert client.hello_info is not None
        return client, client.hello_info
    except BaseException:
        client.close()
        raise


class Monitor(Dispatch):
    """Connect to a board, keep the store complete, and feed a MonitorState and a Sink.

    The store ends with every event the device logged exactly once: live events are written as they come
    (onset opens a row, end/fault end closes it), and the sync policy (syncpolicy.py) asks the board for
    every record the store lacks: on every (re)connection, on a new boot, after lost lines (seq jump), for a
    hole below a stored record or below the board's last eseq (`status`), and again when a sync's end is lost.
    """

    def __init__(self, store: Store, port: str | None, *, sink: Sink | None = None,
                 on_event: str | None = None, stream_env: bool = False, probe_s: float = PROBE_S,
                 dead_s: float = DEAD_S, hello_timeout: float = 2.0, poll_s: float = 0.5,
                 device: str | None = None) -> None:
        self.store = store
        self.port_spec = port
        self.want_device = device  # --device: only this device id is accepted on the port
        self._refused = None  # the other device last refused (said once, not on every poll)
        self._shown: set[int] = set()  # eseqs of live records shown (dispatch: each once, as stored)
        self._asked_boot = None  # the boot a live record came from while we knew another (hello asked once)
        self.sink = sink or NullSink()
        self.stream_env = stream_env
        self.probe_s, self.dead_s, self.hello_timeout, self.poll_s = probe_s, dead_s, hello_timeout, poll_s
        self.state = MonitorState()
        self.hooks = HookRunner(on_event, on_error=self._hook_error) if on_event else None
        self.client = None
        self.device_id = None
        self.boot_id = None
        self.connected = False
        self.link_id = None
        self.last_seq_no = None  # message seq of the current run
        self.last_rx = time.monotonic()
        self.last_rx_wall = self.prev_rx_wall = time.time()
        self.last_probe = 0.0
        self.last_seen_store = 0.0
        self.gap_start = None  # wall time the device went away
        self.gap_reason = ""
        self.policy = SyncPolicy()  # replaced by the device's own at its hello
        self._saved_mark = 0
        self.sync_new = 0  # rows the running sync added or completed
        self._revived = False  # the device came back after silence: its gap is already recorded
        self.stop_event = threading.Event()
        self.deadline: float | None = None
        self.counts = {"live": 0, "synced": 0, "syncs": 0, "reconnects": 0, "deferred": 0,
                       "conflicts": 0}
        self.devices_seen = []  # device ids that answered this session, in order

    @property
    def syncing(self) -> bool:
        return self.policy.syncing

    @property
    def rejected(self) -> int:
        """Lines dropped this session for a bad checksum, a missing one (protocol v2) or an invalid field."""
        return self.state.link.corrupt

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def stop(self) -> None:
        self.stop_event.set()

    def should_stop(self) -> bool:
        return self.stop_event.is_set() or (self.deadline is not None and time.monotonic() >= self.deadline)

    def connect(self) -> None:
        """First connection: LinkError (one line, actionable) if the port or the firmware is not there."""
        self.attach(*open_client(self.port_spec, self.hello_timeout))

    def attach(self, client: Client, hello: wire.Hello) -> None:
        """Start from a client that already got its `hello` (see open_client).

        With `device`, a board with another id is a LinkError (the client is closed).
        """
        wrong = self._wrong_device(hello)
        if wrong:
            client.close()
            raise LinkError(f"{client.port}: {wrong}")
        self._connected(client, hello)

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
            link_id, self.link_id = self.link_id, None
            try:
                self.store.link_close(link_id, reason=reason)
            except FatalError:  # a full disk or read-only file: the error that stopped us says so already
                pass
        self.connected = False
        if self.hooks is not None:
            self.hooks.close()
            self.hooks = None

    # ---- one pass ----------------------------------------------------------------------------------------

    def step(self, timeout: float = 0.1) -> None:
        assert self.client is not None
        try:
            for inc in self.client.poll(timeout):
                self.last_rx = time.monotonic()
                self.prev_rx_wall, self.last_rx_wall = self.last_rx_wall, inc.wall
                self._handle(inc)
            self._check_silence()
            self._maybe_sync()  # a sync whose end was lost is asked again after its timeout
        except LinkLost as exc:
            self._lost(str(exc))
            return
        if self.link_id is not None and time.monotonic() - self.last_seen_store > LINK_SEEN_S:
            self.last_seen_store = time.monotonic()
            self.store.link_seen(self.link_id, device_id=self.device_id)

    def _connected(self, client: Client, hello: wire.Hello) -> None:
        wall = time.time()
        self.client = client
        self.connected = True
        self.last_rx = time.monotonic()
        self.last_rx_wall = wall
        self.state.connect(client.port, wall)
        self._hello(hello, wall, fresh_link=True)

    # ---- silence, loss and return ------------------------------------------------------------------------

    def _check_silence(self) -> None:
        assert self.client is not None
        now = time.monotonic()
        quiet = now - self.last_rx
        if quiet > self.probe_s and now - self.last_probe > self.probe_s:
            self.last_probe = now
            # a ping is answered at once; after a loss, hello also tells whether the device rebooted
            self.client.send("ping" if self.connected else "hello")
        if self.connected and quiet > self.dead_s:
            self._went_away(f"no reply from the device for {quiet:.0f} s")
            self.sink.notice(f"device silent on {self.client.port}: waiting for it to come back")

    def _went_away(self, reason: str) -> None:
        self.connected = False
        self.policy.link_down()
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
        self.policy.lines_lost()

    def _reconnect(self) -> None:
        link = wait_for_port(self.port_spec, self.should_stop, self.poll_s, on_error=self.sink.notice)
        if link is None:
            return
        client = Client(link)
        try:
            client.hello(self.hello_timeout)
        except LinkError as exc:
            client.close()
            self.sink.notice(f"{exc}; retrying")
            self._sleep(self.poll_s * 2)
            return
        hello = client.hello_info
        assert hello is not None
        wrong = self._wrong_device(hello)
        if wrong:
            client.close()
            if self._refused != hello.id:
                self._refused = hello.id
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

    def _hook_error(self, text: str) -> None:
        """A failing --on-event command: one line on stderr (the live screen shows it as its last error)."""
        self.state.last_error = text
        if isinstance(self.sink, LiveSink):
            self.sink.notice(text)
        else:
            print(f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {safe(text)}", file=sys.stderr, flush=True)
