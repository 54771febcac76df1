"""Virtual board for the MicroPython unix port: same interface as firmware/board.py, fed from a recording file.

The CPython launcher (spasmsim.device) writes STATE_DIR/vboard.json and a file of channel-interleaved uint16
counts; this board plays it back in blocks, paced from ticks_us at real time x speed (speed 0 = as fast as
possible), and talks over stdin/stdout pipes that the launcher proxies to a pseudo-terminal.

Two clocks (vboard.json "clock"):
  wall  like the ESP32: when the firmware falls behind by more than a block (here: the host machine was
        busy), the samples that were due are skipped and counted as an overrun (`status` overruns/dropped).
  sim   the board's own simulated clock is the reference: a late block is played late instead of skipped,
        so no sample is ever dropped however slow the machine; device time (ticks_ms) still counts the
        samples played, only its pace against the wall clock slips. For tests that must not depend on
        machine speed.
"overrun_at": [N, M] (tests) drops M samples as one overrun once N samples were played, on either clock.
"""

import array
import gc
import json
import select
import sys
import time

STORAGE_DIR = "."  # set by vmain from the command line before the app starts
from codes import FAULT, IDLE, SPASM  # noqa: E402, F401 - led() states, defined once in firmware/codes.py
MAX_READ = 128
REBOOT_EXIT = 75  # exit code asking the launcher to start a new boot
MID = 2048  # what an unconnected channel reads (no recording channel behind a configured pin)


def safe_boot():
    return False


def _settings():
    with open(STORAGE_DIR + "/vboard.json") as f:
        return json.load(f)


def unique_id():
    return _settings().get("unique_id", "virtual")


class Board:
    """Recording playback with the ESP32 board's interface (read_block, poll_input, write, led, ...)."""

    safe_boot = staticmethod(safe_boot)

    def __init__(self, cfg):
        self.storage_dir = STORAGE_DIR
        vcfg = _settings()
        self.unique_id = vcfg.get("unique_id", "virtual")
        self.nrec = vcfg["channels"]  # channels in the data file
        self.loop = vcfg.get("loop", False)
        self._f = open(STORAGE_DIR + "/" + vcfg["data"], "rb")
        self.nch = len(cfg["channels"])
        self.rate = cfg["rate_hz"]
        speed_milli = int(vcfg.get("speed", 1.0) * 1000 + 0.5)
        self.pace = 0 < speed_milli < 10 ** 9
        self.sim_clock = vcfg.get("clock", "wall") == "sim"
        inject = vcfg.get("overrun_at") or (-1, 0)
        self._inject_at = int(inject[0])
        self._inject_n = int(inject[1])
        self.late = 0  # sim clock: blocks played late (the wall clock would have counted overruns)
        # wall time of n samples = n * _num // _den us (integers: floats would allocate on every block)
        self._num = 10 ** 9
        self._den = self.rate * max(speed_milli, 1)
        self._raw = array.array("H", bytearray(2 * self.nrec * 256))
        self._nraw = 256  # samples per file read
        self.next_us = time.ticks_us()
        self.clock_n = 0  # device time in samples, drives ticks_ms()
        self.samples = 0
        self.overruns = 0
        self.dropped = 0
        self.eof = False
        self.state = IDLE
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._byte = bytearray(1)
        self._out = sys.stdout.buffer

    def _pace(self, n):
        """Wait until n more samples are due; returns how many samples to skip after an overrun."""
        blk = n * self._num // self._den
        lag = time.ticks_diff(time.ticks_us(), self.next_us)
        skip = 0
        if lag > blk:  # fell behind by more than a block
            if self.sim_clock:  # play on from now, late: nothing is lost
                self.late += 1
            else:  # like the ESP32, count an overrun and drop the samples that were due
                skip = lag * self._den // self._num
                self.overruns += 1
                self.dropped += skip
            self.next_us = time.ticks_us()
        self.next_us = time.ticks_add(self.next_us, blk)
        wait = time.ticks_diff(self.next_us, time.ticks_us())
        if wait > 0:
            time.sleep_us(wait)
        return skip

    def _read(self, n):
        """Read up to n samples (all channels) into self._raw; returns how many, looping at end of file."""
        want = n * self.nrec * 2
        got = self._f.readinto(self._raw, want)
        if got < want and self.loop:
            self._f.seek(0)
            got += self._f.readinto(memoryview(self._raw)[got // 2:], want - got)  # once per pass: may allocate
        return got // (2 * self.nrec)

    def read_block(self, bufs, n):
        """Fill bufs[c][0:n]; returns the number of samples filled (0 once a recording without --loop ended)."""
        if n > self._nraw:
            raise ValueError("block larger than %d samples" % self._nraw)
        if self.eof:
            time.sleep_ms(20)  # nothing left to play: idle but keep serving commands
            self.clock_n += n
            return 0
        skip = self._pace(n) if self.pace else 0
        if 0 <= self._inject_at <= self.samples:  # test hook: one overrun of a known size, at a known sample
            self._inject_at = -1
            self.overruns += 1
            self.dropped += self._inject_n
            skip += self._inject_n
        if skip:
            self._f.seek(skip * self.nrec * 2, 1)
            self.clock_n += skip
        got = self._read(n)
        raw = self._raw
        nrec = self.nrec
        for c in range(self.nch):
            b = bufs[c]
            if c < nrec:
                j = c
                for i in range(got):
                    b[i] = raw[j]
                    j += nrec
            else:
                for i in range(got):
                    b[i] = MID
        if got < n:
            self.eof = True
        self.samples += got
        self.clock_n += got
        return got

    def ticks_ms(self):
        # Device time follows the samples played, so heartbeats and timeouts scale with --speed.
        return self.clock_n * 1000 // self.rate

    def poll_input(self):
        got = None
        for _ in self._poll.ipoll(0):  # ipoll: no list allocated when nothing is waiting (every block)
            got = b""
            while len(got) < MAX_READ:
                if sys.stdin.buffer.readinto(self._byte) != 1:
                    raise SystemExit(0)  # the launcher closed our stdin: power off
                if self._byte[0] != 3:  # Ctrl-C stops a real board into the REPL; there is no REPL here
                    got += self._byte
                if not self._poll.poll(0):
                    break
        return got

    def write(self, data):
        self._out.write(data)

    def led(self, state):
        self.state = state

    def feed_watchdog(self):
        pass

    def reset(self):
        raise SystemExit(REBOOT_EXIT)

    def mem_free(self):
        return gc.mem_free()
