"""Protocol client over a Link: send commands, decode device lines, wait for replies (docs/protocol.md)."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from spasmcore.errors import ConfigError, LinkError
from spasmfw import protocol
from spasmwatch.link import network as transport
from spasmwatch.link import wire
from spasmwatch.link.clocks import Clocks
from spasmwatch.link.serial_link import Link, no_hello_error

JUNK_KEPT = 20  # undecodable lines remembered for error messages


class DeviceError(LinkError):
    """The device answered a command with an `error` line."""


@dataclass
class Incoming:
    """One line from the device: its typed message (and the JSON dict, for the config and record commands),
    or None for both with the reason it was refused."""

    msg: dict | None
    raw: bytes
    wall: float
    error: str | None = None
    message: wire.Message | None = None
    kind: str = ""  # why it was refused: WireError.kind (checksum, unchecked, invalid, junk)


def reply_matcher(name: str) -> Callable[[dict], bool]:
    """The message that answers command `name`: hello/status by type, every other command by ok/error cmd."""
    if name in ("hello", "status"):
        return lambda m: m.get("t") == name or (m.get("t") == "error" and m.get("cmd") == name)
    return lambda m: m.get("t") in ("ok", "error") and m.get("cmd") == name


class Client:
    """Commands and replies; messages arriving while waiting for a reply are kept in `pending` for poll()."""

    def __init__(self, link: Link, clock: Callable[[], float] = time.time) -> None:
        self.link = link
        self.clock = clock
        self.pending: deque[Incoming] = deque()
        self.junk: deque[bytes] = deque(maxlen=JUNK_KEPT)
        self.hello_msg: dict | None = None
        self.hello_info: wire.Hello | None = None  # the same hello, typed
        self.proto = 1  # of the last hello read: from 2 on, lines and commands carry a checksum
        self.scale = 16.0  # envelope scale of the last hello: wire.parse turns levels into ADC counts
        self.rejected: Counter[str] = Counter()  # refused lines by WireError.kind (checksum, invalid, ...)
        self.clocks = Clocks()  # device time goes forward within a boot

    @property
    def port(self) -> str:
        return self.link.port

    def close(self) -> None:
        self.link.close()

    # ---- sending ----

    def send(self, name: str, *args: object) -> None:
        try:
            line = wire.command_line(name, *args, proto=self.proto)
        except protocol.ProtocolError as exc:
            raise ConfigError(str(exc)) from None
        self.link.write(line)

    # ---- receiving ----

    def read(self, timeout: float = 0.05) -> list[Incoming]:
        """Lines that arrive within `timeout`, each checked and parsed once (wire.read_line); a refused line
        is counted in `rejected` and comes with its reason only. LinkLost if the port is gone."""
        out = []
        for raw in self.link.read_lines(timeout):
            wall = self.clock()
            try:
                d, message = wire.read_line(raw, self.scale, self.proto)
                self.clocks.check(message)
            except wire.WireError as exc:
                self.rejected[exc.kind] += 1
                self.junk.append(raw)  # boot banner, traceback, REPL prompt, or a garbled line
                out.append(Incoming(None, raw, wall, str(exc), None, exc.kind))
                continue
            if isinstance(message, wire.Hello):  # what the following lines are parsed and checked with
                self.proto, self.scale = message.proto, float(message.scale)
            out.append(Incoming(d, raw, wall, None, message))
        return out

    def poll(self, timeout: float = 0.05) -> list[Incoming]:
        """Messages kept while waiting for replies first, then whatever arrives within `timeout`."""
        if self.pending:
            out = list(self.pending)
            self.pending.clear()
            return out + self.read(0)
        return self.read(timeout)

    def wait_for(self, pred: Callable[[dict], bool], timeout: float, keep: bool = True,
                 on_other: Callable[[Incoming], None] | None = None) -> dict | None:
        """The first newly read message matching `pred` within `timeout`, else None. Others are kept in
        `pending` (keep) and/or given to `on_other`."""
        inc = self.wait_incoming(lambda i: i.msg is not None and pred(i.msg), timeout, keep, on_other)
        return None if inc is None else inc.msg

    def wait_incoming(self, pred: Callable[[Incoming], bool], timeout: float, keep: bool = True,
                      on_other: Callable[[Incoming], None] | None = None) -> Incoming | None:
        """As wait_for, with the whole Incoming (its typed message too)."""
        end = time.monotonic() + timeout
        found: Incoming | None = None
        while found is None:
            left = end - time.monotonic()
            if left <= 0:
                return None
            for inc in self.read(min(left, 0.1)):
                if found is None and pred(inc):
                    found = inc  # later lines of the same read are still kept below
                    continue
                if on_other is not None:
                    on_other(inc)
                if keep:
                    self.pending.append(inc)
        return found

    def request(self, name: str, *args: object, timeout: float = 5.0, keep: bool = True,
                on_other: Callable[[Incoming], None] | None = None) -> dict:
        """Send a command and return its reply; DeviceError for an `error` reply, LinkError on timeout."""
        self.send(name, *args)
        msg = self.wait_for(reply_matcher(name), timeout, keep, on_other)
        if msg is None:
            raise LinkError(f"{self.port}: no reply to `{name}` within {timeout:g} s")
        if msg.get("t") == "error":
            raise DeviceError(f"the device refused `{name}`: {msg.get('msg')}")
        return msg

    # ---- commands ----

    def hello(self, timeout: float = 2.0, tries: int = 2, keep: bool = True) -> dict:
        """Ask for `hello` (the boot hello is flushed when the port opens); LinkError saying why if none.
        The typed hello is `hello_info` afterwards."""
        for _ in range(tries):
            self.send("hello")
            inc = self.wait_incoming(lambda i: isinstance(i.message, (wire.Hello, wire.Error)), timeout, keep)
            if inc is not None and isinstance(inc.message, wire.Error):
                if transport.wants_token(inc.message.msg):  # a network board that takes no command untokened
                    raise transport.token_needed(self.port, inc.message.msg)
                if inc.message.cmd == "hello":
                    raise DeviceError(f"the device refused `hello`: {inc.message.msg}")
                if keep:
                    self.pending.append(inc)  # an error about an earlier command: the caller's to see
                continue
            if inc is not None and isinstance(inc.message, wire.Hello):
                self.hello_msg, self.hello_info = inc.msg, inc.message
                return inc.msg or {}
        raise no_hello_error(self.port, list(self.junk))

    def status(self, timeout: float = 5.0) -> dict:
        return self.request("status", timeout=timeout)

    def config_get(self, timeout: float = 5.0) -> dict:
        data = self.request("config get", timeout=timeout, keep=False).get("data")
        if not isinstance(data, dict):
            raise LinkError(f"{self.port}: `config get` reply has no config")
        return data

    def config_set(self, pairs: list[tuple[str, object]], timeout: float = 5.0) -> dict:
        """Apply KEY=VALUE pairs; returns {"saved": bool, "reboot": bool}. DeviceError names a bad value."""
        msg = self.request("config set", *pairs, timeout=timeout, keep=False)
        data = msg.get("data")
        return data if isinstance(data, dict) else {}

    def stream(self, kind: str, on: bool, timeout: float = 5.0, keep: bool = True) -> dict:
        return self.request(f"stream {kind}", on, timeout=timeout, keep=keep)

    def calibrate(self, kind: str, seconds: float, timeout: float | None = None,
                  tick: Callable[[float], None] | None = None, speed: float = 1.0) -> dict:
        """Run `calibrate rest|mvc SECONDS`; tick(fraction) while it runs; returns the `done` data."""
        name = f"calibrate {kind}"
        started = self.request(name, seconds, keep=False)
        if (started.get("data") or {}).get("state") == "done":
            return started["data"]
        limit = timeout if timeout is not None else seconds / speed * 2 + 10
        t0 = time.monotonic()
        while True:
            elapsed = time.monotonic() - t0
            if elapsed > limit:
                raise LinkError(f"{self.port}: calibration did not finish within {limit:.0f} s")
            if tick is not None:
                tick(min(0.99, elapsed * speed / seconds))
            msg = self.wait_for(reply_matcher(name), 0.2, keep=False)
            if msg is None:
                continue
            if msg.get("t") == "error":
                raise DeviceError(f"calibration failed: {msg.get('msg')}")
            data = msg.get("data") or {}
            if data.get("state") == "done":
                if tick is not None:
                    tick(1.0)
                return data

    def sync(self, since: int, timeout: float = 30.0) -> tuple[list[dict], dict]:
        """`sync SINCE`, blocking: the replayed `log` messages and the closing ok data {count, last}."""
        logs: list[dict] = []

        def collect(inc: Incoming) -> None:
            if inc.msg is not None and inc.msg.get("t") == "log":
                logs.append(inc.msg)

        self.send("sync", since)
        done = reply_matcher("sync")
        while True:  # a long log arrives 4 records per device loop: wait as long as records keep coming
            before = len(logs)
            msg = self.wait_for(done, timeout, keep=False, on_other=collect)
            if msg is not None:
                break
            if len(logs) == before:
                raise LinkError(f"{self.port}: `sync` stalled (no reply within {timeout:g} s)")
        if msg.get("t") == "error":
            raise DeviceError(f"the device refused `sync`: {msg.get('msg')}")
        return logs, msg.get("data") or {}
