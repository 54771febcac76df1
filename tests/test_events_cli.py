"""`spasmwatch events` small ones of issue 12.11: `--since -24h` works as written; `--device nope` says so."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from spasmwatch import cli
from spasmwatch.store import Store


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "events.sqlite3"
    with Store(path) as s:
        s.note_hello("dev1", "1", fw_version="0.1.0", uptime_ms=0, wall=time.time() - 3600)
        s.add_end("dev1", "1", 0, "tonic", 1000, 3000, seq=1, detected_ms=1100, peak=800.0, mean=300.0,
                  peak_x=10.0, mean_x=4.0, floor=80.0)
    return path


def test_since_with_a_minus_as_written(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--since", "-24h"], ["--since=-24h"], ["--since", "24h"], ["--until", "-.5h", "--since", "-2h"]):
        assert cli.main(["events", "--db", str(db), *argv]) == 0, argv
        assert capsys.readouterr().out.count("\n") == 2, argv  # header + the one episode
    assert cli.main(["events", "--db", str(db), "--since", "-1m"]) == 0
    assert capsys.readouterr().out.count("\n") == 1  # only the header: the episode is an hour old


def test_unknown_device_is_an_error(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["events", "--db", str(db), "--device", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no device 'nope'" in err and "(devices: dev1)" in err
    assert cli.main(["events", "--db", str(db), "--device", "dev1", "--since", "-1m"]) == 0  # known, none in range
    assert capsys.readouterr().out.count("\n") == 1
