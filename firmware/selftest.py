"""On-board measurements for `spasmwatch selftest`: ADC per pin, time per block, heap, flash log, Wi-Fi join.

The host (spasmwatch/board/selftest_run.py) sends, through the raw REPL after a soft reset (the app not running):
the firmware booted as main.py boots it (start.boot), the heap left printed (`SELFTEST H <bytes>`), and only
then this module imported, so its own code never takes the room the firmware boots in:

    selftest.main(app, heap_boot, SECONDS)

It prints `SELFTEST P <phase> <done> <total>` progress lines and one `SELFTEST R <json>` result line. It
only measures; the host (spasmwatch/board/selftest_checks.py) judges the figures. The app's own output (status
lines) passes through as on a running board.
"""

import gc
import json
import sys
import time
from array import array

try:  # CPython (tests) imports the firmware as the spasmfw package; the board imports it flat
    from . import compat
except ImportError:
    import compat

MARK = "SELFTEST "
BUCKET_US = 200  # histogram of the work per block in 200 us steps, up to 25.6 ms (the last bucket: longer)
BUCKETS = 128
WIFI_WAIT_MS = 30000  # after the run, a Wi-Fi join still going gets this long to finish


def say(phase, done, total):
    print(MARK + "P %s %d %d" % (phase, done, total))


class Stats:
    """Work per block in microseconds: a preallocated histogram, sum, count and max (no allocation per add)."""

    def __init__(self):
        self.hist = array("H", bytes(2 * BUCKETS))
        self.reset()

    def reset(self):
        for i in range(BUCKETS):
            self.hist[i] = 0
        self.count = 0
        self.total = 0
        self.max = 0
        self.on = False  # timing the app's blocks (run_app)
        self.t_end = -1  # ticks_us when the last block was read; -1: none yet

    def add(self, us):
        i = us // BUCKET_US
        i = i if i < BUCKETS else BUCKETS - 1
        if self.hist[i] < 0xFFFF:  # saturates, never wraps (the host caps a run at 10 min)
            self.hist[i] += 1
        self.count += 1
        self.total += us
        if us > self.max:
            self.max = us

    def percentile(self, pct):
        """Upper edge of the bucket holding the pct-th percentile, in us (the max when it is in the last one)."""
        if not self.count:
            return 0
        need = (self.count * pct + 99) // 100
        seen = 0
        for i in range(BUCKETS):
            seen += self.hist[i]
            if seen >= need:
                return self.max if i == BUCKETS - 1 else min(self.max, (i + 1) * BUCKET_US)
        return self.max


def time_blocks(board, stats):
    """Make board.read_block time the app's work between two blocks (an instance attribute, as net.Net tees)."""
    read = board.read_block

    def read_block(bufs, n):
        st = stats
        if st.on and st.t_end >= 0:
            st.add(time.ticks_diff(time.ticks_us(), st.t_end))
        got = read(bufs, n)
        if st.on:
            st.t_end = time.ticks_us()
        return got

    board.read_block = read_block


def run_app(app, stats, seconds):
    """Step the app for `seconds`, timing its work per block; returns (samples, overruns, dropped, errors)."""
    b = app.b
    total = seconds * 1000
    errors = app.errors
    b.overruns = b.dropped = 0
    samples = app.samples
    b.next_us = time.ticks_us()
    t0 = time.ticks_ms()
    shown = 0
    stats.reset()
    stats.on = True  # the first block read starts the timing
    while True:
        done = time.ticks_diff(time.ticks_ms(), t0)
        if done >= total:
            break
        if done - shown >= 1000:
            shown = done
            t = time.ticks_us()
            say("run", done, total)
            if stats.t_end >= 0:  # the progress line is the test's own cost, not the app's: not timed
                stats.t_end = time.ticks_add(stats.t_end, time.ticks_diff(time.ticks_us(), t))
        try:
            app.step()
        except Exception as e:  # as App.run: reported, sampling goes on
            app.error(None, "loop: %r" % (e,))
    stats.on = False
    return app.samples - samples, b.overruns, b.dropped, app.errors - errors


def wifi_check(app):
    """None without Wi-Fi; else whether the link is up and its state, once joined, after two failed attempts
    (one may fail while the radio starts), or after WIFI_WAIT_MS more of running."""
    if app.net is None:
        return None
    w = app.net.wifi
    t0 = time.ticks_ms()
    while not w.up and w.fails < 2 and time.ticks_diff(time.ticks_ms(), t0) < WIFI_WAIT_MS:
        app.step()
    return {"up": w.up, "state": w.state, "ssid": w.ssid, "rssi": w.rssi if w.up else None,
            "attempts": w.attempts, "waited_ms": time.ticks_diff(time.ticks_ms(), t0)}


def _probe(name, *args):
    # One selfprobe.py function, the module loaded for it and dropped again (a frame of its own: no stale
    # reference keeps its code on the heap).
    mod = compat.mod("selfprobe")
    fn = getattr(mod, name)
    compat.unload("selfprobe")
    mod = None
    return fn(*args)


def main(app, heap_boot, seconds=60):
    """Measure the booted app and print the result line (see the module docstring)."""
    stats = Stats()
    gc.collect()
    mem_free = getattr(gc, "mem_free", lambda: 0)
    res = {"seconds": seconds, "impl": sys.implementation.name, "platform": sys.platform,
           "mpy": getattr(sys.implementation, "_mpy", 0), "heap_boot": heap_boot,
           "own_bytes": heap_boot - mem_free()}
    block = min(app.block, app.env_step()) if app.stream_env else app.block  # as App.step reads them
    res["config"] = {"pins": [c["pin"] for c in app.cfg["channels"]], "rate_hz": app.rate,
                     "mode": app.cfg["mode"], "block": block, "wifi": app.net is not None}
    res["block_us"] = block * 1000000 // app.rate
    time_blocks(app.b, stats)
    say("adc", 0, 1)
    res["adc"] = _probe("adc_check", app)
    gc.collect()
    samples, overruns, dropped, errors = run_app(app, stats, seconds)
    res["run"] = {"blocks": stats.count, "samples": samples, "overruns": overruns, "dropped": dropped,
                  "errors": errors, "mean_us": stats.total // max(1, stats.count),
                  "p99_us": stats.percentile(99), "max_us": stats.max}
    app._running()  # the app ran: not a failed boot for start.py's count (a short run has too few passes)
    res["wifi"] = wifi_check(app)
    gc.collect()
    res["heap_run"] = mem_free()
    say("log", 0, 1)
    res["log"] = _probe("log_check", app.b.storage_dir)
    print(MARK + "R " + json.dumps(res))
