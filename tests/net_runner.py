"""Test harness of the network firmware: the real app, vboard and net modules under the MicroPython unix port.

`NetDevice` boots the compiled firmware (100 kB heap, as `spasmwatch device` does) on a recording with the
virtual Wi-Fi (firmware/unix/rom_network.py) and a `net` config. Until the wifi hooks are in the app
(docs/wireless.md), the boot script does what they will do: netconfig.start() tees the board's writer and
net.poll(app) runs after each app.step(). Once `net` is a config key, it just runs start.main(vboard) as
vmain does. Serial output goes to STATE/serial.out; serial input is the process's stdin.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

from spasmcore import protohost
from spasmcore.firmware import FIRMWARE_DIR, UNIX_DIR
from spasmfw import protocol
from spasmsim.device import precompile, prepare_state

BOOT = r"""
import sys
state, mpy, fw, unix = sys.argv[1:5]
sys.path[0:0] = [mpy, fw, unix]
import rom_network
sys.modules["network"] = rom_network
import json
import vboard
vboard.STORAGE_DIR = state
import app
import config
if "net" in config.DEFAULTS:  # the hooks are in: the firmware does it all itself
    __import__("start").main(vboard)
import netconfig
with open(state + "/net.json") as f:
    netcfg = netconfig.validate(json.load(f))
cfg, err = config.load(state + "/config.json", vboard.unique_id())
board = vboard.Board(cfg)
ncfg = dict(cfg)
ncfg["net"] = netcfg
net, nerr = netconfig.start(ncfg, board)
a = app.App(board, cfg, err or nerr)
a.hello()
while True:
    try:
        a.step()
        if net is not None:
            net.poll(a)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:
        a.error(None, "loop: %r" % (e,))
"""


# `spasmwatch device --tcp/--mqtt` runs with 160 kB: the network modules (~30 kB, bench/net_heap.py) do not
# fit beside the app in the 100 kB of the 64-bit unix port (docs/wireless.md)
HEAP = os.environ.get("SPASMWATCH_NET_HEAP", "160k")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hooks_landed() -> bool:
    """True once config.DEFAULTS has the `net` key (the app then runs the network side itself)."""
    from spasmfw import config

    return "net" in config.DEFAULTS


class NetDevice:
    """The firmware with a network config on a recording; start() boots, kill() is a power cut."""

    def __init__(self, recording: Path, state: Path, net: dict, micropython: str, *, speed: float = 0.0,
                 loop: bool = False, clock: str = "sim", heap: str = HEAP, status_s: int | None = None) -> None:
        self.state = state
        self.micropython = micropython
        self.heap = heap
        prepare_state(recording, state, speed=speed, loop=loop, clock=clock)
        cpath = state / "config.json"
        cfg = json.loads(cpath.read_text())
        if status_s is not None:
            cfg["status_s"] = status_s
        if hooks_landed():
            cfg["net"] = net
        cpath.write_text(json.dumps(cfg))
        (state / "net.json").write_text(json.dumps(net))
        precompile(state / "mpy")
        (state / "netboot.py").write_text(BOOT)
        self.proc: subprocess.Popen[bytes] | None = None
        self.out = state / "serial.out"

    def start(self) -> NetDevice:
        with open(self.out, "ab") as out, open(self.state / "stderr.log", "ab") as err:
            self.proc = subprocess.Popen(
                [self.micropython, "-X", f"heapsize={self.heap}", str(self.state / "netboot.py"), str(self.state),
                 str(self.state / "mpy"), str(FIRMWARE_DIR), str(UNIX_DIR)],
                stdin=subprocess.PIPE, stdout=out, stderr=err, cwd=self.state)
        return self

    def wait_listening(self, port: int, timeout: float = 30.0) -> None:
        """Until the board's TCP server accepts a connection (it closes the probe: a new client wins)."""
        end = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                assert self.proc is not None and self.proc.poll() is None, self.stderr()
                assert time.monotonic() < end, f"nothing listens on {port}: {self.stderr()}"
                time.sleep(0.05)

    def serial_write(self, data: bytes) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def serial_lines(self) -> list[dict]:
        out = []
        for line in self.out.read_bytes().splitlines():
            try:
                out.append(protohost.decode(line))
            except protocol.ProtocolError:
                pass
        return out

    def stderr(self) -> str:
        try:
            return (self.state / "stderr.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.stdin:
            try:
                self.proc.stdin.close()  # vboard powers off at its next input poll
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def __enter__(self) -> NetDevice:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TcpClient:
    """A protocol client on the device's TCP port: send lines, collect decoded messages."""

    def __init__(self, port: int, timeout: float = 15.0, source: str | None = None) -> None:
        end = time.monotonic() + timeout
        while True:
            try:  # source: another loopback address (127.0.0.2) to be a second machine on the network
                self.s = socket.create_connection(("127.0.0.1", port), timeout=1,
                                                  source_address=(source, 0) if source else None)
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)
        self.s.settimeout(0.05)
        self.buf = b""
        self.seen: list[dict] = []
        self.raw: list[bytes] = []
        self.cursor = 0
        self.closed = False

    def send(self, line: bytes) -> None:
        self.s.sendall(line)

    def poll(self) -> None:
        try:
            data = self.s.recv(65536)
        except TimeoutError:
            return
        except OSError:
            data = b""
        if not data:
            self.closed = True
            time.sleep(0.05)
            return
        *lines, self.buf = (self.buf + data).split(b"\n")
        for line in lines:
            self.raw.append(line)
            self.seen.append(protohost.decode(line))

    def wait(self, pred, timeout: float = 15.0) -> dict:  # type: ignore[no-untyped-def]
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            while self.cursor < len(self.seen):
                m = self.seen[self.cursor]
                self.cursor += 1
                if pred(m):
                    return m
            if self.closed:
                break
            self.poll()
        raise AssertionError(f"no matching message in {timeout} s (closed={self.closed}); "
                             f"last: {self.seen[-5:]}")

    def ask(self, line: bytes, kinds: tuple[str, ...] = ("ok", "error"), timeout: float = 15.0) -> dict:
        self.poll()
        self.cursor = len(self.seen)
        self.send(line)
        return self.wait(lambda m: m["t"] in kinds, timeout)

    def quiet(self, seconds: float) -> list[dict]:
        """Everything that arrives within `seconds`."""
        start = len(self.seen)
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.closed:
            self.poll()
        return self.seen[start:]

    def close(self) -> None:
        self.s.close()
