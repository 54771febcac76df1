"""`evaluate` takes its own outputs as truth (issue 12.6): events CSVs, with twitch read as jerk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spasmcore.errors import InputError
from spasmcore.events import read_truth
from spasmwatch import cli
from spasmwatch.commands.replay import example_path


def test_events_csv_of_a_replay_is_accepted_as_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "base.csv"
    assert cli.main(["replay", "--example", "--events", str(events)]) == 0
    assert "twitch" in events.read_text()  # the detector's own label, which truth files never had
    capsys.readouterr()
    assert cli.main(["evaluate", str(example_path()), str(events), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["sensitivity"] == 1.0 and scores["precision"] == 1.0  # the same run: a perfect match
    assert scores["kind_accuracy"] == 1.0  # twitch (as jerk) is matched by a twitch
    assert cli.main(["evaluate", str(example_path()), str(events), "--param", "min_dur_ms=5000", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sensitivity"] < 1.0  # another setting compared to it


def test_store_export_as_truth_skips_open_rows(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "channel,kind,onset_s,offset_s,detected_s,duration_s,peak,mean,peak_x,mean_x,detail,device_id,boot_id,seq,state\n"
        "0,twitch,1.0,1.2,1.1,0.2,100,50,5,2.5,,dev,1,3,closed\n"
        "0,fault,2.0,3.0,2.1,1.0,0,0,0,0,flat,dev,1,5,closed\n"
        "0,,4.0,,4.1,,,,,,,dev,1,6,open\n"
    )
    truth = read_truth(path)
    assert [(t.kind, t.onset_s) for t in truth] == [("jerk", 1.0), ("fault", 2.0)]


def test_unknown_truth_kind_still_refused_with_the_accepted_list(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("channel,onset_s,offset_s,kind\n0,1,2,spasm\n")
    with pytest.raises(InputError, match=r"t.csv:2: unknown kind 'spasm' \(expected one of .*jerk.*twitch\)"):
        read_truth(path)
