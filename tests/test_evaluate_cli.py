"""Tests of `spasmwatch evaluate` through spasmwatch.cli.main, on hand-made truth, events and recordings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spasmcore.events import Event, TruthInterval, read_events, write_events, write_truth
from spasmcore.recording import write_recording
from spasmwatch.cli import main


def ev(on: float, off: float, kind: str = "tonic", ch: int = 0) -> Event:
    return Event(
        ch, kind, on, off, on + 0.05, off - on, 900.0, 400.0, 30.0, 12.0, "rail" if kind == "fault" else ""
    )


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    truth = tmp_path / "truth.csv"
    events = tmp_path / "events.csv"
    write_truth(
        truth,
        [
            TruthInterval(0, 10.0, 12.0, "clonus"),
            TruthInterval(0, 30.0, 31.0, "tonic"),
            TruthInterval(0, 50.0, 55.0, "fault"),
        ],
    )
    write_events(
        events, [ev(10.0, 11.0, "clonus"), ev(11.2, 12.0, "tonic"), ev(51, 52), ev(50.1, 54.9, "fault")]
    )
    return truth, events


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_events_json_with_duration(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    truth, events = files
    d = run_json(capsys, ["evaluate", str(truth), "--events", str(events), "--duration", "1800", "--json"])
    for key in (
        "sensitivity",
        "precision",
        "f1",
        "false_alarms_per_hour",
        "false_alarms_per_rest_hour",
        "fragments",
        "onset_abs_median_ms",
        "latency_p95_ms",
        "kind_accuracy",
        "confusion",
        "faults_found",
        "truth_spasms_per_hour",
        "detected_per_hour",
        "per_channel",
        "inputs",
    ):
        assert key in d, key
    assert d["sensitivity"] == 0.5  # the tonic spasm at 30 s is missed
    assert d["fragments"] == 1 and d["false_alarms"] == 1 and d["false_alarms_in_faults"] == 1
    assert d["precision"] == pytest.approx(1 / 3)  # one-to-one: the clonus's second piece is surplus
    assert d["surplus"] == 1 and d["split"] == 1 and d["merged"] == 0 and d["longest_episode_s"] == 1.0
    assert d["false_alarms_per_hour"] == pytest.approx(2.0)
    assert d["faults_found"] == 1 and d["truth_faults"] == 1
    assert d["duration_s"] == 1800.0 and d["channels"] == 1
    assert d["confusion"] == {"clonus": {"clonus": 1}}
    assert d["inputs"]["events"] == str(events) and d["inputs"]["recording"] is None


def test_events_table_output(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    truth, events = files
    assert main(["evaluate", str(truth), "--events", str(events), "--duration", "3600"]) == 0
    out = capsys.readouterr().out
    assert "sensitivity" in out and "50.0% (1/2)" in out
    assert "false alarms / h" in out and "1.00" in out


def test_events_duration_from_recording(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth, events = files
    rec = tmp_path / "rec.csv"
    write_recording(rec, 100, [np.full(6000, 2048), np.full(6000, 2048)], mode="raw")  # 60 s, 2 channels
    d = run_json(capsys, ["evaluate", str(rec), str(truth), "--events", str(events), "--json"])
    assert [c["channel"] for c in d["per_channel"]] == [0, 1]  # channel 1: no truth, no events, still scored
    assert d["duration_s"] == pytest.approx(120.0)  # 2 channels x 60 s
    assert d["per_channel"][0]["false_alarms_per_hour"] == pytest.approx(60.0)
    assert d["per_channel"][1]["false_alarms_per_hour"] == 0.0
    assert d["false_alarms_per_hour"] == pytest.approx(30.0)
    assert d["inputs"]["rate_hz"] == 100


def test_channel_filter_with_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth, events = tmp_path / "t.csv", tmp_path / "e.csv"
    write_truth(truth, [TruthInterval(0, 1, 2, "jerk"), TruthInterval(1, 5, 6, "cramp")])
    write_events(events, [ev(1, 1.1, "twitch", ch=0), ev(8, 9, ch=1)])
    d = run_json(
        capsys,
        ["evaluate", str(truth), "--events", str(events), "--duration", "60", "--channel", "1", "--json"],
    )
    assert d["sensitivity"] == 0.0 and d["false_alarms"] == 1 and d["truth_spasms"] == 1
    d = run_json(
        capsys,
        [
            "evaluate",
            str(truth),
            "--events",
            str(events),
            "--duration",
            "60",
            "--tolerance-ms",
            "0",
            "--json",
        ],
    )
    assert d["sensitivity"] == 0.5 and d["kind_accuracy"] == 1.0 and d["tolerance_ms"] == 0.0


def error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("spasmwatch evaluate: error: ")
    assert "\n" not in err and "Traceback" not in err
    return err


def test_bad_truth_file(files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, events = files
    bad = tmp_path / "bad.csv"
    bad.write_text("channel,onset_s,offset_s,kind\n0,1.0,2.0,sneeze\n")
    assert "sneeze" in error_line(capsys, ["evaluate", str(bad), "--events", str(events), "--duration", "60"])
    bad.write_text("channel,onset_s,kind\n0,1.0,tonic\n")
    assert "offset_s" in error_line(
        capsys, ["evaluate", str(bad), "--events", str(events), "--duration", "60"]
    )
    missing = tmp_path / "nope.csv"
    assert "nope.csv" in error_line(
        capsys, ["evaluate", str(missing), "--events", str(events), "--duration", "1"]
    )


def test_bad_events_and_arguments(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth, events = files
    odd = tmp_path / "odd.csv"
    odd.write_text("channel,kind,onset_s,offset_s\n0,sneeze,1,2\n")
    assert "sneeze" in error_line(capsys, ["evaluate", str(truth), "--events", str(odd), "--duration", "60"])
    assert "--duration" in error_line(capsys, ["evaluate", str(truth), "--events", str(events)])
    assert "RECORDING" in error_line(capsys, ["evaluate", str(truth)])
    assert "--param" in error_line(
        capsys, ["evaluate", str(truth), "--events", str(events), "--duration", "60", "--param", "x=1"]
    )
    assert "tolerance" in error_line(
        capsys, ["evaluate", str(truth), "--events", str(events), "--duration", "60", "--tolerance-ms", "-5"]
    )


def test_truth_channel_missing_from_recording(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, events = files
    truth = tmp_path / "t.csv"
    write_truth(truth, [TruthInterval(3, 1, 2, "tonic")])
    rec = tmp_path / "rec.csv"
    write_recording(rec, 100, [np.full(500, 2048)])
    assert "channel(s) 3" in error_line(capsys, ["evaluate", str(rec), str(truth), "--events", str(events)])


def test_param_parsing() -> None:
    from spasmcore.errors import ConfigError
    from spasmwatch.engine.params import parse_params

    assert parse_params(["on_x=4", "min_ms = 2.5"]) == {"on_x": 4, "min_ms": 2.5}
    assert isinstance(parse_params(["a=4"])["a"], int)
    for bad in ("novalue", "a=", "=3", "a=fast", "ecg=sometimes"):
        with pytest.raises(ConfigError):
            parse_params([bad])
    assert parse_params(["ecg=off", "sensitivity=3"]) == {"ecg": 0, "sensitivity": 3}  # the heartbeat gate by name
    assert parse_params(["ecg=auto"]) == {"ecg": 1} and parse_params(["ecg=on"]) == {"ecg": 2}


def bursts_recording(path: Path, rate: int = 1000, seconds: float = 20.0) -> list[TruthInterval]:
    """Quiet mid-rail noise with three loud 1 s bursts: any working detector finds these."""
    rng = np.random.default_rng(7)
    n = int(rate * seconds)
    sig = rng.normal(0, 4, n)
    truth = []
    for on in [t for t in (4.0, 9.0, 14.0) if t + 1.0 <= seconds]:
        a, b = int(on * rate), int((on + 1.0) * rate)
        sig[a:b] = rng.normal(0, 500, b - a)
        truth.append(TruthInterval(0, on, on + 1.0, "tonic"))
    write_recording(path, rate, [np.clip(np.round(2048 + sig), 0, 4095).astype(np.int32)], mode="raw")
    return truth


def test_end_to_end_detector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec, truth_csv, saved = tmp_path / "rec.csv", tmp_path / "truth.csv", tmp_path / "detected.csv"
    write_truth(truth_csv, bursts_recording(rec))
    d = run_json(capsys, ["evaluate", str(rec), str(truth_csv), "--json", "--save-events", str(saved)])
    assert d["inputs"]["events"] == "detector" and d["inputs"]["mode"] == "raw"
    assert d["duration_s"] == pytest.approx(20.0)
    assert d["sensitivity"] == 1.0
    assert d["false_alarms"] == 0
    detected = read_events(saved)
    assert d["episodes"] == sum(e.kind != "fault" for e in detected)
    assert d["onset_abs_median_ms"] < 200 and d["latency_median_ms"] < 500
    # Scoring the saved events gives the same answer as scoring the detector run.
    again = run_json(capsys, ["evaluate", str(rec), str(truth_csv), "--events", str(saved), "--json"])
    assert again["sensitivity"] == d["sensitivity"] and again["episodes"] == d["episodes"]


def test_end_to_end_bad_param(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec, truth_csv = tmp_path / "rec.csv", tmp_path / "truth.csv"
    write_truth(truth_csv, bursts_recording(rec, seconds=6.0)[:1])
    assert "no_such_param" in error_line(
        capsys, ["evaluate", str(rec), str(truth_csv), "--param", "no_such_param=3"]
    )


def test_stray_twitch_is_a_false_event_by_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth, events = tmp_path / "t.csv", tmp_path / "e.csv"
    write_truth(truth, [TruthInterval(0, 10.0, 12.0, "tonic")])
    # A twitch far from the only truth spasm, one 0.5 s after it, and a tonic false alarm.
    write_events(
        events,
        [ev(10.0, 12.0), ev(100.0, 100.2, "twitch"), ev(12.5, 12.6, "twitch"), ev(300.0, 305.0)],
    )
    argv = ["evaluate", str(truth), "--events", str(events), "--duration", "3602"]
    d = run_json(capsys, [*argv, "--json"])
    assert d["false_alarms"] == 3
    assert d["false_alarms_by_kind"] == {"twitch": 2, "tonic": 1, "clonus": 0}
    assert d["false_alarms_per_rest_hour_by_kind"]["twitch"] == pytest.approx(2.0)
    assert d["false_alarms_per_rest_hour_by_kind"]["tonic"] == pytest.approx(1.0)
    assert d["per_channel"][0]["false_alarms_by_kind"]["twitch"] == 2
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "false twitch" in out and "2, 2.00 / rest h" in out
    assert "false events per hour of rest: 3.00 (3 in 1 h; twitch 2.00, tonic 1.00, clonus 0.00)" in out
