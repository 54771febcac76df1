"""`monitor --on-event` for records that arrive by `sync` (the live lines were lost): once each, marked synced, and
not for the history the board held before the monitor met it."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from test_monitor_e2e import FakeLink, ScriptedBoard

from spasmwatch.link.serial_link import Link
from spasmwatch.monitor import Monitor, PlainSink
from spasmwatch.store import Store


def steps(mon: Monitor, n: int = 20) -> None:
    for _ in range(n):
        mon.step(0)


def test_hooks_run_for_synced_records_once_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    board = ScriptedBoard()
    board.episode(1000, live=False)  # history on the board's flash before the monitor starts: eseq 1, 2
    monkeypatch.setattr(Link, "open", staticmethod(lambda port, **kw: FakeLink(board, port)))
    hook_out = tmp_path / "hooks.jsonl"
    with Store(tmp_path / "e.sqlite3") as store:
        mon = Monitor(store, "/dev/ttyFAKE0", sink=PlainSink(io.StringIO()), on_event=f"cat >> '{hook_out}'")
        mon.connect()
        steps(mon)  # the first sync brings the history: stored, no alerts for it
        board.episode(5000)  # live: eseq 3, 4
        steps(mon)
        board.episode(7000, live=False)  # its lines lost on the way (a displaced link): eseq 5, 6
        board.episode(9000)  # live again: eseq 7, 8; the hole makes the monitor sync, which replays 5-8
        steps(mon, 40)
        mon.close()
        assert len(list(store.events())) == 4  # every episode stored
    end = time.monotonic() + 10
    while time.monotonic() < end and len(hook_out.read_text().splitlines() if hook_out.exists() else []) < 6:
        time.sleep(0.05)
    got = [json.loads(line) for line in hook_out.read_text().splitlines()]
    assert sorted(g["eseq"] for g in got) == [3, 4, 5, 6, 7, 8]  # each once; none of the history (1, 2)
    synced = {g["eseq"]: g for g in got if g.get("synced")}
    assert sorted(synced) == [5, 6]
    assert [synced[5]["event"], synced[6]["event"]] == ["onset", "end"]
    assert synced[6]["kind"] == "tonic" and synced[6]["boot"] == "1" and synced[6]["peak_x"] == 20.0
    assert synced[6]["device"] == "fake01" and "ev" not in synced[6] and "seq" not in synced[6]
