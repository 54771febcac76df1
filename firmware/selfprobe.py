"""The self-test's probes of the ADC pins and the flash log, loaded by selftest.py for a phase and dropped after.

Its own module so its code is on the heap only while it runs, never while the app's timing is measured.
"""

import os
import time

try:  # CPython (tests) imports the firmware as the spasmfw package; the board imports it flat
    from . import compat
except ImportError:
    import compat

LOG_RECORDS = 16  # flash check: records written, read back, then a torn one added and recovered
LOG_DIR = "selftest.log"
ADC_MS = 1000  # ADC sanity: one second of samples per pin, read as the app reads them


def _eventlog():
    return compat.mod("eventlog")


def adc_figures(bufs, nch, n, acc):
    """Add n samples of each channel to acc[c] = [count, sum, sum of squares, min, max]."""
    for c in range(nch):
        a = acc[c]
        buf = bufs[c]
        for i in range(n):
            v = buf[i]
            a[0] += 1
            a[1] += v
            a[2] += v * v
            if v < a[3]:
                a[3] = v
            if v > a[4]:
                a[4] = v


def adc_check(app):
    """Per pin: mean, standard deviation, min and max over ADC_MS of samples at the configured rate."""
    acc = [[0, 0, 0, 1 << 20, -1] for _ in range(app.nch)]
    b = app.b
    want = app.rate * ADC_MS // 1000
    b.next_us = time.ticks_us()
    while acc[0][0] < want:
        n = b.read_block(app.bufs, min(app.block, want - acc[0][0]))
        adc_figures(app.bufs, app.nch, n, acc)
    out = []
    for c, (k, s, q, lo, hi) in enumerate(acc):
        var = max(0, q * k - s * s) / (k * k)
        out.append({"ch": c, "pin": app.cfg["channels"][c]["pin"], "n": k, "mean": s // k,
                    "sd": int(var ** 0.5 * 10) / 10, "min": lo, "max": hi})
    return out


def _rm_tree(path):
    try:
        for name in os.listdir(path):
            os.remove(path + "/" + name)
        os.rmdir(path)
    except OSError:
        pass


def _peaks(log):
    # (records read back, whether their peaks run 1000, 1001, ... in order, the last peak)
    n = last = 0
    ok = True
    for r in log.since(0):  # one record at a time, as `sync` reads them: no list of them all
        ok = ok and r["peak"] == 1000 + n
        last = r["peak"]
        n += 1
    return n, ok, last


def log_check(storage):
    """Write LOG_RECORDS records, read them back, tear a record as a power cut does, reopen: what came back."""
    eventlog = _eventlog()
    path = (storage if storage.endswith("/") else storage + "/") + LOG_DIR
    _rm_tree(path)
    out = {"written": 0, "read": 0, "same": False, "torn_dropped": False, "append_after": False,
           "write_us_max": 0, "write_us_mean": 0}  # type: dict
    try:
        log = eventlog.EventLog(path, max_bytes=64 * eventlog.REC)
        worst = total = 0
        for i in range(LOG_RECORDS):
            t = time.ticks_us()
            log.append((1, i & 3, 1, i * 1000, i * 1000 + 500, i * 1000 + 200, 1000 + i, 500 + i, 50))
            us = time.ticks_diff(time.ticks_us(), t)
            worst = max(worst, us)
            total += us
        out["written"] = LOG_RECORDS
        out["write_us_max"] = worst
        out["write_us_mean"] = total // LOG_RECORDS
        n, same, _ = _peaks(log)
        out["read"] = n
        out["same"] = same and n == LOG_RECORDS
        with open(log._name(log._nums[-1]), "ab") as f:  # a record cut off halfway, as by a power cut
            f.write(bytes(log._buf)[:eventlog.REC // 2])
        log = eventlog.EventLog(path, max_bytes=64 * eventlog.REC)
        out["torn_dropped"] = log.last_seq == LOG_RECORDS and log.bad == 1
        seq = log.append((1, 0, 1, 0, 0, 0, 7, 0, 0))
        n, same, last = _peaks(log)
        out["append_after"] = seq == LOG_RECORDS + 1 and n == LOG_RECORDS + 1 and last == 7
    except Exception as e:  # the flash (or the heap) failed: that is the finding
        out["error"] = repr(e)
    _rm_tree(path)
    return out
