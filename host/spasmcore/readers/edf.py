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

    bdf = path.read_bytes()[:8] == BDF_MAGIC if path.stat().st_size >= 8 else False
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
    warn = [] if edf.is_continuous else [f"{path}: EDF+D (discontinuous): the data records' gaps are not replayed; "
                                         "times after a gap are read as if it were not there"]
    spr = chans[0].samples_per_data_record
    n_records = edf.num_data_records
    rate = rates[indices[0]]
    if rate_hz is not None and not math.isclose(rate_hz, rate):
        raise InputError(f"{path}: --rate {rate_hz:g} disagrees with the {fmt} header's {rate:g} Hz")
    unit_list = [units or units_of(s.physical_dimension) for s in chans]
    dur = float(edf.data_record_duration)

    def read(rows: int) -> Iterator[np.ndarray]:
        step = max(1, rows // max(1, spr))
        for r0 in range(0, n_records, step):
            r1 = min(n_records, r0 + step)
            try:
                cols = [s.get_data_slice(r0 * dur, r1 * dur) for s in chans]
            except ValueError as exc:
                raise InputError(f"{path}: cannot read data records {r0}..{r1} ({exc})") from None
            yield np.stack(cols, axis=1)

    notes = [f"{fmt}: {len(signals)} signal(s), {n_records} data records of {dur:g} s",
             f"rate {rate:g} Hz and units from the header ({', '.join(s.physical_dimension or '?' for s in chans)})"]
    src = Source(rate_hz=rate, units=unit_list[0], mode=None, source=str(path),
                 names=[s.label.strip() or f"ch{i}" for i, s in zip(indices, chans, strict=True)], indices=indices,
                 read=read, n_samples=n_records * spr, notes=notes, warnings=warn, fmt=fmt.lower().rstrip("+"),
                 channel_units=unit_list)
    return src


def record_layout(rate_hz: float, n: int) -> tuple[float, int, int]:
    """(data record duration s, samples per record, padding samples) for n samples at rate_hz: EDF needs a whole
    number of samples per record and a whole number of records (34.81 Hz: records of 100 s, 3481 samples)."""
    frac = Fraction(rate_hz).limit_denominator(1000)
    if abs(float(frac) - rate_hz) > 1e-9 * rate_hz:
        raise ValueError(f"rate {rate_hz} Hz has no whole number of samples in any EDF data record")
    spr = frac.numerator
    return float(frac.denominator), spr, (-n) % spr


def write_annotated(path: str | Path, rate_hz: float, channels: list[np.ndarray], names: list[str],
                    annotations: Iterable[tuple[float, float, str]], units: str = "counts") -> None:
    """An EDF+ file of ADC-count channels (digital = counts, physical the same numbers) with annotations
    (onset s, duration s, text): EDFbrowser, MNE and edfio show them on the signal. A recording that does not
    fill its last data record is padded with its last value, and an annotation says so."""
    import edfio

    n = len(channels[0])
    rec_s, spr, pad = record_layout(float(rate_hz), n)
    sigs = []
    for name, ch in zip(names, channels, strict=True):
        counts = np.asarray(ch)
        if pad:
            counts = np.concatenate([counts, np.full(pad, counts[-1] if n else 0, dtype=counts.dtype)])
        if units == "counts":
            sig = edfio.EdfSignal.from_digital(np.clip(counts, 0, 4095).astype(np.int16), rate_hz,
                                               physical_range=(0, 4095), digital_range=(0, 4095),
                                               label=name[:16], physical_dimension="counts")
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
