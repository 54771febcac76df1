"""Counts outside the ADC's range are one clear error on every replay path; a wider ADC is taken at its adc_max."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spasmcore import frontend as fe
from spasmcore.errors import InputError
from spasmcore.recording import Recording
from spasmwatch.cli import main
from spasmwatch.commands.replay import replay
from spasmwatch.engine import pipeline
from spasmwatch.engine.convert import Converter

RATE = 1000


def _wide_adc(bits: int = 14) -> np.ndarray:
    """30 s of a quiet raw EMG at mid-scale of a `bits`-bit ADC with a 3 s burst at 10 s."""
    full = (1 << bits) - 1
    rng = np.random.default_rng(3)
    x = (full + 1) / 2 + rng.normal(0, 20, 30 * RATE)
    x[10 * RATE : 13 * RATE] += rng.normal(0, 2000, 3 * RATE)
    return np.clip(np.round(x), 0, full)


def _write(path: Path, values: np.ndarray) -> Path:
    path.write_text("\n".join(str(int(v)) for v in values) + "\n")
    return path


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_counts_above_full_scale_are_refused(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path, streamed: bool) -> None:
    # Clipped to 4095, this recording read as one long rail fault (and flat faults with adc_max raised).
    if streamed:
        monkeypatch.setattr(pipeline, "STREAM_MIN_BYTES", 0)  # the one-pass path that assumes counts
    path = _write(tmp_path / "adc14.csv", _wide_adc())
    err = _one_line_error(capsys, ["replay", str(path), "--rate", str(RATE), "--units", "counts"])
    top = int(_wide_adc().max())
    for needle in ("adc14.csv", "channel 0", f"counts reach {top}", "adc_max=4095", "--param adc_max="):
        assert needle in err


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_a_wider_adc_is_replayed_at_its_full_scale(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   streamed: bool) -> None:
    if streamed:
        monkeypatch.setattr(pipeline, "STREAM_MIN_BYTES", 0)
    path = _write(tmp_path / "adc14.csv", _wide_adc())
    code = main(["replay", str(path), "--rate", str(RATE), "--units", "counts", "--param", "adc_max=16383"])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 episode" in out and "0 faults" in out, out  # clipped at 4095 it was flat faults only


def test_centred_counts_wider_than_half_the_range_are_refused(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    values = _wide_adc(bits=16) - 32768  # a 16-bit converter's signed readings
    path = _write(tmp_path / "signed16.csv", values)
    err = _one_line_error(capsys, ["replay", str(path), "--rate", str(RATE), "--units", "counts"])
    assert "counts centred on 0" in err and "-2048..2047" in err


def test_in_memory_replay_and_to_counts_refuse_and_accept_alike() -> None:
    values = _wide_adc()
    rec = Recording(rate_hz=RATE, channels=[values.astype(np.int32)], units="counts", mode="raw",
                    source="mem.csv", indices=[2])
    with pytest.raises(InputError, match=rf"mem\.csv: channel 2: counts reach {int(values.max())},"):
        replay(rec, "raw", None)
    events = replay(rec, "raw", {"adc_max": 16383})
    assert [e.kind for e in events] == ["tonic"]
    with pytest.raises(ValueError, match="above the ADC's full scale"):
        fe.to_counts(values, "counts", "raw", RATE)
    assert fe.counts_range_error(0, 4095) is None and fe.counts_range_error(-128, 127) is None  # 12-bit, Myo int8


@pytest.mark.parametrize("mode", ["raw", "env"])
@pytest.mark.parametrize("centred", [False, True])
def test_streamed_conversion_matches_to_counts_at_a_wider_scale(mode: str, centred: bool) -> None:
    values = _wide_adc().astype(np.float64) - (8192 if centred else 0)
    want = fe.to_counts(values, "counts", mode, RATE, adc_max=16383)
    conv = Converter("counts", mode, RATE, adc_max=16383)
    blocks = lambda: (values[i : i + 700] for i in range(0, len(values), 700))  # noqa: E731
    conv.prepare(blocks, len(values), float(values.min()), float(values.max()))
    got = np.concatenate([conv(b) for b in blocks()])
    assert np.array_equal(got, want)
    assert want.max() > 4095 or (mode, centred) == ("env", True)  # (an envelope of the centred signal stays low)


def test_annotated_edf_keeps_counts_above_4095(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import edfio

    path = _write(tmp_path / "adc16.csv", _wide_adc(bits=16))
    out = tmp_path / "adc16.edf"
    code = main(["replay", str(path), "--rate", str(RATE), "--units", "counts", "--param", "adc_max=65535",
                 "--annotate", str(out)])
    assert code == 0, capsys.readouterr().err
    got = edfio.read_edf(out).signals[0].data
    want = _wide_adc(bits=16)
    assert got.max() > 4095 and np.allclose(got[: want.size], want, atol=0.5)  # was clipped to 0..4095
