"""EDF, EDF+ and BDF in (through edfio, in blocks of data records) and EDF+ out with annotations.

Per-channel physical units and rates come from the header. What edfio only warns about (a cut-off last data
record, a header whose record count disagrees with the file) is an error here: a clinical file that is not what
its header says is never replayed as if it were.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..frontend import ADC_MAX
from ..recsniff import check_whole, read_head
from .source import Source

EDF_MAGIC = b"0       "
BDF_MAGIC = b"\xffBIOSEMI"
UNIT_WORDS = {"uv": "uV", "µv": "uV", "\u03bcv": "uV", "mv": "mV", "v": "V", "counts": "counts"}


def is_edf(head: bytes, suffix: str) -> bool:
    return head.startswith(EDF_MAGIC) or head.startswith(BDF_MAGIC) or suffix in (".edf", ".bdf", ".rec")


def units_of(dimension: str) -> str:
    """A header's physical dimension as our units (uV, mV, V), else au."""
    return UNIT_WORDS.get(dimension.strip().lower(), "au")


def _load(path: Path):  # type: ignore[no-untyped-def]
    import edfio

    with open(path, "rb") as fh:  # (the magic only: the file may be gigabytes)
        bdf = fh.read(8) == BDF_MAGIC
    if bdf:  # edfio reads BDF data whole (no lazy loading for 24-bit): its cost is checked first
        check_whole(path, read_head(path), "bdf")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            edf = edfio.read_bdf(path) if bdf else edfio.read_edf(path, lazy_load_data=True)  # (BDF: read whole)
        except Exception as exc:  # edfio raises ValueError, struct/Unicode errors, IndexError on bad headers
            raise InputError(f"{path}: not a valid {'BDF' if bdf else 'EDF'} file ({exc})") from None
    for w in caught:
        text = str(w.message)
        if "num_data_records=-1" in text or "-1 data records" in text:
            continue  # allowed by the EDF spec while a recording is still being written
        if "truncated" in text.lower() or "header indicates" in text:
            raise InputError(f"{path}: {text.rstrip('.')}; the file is damaged or still being written")
    return edf, ("BDF" if bdf else "EDF+" if str(edf.reserved).startswith("EDF+") else "EDF")


def open_edf(path: Path, rate_hz: float | None, units: str | None, columns: list[int] | None) -> Source:
    """A Source over an EDF/EDF+/BDF file's ordinary signals (annotation signals excluded)."""
    edf, fmt = _load(path)
    try:  # edfio decodes header fields when they are read: a damaged one fails here, as one error
        return _open_loaded(path, edf, fmt, rate_hz, units, columns)
    except (ValueError, UnicodeDecodeError, IndexError, ZeroDivisionError) as exc:
        raise InputError(f"{path}: not a valid {fmt} file (a damaged header field: {exc})") from None


def _open_loaded(path: Path, edf, fmt: str, rate_hz: float | None, units: str | None,  # type: ignore[no-untyped-def]
                 columns: list[int] | None) -> Source:
    signals = list(edf.signals)
    if not signals:
        raise InputError(f"{path}: {fmt} file without signals")
    if columns is not None:
        bad = [c for c in columns if not 0 <= c < len(signals)]
        if bad:
            raise InputError(f"{path}: no channel {bad[0]} (the file has channels 0..{len(signals) - 1})")
    indices = list(range(len(signals))) if columns is None else list(columns)
    rates = {i: float(signals[i].sampling_frequency) for i in indices}
    if len(set(rates.values())) > 1:
        listing = ", ".join(f"{i} {signals[i].label.strip() or '?'} {r:g} Hz" for i, r in rates.items())
        raise InputError(f"{path}: the channels have different rates ({listing}); choose some of one rate with "
                         "--channel")
    chans = [signals[i] for i in indices]
    for i, sig in zip(indices, chans, strict=True):
        _check_ranges(path, i, sig)
    warn = [] if edf.is_continuous else [f"{path}: EDF+D (discontinuous): the data records' gaps are not replayed; "
                                         "times after a gap are read as if it were not there"]
    spr = chans[0].samples_per_data_record
    n_records = edf.num_data_records
    rate = rates[indices[0]]
    if rate_hz is not None and not math.isclose(rate_hz, rate):
        raise InputError(f"{path}: --rate {rate_hz:g} disagrees with the {fmt} header's {rate:g} Hz")
    unit_list = [units or units_of(s.physical_dimension) for s in chans]
    dur = float(edf.data_record_duration)

    layout = _layout(path, edf.bytes_in_header_record, len(signals), fmt == "BDF")
    picks = [layout.signals[i] for i in indices]
    calib = [_calibration(sig) for sig in chans]

    def read(rows: int) -> Iterator[np.ndarray]:
        # Whole data records by plain reads (not edfio's memory map, whose touched pages would stay resident):
        # memory is one block whatever the file's length.
        step = max(1, rows // max(1, spr))
        width = layout.bytes_per_sample
        with open(path, "rb") as fh:
            for r0 in range(0, n_records, step):
                r1 = min(n_records, r0 + step)
                fh.seek(layout.header + r0 * layout.record_samples * width)
                raw = fh.read((r1 - r0) * layout.record_samples * width)
                if len(raw) != (r1 - r0) * layout.record_samples * width:
                    raise InputError(f"{path}: data records {r0}..{r1} cut off (the file shrank while read?)")
                digital = _decode(raw, width).reshape(r1 - r0, layout.record_samples)
                cols = [(digital[:, a:b].ravel() + off) * gain if gain else digital[:, a:b].ravel().astype(float)
                        for (a, b), (gain, off) in zip(picks, calib, strict=True)]
                yield np.stack(cols, axis=1)

    def middle(k: int) -> list[float] | None:
        """The physical values at the middle rank(s) of channel k, from one pass histogramming its 16-bit digital
        values (physical order is digital order, reversed for a negative gain); None for BDF (24 bits)."""
        if layout.bytes_per_sample != 2 or n_records * spr == 0:
            return None
        (a, b), (gain, off) = picks[k], calib[k]
        hist = np.zeros(1 << 16, dtype=np.int64)
        with open(path, "rb") as fh:
            step = max(1, (1 << 16) // max(1, spr))
            for r0 in range(0, n_records, step):
                r1 = min(n_records, r0 + step)
                fh.seek(layout.header + r0 * layout.record_samples * 2)
                raw = fh.read((r1 - r0) * layout.record_samples * 2)
                d = _decode(raw, 2).reshape(r1 - r0, layout.record_samples)[:, a:b].ravel()
                hist += np.bincount(d.astype(np.int64) + 32768, minlength=1 << 16)
        n = int(hist.sum())
        ranks = sorted({(n - 1) // 2, n // 2})
        if gain < 0:
            ranks = sorted(n - 1 - r for r in ranks)
        cum = np.cumsum(hist)
        digital = np.array([int(np.searchsorted(cum, r, side="right")) - 32768 for r in ranks], dtype="<i2")
        values = (digital + off) * gain if gain else digital.astype(float)  # the formula read() applies
        return sorted(float(v) for v in values)

    notes = [f"{fmt}: {len(signals)} signal(s), {n_records} data records of {dur:g} s",
             f"rate {rate:g} Hz and units from the header ({', '.join(s.physical_dimension or '?' for s in chans)})"]
    src = Source(rate_hz=rate, units=unit_list[0], mode=None, source=str(path),
                 names=[s.label.strip() or f"ch{i}" for i, s in zip(indices, chans, strict=True)], indices=indices,
                 read=read, n_samples=n_records * spr, notes=notes, warnings=warn, fmt=fmt.lower().rstrip("+"),
                 channel_units=unit_list, middle=middle)
    return src


class _Layout:
    """Where each signal's samples sit in a data record (from the header: the spec's fixed-width fields)."""

    def __init__(self, header: int, spr: list[int], bytes_per_sample: int, ordinary: list[int]) -> None:
        self.header, self.bytes_per_sample = header, bytes_per_sample
        self.record_samples = sum(spr)
        starts = np.cumsum([0, *spr])
        self.signals = [(int(starts[i]), int(starts[i + 1])) for i in ordinary]  # edfio's signals, in order


def _layout(path: Path, header: int, n_ordinary: int, bdf: bool) -> _Layout:
    with open(path, "rb") as fh:
        head = fh.read(header)
    ns = int(head[252:256].decode("ascii").strip())
    labels = [head[256 + 16 * i : 272 + 16 * i].decode("latin-1").strip() for i in range(ns)]
    base = 256 + ns * (16 + 80 + 8 + 8 + 8 + 8 + 8 + 80)  # the samples-per-record fields follow these
    spr = [int(head[base + 8 * i : base + 8 * i + 8].decode("ascii").strip()) for i in range(ns)]
    ordinary = [i for i, lab in enumerate(labels) if lab not in ("EDF Annotations", "BDF Annotations")]
    if len(ordinary) != n_ordinary:
        raise InputError(f"{path}: header lists {len(ordinary)} signals, edfio read {n_ordinary}")
    return _Layout(header, spr, 3 if bdf else 2, ordinary)


def _check_ranges(path: Path, i: int, sig) -> None:  # type: ignore[no-untyped-def]
    """A signal whose digital or physical range is empty has no calibration: its samples mean nothing."""
    for what, lo, hi in (("digital", sig.digital_min, sig.digital_max), ("physical", sig.physical_min,
                                                                         sig.physical_max)):
        if lo == hi:
            raise InputError(f"{path}: signal {i} ({sig.label.strip() or '?'}): {what} minimum equals {what} "
                             f"maximum ({lo:g}), so its samples cannot be calibrated; the header is damaged")


def _calibration(sig) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(gain, offset) with physical = (digital + offset) * gain, as edfio computes it (0 gain: uncalibrated)."""
    dmin, dmax, pmin, pmax = sig.digital_min, sig.digital_max, sig.physical_min, sig.physical_max
    if dmax == dmin or pmax == pmin:
        return 0.0, 0.0
    gain = (pmax - pmin) / (dmax - dmin)
    return gain, pmax / gain - dmax


def _decode(raw: bytes, width: int) -> np.ndarray:
    if width == 2:
        return np.frombuffer(raw, dtype="<i2")
    b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
    v = b[:, 0] + (b[:, 1] << 8) + (b[:, 2] << 16)
    return np.where(v >= 1 << 23, v - (1 << 24), v)  # 24-bit two's complement (BDF)


def record_layout(rate_hz: float, n: int) -> tuple[float, int, int]:
    """(data record duration s, samples per record, padding samples) for n samples at rate_hz: EDF needs a whole
    number of samples per record and a whole number of records (34.81 Hz: records of 100 s, 3481 samples)."""
    frac = Fraction(rate_hz).limit_denominator(1000)
    if abs(float(frac) - rate_hz) > 1e-9 * rate_hz:
        raise ValueError(f"rate {rate_hz} Hz has no whole number of samples in any EDF data record")
    spr = frac.numerator
    return float(frac.denominator), spr, (-n) % spr


def write_annotated(path: str | Path, rate_hz: float, channels: list[np.ndarray], names: list[str],
                    annotations: Iterable[tuple[float, float, str]], units: str = "counts",
                    adc_max: int = ADC_MAX) -> None:
    """An EDF+ file of ADC-count channels (physical = counts 0..adc_max; digital the same numbers, or less 32768
    where adc_max is beyond EDF's 16-bit signed samples) with annotations (onset s, duration s, text): EDFbrowser,
    MNE and edfio show them on the signal. A recording that does not fill its last data record is padded with
    its last value, and an annotation says so."""
    import edfio

    n = len(channels[0])
    rec_s, spr, pad = record_layout(float(rate_hz), n)
    sigs = []
    for name, ch in zip(names, channels, strict=True):
        counts = np.asarray(ch)
        if pad:
            counts = np.concatenate([counts, np.full(pad, counts[-1] if n else 0, dtype=counts.dtype)])
        if units == "counts":
            shift = 0 if adc_max <= 32767 else 32768
            digital = (np.clip(counts, 0, adc_max).astype(np.int32) - shift).astype(np.int16)
            sig = edfio.EdfSignal.from_digital(digital, rate_hz, physical_range=(0, adc_max),
                                               digital_range=(-shift, adc_max - shift), label=name[:16],
                                               physical_dimension="counts")
        else:
            lo, hi = float(counts.min()), float(counts.max())
            sig = edfio.EdfSignal(counts.astype(np.float64), rate_hz, label=name[:16],
                                  physical_range=(lo, hi if hi > lo else lo + 1.0), physical_dimension=units)
        sigs.append(sig)
    notes = list(annotations)
    if pad:
        notes.append((n / rate_hz, pad / rate_hz, f"padding: {pad} sample(s) repeat the last value (EDF needs "
                      "whole data records); not recorded"))
    anns = [edfio.EdfAnnotation(round(on, 4), round(dur, 4) if dur > 0 else None, text[:200])
            for on, dur, text in notes]
    edfio.Edf(sigs, annotations=anns, data_record_duration=rec_s).write(Path(path))
