"""`spasmwatch events` small ones of issue 12.11: `--since -24h` works as written; `--device nope` says so; local-time
columns beside the UTC ones; an open episode exports an empty kind."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
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


# ---- local-time columns and open rows ------------------------------------------------------------------

WALL = datetime(2025, 7, 1, 12, 30, 15, 250000, tzinfo=timezone.utc).timestamp()  # summer: DST in Berlin/NY


@pytest.fixture
def fixed_db(tmp_path: Path) -> Path:
    """One closed tonic spasm at 12:30:15.250 UTC lasting 2 s, and one episode still open 60 s later."""
    path = tmp_path / "fixed.sqlite3"
    with Store(path) as s:
        s.note_hello("dev1", "1", fw_version="0.1.0", uptime_ms=0, wall=WALL - 1.0)
        s.add_end("dev1", "1", 0, "tonic", 1000, 3000, seq=1, detected_ms=1100, peak=800.0, mean=300.0,
                  peak_x=10.0, mean_x=4.0, floor=80.0)
        s.add_onset("dev1", "1", 0, 61000, seq=2)
    return path


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set this process's local time zone (TZ + tzset), restored afterwards."""
    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()
    yield set_zone
    monkeypatch.undo()
    time.tzset()


def export(db: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, str]]:
    assert cli.main(["events", "--db", str(db), "--include-open", *argv]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_local_time_columns_beside_the_utc_ones(fixed_db: Path, capsys: pytest.CaptureFixture[str],
                                                local_zone: Callable[[str], None]) -> None:
    local_zone("America/New_York")  # EDT, UTC-4 in July
    closed, still_open = export(fixed_db, capsys)
    assert closed["onset_wall"] == "2025-07-01T12:30:15.250Z" and closed["offset_wall"] == "2025-07-01T12:30:17.250Z"
    assert (closed["onset_local"], closed["offset_local"]) == ("2025-07-01 08:30:15.250", "2025-07-01 08:30:17.250")
    assert still_open["onset_local"] == "2025-07-01 08:31:15.250" and still_open["offset_local"] == ""
    closed, _ = export(fixed_db, capsys, "--tz", "Asia/Kolkata")  # --tz wins over the machine's zone
    assert closed["onset_local"] == "2025-07-01 18:00:15.250"
    closed, _ = export(fixed_db, capsys, "--tz", "UTC")
    assert closed["onset_local"] == "2025-07-01 12:30:15.250"
    assert cli.main(["events", "--db", str(fixed_db), "--format", "json", "--tz", "Europe/Berlin"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["onset_local"] == "2025-07-01 14:30:15.250" and rec["onset_wall"].endswith("Z")
    # what a spreadsheet does with it: a plain date and time, no zone letter to trip over
    assert datetime.strptime(rec["onset_local"], "%Y-%m-%d %H:%M:%S.%f") == datetime(2025, 7, 1, 14, 30, 15, 250000)


def test_unknown_time_zone_is_a_one_line_error(fixed_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["events", "--db", str(fixed_db), "--tz", "Mars/Olympus"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--tz Mars/Olympus" in err and "Traceback" not in err


def test_an_open_episode_has_an_empty_kind(fixed_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    closed, still_open = export(fixed_db, capsys)
    assert (closed["kind"], closed["state"]) == ("tonic", "closed")
    assert (still_open["kind"], still_open["state"], still_open["offset_s"]) == ("", "open", "")
    assert cli.main(["events", "--db", str(fixed_db), "--include-open", "--format", "json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["state"]) for r in recs] == [("tonic", "closed"), (None, "open")]


@pytest.mark.parametrize("end_first", [False, True])
def test_detected_s_means_what_replay_means_by_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  end_first: bool) -> None:
    """`detected_s` was end + 0.5 s in `events` (the end record's detected_ms) but the time the episode was
    detected (its onset record's) in `replay --events` (issue 22.17): one meaning, whatever arrives first."""
    from spasmfw import codes
    from spasmwatch.engine.detect import records_to_events
    from spasmwatch.engine.record import Record
    from spasmwatch.link import wire

    # one tonic episode: onset 1.000 s, decided at 1.150 s, ended 4.000 s, end decided at 4.500 s (1 kHz)
    rec = [Record(codes.EV_ONSET, 0, 1000, -1, 1150, 0, 0, 40),
           Record(codes.EV_END, 1, 1000, 4000, 4500, 800, 300, 40)]
    (want,) = records_to_events(rec, 1000.0)
    onset = wire.Onset(1, 0, 1, 1000, 1150, boot=1)
    end = wire.End(2, 0, 2, "tonic", 1000, 4000, 4500, 50.0, 18.75, 2.5, 20.0, 7.5, boot=1)
    path = tmp_path / "e.sqlite3"
    with Store(path) as s:
        s.note_hello("dev1", "1", fw_version="0.1.0", uptime_ms=0, wall=time.time() - 3600)
        for msg in ((end, onset) if end_first else (onset, end)):  # an end stored live, its onset by sync
            s.add_record(msg, "dev1", "1")
    assert cli.main(["events", "--db", str(path), "--format", "json"]) == 0
    (got,) = json.loads(capsys.readouterr().out)
    assert got["detected_s"] == want.detected_s == 1.15 and got["onset_s"] == want.onset_s
