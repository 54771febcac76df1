"""spasmwatch demo runs headless on the virtual board and leaves the simulated spasms in its event store."""

from __future__ import annotations

from pathlib import Path

import pytest

from spasmsim.generate import generate
from spasmwatch import cli
from spasmwatch.commands import demo
from spasmwatch.store import Store


@pytest.mark.slow
@pytest.mark.micropython
@pytest.mark.timeout(60)
def test_demo_headless_stores_the_simulated_spasms(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["demo", "--seconds", "7", "--speed", "12", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr()
    db = tmp_path / "events.sqlite3"
    assert f"spasmwatch report --db {db} --out report.html" in out.out
    assert f"spasmwatch events --db {db}" in out.out
    with Store(db) as store:
        rows = store.events(states=("closed",))
        assert len(store.links()) == 1 and store.links()[0].disconnected_at is not None
    sim = generate(demo.SCENARIO, seed=demo.SEED, minutes=demo.MINUTES)
    truth = [t for t in sim.truth if t.kind != "fault"]
    played_s = 7 * 12
    assert len(rows) >= 2
    for r in rows:  # every stored episode is one of the simulated spasms (device time = recording time)
        onset, offset = r.onset_ms / 1000, r.offset_ms / 1000
        assert any(t.onset_s - 1 < offset and onset < t.offset_s + 1 for t in truth), (r, truth)
        assert r.kind in ("twitch", "tonic", "clonus") and r.duration_s > 0
    first = truth[0]
    assert first.offset_s < played_s and any(abs(r.onset_ms / 1000 - first.onset_s) < 1.5 for r in rows)
    assert out.out.count(" end ch0 ") == len(rows)  # headless: one plain line per finished episode

    assert cli.main(["events", "--db", str(db)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == len(rows) + 1


def test_demo_rejects_a_bad_duration(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--seconds", "0"]) == 2
    assert "--seconds" in capsys.readouterr().err
