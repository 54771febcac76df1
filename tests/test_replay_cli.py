"""Tests of `spasmwatch replay`: arguments, one-line errors, output formats, and detection on the example."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spasmcore.events import Event, read_events, read_truth
from spasmcore.recording import Recording, decimate, read_recording, write_recording
from spasmwatch.cli import main
from spasmwatch.commands import replay as rp

EXAMPLE_TRUTH = Path(__file__).resolve().parents[1] / "host" / "spasmwatch" / "examples" / "example_raw.truth.csv"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["replay", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("spasmwatch replay: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


def burst_recording(path: Path, channels: int = 1, rate: int = 1000) -> None:
    """A 12 s raw recording: quiet, then a 3 s strong burst on each channel at 6 s (later on channel 1)."""
    rng = np.random.default_rng(5)
    chans = []
    for c in range(channels):
        x = 2048 + 3 * rng.standard_normal(12 * rate)
        start = (6 + 2 * c) * rate if c else 6 * rate
        x[start : start + 3 * rate] += 150 * rng.standard_normal(3 * rate)
        chans.append(np.clip(np.round(x), 0, 4095).astype(np.int32))
    write_recording(path, rate, chans, mode="raw")


# ------------------------------------------------------------------------------------------ argument errors


def test_needs_recording_or_example(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys)
    assert_one_line_error(code, err, "RECORDING", "--example")
    path = tmp_path / "r.csv"
    burst_recording(path)
    code, _, err = run(capsys, str(path), "--example")
    assert_one_line_error(code, err, "not both")


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, str(tmp_path / "nope.csv"))
    assert_one_line_error(code, err, "nope.csv: no such file")
    assert out == ""


@pytest.mark.parametrize(
    ("text", "argv", "needles"),
    [
        ("", [], ["empty file"]),
        ("1\n2\n3\n", [], ["pass --rate"]),
        ("# rate_hz=1000\na\n1\nx\n2\n", [], ["non-numeric"]),  # a bad middle row (a bad last one is dropped)
        ("# rate_hz=1000\na\n1\nnan\n", [], ["NaN"]),
        ("# rate_hz=1000\na,b\n1,2\n3\n4,5\n", [], ["truncated or ragged"]),
        ("1\n2\n", ["--rate", "5"], ["5 Hz (--rate) is out of range"]),
        ("1,2\n3,4\n", ["--rate", "100", "--channel", "4"], ["no channel 4"]),
        ("1\n2\n", ["--rate", "100", "--channel", "x"], ["--channel 'x'"]),
        ("1\n2\n", ["--rate", "100", "--channel", "3-1"], ["--channel '3-1'"]),
        ("1\n2\n", ["--rate", "100", "--param", "oops"], ["expected NAME=VALUE"]),
        ("1\n2\n", ["--rate", "100", "--param", "sensitivity=abc"], ["not a number"]),
    ],
)
def test_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, argv: list[str], needles: list[str]
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(text)
    code, _, err = run(capsys, str(path), *argv)
    assert_one_line_error(code, err, *needles)


def test_argparse_rejects_unknown_units_and_mode(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--example", "--units", "furlongs"], ["--example", "--mode", "fast"]):
        with pytest.raises(SystemExit) as info:
            main(["replay", *argv])
        assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_help_documents_example_channels_and_units(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["replay", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for needle in ("--example", "--channel 0-7", "cue-label", "OpenSignals", ".wav", ".mat", "au"):
        assert needle in out


# ------------------------------------------------------------------------------------------ helpers


def test_parse_channels() -> None:
    assert rp.parse_channels("3") == [3]
    assert rp.parse_channels("0-3") == [0, 1, 2, 3]
    assert rp.parse_channels("2, 0-1,2") == [2, 0, 1]
    for bad in ("", "a", "-1", "3-1", "1,,2"):
        with pytest.raises(rp.ConfigError):
            rp.parse_channels(bad)


def test_label_column_heuristic() -> None:
    rate = 200.0
    labels = np.repeat(np.array([0, 1] * 6), 1000)  # 5 s blocks of a cue label
    emg = np.random.default_rng(0).integers(-60, 60, labels.size)
    assert rp._looks_like_labels(labels, rate)
    assert not rp._looks_like_labels(emg, rate)
    assert not rp._looks_like_labels(labels[:100], rate)  # too short to tell


def test_example_path_exists() -> None:
    path = rp.example_path()
    assert path.name == "example_raw.csv" and path.is_file()


def make_event(channel: int, kind: str, onset: float, detail: str = "") -> Event:
    return Event(channel, kind, onset, onset + 1.5, onset + 0.1, 1.5, 120.0, 60.0, 12.0, 6.0, detail)


def test_table_and_summary_format() -> None:
    rec = Recording(1000.0, [np.zeros(90_000, np.int32)] * 2, "counts", "raw", "/x/rec.csv", indices=[0, 1])
    events = [make_event(0, "tonic", 1.0), make_event(1, "clonus", 5.25), make_event(1, "fault", 9.0, "flat")]
    table = rp.format_table(events).splitlines()
    assert table[0].split() == [
        "ch", "kind", "onset_s", "offset_s", "dur_s", "latency_ms", "peak", "peak_x", "mean_x", "detail"
    ]  # fmt: skip
    assert table[2].split() == ["1", "clonus", "5.250", "6.750", "1.500", "100", "120", "12.0", "6.0"]
    assert table[3].split()[-1] == "flat"
    assert len({len(line.split("  ")[0]) for line in table}) == 1  # columns aligned
    line = rp.summary(rec, "raw", events)
    assert line == "rec.csv: 90.0 s, 2 channels, raw mode at 1000 Hz: 2 episodes (1 tonic, 1 clonus), 1 fault"
    assert rp.summary(rec, "env", []).endswith("env mode at 1000 Hz: 0 episodes, 0 faults")


def test_decimate_halves_rate_and_keeps_counts_integer() -> None:
    x = (2048 + 100 * np.sin(2 * np.pi * 5 * np.arange(4096) / 2048)).astype(np.int32)
    rec = Recording(2048.0, [x], "counts", "raw", "x.mat", names=["ch0"], indices=[3])
    half = decimate(rec, 2)
    assert half.rate_hz == 1024 and half.indices == [3] and half.channels[0].dtype == np.int32
    assert len(half.channels[0]) == 2048
    np.testing.assert_allclose(half.channels[0][100:-100], x[::2][100:-100], atol=3)  # 5 Hz passes


# ------------------------------------------------------------------------------------------ with the detector


def test_example_finds_the_three_spasms(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--example")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[-1].startswith("example_raw.csv: 60.0 s, 1 channel, raw mode at 1000 Hz, sensitivity 0.1 false "
                                "alarms/h of rest (default):")
    rows = [line.split() for line in lines[1:-1]]
    truth = read_truth(EXAMPLE_TRUTH)
    for t in truth:  # each truth interval overlaps a detected episode
        assert any(float(r[2]) < t.offset_s and float(r[3]) > t.onset_s for r in rows), (t, out)
    # no detection on the quiet stretches (first 11 s, between the bursts)
    assert all(float(r[2]) > 11.0 for r in rows), out


def test_events_csv_and_stdout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_csv = tmp_path / "ev.csv"
    code, out, _ = run(capsys, "--example", "--events", str(out_csv))
    assert code == 0
    assert out.strip().splitlines() == [out.strip()]  # only the summary line
    assert f"events written to {out_csv}" in out
    events = read_events(out_csv)
    assert events and all(e.channel == 0 for e in events)
    assert events == sorted(events, key=lambda e: e.onset_s)
    code, out, err = run(capsys, "--example", "--events", "-")
    assert code == 0
    assert out.splitlines()[0].startswith("channel,kind,onset_s")
    assert len(out.splitlines()) == len(events) + 1
    assert "episodes" in err


def test_events_unwritable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--example", "--events", str(tmp_path / "missing-dir" / "ev.csv"))
    assert_one_line_error(code, err, "cannot write")


def test_bad_param_value_is_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--example", "--param", "no_such_param=3")
    assert_one_line_error(code, err, "no_such_param")


def test_channels_detected_independently(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    burst_recording(path, channels=2)
    out_csv = tmp_path / "ev.csv"
    assert run(capsys, str(path), "--events", str(out_csv))[0] == 0
    episodes = [e for e in read_events(out_csv) if e.kind != "fault"]
    by_channel = {c: [e for e in episodes if e.channel == c] for c in (0, 1)}
    assert by_channel[0] and by_channel[1]
    assert abs(by_channel[0][0].onset_s - 6.0) < 0.3 and abs(by_channel[1][0].onset_s - 8.0) < 0.3
    assert run(capsys, str(path), "--channel", "1", "--events", str(out_csv))[0] == 0
    assert {e.channel for e in read_events(out_csv)} == {1}  # original channel index kept


def test_label_column_note_and_selection(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    emg = rng.integers(-5, 6, (6000, 2))
    emg[3000:3600] = rng.integers(-100, 101, (600, 2))
    label = np.repeat([0, 1, 0, 1, 0, 1], 1000)[:, None]
    path = tmp_path / "myo.txt"
    np.savetxt(path, np.hstack([emg, label]), fmt="%d", delimiter=",")
    code, _, err = run(capsys, str(path), "--rate", "200")
    assert code == 0 and "channel(s) 2 look like a cue/label column" in err
    code, _, err = run(capsys, str(path), "--rate", "200", "--channel", "0-1")
    assert code == 0 and "label" not in err


def test_physical_units_and_decimation(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    uv = 5 * rng.standard_normal(2048 * 10)
    uv[2048 * 5 : 2048 * 7] += 400 * rng.standard_normal(2048 * 2)  # 0.4 mV RMS burst
    path = tmp_path / "uv.csv"
    write_recording(path, 2048, [uv], units="uV")
    assert read_recording(path).units == "uV"
    code, out, err = run(capsys, str(path))
    assert code == 0 and "decimated by 2 to 1024 Hz" in err
    assert "raw mode at 1024 Hz, sensitivity 0.1 false alarms/h of rest (default): 1 episode" in out


@pytest.mark.micropython
def test_micropython_engine_matches_python(capsys: pytest.CaptureFixture[str], micropython_bin: str) -> None:
    code, out_py, _ = run(capsys, "--example", "--events", "-")
    assert code == 0
    code, out_mp, err = run(capsys, "--example", "--events", "-", "--engine", "micropython")
    assert code == 0, err
    assert out_mp == out_py


def test_low_rate_filter_changes_are_shown(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # issue 8: at 200 Hz the 40 Hz high-pass used to be switched off without a word; now it is clamped and said
    path = tmp_path / "armband.csv"
    burst_recording(path, rate=200)
    code, out, err = run(capsys, str(path))
    assert code == 0
    assert "note: hp_hz=40 clamped to 35 Hz" in err
    code, out, err = run(capsys, str(tmp_path / "armband.csv"), "--param", "hp_hz=20")
    assert code == 0 and "clamped" not in err


def test_an_envelope_replayed_without_a_mode_is_pointed_to_env_mode(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A MyoWare's own ENV log (../shared/data/myoware_rrp) says nothing of its mode: replayed in raw mode without
    # a word, it gave raw-mode episodes of an envelope. Plain columns, no header: the file does not say.
    rng = np.random.default_rng(8)
    env = 10 + np.abs(3 * rng.standard_normal(100 * 60))
    for start in range(500, 6000, 1000):
        env[start : start + 100] += 400
    raw = 2048 + 20 * rng.standard_normal(100 * 60)
    for name, values in (("env.csv", env), ("raw.csv", raw)):
        np.savetxt(tmp_path / name, np.round(values), fmt="%d")
    code, _, err = run(capsys, str(tmp_path / "env.csv"), "--rate", "100")
    assert code == 0 and "env.csv looks like an envelope" in err and "--mode env" in err
    code, _, err = run(capsys, str(tmp_path / "env.csv"), "--rate", "100", "--mode", "env")
    assert code == 0 and "looks like an envelope" not in err
    code, _, err = run(capsys, str(tmp_path / "raw.csv"), "--rate", "100")
    assert code == 0 and "looks like an envelope" not in err
