"""Spasm kinds are defined once (spasmcore.kinds): no copy of a name, label or colour elsewhere, and a kind added
to the table and to the firmware's codes reaches the screen, the reports, replay, scoring and the dashboard."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from spasmcore import kinds
from spasmfw import codes

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "host" / "spasmwatch" / "dashboard" / "static"
# Where kinds may be written out: the table, the firmware's wire codes, and the detector's classifier (which
# emits the codes). The simulator's truth labels (sim/) are the truth kinds' names, and are not scanned.
ALLOWED = {"host/spasmcore/kinds.py", "firmware/codes.py"}
ALLOWED_PREFIX = ("firmware/det",)


def words() -> set[str]:
    """Names and labels of the episode kinds (the fault row's name is also a message type, used everywhere)."""
    return {w.lower() for k in kinds.episodes() for w in (k.name, k.label)}


def colours() -> set[str]:
    return {k.color.lower() for k in kinds.KINDS} | {kinds.ALL_SPASMS_COLOR.lower()}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: prose may name a kind, a value may not."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def python_literals(text: str, name: str) -> list[str]:
    """Kind names or labels written as a whole string value, and the table's colours anywhere in the source."""
    tree = ast.parse(text, name)
    docs = _docstrings(tree)
    found = [f"{name}:{n.lineno}: {n.value!r}" for n in ast.walk(tree)
             if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
             and n.value.strip().lower() in words()]
    return found + colour_hits(text, name)


def colour_hits(text: str, name: str) -> list[str]:
    lower = text.lower()
    return [f"{name}:{lower[:lower.index(c)].count(chr(10)) + 1}: {c}" for c in sorted(colours()) if c in lower]


def static_literals(text: str, name: str) -> list[str]:
    """In JS, HTML and CSS: a kind's name or label as a word (a key, a class, a CSS variable, a heading)."""
    found = []
    for w in sorted(words()):
        for m in re.finditer(rf"\b{re.escape(w)}\b", text, re.IGNORECASE):
            found.append(f"{name}:{text[:m.start()].count(chr(10)) + 1}: {w}")
    return found + colour_hits(text, name)


def scanned() -> list[Path]:
    py = sorted([*(ROOT / "host").rglob("*.py"), *(ROOT / "firmware").rglob("*.py")])
    web = sorted(p for p in STATIC.glob("*") if p.suffix in (".js", ".html", ".css"))
    return [p for p in py + web if not _allowed(p.relative_to(ROOT).as_posix())]


def _allowed(rel: str) -> bool:
    return rel in ALLOWED or rel.startswith(ALLOWED_PREFIX) or "/__pycache__/" in rel


def test_no_kind_is_written_out_outside_the_table() -> None:
    files = scanned()
    assert any(p.suffix == ".js" for p in files) and len(files) > 100  # it looks where the kinds were
    hits = []
    for p in files:
        rel = p.relative_to(ROOT).as_posix()
        text = p.read_text()
        hits += python_literals(text, rel) if p.suffix == ".py" else static_literals(text, rel)
    assert not hits, "read these from spasmcore.kinds (the browser: INFO.kinds):\n" + "\n".join(hits)


def test_the_scan_finds_what_it_looks_for() -> None:
    name, colour = kinds.episodes()[0].name, kinds.episodes()[0].color
    py = f'"""A docstring may say {name}."""\nSTYLES = {{"{name}": "yellow"}}\nC = "{colour.upper()}"\n'
    assert [h.split(": ")[1] for h in python_literals(py, "m.py")] == [repr(name), colour]
    assert static_literals(f'const K = ["{name}"];\n.k-{name}{{}}\n', "c.js") == [f"c.js:1: {name}", f"c.js:2: {name}"]
    assert not static_literals(f"const n = d.{name}_classes;", "c.js")  # a field name holding the word is not a kind


def test_the_table_agrees_with_the_firmware_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert kinds.wire_mismatch() == ""
    assert [k.name for k in kinds.episodes()] == list(codes.KIND_NAMES.values())
    assert {k.clinical for k in kinds.KINDS} - {""} <= set(kinds.CLINICAL_CLASSES)
    assert all(set(t.correct) <= set(kinds.episode_names()) for t in kinds.TRUTH)
    monkeypatch.setitem(codes.KIND_NAMES, 99, "mixed")  # a code the table lacks is reported
    assert "mixed" in kinds.wire_mismatch()


def test_the_dashboard_serves_the_table(tmp_path: Path) -> None:
    from spasmwatch.dashboard.server import Dashboard
    from spasmwatch.store import Store

    db = tmp_path / "e.sqlite3"
    with Store(db):
        pass
    dash = Dashboard(db, "127.0.0.1:0")
    dash.start()
    try:
        import urllib.request

        with urllib.request.urlopen(f"{dash.url.split('?')[0].rstrip('/')}/api/kinds", timeout=60) as r:
            served = json.loads(r.read())
    finally:
        dash.stop()
    assert served == json.loads(json.dumps(kinds.as_json()))
    assert [k["name"] for k in served["kinds"]] == list(kinds.names())


# A fifth kind, as docs/architecture.md "Adding a spasm kind" adds it: a row in the table (with the truth kinds it
# labels right), and its code in firmware/codes.py. Done here before anything else imports them, as the edited
# files would be; the detector's classifier (the third file) is stood in for by events of the new kind.
FIFTH_KIND = r'''
import dataclasses, json, sys, tempfile, urllib.request
from pathlib import Path
from spasmfw import codes
codes.KIND_NAMES[4] = "mixed"
from spasmcore import kinds
MIXED = kinds.Kind("mixed", "mixed (tonic + clonus)", "#4d9221", "green", 4, "mixed", "tonic",
                   "tonic with superimposed clonus")
kinds.KINDS = (*kinds.episodes(), MIXED, *[k for k in kinds.KINDS if k.code is None])
kinds.TRUTH = tuple(dataclasses.replace(t, correct=(*t.correct, "mixed")) if t.name in ("tonic", "cramp") else t
                    for t in kinds.TRUTH)

import io
from datetime import datetime, timezone
import numpy as np
from rich.console import Console
from spasmfw import protocol
from spasmcore.events import Event, TruthInterval
from spasmcore.recording import Recording
from spasmwatch.commands import replay
from spasmwatch.engine import batch
from spasmwatch.link import wire
from spasmwatch.report.charts import fig_per_hour
from spasmwatch.report.data import load_day, summary
from spasmwatch.scoring.score import score
from spasmwatch.scoring.table import format_table
from spasmwatch.store import Store
from spasmwatch.terminal.screen import render
from spasmwatch.terminal.view import MonitorState
from spasmwatch.dashboard.server import Dashboard

out = {}
state = MonitorState()
t0 = datetime(2025, 3, 10, 14, 20).timestamp()
for line in [protocol.encode("end", 1, {"ch": 0, "eseq": 1, "kind": "mixed", "onset_ms": 1000, "offset_ms": 5000,
                                         "detected_ms": 1100, "duration_ms": 4000, "peak": 800, "mean": 300,
                                         "floor": 40})]:
    state.apply(wire.read_line(line)[1], wall_time=t0)
console = Console(file=io.StringIO(), width=100, height=30, color_system="truecolor", force_terminal=True)
console.print(render(state, now=t0, width=100, height=30))
text = console.file.getvalue()
out["screen"] = [ln for ln in text.splitlines() if "mixed" in ln]
out["screen_green"] = "\x1b[32m" in text

ev = Event(0, "mixed", 1.0, 5.0, 1.1, 4.0, 120.0, 60.0, 12.0, 6.0)
rec = Recording(1000.0, [np.zeros(10_000, np.int32)], "counts", "raw", "/x/rec.csv", indices=[0])
out["replay"] = replay.summary(rec, "raw", [ev])
out["batch"] = batch.format_summary([batch.Outcome(path="rec.csv", events=[ev], rate_hz=1000.0,
                                                    n_samples=10_000, channels=[0])]).splitlines()[0].split()
s = score([ev, dataclasses.replace(ev, onset_s=20.0, offset_s=21.0)], [TruthInterval(0, 1.0, 5.0, "tonic")],
          duration_s=30.0)
out["scoring"] = {"tonic_right": s.kind_accuracy_by_truth["tonic"], "false": s.false_alarms_by_kind,
                  "table": [ln for ln in format_table(s).splitlines() if "mixed" in ln]}

db = Path(tempfile.mkdtemp()) / "e.sqlite3"
day0 = datetime(2025, 3, 10, tzinfo=timezone.utc).timestamp()
with Store(db) as st:
    st.note_hello("dev1", "1", uptime_ms=0, wall=day0 + 8 * 3600, channel_names=["ch0"])
    st.add_end("dev1", "1", 0, "mixed", 1000, 5000, seq=1, peak=400.0, mean=200.0, peak_x=10.0, mean_x=5.0,
               floor=40.0)
    data = load_day(st, "2025-03-10", tz=timezone.utc, now=day0 + 30 * 3600)
out["report_rows"] = [r for r in summary(data) if "mixed" in r[0]]
ax = fig_per_hour(data).axes[0]
out["report_legend"] = [t.get_text() for t in ax.get_legend().get_texts()]
out["report_bar"] = [ax.containers[i].patches[0].get_facecolor()[:3] for i in range(len(ax.containers))][3]
dash = Dashboard(db, "127.0.0.1:0")
dash.start()
try:
    base = dash.url.split("?")[0].rstrip("/")
    get = lambda p: json.loads(urllib.request.urlopen(base + p, timeout=60).read())
    out["dashboard_kinds"] = get("/api/kinds")
    out["dashboard_info_episodes"] = get("/api/info")["episodes"]
    out["dashboard_by_kind"] = get("/api/history?from=2025-03-10&to=2025-03-10")["totals"]["by_kind"]
finally:
    dash.stop()
json.dump(out, sys.stdout)
'''


def test_a_fifth_kind_needs_only_the_table_and_the_codes() -> None:
    proc = subprocess.run([sys.executable, "-c", FIFTH_KIND], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**__import__("os").environ, "MPLBACKEND": "Agg", "TZ": "UTC"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    label = "mixed (tonic + clonus)"
    assert any(label in ln and "1" in ln for ln in out["screen"]) and len(out["screen"]) >= 2  # counts, last events
    assert out["screen_green"]
    assert out["replay"].endswith(f"1 episode (1 {label}), 0 faults")
    assert "mixed" in out["batch"]
    assert out["scoring"]["tonic_right"] == 1.0 and out["scoring"]["false"]["mixed"] == 1
    assert out["scoring"]["table"]  # a false-alarm row for the new kind
    assert out["report_rows"] and label in out["report_legend"]
    assert out["report_bar"] == pytest.approx([0x4D / 255, 0x92 / 255, 0x21 / 255])
    served = {k["name"]: k for k in out["dashboard_kinds"]["kinds"]}
    assert served["mixed"]["color"] == "#4d9221" and served["mixed"]["label"] == label
    assert "mixed" in out["dashboard_info_episodes"] and out["dashboard_by_kind"]["mixed"] == 1
