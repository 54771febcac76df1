"""The monitor's parts: the loop's timers run on an injected clock, the link session records what it saw, and the
view is the caller's own (the dashboard's)."""

from __future__ import annotations

import json
from pathlib import Path

from spasmcore.crc16 import seal
from spasmwatch.link.client import Client
from spasmwatch.monitor import Monitor
from spasmwatch.store import Store
from spasmwatch.terminal.view import MonitorState


class Board:
    """A protocol-v2 board in memory: answers hello and sync, keeps every command the host wrote."""

    port = "mem"

    def __init__(self) -> None:
        self.seq, self.out, self.got = 0, [], []

    def send(self, **msg: object) -> None:
        self.seq += 1
        self.out.append(seal(json.dumps({"t": msg.pop("t"), "seq": self.seq, **msg}, separators=(",", ":")).encode()))

    def read_lines(self, timeout: float = 0.05) -> list[bytes]:
        out, self.out = self.out, []
        return out

    def write(self, data: bytes) -> None:
        self.got.append(data.split()[0].decode())
        if data.startswith(b"hello"):
            self.send(t="hello", proto=2, fw="0.1.0", id="mem1", name="b", boot=1, rate=1000, channels=["ch0"],
                      mode="raw", scale=16, config={})
        elif data.startswith(b"sync"):
            self.send(t="ok", cmd="sync", data={"count": 0, "last": 0})

    def close(self) -> None:
        pass


def test_silence_and_return_follow_the_injected_clock(tmp_path: Path) -> None:
    now = [100.0]
    view = MonitorState()
    board = Board()
    with Store(tmp_path / "e.sqlite3") as store:
        client = Client(board)  # type: ignore[arg-type]
        client.hello()
        mon = Monitor(store, "mem", clock=lambda: now[0], state=view)
        mon.attach(client, client.hello_info)  # type: ignore[arg-type]
        mon.step(0)
        assert mon.state is view and view.connected and mon.device_id == "mem1"
        now[0] += 1.5
        mon.step(0)
        assert "ping" not in board.got  # quiet for less than probe_s
        now[0] += 1.0
        mon.step(0)
        assert board.got.count("ping") == 1  # quiet for 2.5 s > probe_s: asked once
        now[0] += 4.0
        mon.step(0)  # 6.5 s > dead_s: gone, its link session ends
        assert not view.connected and mon.client is not None
        (link,) = store.links()
        assert link.disconnected_at is not None and link.reason == "no reply from the device for 6 s"
        board.send(t="status", uptime_ms=9000, boot=1)
        mon.step(0)  # it speaks again: a new session, the silence stored as a gap
        assert view.connected and mon.counts["reconnects"] == 1
        assert [g.kind for g in store.gaps()] == ["disconnect"] and len(store.links()) == 2
        mon.close()
        assert all(s.disconnected_at is not None for s in store.links())  # closing ends the second one
