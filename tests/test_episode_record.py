"""The detector's record travels on the host as one named tuple: its fields written once, read by name only."""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

import numpy as np
import pytest

from spasmcore.errors import FatalError
from spasmfw import codes
from spasmfw import detector as fw
from spasmwatch.engine.detect import records_fast, records_python, records_to_events
from spasmwatch.engine.record import REC_LEN, Record, from_record
from tests.signals import emg

ROOT = Path(__file__).resolve().parents[1]
READERS = [ROOT / "host" / "spasmwatch" / "engine", ROOT / "host" / "spasmwatch" / "scoring"]
RECORD_NAMES = {"r", "rec", "record", "recs", "records"}  # what the engine calls a record or a list of them


def positional_uses(source: str, name: str = "<src>") -> list[str]:
    """Where a module reads a detector record by position: `rec[3]`, `recs[:, 3]` (the compiled engine's rows),
    or an unpacking into as many names as a record has fields."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Subscript):
            parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            ints = [p for p in parts if isinstance(p, ast.Constant) and type(p.value) is int]
            column = isinstance(node.slice, ast.Tuple) and isinstance(parts[0], ast.Slice) and ints
            if column or (ints and isinstance(node.value, ast.Name) and node.value.id in RECORD_NAMES):
                found.append(f"{name}:{node.lineno} {ast.unparse(node)}")
        targets = [node.target] if isinstance(node, (ast.For, ast.comprehension)) else \
            node.targets if isinstance(node, ast.Assign) else []
        for t in targets:
            if isinstance(t, ast.Tuple) and len(t.elts) == REC_LEN:
                found.append(f"{name}:{getattr(node, 'lineno', 0)} unpacks {ast.unparse(t)}")
    return found


def spells_the_fields(source: str) -> bool:
    """True when the source names every record field in order, close together (a definition, an unpacking,
    a list of names or of strings): a place that must change with the record."""
    words = [t.string.strip("'\"") for t in tokenize.generate_tokens(io.StringIO(source).readline)
             if t.type in (tokenize.NAME, tokenize.STRING)]
    fields = Record._fields
    for start, word in enumerate(words):
        if word != fields[0]:
            continue
        k = 1
        for w in words[start + 1:start + 3 * REC_LEN]:
            if k < REC_LEN and w == fields[k]:
                k += 1
        if k == REC_LEN:
            return True
    return False


def test_no_host_module_reads_a_record_by_position() -> None:
    found = [use for d in READERS for p in sorted(d.glob("*.py"))
             for use in positional_uses(p.read_text(), p.relative_to(ROOT).as_posix())]
    assert not found, "read records by field name (spasmwatch.engine.record.Record):\n" + "\n".join(found)


def test_the_position_check_sees_each_form() -> None:
    src = ("def f(rec, recs, records):\n    a = rec[3]\n    b = recs[:, 2]\n"
           "    for etype, kind, on, off, det, peak, mean, floor in records:\n        pass\n"
           "    c = rec.onset\n    d = rows[0]\n")
    assert sorted(positional_uses(src)) == ["<src>:2 rec[3]", "<src>:3 recs[:, 2]",
                                            "<src>:4 unpacks (etype, kind, on, off, det, peak, mean, floor)"]


def test_the_field_list_is_written_in_one_host_module() -> None:
    spelled = sorted(p.relative_to(ROOT).as_posix() for d in ("host", "sim", "bench") for p in (ROOT / d).rglob("*.py")
                     if spells_the_fields(p.read_text()))
    assert spelled == ["host/spasmwatch/engine/record.py"]
    assert spells_the_fields("for etype, kind, onset, offset, detected, peak, mean, floor in x: pass")
    assert spells_the_fields('COLS = ["etype", "kind", "onset", "offset", "detected", "peak", "mean", "floor"]')
    assert not spells_the_fields("etype = r.etype\nkind = r.kind\n")


def test_the_host_record_is_the_firmware_record() -> None:
    det = fw.Detector(500, "raw", {})
    det._push(codes.EV_END, 2, 7, 40, 41, 900, 300, 33)  # times in ticks in the queue
    got = from_record(det.pop())
    d = det.tick_samples
    assert len(got) == REC_LEN  # the firmware's pop() gives exactly the host record's fields
    assert got == Record(etype=codes.EV_END, kind=2, onset=7 * d, offset=40 * d, detected=41 * d, peak=900,
                         mean=300, floor=33)
    assert got.closes and not from_record((codes.EV_ONSET, 0, 7, -1, 9, 0, 0, 33)).closes


def test_every_engine_gives_records() -> None:
    sig = np.clip(emg(12, 1000, [(3, 5, 80.0), (8, 8.3, 100.0)], seed=2), 0, 4095).astype("<u2")
    ref = records_python(sig, 1000.0, "raw", {})
    fast = records_fast(sig, 1000.0, "raw", {})
    assert ref and fast == ref
    assert all(type(r) is Record for r in ref + fast)
    assert [e.kind for e in records_to_events(ref, 1000.0)]


def test_a_record_of_the_wrong_length_is_one_clear_error() -> None:
    with pytest.raises(FatalError, match=r"^a detector record of 7 fields, not 8 \(etype, kind, onset"):
        from_record((1, 0, 7, -1, 9, 0, 0))


def test_a_field_added_to_event_is_written_and_read(tmp_path: Path) -> None:
    """The events CSV is written and read by Event's own fields: spasmcore/events.py with one more field (its
    source, one line added, loaded as a module) writes and reads it back with no other edit."""
    import importlib.util

    import spasmcore.events as events

    src = Path(events.__file__).read_text()
    line = '    detail: str = ""'
    assert src.count(line) == 1
    spec = importlib.util.spec_from_loader("spasmcore._events_wider", loader=None)
    assert spec is not None
    wider = importlib.util.module_from_spec(spec)
    wider.__package__ = "spasmcore"
    sys.modules[spec.name] = wider  # (dataclasses look their module up by name)
    try:
        exec(compile(src.replace(line, line + "\n    area: float = 0.0"), events.__file__, "exec"), wider.__dict__)
        ev = wider.Event(channel=2, kind="tonic", onset_s=1.0, offset_s=3.0, detected_s=1.25, duration_s=2.0,
                         peak=5.0, mean=2.5, peak_x=4.0, mean_x=2.0, area=7.5)
        wider.write_events(tmp_path / "e.csv", [ev])
        assert "area" in (tmp_path / "e.csv").read_text().splitlines()[0]
        assert wider.read_events(tmp_path / "e.csv") == [ev]
    finally:
        del sys.modules[spec.name]
