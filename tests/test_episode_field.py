"""An end record's fields are one table (spasmfw.codes.REC_FIELDS, REC_KINDS): a field added there and to wire.End
reaches the flash log, the wire and the store, and the generic parts on the way spell no list of the fields."""

from __future__ import annotations

import ast
import io
import json
import os
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
from mpy_runner import micropython_path, run_json

from spasmfw import codes
from spasmwatch.link import wire
from spasmwatch.store import rows

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
TABLE = 'REC_FIELDS = ("onset_ms", "offset_ms", "detected_ms", "peak", "mean", "floor")\nREC_KINDS = "tttlll"\n'
END_LINE = "    boot: int | None = None\n"


def with_area(root: Path) -> Path:
    """A copy of firmware/ (and, when asked, host/) with one more end field, `area`, a plain integer: the table's
    two lines, and for the host the one line of wire.End, as docs/architecture.md says."""
    fw = root / "spasmfw"
    shutil.copytree(FIRMWARE, fw, ignore=shutil.ignore_patterns("__pycache__", "unix"))
    text = (fw / "codes.py").read_text()
    assert TABLE in text, "the table's lines changed: update TABLE here"
    (fw / "codes.py").write_text(text.replace(TABLE, TABLE.replace('"floor")', '"floor", "area")')
                                              .replace('"tttlll"', '"tttllli"')))
    return fw


# ---- the flash log across a firmware update ---------------------------------------------------------------

LOG_SNIPPET = r"""
import json, os, sys
sys.path.insert(0, sys.argv[2])
import eventlog as E
LOG = sys.argv[1] + "/log"
log = E.EventLog(LOG, max_bytes=4096)
out = {"n": E.N, "bad_at_open": log.bad, "last": log.last_seq}
for a in sys.argv[3:]:
    out.setdefault("seqs", []).append(log.append(json.loads(a)))
out["records"] = list(log.since(0))
out["sizes"] = sorted(os.stat(LOG + "/" + n)[6] for n in os.listdir(LOG))
out["bad"] = log.bad
print(json.dumps(out))
"""


def phase(runtime: str, state: Path, fw: Path, *records: str) -> dict:
    return run_json(LOG_SNIPPET, runtime, args=(str(state), str(fw), *records))


END = '{"etype": 2, "ch": 1, "kind": 2, "onset_ms": 1000, "offset_ms": 2500, "detected_ms": 2600, ' \
      '"peak": 900, "mean": 400, "floor": 40%s}'


@pytest.mark.parametrize("runtime", ["cpython", pytest.param("micropython", marks=pytest.mark.micropython)])
def test_an_older_log_is_read_after_a_field_is_added_and_back(runtime: str, tmp_path: Path) -> None:
    if runtime == "micropython":
        micropython_path()
    new = with_area(tmp_path / "new")
    state = tmp_path / "state"
    state.mkdir()
    old = phase(runtime, state, FIRMWARE, END % "", END % "")
    assert old["n"] == 6 and old["seqs"] == [1, 2] and old["sizes"] == [88]
    up = phase(runtime, state, new, END % ', "area": 77')
    # the six-field records read with their own size, the new field at its default; the new record in a new
    # segment of 48-byte records; the numbers go on
    assert up["n"] == 7 and up["bad_at_open"] == 0 and up["last"] == 2 and up["seqs"] == [3]
    assert [r["area"] for r in up["records"]] == [0, 0, 77] and up["sizes"] == [48, 88]
    assert all(r["peak"] == 900 and r["floor"] == 40 and r["offset_ms"] == 2500 for r in up["records"])
    # back to this firmware: the seven-field record is read (its first six fields), never misread or cut
    down = phase(runtime, state, FIRMWARE, END % "")
    assert down["bad_at_open"] == 0 and down["last"] == 3 and down["seqs"] == [4]
    assert [r["eseq"] for r in down["records"]] == [3, 4] and down["bad"] == 0  # 2 segments: the oldest rotated
    assert all("area" not in r and r["mean"] == 400 for r in down["records"])


DRAIN_SNIPPET = r"""
import json, sys
sys.path.insert(0, sys.argv[2])
import app, eventlog, protocol


class Det:  # a detector whose queue holds one end record with the table's seventh field
    def __init__(self, recs):
        self.recs = recs

    def pop(self):
        return self.recs.pop(0) if self.recs else None


class Host:  # what App.drain uses of the app: detectors, rate, the log, where messages go
    pass


a = Host()
a.dets = [Det([(2, 2, 1000, 2500, 2600, 900, 400, 40, 77), (1, 0, 5000, -1, 5200, 0, 0, 40, 0)])]
a.rate, a.det_base, a.boot = 500, 0, 5
a.log = eventlog.EventLog(sys.argv[1] + "/log", boot=5)
sent = []
a.send = lambda t, f: sent.append(bytes(protocol.encode(t, 0, f)).decode())
a.error = lambda *x: sent.append(repr(x))
app.App.drain(a, 0)
for r in a.log.since(0):
    app.App.log_message(a, r)
print(json.dumps(sent))
"""


@pytest.mark.parametrize("runtime", ["cpython", pytest.param("micropython", marks=pytest.mark.micropython)])
def test_the_app_logs_and_sends_a_field_added_to_the_table(runtime: str, tmp_path: Path) -> None:
    if runtime == "micropython":
        micropython_path()
    new = with_area(tmp_path / "new")
    sent = [line.split(" *")[0] for line in run_json(DRAIN_SNIPPET, runtime, args=(str(tmp_path), str(new)))]
    assert sent == [
        '{"t":"end","seq":0,"ch":0,"eseq":1,"kind":"tonic","onset_ms":2000,"offset_ms":5000,"detected_ms":5200,'
        '"duration_ms":3000,"peak":900,"mean":400,"floor":40,"area":77,"boot":5}',
        '{"t":"onset","seq":0,"ch":0,"eseq":2,"onset_ms":10000,"detected_ms":10400,"boot":5}',
        '{"t":"log","seq":0,"ev":"end","boot":5,"ch":0,"eseq":1,"kind":"tonic","onset_ms":2000,"offset_ms":5000,'
        '"detected_ms":5200,"duration_ms":3000,"peak":900,"mean":400,"floor":40,"area":77}',
        '{"t":"log","seq":0,"ev":"onset","boot":5,"ch":0,"eseq":2,"onset_ms":10000,"detected_ms":10400}',
    ]


# ---- the host: one line of wire.End, and the store follows --------------------------------------------------

HOST_SNIPPET = r"""
import sqlite3, sys
from spasmfw import codes, protocol
from spasmwatch.link import wire
from spasmwatch.store import Store
from spasmcore.crc16 import seal

old_db, new_db = sys.argv[1:3]
rec = {"onset_ms": 1000, "offset_ms": 2500, "detected_ms": 2600, "peak": 900, "mean": 400, "floor": 40, "area": 77}
t, f = protocol.event_fields(codes.EV_END, 1, 5, codes.KIND_TONIC, rec)
line = protocol.encode(t, 9, f).rstrip(b"\n")
_, msg = wire.read_line(line, 16, 2)
older = dict(f)
del older["area"]
_, msg_old = wire.read_line(protocol.encode(t, 10, older).rstrip(b"\n"), 16, 2)
print("line", line.decode())
print("parsed", msg.area, msg_old.area, msg.peak)
for name, path in (("new", new_db), ("old", old_db)):
    with Store(path) as s:
        s.add_message(wire.Hello(0, 2, "fw", "dev", None, 1, 1000, ("a", "b"), None, 16, None), None, None, wall=100.0)
        s.add_message(msg, "dev", "1", wall=101.0)
        print("stored_" + name, sorted((e.seq, e.more) for e in s.events()))
        if name == "new":
            from spasmwatch.commands.events import to_csv
            head, first = (line.split(",") for line in to_csv(s.events()).splitlines()[:2])
            print("export", head.index("area"), first[head.index("area")])
            print("to_event", s.events()[0].to_event().more)
print("columns", [r[1] for r in sqlite3.connect(old_db).execute("PRAGMA table_info(events)")][-2:])
"""


def test_a_field_in_the_table_and_in_wire_end_reaches_the_store(tmp_path: Path) -> None:
    from spasmwatch.store import Store

    old_db = tmp_path / "old.sqlite3"
    with Store(old_db) as s:  # a store of this spasmwatch, with an episode: the new field's column is added on open
        s.add_end("dev", "1", 0, "twitch", 0, 300, seq=1, peak=5.0, mean=2.0, floor=1.0, received_at=1.0)
    pkg = tmp_path / "pkg"
    with_area(pkg)
    shutil.copytree(ROOT / "host" / "spasmcore", pkg / "spasmcore", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "host" / "spasmwatch", pkg / "spasmwatch", ignore=shutil.ignore_patterns("__pycache__"))
    wire_py = pkg / "spasmwatch" / "link" / "wire.py"
    text = wire_py.read_text()
    assert text.count(END_LINE) == 2, "wire.End's last line changed: update END_LINE here"
    at = text.index(END_LINE, text.index("class End:"))
    area = "    area: int | None = None  # the one line\n"
    wire_py.write_text(text[:at] + END_LINE + area + text[at + len(END_LINE):])
    env = {**os.environ, "PYTHONPATH": str(pkg)}
    proc = subprocess.run([sys.executable, "-c", HOST_SNIPPET, str(old_db), str(tmp_path / "new.sqlite3")],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    # the line: the existing fields byte for byte as before, the new one after them (extra fields go sorted)
    assert '"detected_ms":2600,"duration_ms":1500,"peak":900,"mean":400,"floor":40,"area":77}' in out["line"]
    assert out["parsed"] == "77 None 56.25"  # an older board's line (no area) is still an End
    assert out["stored_new"] == "[(5, (('area', 77),))]"
    assert out["stored_old"] == "[(1, (('area', None),)), (5, (('area', 77),))]"  # the older row: NULL
    assert out["columns"] == "['received_at', 'area']"
    assert out["export"] == "11 77" and out["to_event"] == "(('area', 77),)"  # `spasmwatch events` after detail


# ---- replay, the events CSV and JSON: the detector's record follows the table too ---------------------------

REPLAY_SNIPPET = r"""
import json, sys
import numpy as np
from spasmcore import events
from spasmwatch.engine.detect import records_python
from spasmwatch.engine.record import REC_LEN, from_record, records_to_events
from spasmwatch.report.jsonl import events_to_jsonl

rng = np.random.default_rng(3)
sig = 2048 + rng.normal(0, 1.5, 12000)
for a, b in ((3000, 5000), (8000, 8300)):
    sig[a:b] += rng.normal(0, 90, b - a)
recs = records_python(np.clip(sig, 0, 4095).astype("<u2"), 1000.0, "raw", {})
evs = records_to_events(recs, 1000.0)
events.write_events(sys.argv[1], evs)
print(json.dumps({"len": REC_LEN, "areas": [[r.etype, r.area, r.peak] for r in recs],
                  "more": [list(map(list, e.more)) for e in evs], "kinds": [e.kind for e in evs],
                  "back": events.read_events(sys.argv[1]) == evs,
                  "header": open(sys.argv[1]).readline().strip(),
                  "jsonl": json.loads(events_to_jsonl(evs[:1]))["area"],
                  "tuple": from_record((2, 2, 7, 40, 41, 900, 300, 33, 5)).area}))
"""


def with_area_recorded(fw: Path) -> None:
    """Steps 2 and 3 of docs/architecture.md in the copy: the detector's record one int longer, the episode's end
    hands it a value (half its peak, an integer), onsets and faults 0."""
    det = fw / "detector.py"
    text = det.read_text()
    edits = [("_REC_LEN = const(8)", "_REC_LEN = const(9)", 1),
             ("detected, peak, mean, floor):", "detected, peak, mean, floor, area):", 1),
             ("        q[j + 7] = floor\n", "        q[j + 7] = floor\n        q[j + 8] = area\n", 1),
             ("q[j + 6],\n                q[j + 7])", "q[j + 6],\n                q[j + 7], q[j + 8])", 1),
             ("0, 0, self.floor)", "0, 0, self.floor, 0)", 3)]
    for old, new, n in edits:
        assert text.count(old) == n, f"detector.py changed ({old!r}): update with_area_recorded here"
        text = text.replace(old, new)
    det.write_text(text)
    epi = fw / "detepisode.py"
    text = epi.read_text()
    for old, new in (("0, 0, f)", "0, 0, f, 0)"), ("self.mean_acc >> 4, self.ep_floor)",
                                                    "self.mean_acc >> 4, self.ep_floor, self.peak >> 1)")):
        assert text.count(old) == 1, f"detepisode.py changed ({old!r}): update with_area_recorded here"
        text = text.replace(old, new)
    epi.write_text(text)


def test_a_field_in_the_table_reaches_replay_and_the_events_csv(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    with_area_recorded(with_area(pkg))  # the four files: codes, detector, detepisode (and wire, not used here)
    shutil.copytree(ROOT / "host" / "spasmcore", pkg / "spasmcore", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "host" / "spasmwatch", pkg / "spasmwatch", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(pkg)}
    proc = subprocess.run([sys.executable, "-c", REPLAY_SNIPPET, str(tmp_path / "e.csv")], capture_output=True,
                          text=True, env=env, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["len"] == 9 and out["tuple"] == 5
    ends = [(area, peak) for etype, area, peak in out["areas"] if etype == codes.EV_END]
    assert len(ends) == 2 and all(area == peak >> 1 and area > 0 for area, peak in ends)
    assert all(area == 0 for etype, area, _ in out["areas"] if etype != codes.EV_END)
    # each episode carries its area into Event.more, the CSV has the column and reads back equal, JSON lines too
    assert out["more"] == [[["area", a]] for a, _ in ends] and out["kinds"][0] in ("tonic", "clonus")
    assert out["header"].endswith(",detail,area") and out["back"] is True and out["jsonl"] == ends[0][0]


def test_wire_end_has_a_field_for_every_table_entry() -> None:
    names = {f for f in wire.End.__dataclass_fields__}
    assert [n for n, _ in wire.END_FIELDS] == list(codes.REC_FIELDS) and set(codes.REC_FIELDS) <= names
    assert set(codes.REC_KINDS) <= {"t", "l", "i"} and len(codes.REC_KINDS) == len(codes.REC_FIELDS)
    assert rows.END_MORE == {}  # every End field of today has its column in the schema


# ---- no hand-written list of the fields in the generic parts -----------------------------------------------


def spells_the_fields(source: str) -> bool:
    """True when the source names the table's fields in order, close together (an unpacking, a parameter list, a
    dict or a tuple of them): a place that would have to change with the table."""
    words = [t.string.strip("'\"") for t in tokenize.generate_tokens(io.StringIO(source).readline)
             if t.type in (tokenize.NAME, tokenize.STRING)]
    short = [n.removesuffix("_ms") for n in codes.REC_FIELDS]  # detector.pop()'s onset, offset, detected, ...
    for names in (list(codes.REC_FIELDS), short):
        for start, word in enumerate(words):
            if word == names[0]:
                k = 1
                for w in words[start + 1:start + 4 * len(names)]:
                    if k < len(names) and w == names[k]:
                        k += 1
                if k == len(names):
                    return True
    return False


def parts(path: Path, keep: tuple[str, ...] = (), drop: tuple[str, ...] = ()) -> str:
    """The source of the functions/classes `keep` (all when empty) of a module, without those in `drop`."""
    text = path.read_text()
    tree = ast.parse(text)
    nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    if keep:
        return "\n".join(ast.get_source_segment(text, n) or "" for n in nodes if n.name in keep)
    for n in nodes:
        if n.name in drop:
            text = text.replace(ast.get_source_segment(text, n) or "", "")
    return text


GENERIC = {
    "firmware/app.py (drain, log_message)": lambda: parts(FIRMWARE / "app.py", keep=("drain", "log_message")),
    "firmware/eventlog.py": lambda: (FIRMWARE / "eventlog.py").read_text(),
    "firmware/protocol.py (event_fields)": lambda: parts(FIRMWARE / "protocol.py", keep=("event_fields",)),
    "host/spasmwatch/link/wire.py (but End)": lambda: parts(ROOT / "host/spasmwatch/link/wire.py", drop=("End",)),
    **{f"host/spasmwatch/store/{p.name}": (lambda p=p: p.read_text())
       for p in sorted((ROOT / "host/spasmwatch/store").glob("*.py"))},
}


def test_the_generic_parts_spell_no_list_of_the_fields() -> None:
    spelled = [name for name, source in GENERIC.items() if spells_the_fields(source())]
    assert not spelled, "read the fields from spasmfw.codes.REC_FIELDS (docs/architecture.md):\n" + "\n".join(spelled)


def test_the_check_sees_each_form() -> None:
    assert spells_the_fields((FIRMWARE / "codes.py").read_text())  # the table itself
    assert spells_the_fields("etype, kind, onset, offset, detected, peak, mean, floor = r\n")
    assert spells_the_fields('d = {"onset_ms": r[7], "offset_ms": r[8], "detected_ms": r[9], "peak": r[10],\n'
                             '     "mean": r[11], "floor": r[12]}\n')
    assert spells_the_fields("def event_fields(etype, ch, eseq, kind, onset_ms, offset_ms, detected_ms, peak, mean,"
                             " floor):\n    pass\n")
    assert spells_the_fields(parts(ROOT / "host/spasmwatch/link/wire.py", keep=("End",)))
    assert not spells_the_fields("for name in codes.REC_FIELDS:\n    rec[name] = r[i]\n")
