"""Damaged device lines through the host's typed parse and the monitor: tracebacks (must be 0), lines refused
by reason, and damaged lines accepted with other values (must be 0 from a protocol v2 board).

Each line is a valid message of every type, then damaged: a byte replaced, inserted or deleted, the line cut,
or (JSON-aware, as a v1 board's garbled-but-valid line) a key renamed or dropped, a value's type or digits
changed. `--monitor N` also feeds N damaged lines, with intact ones between, to a real Monitor and store.

    python bench/wire_fuzz.py [--lines 100000] [--monitor 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "host"), str(ROOT)]

from spasmcore.crc16 import seal  # noqa: E402
from spasmwatch.link import wire  # noqa: E402

MESSAGES = [
    {"t": "hello", "proto": 2, "fw": "0.3.0", "id": "a4cf12b0c3d8", "name": "left leg", "boot": 7, "rate": 1000,
     "channels": ["ch0"], "mode": "raw", "scale": 16, "config": {"name": "left leg"}},
    {"t": "onset", "ch": 0, "eseq": 41, "onset_ms": 134490, "detected_ms": 134540},
    {"t": "end", "ch": 0, "eseq": 42, "kind": "tonic", "onset_ms": 134490, "offset_ms": 138990,
     "detected_ms": 139490, "duration_ms": 4500, "peak": 52000, "mean": 21000, "floor": 640},
    {"t": "fault", "ch": 1, "eseq": 43, "state": "start", "detail": "flat", "start_ms": 200000, "end_ms": -1},
    {"t": "fault", "ch": 1, "eseq": 44, "state": "end", "detail": "flat", "start_ms": 200000, "end_ms": 230000},
    {"t": "status", "uptime_ms": 600000, "samples": 600000, "overruns": 0, "dropped": 0, "heap_free": 81234,
     "queue": 0, "faults": 0, "state": "idle", "eseq": 44, "boot": 7, "lost": 0, "pops": 1},
    {"t": "env", "ch": 0, "n": 5000, "values": [640, 700, 9000], "floor": 640, "on": 2240, "off": 1280},
    {"t": "log", "ev": "end", "boot": 6, "ch": 0, "eseq": 40, "kind": "clonus", "onset_ms": 1000, "offset_ms": 9000,
     "detected_ms": 9500, "duration_ms": 8000, "peak": 40000, "mean": 20000, "floor": 600},
    {"t": "ok", "cmd": "sync", "data": {"count": 1, "last": 41}},
    {"t": "error", "cmd": None, "msg": "unknown command"},
]
ODD_VALUES = [None, True, "x", "134490", -1, 2**64, 1.5, [], {}, "", 13449]


def encode(msg: dict, seq: int, v2: bool) -> bytes:
    body = json.dumps({"t": msg["t"], "seq": seq, **{k: v for k, v in msg.items() if k != "t"}},
                      separators=(",", ":")).encode()
    return seal(body) if v2 else body


def damage(line: bytes, msg: dict, seq: int, v2: bool, rnd: random.Random) -> bytes:
    how = rnd.randrange(6)
    pos = rnd.randrange(len(line))
    if how == 0:
        return line[:pos] + bytes([rnd.randrange(256)]) + line[pos + 1:]
    if how == 1:
        return line[:pos] + bytes([rnd.randrange(256)]) + line[pos:]
    if how == 2:
        return line[:pos] + line[pos + 1:]
    if how == 3:
        return line[:pos]
    d = dict(msg)  # a garbled line that is still valid JSON; from a v2 board it keeps its old check
    key = rnd.choice([k for k in d if k != "t"])
    if how == 4:
        d[key + rnd.choice(["", "q"])] = d.pop(key) if rnd.random() < 0.5 else rnd.choice(ODD_VALUES)
    else:
        d.pop(key)
    body = encode(d, seq, False)
    return body + line[-6:] if v2 else body


def parse_run(n: int, rnd: random.Random) -> Counter[str]:
    out: Counter[str] = Counter()
    for i in range(n):
        msg, v2 = rnd.choice(MESSAGES), rnd.random() < 0.5
        line = encode(msg, i, v2)
        want = wire.read_line(line, proto=2 if v2 else 1)[1]
        bad = damage(line, msg, i, v2, rnd)
        try:
            got = wire.read_line(bad, proto=2 if v2 else 1)[1]
        except wire.WireError as exc:
            out[f"refused {exc.kind}"] += 1
            continue
        except Exception:  # noqa: BLE001 - what this bench counts
            out["TRACEBACK"] += 1
            if out["TRACEBACK"] == 1:
                traceback.print_exc()
            continue
        out["accepted unchanged" if got == want else f"accepted changed ({'v2' if v2 else 'v1'})"] += 1
    return out


class FuzzLink:
    port = "fuzz"

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines

    def read_lines(self, timeout: float = 0.05) -> list[bytes]:
        out, self.lines = self.lines[:50], self.lines[50:]
        return out

    def write(self, data: bytes) -> None:
        if data.startswith(b"hello"):
            self.lines.insert(0, encode(MESSAGES[0], 0, True))

    def close(self) -> None:
        pass


def monitor_run(n: int, rnd: random.Random) -> tuple[int, int, int]:
    from spasmwatch.link.client import Client
    from spasmwatch.monitor import Monitor
    from spasmwatch.store import Store

    lines = []
    for i in range(1, n + 1):
        msg = rnd.choice(MESSAGES[1:])
        line = encode(msg, 2 * i, True)
        lines += [damage(line, msg, 2 * i, True, rnd), encode(MESSAGES[5], 2 * i + 1, True)]
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "e.sqlite3") as store:
        client = Client(FuzzLink([]))  # type: ignore[arg-type]
        client.hello()
        client.link.lines = lines  # type: ignore[attr-defined]
        mon = Monitor(store, "fuzz", probe_s=1e9, dead_s=1e9)
        mon.attach(client, client.hello_info)  # type: ignore[arg-type]
        tracebacks = 0
        while client.link.lines:  # type: ignore[attr-defined]
            try:
                mon.step(0)
            except Exception:  # noqa: BLE001 - what this bench counts
                tracebacks += 1
                traceback.print_exc()
                break
        rows = len(store.events())
        mon.close()
    return tracebacks, mon.rejected, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--monitor", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    res = parse_run(args.lines, rnd)
    print(f"typed parse: {args.lines} damaged lines, {res['TRACEBACK']} tracebacks")
    for k, v in sorted(res.items()):
        print(f"  {k}: {v}")
    if args.monitor:
        tb, rejected, rows = monitor_run(args.monitor, rnd)
        print(f"monitor: {args.monitor} damaged lines among as many intact ones, {tb} tracebacks, {rejected} "
              f"refused and counted, {rows} rows stored")


if __name__ == "__main__":
    main()
