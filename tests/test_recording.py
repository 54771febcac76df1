"""Tests of recording input/output (every format and error) and of the MyoWare/ESP32 front-end model."""

from __future__ import annotations

import importlib.util
import json
import wave
from pathlib import Path

import numpy as np
import pytest

from spasmcore import frontend
from spasmcore.errors import InputError
from spasmcore.events import read_truth
from spasmcore.recording import Recording, read_recording, write_recording

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "host" / "spasmwatch" / "examples"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------ our CSV format


def test_write_read_roundtrip_multichannel(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    chans = [rng.integers(0, 4096, 500).astype(np.int32), rng.integers(0, 4096, 500).astype(np.int32)]
    path = tmp_path / "r.csv"
    write_recording(path, 1000, chans, mode="env")
    rec = read_recording(path)
    assert isinstance(rec, Recording)
    assert rec.rate_hz == 1000 and rec.units == "counts" and rec.mode == "env"
    assert rec.names == ["ch0", "ch1"] and rec.indices == [0, 1]
    for got, want in zip(rec.channels, chans, strict=True):
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, want)
    assert rec.duration_s == pytest.approx(0.5)


def test_write_header_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    write_recording(path, 500, [np.array([1, 2, 3])], units="counts", mode="raw", with_time=True)
    lines = path.read_text().splitlines()
    assert lines[:5] == ["# spasmwatch recording v1", "# rate_hz=500", "# units=counts", "# mode=raw", "# channels=1"]
    assert lines[5] == "t_s,ch0"
    assert lines[6:] == ["0.0000,1", "0.0020,2", "0.0040,3"]
    rec = read_recording(path)
    assert rec.rate_hz == 500 and rec.names == ["ch0"]
    np.testing.assert_array_equal(rec.channels[0], [1, 2, 3])


def test_write_is_deterministic(tmp_path: Path) -> None:
    x = np.random.default_rng(7).normal(0, 30, 2000)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_recording(a, 1000, [x], units="uV")
    write_recording(b, 1000, [x.copy()], units="uV")
    assert a.read_bytes() == b.read_bytes()
    rec = read_recording(a)
    assert rec.units == "uV" and rec.mode is None
    np.testing.assert_array_equal(rec.channels[0], x)  # repr() round-trips floats exactly


def test_write_float_integers_as_integers(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    write_recording(path, 1000, [np.array([2048.0, 2050.0])])
    assert path.read_text().splitlines()[-2:] == ["2048", "2050"]


def test_write_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="same length"):
        write_recording(tmp_path / "x.csv", 1000, [np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError, match="units"):
        write_recording(tmp_path / "x.csv", 1000, [np.zeros(3)], units="furlongs")
    with pytest.raises(ValueError, match="mode"):
        write_recording(tmp_path / "x.csv", 1000, [np.zeros(3)], mode="fast")


def test_header_rate_overridden_by_argument(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    write_recording(path, 1000, [np.arange(10)])
    assert read_recording(path, rate_hz=500).rate_hz == 500
    assert read_recording(path, units="uV").units == "uV"


# ------------------------------------------------------------------------------------------ generic text


def test_generic_csv_time_column_gives_rate(tmp_path: Path) -> None:
    rows = "\n".join(f"{i * 0.004:.3f},{0.01 * i:.4f}" for i in range(50))
    rec = read_recording(write(tmp_path, "t.csv", "timestamp,emg\n" + rows + "\n"))
    assert rec.rate_hz == pytest.approx(250.0)
    assert rec.names == ["emg"] and rec.units == "au"
    assert rec.channels[0].dtype == np.float64 and rec.channels[0][3] == pytest.approx(0.03)


def test_generic_time_in_integer_ms(tmp_path: Path) -> None:
    rows = "\n".join(f"{1000 + i},{2048 + i % 5}" for i in range(40))
    rec = read_recording(write(tmp_path, "ms.csv", "time,a\n" + rows + "\n"))
    assert rec.rate_hz == pytest.approx(1000.0) and rec.units == "counts"


def test_time_column_must_increase(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"t.csv:4: time column does not increase"):
        read_recording(write(tmp_path, "t.csv", "t,a\n0.0,1\n0.01,2\n0.01,3\n"))


@pytest.mark.parametrize("sep", [",", ";", "\t", " "])
def test_headerless_separators_need_rate(tmp_path: Path, sep: str) -> None:
    text = "\n".join(sep.join(str(v) for v in (i, -i, 2 * i)) for i in range(20)) + "\n"
    path = write(tmp_path, "h.txt", text)
    with pytest.raises(InputError, match="pass --rate"):
        read_recording(path)
    rec = read_recording(path, rate_hz=200, columns=[0, 2])
    assert rec.indices == [0, 2] and rec.units == "counts"
    np.testing.assert_array_equal(rec.channels[1], 2 * np.arange(20))


def test_column_selection_out_of_range(tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", "1,2\n3,4\n")
    with pytest.raises(InputError, match="no channel 5"):
        read_recording(path, rate_hz=100, columns=[5])


def test_float_values_guess_au_and_int_values_counts(tmp_path: Path) -> None:
    assert read_recording(write(tmp_path, "a.csv", "0.5\n0.25\n"), rate_hz=100).units == "au"
    assert read_recording(write(tmp_path, "b.csv", "2048\n2050\n"), rate_hz=100).units == "counts"
    assert read_recording(write(tmp_path, "c.csv", "-3\n100\n"), rate_hz=100).units == "counts"  # int8 Myo
    assert read_recording(write(tmp_path, "d.csv", "5000\n100\n"), rate_hz=100).units == "au"


# ------------------------------------------------------------------------------------------ OpenSignals


def test_opensignals_simple_text_format(tmp_path: Path) -> None:
    text = "# Simple Text Format\n# Sampling Rate (Hz):= 1000.00\n# Resolution:= 12\n# Labels:= EMG\n"
    text += "2055.0\n2056.0\n2054.0\n"
    rec = read_recording(write(tmp_path, "emg.txt", text))
    assert rec.rate_hz == 1000 and rec.units == "counts" and rec.names == ["EMG"]
    np.testing.assert_array_equal(rec.channels[0], [2055, 2056, 2054])


def test_opensignals_json_header_picks_analog_columns_and_rescales(tmp_path: Path) -> None:
    device = {
        "sampling rate": 100,
        "column": ["nSeq", "I1", "I2", "O1", "O2", "A1", "A2"],
        "label": ["A1", "A2"],
        "resolution": [4, 1, 1, 1, 1, 10, 12],
    }
    text = "# OpenSignals Text File Format\n# " + json.dumps({"00:07:80:D8:AB:58": device}) + "\n# EndOfHeader\n"
    text += "".join(f"{i % 16}\t0\t0\t1\t1\t{512 + i}\t{2000 + i}\n" for i in range(10))
    rec = read_recording(write(tmp_path, "os.txt", text))
    assert rec.rate_hz == 100 and rec.names == ["A1", "A2"]
    np.testing.assert_array_equal(rec.channels[0], (512 + np.arange(10)) * 4)  # 10-bit -> 12-bit
    np.testing.assert_array_equal(rec.channels[1], 2000 + np.arange(10))


def test_opensignals_json_column_mismatch(tmp_path: Path) -> None:
    device = {"sampling rate": 100, "column": ["nSeq", "A1"], "resolution": [4, 10]}
    text = "# OpenSignals Text File Format\n# " + json.dumps({"dev": device}) + "\n# EndOfHeader\n1\t2\t3\n"
    with pytest.raises(InputError, match="lists 2 columns, rows have 3"):
        read_recording(write(tmp_path, "os.txt", text))


# ------------------------------------------------------------------------------------------ WAV and MATLAB


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_wav_widths_and_channels(tmp_path: Path, width: int) -> None:
    frames = np.array([[0, 10], [-20, 30], [40, -50]], dtype=np.int64)  # samples x channels
    if width == 1:
        raw = (frames + 128).astype(np.uint8).tobytes()
    elif width == 3:
        raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in frames.ravel())
    else:
        raw = frames.astype(f"<i{width}").tobytes()
    path = tmp_path / "x.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(width)
        w.setframerate(1000)
        w.writeframes(raw)
    rec = read_recording(path)
    assert rec.rate_hz == 1000 and len(rec.channels) == 2 and rec.units == "au"
    np.testing.assert_array_equal(rec.channels[0], frames[:, 0])
    np.testing.assert_array_equal(rec.channels[1], frames[:, 1])


def test_wav_rate_out_of_range(tmp_path: Path) -> None:
    path = tmp_path / "audio.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(b"\x00\x00" * 10)
    with pytest.raises(InputError, match=r"44100 Hz \(WAV header\) is out of range"):
        read_recording(path)


def test_mat_emggo_struct_and_plain_array(tmp_path: Path) -> None:
    from scipy.io import savemat

    data = np.arange(40, dtype=float).reshape(20, 2) / 100
    savemat(tmp_path / "s.mat", {"EMG": {"channelData": data, "fs": 1000.0}})
    rec = read_recording(tmp_path / "s.mat")
    assert rec.rate_hz == 1000 and rec.units == "mV" and len(rec.channels) == 2
    np.testing.assert_allclose(rec.channels[1], data[:, 1])
    savemat(tmp_path / "p.mat", {"signal": data.T, "fs": 500})  # channels x samples: transposed
    rec = read_recording(tmp_path / "p.mat")
    assert rec.rate_hz == 500 and rec.n_samples == 20
    savemat(tmp_path / "n.mat", {"signal": data})
    with pytest.raises(InputError, match="pass --rate"):
        read_recording(tmp_path / "n.mat")


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("name", "text", "pattern"),
    [
        ("empty.csv", "", "empty file"),
        ("blank.csv", "\n  \n", "empty file"),
        ("header.csv", "# rate_hz=1000\n", "no samples"),
        ("row.csv", "# rate_hz=1000\nch0\n", "no samples after the header row"),
        ("ragged.csv", "# rate_hz=1000\na,b\n1,2\n3,4,5\n6,7\n", r"ragged.csv:4: expected 2 value\(s\), found 3"),
        ("trunc.csv", "# rate_hz=1000\na,b\n1,2\n3\n6,7\n", r"trunc.csv:4: expected 2 value\(s\), found 1"),
        ("cut.csv", "# rate_hz=1000\na,b\n1,2\n3,\n6,7\n", r"cut.csv:4: empty value"),
        ("text.csv", "# rate_hz=1000\na\n1\nfoo\n2\n", r"text.csv:4: non-numeric value 'foo'"),
        ("nan.csv", "# rate_hz=1000\na\n1\n2\nnan\n", r"nan.csv:5: NaN value"),
        ("inf.csv", "# rate_hz=1000\na\n1\ninf\n", r"inf.csv:4: infinite value"),
        ("huge.csv", "# rate_hz=1000\n# units=counts\na\n1\n99999999999\n",
         r"huge.csv: a: sample 2 \(1e\+11\) is not an ADC count"),
        ("norate.csv", "1\n2\n", "sample rate unknown.*pass --rate"),
        ("slow.csv", "# rate_hz=10\n1\n2\n", r"10 Hz \(file header\) is out of range 25..2048 Hz"),
        ("fast.csv", "# rate_hz=96000\n1\n2\n", r"96000 Hz \(file header\) is out of range"),
        ("badrate.csv", "# rate_hz=fast\n1\n", "rate_hz='fast' is not a number"),
        ("units.csv", "# rate_hz=100\n# units=furlongs\n1\n", "unknown units 'furlongs'"),
        ("mode.csv", "# rate_hz=100\n# mode=fast\n1\n", "unknown mode 'fast'"),
        ("data.xyz", "1\n2\n", r"unknown format '.xyz'"),
    ],
)
def test_read_errors(tmp_path: Path, name: str, text: str, pattern: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(InputError, match=pattern) as info:
        read_recording(path)
    message = str(info.value)
    assert "\n" not in message and name in message


def test_missing_file_directory_binary_and_bad_args(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.csv: no such file"):
        read_recording(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="not a file"):
        read_recording(tmp_path)
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02" * 10)
    with pytest.raises(InputError, match="unknown binary format"):
        read_recording(tmp_path / "blob.bin")
    (tmp_path / "fake.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(InputError, match="not a PCM WAV"):
        read_recording(tmp_path / "fake.wav")
    (tmp_path / "fake.mat").write_bytes(b"MATLAB 5.0 MAT-file, garbage" + b"\x00" * 200)
    with pytest.raises(InputError, match="fake.mat"):
        read_recording(tmp_path / "fake.mat")
    good = write(tmp_path, "g.csv", "1\n2\n")
    with pytest.raises(InputError, match=r"-5 Hz \(--rate\) is out of range"):
        read_recording(good, rate_hz=-5)
    with pytest.raises(InputError, match="unknown units"):
        read_recording(good, rate_hz=100, units="furlongs")


# ------------------------------------------------------------------------------------------ bundled example


def test_example_recording_and_truth() -> None:
    rec = read_recording(EXAMPLES / "example_raw.csv")
    assert rec.rate_hz == 1000 and rec.mode == "raw" and rec.units == "counts" and len(rec.channels) == 1
    assert rec.duration_s == pytest.approx(60.0)
    x = rec.channels[0].astype(float)
    rest = x[:10_000]
    assert abs(np.median(rest) - 2048) <= 2 and 1.0 < rest.std() < 6.0  # quiet baseline around mid-rail
    truth = read_truth(EXAMPLES / "example_raw.truth.csv")
    assert sorted(t.kind for t in truth) == ["clonus", "jerk", "tonic"]
    for t in truth:  # every truth interval is a burst well above rest
        seg = x[int(t.onset_s * 1000) : int(t.offset_s * 1000)]
        assert 100 <= np.abs(seg - 2048).max() <= 500
    assert (EXAMPLES / "example_raw.csv").stat().st_size < 300 * 1024


def test_example_generator_reproduces_the_shipped_files(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_example", ROOT / "bench" / "make_example.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--out", str(tmp_path)]) == 0
    for name in ("example_raw.csv", "example_raw.truth.csv"):
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name


# ------------------------------------------------------------------------------------------ real recordings


@pytest.mark.realdata
def test_real_biosppy(shared_data: Path) -> None:
    rec = read_recording(shared_data / "biosppy" / "emg.txt")
    assert rec.rate_hz == 1000 and rec.n_samples == 100_000 and rec.units == "counts"
    assert 1900 < np.median(rec.channels[0]) < 2200  # mid-scale
    rec1 = read_recording(shared_data / "biosppy" / "emg_1.txt")
    assert rec1.duration_s == pytest.approx(63.9, abs=0.1)


@pytest.mark.realdata
def test_real_tum_envelope(shared_data: Path) -> None:
    rec = read_recording(shared_data / "tum_ics_exo" / "signal_data" / "RMS_healthy_P4_34p81hz_processed_cleaned.csv")
    assert rec.rate_hz == pytest.approx(34.81, abs=0.01)
    assert 190 <= rec.duration_s <= 260 and rec.units == "au" and rec.names == ["emg"]
    assert 0 <= rec.channels[0].min() and rec.channels[0].max() < 1.0


@pytest.mark.realdata
def test_real_myo_label_column(shared_data: Path) -> None:
    path = shared_data / "myo_readings" / "12345-1" / "1.txt"
    with pytest.raises(InputError, match="pass --rate"):
        read_recording(path)
    rec = read_recording(path, rate_hz=200)
    assert len(rec.channels) == 9 and rec.units == "counts"
    assert rec.duration_s == pytest.approx(60, abs=1.0)
    assert set(np.unique(rec.channels[8])) <= {0, 1}  # the cue label, not EMG
    emg = read_recording(path, rate_hz=200, columns=list(range(8)))
    assert len(emg.channels) == 8 and emg.channels[0].min() >= -128 and emg.channels[0].max() <= 127


@pytest.mark.realdata
def test_real_emggo_mat(shared_data: Path) -> None:
    rec = read_recording(shared_data / "emgGO" / "ecg_contaminated.mat")
    assert rec.rate_hz == 2048 and len(rec.channels) == 8 and rec.units == "mV"
    assert rec.duration_s == pytest.approx(19.9, abs=0.1)


# ------------------------------------------------------------------------------------------ front end


def test_frontend_raw_mid_rail_and_gain() -> None:
    zero = frontend.uv_to_counts(np.zeros(5), "raw")
    np.testing.assert_array_equal(zero, [2048] * 5)
    # 1 mV at the electrodes x 200 = 0.2 V = 248 counts above mid-rail (DC removed via the median)
    x = np.array([0.0, 0.0, 1000.0, 0.0, -1000.0])
    counts = frontend.uv_to_counts(x, "raw")
    assert counts[2] - 2048 == round(0.2 / 3.3 * 4095)
    assert counts[4] - 2048 == -round(0.2 / 3.3 * 4095)
    assert counts.dtype == np.int32


def test_frontend_clips_to_rails_and_is_monotonic() -> None:
    x = np.linspace(-20_000, 20_000, 4001)  # +-20 mV: far beyond the rails
    counts = frontend.to_counts(x, "uV", "raw")
    assert counts.min() == 0 and counts.max() == 4095
    assert np.all(np.diff(counts) >= 0)
    mv = frontend.to_counts(x / 1000, "mV", "raw")
    np.testing.assert_array_equal(mv, counts)
    volts = frontend.to_counts(x / 1e6, "V", "raw")
    np.testing.assert_array_equal(volts, counts)


def test_frontend_env_has_no_offset_and_follows_amplitude() -> None:
    rate = 1000.0
    rng = np.random.default_rng(3)
    noise = rng.standard_normal(3000)
    quiet = frontend.to_counts(5 * noise, "uV", "env", rate)
    strong = frontend.to_counts(50 * noise, "uV", "env", rate)
    assert np.median(quiet[1000:]) < np.median(strong[1000:])
    # ENV gain 10200: mean |x| of 5 uV Gaussian noise ~4 uV -> ~0.041 V -> ~50 counts, not mid-rail
    assert 20 < np.median(quiet[1000:]) < 100
    with pytest.raises(ValueError, match="sample rate"):
        frontend.to_counts(noise, "uV", "env")


def test_frontend_counts_pass_through_and_int8_centring() -> None:
    np.testing.assert_array_equal(frontend.to_counts(np.array([2047.6, 4095, 3]), "counts", "raw"), [2048, 4095, 3])
    with pytest.raises(ValueError, match="counts reach 5000"):  # not clipped into a rail: see test_counts_range
        frontend.to_counts(np.array([2047, 5000, 3]), "counts", "raw")
    myo = np.array([-128, 0, 127])
    np.testing.assert_array_equal(frontend.to_counts(myo, "counts", "raw"), [1920, 2048, 2175])
    env = frontend.to_counts(np.tile(myo, 100), "counts", "env", 200.0)
    assert env.min() >= 0 and env.max() < 200  # rectified envelope, no mid-rail offset


def test_frontend_au_scaling() -> None:
    env = np.array([0.0, 0.05, 0.2, 0.1])
    counts = frontend.to_counts(env, "au", "env")
    assert counts[2] == round(0.7 * 4095) and counts[0] == 0 and counts[1] < counts[3] < counts[2]
    raw = np.array([0.0, 1.0, -2.0, 0.5, -0.5])  # median 0
    rc = frontend.to_counts(raw, "au", "raw")
    assert rc[0] == 2048 and rc[2] == 2048 - round(0.7 * 2047)


def test_frontend_rejects_unknown_units_and_mode() -> None:
    with pytest.raises(ValueError, match="units"):
        frontend.to_counts(np.zeros(3), "furlongs", "raw")
    with pytest.raises(ValueError, match="mode"):
        frontend.to_counts(np.zeros(3), "uV", "fast")
