"""The monitor's loop: open, greet, poll, notice silence and loss, reconnect; each message goes to Dispatch."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime

from spasmcore.errors import LinkError
from spasmwatch.link import wire
from spasmwatch.link.client import Client
from spasmwatch.link.serial_link import Link, LinkLost, resolve_port, wait_for_port
from spasmwatch.monitor.dispatch import Dispatch
from spasmwatch.monitor.hooks import HookRunner
from spasmwatch.monitor.linksession import LinkSession
from spasmwatch.monitor.sinks import LiveSink, NullSink, Sink
from spasmwatch.monitor.syncpolicy import SyncPolicy
from spasmwatch.store import Store
from spasmwatch.terminal.ui import safe
from spasmwatch.terminal.view import MonitorState

PROBE_S = 2.0  # silence after which the monitor pings the device
DEAD_S = 6.0  # silence after which the device counts as gone (status comes every 10 s, ping replies at once)


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


class Monitor:
    """Connect to a board, keep the store complete, and feed a MonitorState and a Sink.

    The store ends with every event the device logged exactly once: live events are written as they come
    (onset opens a row, end/fault end closes it), and the sync policy (syncpolicy.py) asks the board for
    every record the store lacks: on every (re)connection, on a new boot, after lost lines (seq jump), for a
    hole below a stored record or below the board's last eseq (`status`), and again when a sync's end is lost.

    The monitor owns the loop and its timers (silence, reconnection); `link` is the connection and its record
    in the store, `dispatch` what each message does. `clock` is the monotonic clock of every timer.
    """

    def __init__(self, store: Store, port: str | None, *, sink: Sink | None = None,
                 on_event: str | None = None, stream_env: bool = False, probe_s: float = PROBE_S,
                 dead_s: float = DEAD_S, hello_timeout: float = 2.0, poll_s: float = 0.5,
                 device: str | None = None, state: MonitorState | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.port_spec = port
        self.sink = sink or NullSink()
        self.stream_env = stream_env
        self.probe_s, self.dead_s, self.hello_timeout, self.poll_s = probe_s, dead_s, hello_timeout, poll_s
        self.clock = clock
        self.link = LinkSession(store)
        hooks = HookRunner(on_event, on_error=self._hook_error) if on_event else None
        self.dispatch = Dispatch(store, self.link, self.sink, state or MonitorState(), hooks=hooks,
                                 want_device=device, stream_env=stream_env, clock=clock)
        self.last_rx = clock()
        self.last_probe = 0.0
        self.stop_event = threading.Event()
        self.deadline: float | None = None

    # what the rest of spasmwatch reads of a running monitor
    @property
    def state(self) -> MonitorState:
        return self.dispatch.state

    @property
    def client(self) -> Client | None:
        return self.link.client

    @property
    def device_id(self) -> str | None:
        return self.dispatch.device_id

    @property
    def boot_id(self) -> str | None:
        return self.dispatch.boot_id

    @property
    def policy(self) -> SyncPolicy:
        return self.dispatch.policy

    @property
    def counts(self) -> dict[str, int]:
        return self.dispatch.counts

    @property
    def devices_seen(self) -> list[str]:
        return self.dispatch.devices_seen

    @property
    def hooks(self) -> HookRunner | None:
        return self.dispatch.hooks

    @property
    def syncing(self) -> bool:
        return self.dispatch.policy.syncing

    @property
    def rejected(self) -> int:
        """Lines dropped this session for a bad checksum, a missing one (protocol v2) or an invalid field."""
        return self.state.link.corrupt

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def stop(self) -> None:
        self.stop_event.set()

    def should_stop(self) -> bool:
        return self.stop_event.is_set() or (self.deadline is not None and self.clock() >= self.deadline)

    def connect(self) -> None:
        """First connection: LinkError (one line, actionable) if the port or the firmware is not there."""
        self.attach(*open_client(self.port_spec, self.hello_timeout))

    def attach(self, client: Client, hello: wire.Hello) -> None:
        """Start from a client that already got its `hello` (see open_client).

        With `device`, a board with another id is a LinkError (the client is closed).
        """
        wrong = self.dispatch.wrong_device(hello)
        if wrong:
            client.close()
            raise LinkError(f"{client.port}: {wrong}")
        self._connected(client, hello)

    def run(self, seconds: float | None = None) -> None:
        """Monitor until stop(), `seconds` elapsed, or Ctrl-C (KeyboardInterrupt propagates after close)."""
        self.deadline = None if seconds is None else self.clock() + seconds
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
        self.link.close(reason, self.stream_env)
        if self.dispatch.hooks is not None:
            self.dispatch.hooks.close()
            self.dispatch.hooks = None

    # ---- one pass ----------------------------------------------------------------------------------------

    def step(self, timeout: float = 0.1) -> None:
        assert self.client is not None
        try:
            for inc in self.client.poll(timeout):
                self.last_rx = self.clock()
                self.link.heard(inc.wall)
                if inc.message is not None and not self.link.connected:
                    self._revive(inc.wall)
                self.dispatch.handle(inc)
            self._check_silence()
            self.dispatch.maybe_sync()  # a sync whose end was lost is asked again after its timeout
        except LinkLost as exc:
            self._lost(str(exc))
            return
        self.link.seen(self.device_id, self.clock())

    def _connected(self, client: Client, hello: wire.Hello) -> None:
        wall = time.time()
        self.link.opened(client, wall)
        self.last_rx = self.clock()
        self.state.connect(client.port, wall)
        self.dispatch.hello(hello, wall, fresh_link=True)

    # ---- silence, loss and return ------------------------------------------------------------------------

    def _check_silence(self) -> None:
        assert self.client is not None
        now = self.clock()
        quiet = now - self.last_rx
        if quiet > self.probe_s and now - self.last_probe > self.probe_s:
            self.last_probe = now
            # a ping is answered at once; after a loss, hello also tells whether the device rebooted
            self.client.send("ping" if self.link.connected else "hello")
        if self.link.connected and quiet > self.dead_s:
            self._went_away(f"no reply from the device for {quiet:.0f} s")
            self.sink.notice(f"device silent on {self.client.port}: waiting for it to come back")

    def _went_away(self, reason: str) -> None:
        self.link.went_away(reason)
        self.dispatch.policy.link_down()
        self.state.disconnect(reason, time.time())

    def _lost(self, reason: str) -> None:
        if self.link.connected:
            self._went_away(reason)
        self.link.drop()
        self.sink.notice(f"disconnected: {reason}; waiting for the board to come back")

    def _revive(self, wall: float) -> None:
        """A line from a device that had gone silent: it is back on the same open port."""
        assert self.client is not None
        self.link.came_back(wall, self.clock(), (self.device_id, self.boot_id))
        self.counts["reconnects"] += 1
        self.state.connect(self.client.port, wall)
        self.sink.notice(f"device answering again on {self.client.port}")
        self.link.send("hello")  # identity and boot: a restarted device needs a sync and its stream again
        self.dispatch.policy.lines_lost()

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
        wrong = self.dispatch.wrong_device(hello)
        if wrong:
            client.close()
            if self.dispatch.refused != hello.id:
                self.dispatch.refused = hello.id
                self.sink.notice(f"{client.port}: {wrong}; waiting for {self.dispatch.want_device}")
            self._sleep(self.poll_s * 2)
            return
        self.counts["reconnects"] += 1
        self.sink.notice(f"reconnected on {client.port}")
        self._connected(client, hello)

    def _sleep(self, seconds: float) -> None:
        end = self.clock() + seconds
        while not self.should_stop() and self.clock() < end:
            self.stop_event.wait(0.05)

    def _hook_error(self, text: str) -> None:
        """A failing --on-event command: one line on stderr (the live screen shows it as its last error)."""
        self.state.last_error = text
        if isinstance(self.sink, LiveSink):
            self.sink.notice(text)
        else:
            print(f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {safe(text)}", file=sys.stderr, flush=True)
