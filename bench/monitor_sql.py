"""SQL statements and commits the monitor spends on one live onset and one live end (issue 9: was ~6 in 2).

Runs the real Monitor (dispatch, store, sync policy) on a scripted protocol-v2 board behind an in-memory link
and traces every statement SQLite executes while each message is handled.

    python bench/monitor_sql.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "host"), str(ROOT)]

from spasmcore.crc16 import seal  # noqa: E402
from spasmwatch.link.client import Client  # noqa: E402
from spasmwatch.monitor import Monitor  # noqa: E402
from spasmwatch.store import Store  # noqa: E402


class Board:
    """Answers hello and sync; queues lines for the host."""

    def __init__(self) -> None:
        self.seq, self.out = 0, []

    def send(self, **msg: object) -> None:
        self.seq += 1
        self.out.append(seal(json.dumps({"t": msg.pop("t"), "seq": self.seq, **msg}, separators=(",", ":")).encode()))

    def read_lines(self, timeout: float = 0.05) -> list[bytes]:
        out, self.out = self.out, []
        return out

    def write(self, data: bytes) -> None:
        if data.startswith(b"hello"):
            self.send(t="hello", proto=2, fw="0.1.0", id="bench", name="b", boot=1, rate=1000, channels=["ch0"],
                      mode="raw", scale=16, config={})
        elif data.startswith(b"sync"):
            self.send(t="ok", cmd="sync", data={"count": 0, "last": 0})

    port = "bench"

    def close(self) -> None:
        pass


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "e.sqlite3") as store:
        board = Board()
        client = Client(board)  # type: ignore[arg-type]
        client.hello()
        mon = Monitor(store, "bench")
        mon.attach(client, client.hello_info)  # type: ignore[arg-type]
        mon.step()
        trace: list[str] = []
        store.db.set_trace_callback(trace.append)
        for name, msg in (("onset", dict(t="onset", ch=0, eseq=1, onset_ms=1000, detected_ms=1100)),
                          ("end", dict(t="end", ch=0, eseq=2, kind="tonic", onset_ms=1000, offset_ms=3000,
                                       detected_ms=3400, duration_ms=2000, peak=3200, mean=1600, floor=160))):
            trace.clear()
            board.send(**msg)
            t0 = time.perf_counter()
            mon.step(0)
            dt = time.perf_counter() - t0
            work = [s for s in trace if s.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK")]
            commits = sum(1 for s in trace if s.upper().startswith("COMMIT"))
            print(f"live {name}: {len(work)} SQL statements in {commits} commit(s), {dt * 1000:.2f} ms handled")
            for s in work:
                print("   ", " ".join(s.split())[:100])
        mon.close()


if __name__ == "__main__":
    main()
