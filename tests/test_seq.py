"""Sequence numbers and boot ids never repeat: torn records, lost or garbage counters, the 32-bit wrap.

The scenarios run the firmware's eventlog.py under the MicroPython unix port and CPython (the same results),
and the app's boot on CPython with a fake board.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mpy_runner import run_json

from spasmfw import app as fwapp
from spasmfw import eventlog

SCENARIO = r"""
import json, os
import eventlog as E
D = DIR
out = {}

def boot(state):
    # what app.App does at boot: counters, log, boot id from everything on flash
    c = E.Counters(state + "/counters")
    log = E.EventLog(state + "/events", max_bytes=4096, counters=c)
    b = E.next_boot_id(state + "/boot.txt", max(log.last_boot, c.boot))
    log.boot_id = b
    c.write(b, log.last_seq)
    c.write(b, log.last_seq)
    return log, b, c

def rec(log, i):
    return log.append((2, 0, 2, i, i + 5, i + 6, 100, 50, 10))

def seg(state):
    d = state + "/events"
    return d + "/" + sorted(os.listdir(d))[-1]

# 1. a torn last record (power cut mid-write, the record was already sent live): its eseq is never reused
s = D + "/torn"
os.mkdir(s)
log, b, c = boot(s)
got = [rec(log, i) for i in range(5)]
path = seg(s)
with open(path, "rb") as f:
    data = f.read()
with open(path, "wb") as f:
    f.write(data[:len(data) - 20])  # the last record cut half-way
log, b2, c = boot(s)
out["torn"] = [got, log.bad, b, b2, rec(log, 99)]

# 2. the record's eseq went to the counters, then the power went before the record itself was written
s = D + "/before"
os.mkdir(s)
log, b, c = boot(s)
rec(log, 1)
c.write(b, 2)  # as EventLog._write does first for record 2
log, b2, c = boot(s)
out["before"] = [log.last_seq, rec(log, 2)]

# 3. boot.txt unreadable, missing, or the 32-bit wrap: the id still follows the log and the counter copy
out["boots"] = []
for i, text in enumerate(["garbage\n", None, "4294967295", "-5", "99999999999"]):
    s = D + "/boot%d" % i
    os.mkdir(s)
    log, b, c = boot(s)
    log, b, c = boot(s)
    rec(log, 1)
    if text is None:
        os.remove(s + "/boot.txt")
    else:
        with open(s + "/boot.txt", "w") as f:
            f.write(text)
    log, b3, c = boot(s)
    rec(log, 2)
    last = [r for r in log.since(0)][-1]
    out["boots"].append([b, b3, last["boot"]])

# 4. one counter copy garbage, the other torn (a short file): the log's newest record still sets the floor
s = D + "/counters"
os.mkdir(s)
log, b, c = boot(s)
for i in range(3):
    rec(log, i)
with open(s + "/counters.a", "wb") as f:
    f.write(b"\x00" * 16)
with open(s + "/counters.b", "wb") as f:
    f.write(b"\x01\x02")
c2 = E.Counters(s + "/counters")
log, b4, c = boot(s)
out["counters"] = [c2.bad, b, b4, rec(log, 9)]

# 5. everything about the counters lost at once (boot.txt and both copies removed): the log alone is the floor
for name in ("boot.txt", "counters.a", "counters.b"):
    os.remove(s + "/" + name)
log, b5, c = boot(s)
out["lost"] = [b5, rec(log, 10)]
print(json.dumps(out))
"""


@pytest.mark.micropython
def test_numbers_never_repeat_on_both_runtimes(tmp_path: Path) -> None:
    cp_dir, mp_dir = tmp_path / "cp", tmp_path / "mp"
    cp_dir.mkdir()
    mp_dir.mkdir()
    res_cp = run_json(f"DIR = {str(cp_dir)!r}\n" + SCENARIO, "cpython")
    res_mp = run_json(f"DIR = {str(mp_dir)!r}\n" + SCENARIO, "micropython")
    assert res_cp == res_mp
    r = res_cp
    got, bad, b, b2, nxt = r["torn"]
    assert got == [1, 2, 3, 4, 5] and bad == 1 and b2 == b + 1
    assert nxt == 6  # not 5: the torn record's number stays used
    assert r["before"] == [2, 3]  # the counter went first, so 2 is taken even though its record never landed
    for b, b3, logged in r["boots"]:
        assert b == 2 and b3 == 3 and logged == 3, r["boots"]  # never 1 (a restart at one), never 2**32
    bad, b, b4, nxt = r["counters"]
    assert bad == 2 and b4 == b + 1 and nxt == 4
    b5, nxt = r["lost"]
    assert b5 == b4 + 1 and nxt == 5


def test_counters_file_rejects_corruption(tmp_path: Path) -> None:
    base = str(tmp_path / "counters")
    c = eventlog.Counters(base)
    assert (c.gen, c.boot, c.eseq, c.bad) == (0, 0, 0, 0)
    for i in range(1, 4):
        c.write(i, 10 * i)
    again = eventlog.Counters(base)
    assert (again.boot, again.eseq) == (3, 30) and again.bad == 0
    newest = tmp_path / ("counters.a" if again.gen & 1 == 0 else "counters.b")
    data = bytearray(newest.read_bytes())
    data[5] ^= 0x40  # one flipped bit in the newest copy: the older one is taken
    newest.write_bytes(bytes(data))
    older = eventlog.Counters(base)
    assert (older.boot, older.eseq, older.bad) == (2, 20, 1)


def test_app_boot_ids_follow_the_log_when_boot_txt_is_garbage(tmp_path: Path) -> None:
    from test_app import burst_signal, make_app, run_for

    app, board = make_app(tmp_path, channels=[burst_signal(8)])
    run_for(app, board, 8)
    assert app.boot == 1 and app.log.last_seq > 0
    last = app.log.last_seq
    (tmp_path / fwapp.BOOT_FILE).write_text("4294967295")
    app2, board2 = make_app(tmp_path)
    assert app2.boot == 2 and app2.log.last_seq == last
    app2.hello()
    hello = [m for m in board2.messages() if m["t"] == "hello"][0]
    assert hello["boot"] == 2
    (tmp_path / fwapp.BOOT_FILE).write_text("not a number")
    newest = max(tmp_path.glob("counters.*"), key=lambda p: p.stat().st_mtime_ns)
    newest.write_bytes(b"junk")  # and the newest counter copy spoilt: the other one still says boot 2
    app3, _ = make_app(tmp_path)
    assert app3.boot == 3  # boot 2 left no record in the log; only the counter copy remembers it
