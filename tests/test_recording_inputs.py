"""Files people bring (issue 12, items 2 and 3): time columns by many names and units, always checked;
decimal commas, Arduino Serial Plotter labels, .log/.tsv files, a cut-off last row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spasmcore.errors import InputError
from spasmcore.recording import read_recording, time_column_scale
from spasmwatch import cli

EMG = [2048 + (37 * i) % 61 - 30 for i in range(300)]  # EMG-like: never monotonic


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "stamp"),
    [
        ("time_s", lambda i: f"{i / 500:.4f}"),
        ("time_ms", lambda i: f"{i * 2}"),
        ("millis", lambda i: f"{100000 + i * 2}"),
        ("Time (s)", lambda i: f"{i / 500:.4f}"),
        ("seconds", lambda i: f"{i / 500:.4f}"),
        ("ms", lambda i: f"{i * 2}"),
        ("t [ms]", lambda i: f"{i * 2.0:.1f}"),  # float ms: only the unit tells
        ("timestamp_us", lambda i: f"{i * 2000}"),
        ("micros", lambda i: f"{5_000_000 + i * 2000}"),
        ("time", lambda i: f"{i * 2000}"),  # no unit, integers: ms would be 0.5 Hz, so microseconds
    ],
)
def test_time_column_names_and_units(tmp_path: Path, name: str, stamp) -> None:
    rows = "".join(f"{stamp(i)},{v}\n" for i, v in enumerate(EMG))
    rec = read_recording(write(tmp_path, "r.csv", f"{name},emg\n{rows}"))
    assert rec.names == ["emg"] and len(rec.channels) == 1  # the time column is not a channel
    assert rec.rate_hz == pytest.approx(500.0)
    np.testing.assert_array_equal(rec.channels[0], EMG)
    assert rec.warnings == []


def test_time_column_scale() -> None:
    assert time_column_scale("Time (ms)") == (True, 1e-3)
    assert time_column_scale("t_s") == (True, 1.0)
    assert time_column_scale("TIMESTAMP") == (True, None)
    assert time_column_scale("emg") == (False, None)
    assert time_column_scale("s")[0] is False  # a bare "s" may be a signal
    assert time_column_scale("time_emg")[0] is False


def test_restarting_clock_is_an_error_even_with_a_header_rate(tmp_path: Path) -> None:
    t = [i / 500 for i in range(150)] + [i / 500 for i in range(150)]  # a logger restarted mid-file
    rows = "".join(f"{a:.4f},{v}\n" for a, v in zip(t, EMG, strict=True))
    path = write(tmp_path, "two.csv", f"# rate_hz=500\ntime_s,emg\n{rows}")
    with pytest.raises(InputError, match=r"two.csv:153: time column does not increase .*goes back: 0.298 then 0"):
        read_recording(path)
    assert read_recording(path, rate_hz=500).n_samples == 300  # --rate ignores the time column


def test_time_column_gap_and_rate_mismatch_warn(tmp_path: Path) -> None:
    t = [i * 2 for i in range(100)] + [i * 2 + 1000 for i in range(100, 300)]  # 500 ms of samples lost
    rows = "".join(f"{a},{v}\n" for a, v in zip(t, EMG, strict=True))
    rec = read_recording(write(tmp_path, "gap.csv", f"time_ms,emg\n{rows}"))
    assert rec.rate_hz == 500
    assert len(rec.warnings) == 1 and "gap.csv:102" in rec.warnings[0] and "500 sample(s) missing" in rec.warnings[0]
    rows = "".join(f"{i * 2},{v}\n" for i, v in enumerate(EMG))
    rec = read_recording(write(tmp_path, "mism.csv", f"# rate_hz=1000\ntime_ms,emg\n{rows}"))
    assert rec.rate_hz == 1000 and "says 500 Hz but the file header says 1000 Hz" in rec.warnings[0]


def test_monotonic_first_column_warns(tmp_path: Path) -> None:
    rows = "".join(f"{i},{v}\n" for i, v in enumerate(EMG))
    rec = read_recording(write(tmp_path, "idx.csv", rows), rate_hz=500)
    assert len(rec.channels) == 2  # still read as data: a warning, not a guess
    assert "first column only increases" in rec.warnings[0]
    rec = read_recording(write(tmp_path, "hdr.csv", "sample,emg\n" + rows), rate_hz=500)
    assert "first column 'sample' only increases" in rec.warnings[0]
    plain = "".join(f"{v},{v + 1}\n" for v in EMG)
    assert read_recording(write(tmp_path, "ok.csv", plain), rate_hz=500).warnings == []


def test_decimal_commas(tmp_path: Path) -> None:
    rows = "".join(f"{i / 500:.3f};{v / 10:.1f}\n".replace(".", ",") for i, v in enumerate(EMG))
    rec = read_recording(write(tmp_path, "eu.csv", "Time (s);EMG (mV)\n" + rows))
    assert rec.rate_hz == 500 and rec.names == ["EMG (mV)"]
    np.testing.assert_allclose(rec.channels[0], np.array(EMG) / 10)
    rec = read_recording(write(tmp_path, "eu.txt", "0,000;12,5\n0,002;13,25\n0,004;11,0\n"), rate_hz=500)
    assert rec.channels[1].tolist() == [12.5, 13.25, 11.0] and rec.channels[0].tolist() == [0, 0.002, 0.004]
    rec = read_recording(write(tmp_path, "tab.tsv", "1,5\t2,5\n3,5\t4,5\n"), rate_hz=100)
    assert [c.tolist() for c in rec.channels] == [[1.5, 3.5], [2.5, 4.5]]


def test_arduino_serial_plotter(tmp_path: Path) -> None:
    rec = read_recording(write(tmp_path, "one.txt", "".join(f"emg:{v}\n" for v in EMG)), rate_hz=500)
    assert rec.names == ["emg"] and rec.channels[0].tolist() == EMG
    rec = read_recording(write(tmp_path, "two.txt", "".join(f"a:{v},b:{v + 1}\n" for v in EMG)), rate_hz=500)
    assert rec.names == ["a", "b"] and rec.channels[1].tolist() == [v + 1 for v in EMG]
    rec = read_recording(write(tmp_path, "sp.log", "".join(f"a:{v} b:-{v}.5\n" for v in EMG)), rate_hz=500)
    assert rec.names == ["a", "b"] and rec.channels[1][0] == -EMG[0] - 0.5
    with pytest.raises(InputError, match=r"mixed.txt:2: Serial Plotter labels b, a differ from the first line's a, b"):
        read_recording(write(tmp_path, "mixed.txt", "a:1,b:2\nb:1,a:2\na:1,b:2\n"), rate_hz=500)


@pytest.mark.parametrize("suffix", [".log", ".tsv", ".TXT", ".dat"])
def test_text_extensions(tmp_path: Path, suffix: str) -> None:
    sep = "\t" if suffix == ".tsv" else ","
    rec = read_recording(write(tmp_path, f"x{suffix}", "".join(f"{v}{sep}{v}\n" for v in EMG)), rate_hz=500)
    assert len(rec.channels) == 2 and rec.n_samples == len(EMG)


@pytest.mark.parametrize("last", ["20", "2048,", "2048,2x"])
def test_cut_off_last_row_is_dropped_with_a_warning(tmp_path: Path, last: str) -> None:
    text = "# rate_hz=500\na,b\n" + "".join(f"{v},{v}\n" for v in EMG) + last  # no newline: cut mid-write
    rec = read_recording(write(tmp_path, "cut.csv", text))
    assert rec.n_samples == len(EMG)
    assert len(rec.warnings) == 1 and f"cut.csv:{len(EMG) + 3}: last row dropped" in rec.warnings[0]
    middle = "# rate_hz=500\na,b\n1,2\n3\n4,5\n"  # a ragged row elsewhere is still an error
    with pytest.raises(InputError, match="mid.csv:4: expected 2 value"):
        read_recording(write(tmp_path, "mid.csv", middle))


def test_replay_prints_reader_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "# rate_hz=500\nemg\n" + "".join(f"{v}\n" for v in EMG) + "20x"
    path = write(tmp_path, "cut.log", text)
    assert cli.main(["replay", str(path)]) == 0
    captured = capsys.readouterr()
    assert "warning: " in captured.err and "last row dropped" in captured.err
    assert "cut.log: 0.6 s, 1 channel" in captured.out
