"""JSON lines export: `spasmwatch events --format jsonl` (the same fields as --format json) and the writer."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from spasmcore.events import Event
from spasmwatch import cli
from spasmwatch.report.jsonl import events_to_jsonl, rows_to_jsonl
from spasmwatch.store import Store


def test_events_jsonl_equals_json_row_by_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "e.sqlite3"
    with Store(db) as s:
        s.note_hello("dev1", "1", fw_version="0.1.0", uptime_ms=0, wall=time.time() - 3600)
        for k in range(3):
            s.add_end("dev1", "1", k % 2, "tonic" if k else "clonus", 1000 + 9000 * k, 3000 + 9000 * k, seq=k + 1,
                      detected_ms=1100 + 9000 * k, peak=800.0, mean=300.0, peak_x=10.0, mean_x=4.0, floor=80.0)
    assert cli.main(["events", "--db", str(db), "--format", "json"]) == 0
    whole = json.loads(capsys.readouterr().out)
    assert cli.main(["events", "--db", str(db), "--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and [json.loads(line) for line in lines] == whole


def test_replay_events_as_jsonl_and_nan_refused() -> None:
    ev = Event(0, "tonic", 1.0, 3.5, 1.2, 2.5, 800.0, 300.0, 10.0, 4.0)
    (line,) = events_to_jsonl([ev], recording="a.edf").splitlines()
    assert json.loads(line) == {"recording": "a.edf", "channel": 0, "kind": "tonic", "onset_s": 1.0, "offset_s": 3.5,
                                "detected_s": 1.2, "duration_s": 2.5, "peak": 800.0, "mean": 300.0, "peak_x": 10.0,
                                "mean_x": 4.0, "detail": ""}
    with pytest.raises(ValueError):
        rows_to_jsonl([{"x": math.nan}])  # not valid JSON: never written
