"""Replay in blocks equals replay in memory: streamed to_counts, the EDF and CSV block readers, and bad files."""

from __future__ import annotations

import numpy as np
import pytest

from spasmcore import frontend as fe
from spasmcore.errors import InputError
from spasmcore.readers import edf as edf_mod
from spasmcore.readers import open_source, source
from spasmcore.recording import Recording, read_recording, write_recording
from spasmwatch.commands.replay import replay
from spasmwatch.engine import pipeline
from spasmwatch.engine.convert import Converter, prepare_counts
from tests.signals import emg


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 512 rows and medians gathered only below 300 candidates: every pass and boundary is exercised."""
    monkeypatch.setattr(pipeline, "ROWS", 512)
    monkeypatch.setattr(pipeline, "STREAM_MIN_BYTES", 0)  # stream even small text files
    monkeypatch.setattr(source, "COLLECT_MAX", 300)


def _streamed(values: np.ndarray, units: str, mode: str, rate: float, rows: int = 700) -> np.ndarray:
    prepared = prepare_counts(values, units)
    c = Converter(units, mode, rate)
    col = lambda: (values[i : i + rows] for i in range(0, len(values), rows))  # noqa: E731
    c.prepare(col, len(values), float(prepared.min()), float(prepared.max()))
    return np.concatenate([c(b) for b in col()])


@pytest.mark.parametrize("mode", ["raw", "env"])
@pytest.mark.parametrize("units,make", [
    ("counts", lambda r: r.integers(0, 4096, 5000).astype(np.float64)),
    ("counts", lambda r: r.integers(-128, 128, 5000).astype(np.float64)),  # centred (Myo int8)
    ("uV", lambda r: r.normal(30, 80, 5001)),
    ("mV", lambda r: np.round(r.normal(0, 0.05, 4000), 3)),  # many ties at the median
    ("au", lambda r: np.abs(r.normal(0, 0.1, 5000))),  # an envelope
    ("au", lambda r: r.normal(0.2, 1, 5000)),  # centred raw-like
])
def test_streamed_conversion_is_bit_exact(monkeypatch, units: str, make, mode: str) -> None:
    monkeypatch.setattr(source, "COLLECT_MAX", 200)
    values = make(np.random.default_rng(7))
    want = fe.to_counts(prepare_counts(values, units), units, mode, 500.0)
    got = _streamed(values, units, mode, 500.0)
    assert got.dtype == want.dtype and np.array_equal(got, want)


def _edf(tmp_path, data_uv: list[np.ndarray], rate: float = 1000.0, name: str = "r.edf"):
    import edfio

    sigs = [edfio.EdfSignal(d, rate, label=f"EMG{i}", physical_dimension="uV") for i, d in enumerate(data_uv)]
    path = tmp_path / name
    edfio.Edf(sigs).write(path)
    return path


def _whole_edf(path, mode: str) -> list:
    import edfio

    e = edfio.read_edf(path)
    rec = Recording(rate_hz=e.signals[0].sampling_frequency, channels=[s.data for s in e.signals], units="uV",
                    mode=None, source=str(path), indices=list(range(len(e.signals))))
    return replay(rec, mode, None, "python")


@pytest.mark.parametrize("mode", ["raw", "env"])
def test_edf_in_blocks_equals_in_memory(tmp_path, small_blocks, mode: str) -> None:
    counts = [emg(20, 1000, [(4, 6, 60.0), (12, 12.2, 80.0)], seed=s) for s in (1, 2)]
    path = _edf(tmp_path, [(c - 2048) * 4.0 for c in counts])  # ~4 uV per count
    want = _whole_edf(path, mode)
    got = pipeline.replay_file(str(path), mode=mode, engine="python")
    assert got.source.fmt == "edf" and got.source.rate_hz == 1000.0 and got.source.channel_units == ["uV", "uV"]
    assert got.events == want and len(want) >= 2
    assert pipeline.replay_file(str(path), mode=mode, engine="fast").events == want


def test_csv_in_blocks_equals_in_memory(tmp_path, small_blocks) -> None:
    sig = emg(30, 1000, [(5, 8, 50.0), (15, 15.3, 90.0), (22, 26, 40.0)], seed=4)
    path = tmp_path / "s.csv"
    write_recording(path, 1000, [sig, sig[::-1].copy()], units="counts", mode="raw")
    got = pipeline.replay_file(str(path), engine="fast")
    assert got.source.fmt == "csv" and "read in blocks (pyarrow)" in got.source.notes
    assert got.events == replay(read_recording(path), "raw", None, "python") and got.events


def test_csv_cut_last_row_warns_like_read_recording(tmp_path, small_blocks) -> None:
    path = tmp_path / "cut.csv"
    write_recording(path, 1000, [emg(3, 1000, [], seed=1), emg(3, 1000, [], seed=2)], units="counts")
    with open(path, "a") as fh:
        fh.write("2048,")
    got = pipeline.replay_file(str(path), engine="fast")
    assert got.source.fmt == "csv" and got.source.warnings == read_recording(path).warnings
    assert got.n_samples == 3000


@pytest.mark.parametrize("bad,message", [("2048\nnan\n", "NaN value"), ("2048\nabc\n", "non-numeric"),
                                         ("2048\n20481e9\n", "is not an ADC count")])
def test_csv_bad_value_is_read_recordings_error(tmp_path, small_blocks, bad: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    write_recording(path, 1000, [emg(2, 1000, [], seed=1)], units="counts")
    text = path.read_text().splitlines(keepends=True)
    path.write_text("".join(text[:900]) + bad + "".join(text[900:]))
    with pytest.raises(InputError) as want:
        read_recording(path)
    with pytest.raises(InputError, match=message) as got:
        pipeline.replay_file(str(path), engine="fast")
    assert str(got.value) == str(want.value)


def test_truncated_edf_is_one_error(tmp_path) -> None:
    path = _edf(tmp_path, [np.zeros(5000)])
    raw = path.read_bytes()
    path.write_bytes(raw[:-700])
    with pytest.raises(InputError, match="damaged or still being written"):
        open_source(path)


def test_edf_header_record_count_mismatch_is_one_error(tmp_path) -> None:
    path = _edf(tmp_path, [np.zeros(5000)])
    raw = bytearray(path.read_bytes())
    raw[236:244] = b"9       "  # the header's number of data records (the file holds 5)
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="header indicates 9"):
        open_source(path)


def test_edf_garbage_header_is_one_error(tmp_path) -> None:
    path = tmp_path / "x.edf"
    path.write_bytes(b"0       " + b"\xff" * 300)
    with pytest.raises(InputError, match="not a valid EDF"):
        open_source(path)


def test_edf_channels_of_different_rates_ask_for_a_choice(tmp_path) -> None:
    import edfio

    path = tmp_path / "m.edf"
    edfio.Edf([edfio.EdfSignal(np.zeros(1000), 1000, label="EMG"),
               edfio.EdfSignal(np.zeros(256), 256, label="ECG")]).write(path)
    with pytest.raises(InputError, match=r"different rates \(0 EMG 1000 Hz, 1 ECG 256 Hz\)"):
        open_source(path)
    assert open_source(path, columns=[1]).rate_hz == 256


def test_annotated_edf_reads_back(tmp_path) -> None:
    import edfio

    path = tmp_path / "a.edf"
    sig = emg(10, 500, [], seed=3)
    edf_mod.write_annotated(path, 500, [sig], ["EMG"], [(1.5, 2.25, "tonic peak_x=8.1"), (4.0, 0.0, "fault rail")])
    e = edfio.read_edf(path)
    assert [(a.onset, a.duration, a.text) for a in e.annotations] == [(1.5, 2.25, "tonic peak_x=8.1"),
                                                                      (4.0, None, "fault rail")]
    assert np.array_equal(e.signals[0].data, sig) and e.signals[0].physical_dimension == "counts"
    assert open_source(path).units == "counts"


@pytest.mark.parametrize("kind", ["centred_counts", "guessed_au", "guessed_counts"])
def test_one_pass_assumption_checked(tmp_path, small_blocks, kind: str) -> None:
    """The single-pass CSV path assumes non-negative counts; when the file says otherwise it replays exactly."""
    rng = np.random.default_rng(3)
    sig = emg(20, 500, [(5, 8, 50.0), (12, 12.4, 80.0)], seed=5) - 2048
    path = tmp_path / f"{kind}.csv"
    if kind == "centred_counts":
        write_recording(path, 500, [sig, sig[::-1].copy()], units="counts")
    else:
        values = sig * 0.01 + rng.normal(0, 0.001, sig.size) if kind == "guessed_au" else sig + 2048
        path.write_text("# rate_hz=500\n" + "\n".join(repr(float(v)) if kind == "guessed_au" else str(int(v))
                                                    for v in values) + "\n")
    want_rec = read_recording(path)
    got = pipeline.replay_file(str(path), engine="fast")
    assert got.source.fmt == "csv" and got.source.units == want_rec.units
    assert got.events == replay(want_rec, "raw", None, "python") and got.events


def test_bdf_24_bit_reads_as_edfio_does(tmp_path, small_blocks) -> None:
    import edfio

    data = np.random.default_rng(2).normal(0, 300, 6000)
    path = tmp_path / "r.bdf"
    edfio.Bdf([edfio.BdfSignal(data, 500, label="EMG", physical_dimension="uV")]).write(path)
    src = open_source(path)
    got = np.concatenate([b[:, 0] for b in src.blocks(512)])
    assert src.fmt == "bdf" and np.array_equal(got, edfio.read_bdf(path).signals[0].data)
