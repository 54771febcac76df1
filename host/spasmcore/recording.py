"""Recordings: read EMG from CSV/TXT, OpenSignals (BITalino) text, WAV and MATLAB files; write our CSV.

The work is split by job: recformat (constants, Recording), rectext and rectime (text files), recbinary (WAV,
.mat), recwrite (our CSV). Every name stays importable from here, so callers import `spasmcore.recording` only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputError
from .recbinary import _read_mat as _read_mat
from .recbinary import _read_wav as _read_wav
from .recformat import ADC_BITS as ADC_BITS
from .recformat import MAGIC as MAGIC
from .recformat import MODES as MODES
from .recformat import PLOTTER_LABEL as PLOTTER_LABEL
from .recformat import RATE_MAX_HZ as RATE_MAX_HZ
from .recformat import RATE_MIN_HZ as RATE_MIN_HZ
from .recformat import TEXT_SUFFIXES as TEXT_SUFFIXES
from .recformat import TIME_COLUMNS as TIME_COLUMNS
from .recformat import TIME_UNITS as TIME_UNITS
from .recformat import TIME_WORDS as TIME_WORDS
from .recformat import UNITS as UNITS
from .recformat import Recording as Recording
from .recformat import _check_rate as _check_rate
from .recformat import _Parsed as _Parsed
from .recformat import _to_float as _to_float
from .recsniff import check_whole, read_head
from .rectext import _check_row as _check_row
from .rectext import _read_text as _read_text
from .rectext import _sniff_delimiter as _sniff_delimiter
from .rectext import _split as _split
from .rectime import time_column_scale as time_column_scale
from .recwrite import write_recording as write_recording


def _load(path: Path, rate_hz: float | None) -> _Parsed:
    """Parse the file in the format its first bytes and extension say: sniffed, and its cost checked, first."""
    head = read_head(path)
    raw = head.raw
    suffix = path.suffix.lower()
    if raw[:4] == b"RIFF" or suffix == ".wav":
        check_whole(path, head, "wav")
        return _read_wav(path)
    if raw[:6] == b"MATLAB" or suffix == ".mat":
        check_whole(path, head, "mat")
        return _read_mat(path)
    if b"\x00" in raw[:4096]:
        raise InputError(f"{path}: unknown binary format (expected CSV/TXT, OpenSignals, WAV or MATLAB .mat)")
    if suffix in TEXT_SUFFIXES or raw.startswith(MAGIC):
        check_whole(path, head, "text")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror})") from None
        if not raw.strip():
            raise InputError(f"{path}: empty file")
        return _read_text(path, raw, ignore_time=rate_hz is not None)
    raise InputError(
        f"{path}: unknown format {suffix!r} (expected .csv, .tsv, .txt, .log, .dat, OpenSignals .txt, .wav or .mat)"
    )


INT32_MAX = 2**31 - 1  # counts are stored as int32


def _guess_units(data: np.ndarray) -> str:
    """Integers in the ADC range (or int8 Myo data) are counts; anything else is arbitrary units."""
    if data.size and np.all(data == np.round(data)) and data.min() >= -128 and data.max() <= 4095:
        return "counts"
    return "au"


def _channels(path: Path, parsed: _Parsed, indices: list[int], unit: str) -> list[np.ndarray]:
    """The kept columns as channel arrays: int32 counts on the 12-bit scale, or float64 values."""
    channels: list[np.ndarray] = []
    for i in indices:
        col = parsed.data[:, i]
        if unit == "counts":
            bits = parsed.resolution[i]
            if bits and bits != ADC_BITS:
                col = col * 2.0 ** (ADC_BITS - bits)  # e.g. BITalino 10-bit 0..1023 -> 0..4092
            col = np.round(col)
            big = np.abs(col) > INT32_MAX
            if big.any():  # (a cast would wrap it to an invented sample: a damaged digit, say)
                row = int(np.argmax(big))
                raise InputError(f"{path}: {parsed.names[i]}: sample {row + 1} ({col[row]:g}) is not an ADC count")
            channels.append(col.astype(np.int32))
        else:
            channels.append(col.astype(np.float64))
    return channels


def read_recording(
    path: str | Path,
    rate_hz: float | None = None,
    units: str | None = None,
    columns: list[int] | None = None,
) -> Recording:
    """Read a recording, sniffing the format from the extension and the content.

    Formats: spasmwatch CSV; generic CSV/TSV/TXT/LOG (comma, semicolon, tab or space separated, decimal commas
    with ; or tab, Arduino Serial Plotter labels "emg:2048", optional header row, optional time column named
    as `time_column_scale` knows, checked to increase and used for the rate when no rate is given; a cut-off
    last row is dropped with a warning in `Recording.warnings`); OpenSignals/BITalino
    text (Simple Text Format and the JSON-header format: only the analog A1.. columns are kept); WAV (8/16/24/
    32-bit PCM); MATLAB .mat (emgGO `EMG` struct, or a single numeric array with `fs`).
    `rate_hz`/`units` override the file. `columns` keeps those data columns (0-based, time column excluded),
    e.g. to drop the cue-label column of the Myo readings. Counts of an ADC resolution other than 12 bits
    (OpenSignals headers say so) are rescaled onto the ESP32 12-bit range.
    """
    path = Path(path)
    if units is not None and units not in UNITS:
        raise InputError(f"unknown units {units!r} (expected one of {', '.join(UNITS)})")
    parsed = _load(path, rate_hz)

    data = parsed.data
    if columns is not None:
        bad = [c for c in columns if not 0 <= c < data.shape[1]]
        if bad:
            raise InputError(f"{path}: no channel {bad[0]} (the file has channels 0..{data.shape[1] - 1})")
    indices = list(range(data.shape[1])) if columns is None else list(columns)

    if rate_hz is not None:
        rate = _check_rate(float(rate_hz), path, "--rate")
    elif parsed.rate_hz is not None:
        rate = _check_rate(parsed.rate_hz, path, parsed.rate_origin)
    else:
        raise InputError(f"{path}: sample rate unknown (no header or time column); pass --rate HZ")

    unit = units or parsed.units or _guess_units(data)
    if unit not in UNITS:
        raise InputError(f"{path}: unknown units {unit!r} in the file (pass --units)")
    mode = parsed.mode
    if mode is not None and mode not in MODES:
        raise InputError(f"{path}: unknown mode {mode!r} in the header (expected raw or env)")

    channels = _channels(path, parsed, indices, unit)
    notes = list(parsed.notes)
    notes.append(f"rate {rate:g} Hz from {'--rate' if rate_hz is not None else parsed.rate_origin}")
    notes.append(f"units {unit} ({'--units' if units else 'the file' if parsed.units else 'guessed from the values'})")
    return Recording(
        rate_hz=rate,
        channels=channels,
        units=unit,
        mode=mode,
        source=str(path),
        names=[parsed.names[i] for i in indices],
        indices=indices,
        warnings=list(parsed.warnings),
        notes=notes,
    )


def decimate(rec: Recording, factor: int) -> Recording:
    """The recording at rate/factor, low-pass filtered first (scipy's order-8 Chebyshev, zero phase).

    Used to bring lab recordings above the detector's 2000 Hz limit (e.g. 2048 Hz) to about 1 kHz, the board's
    own rate. Counts stay int32 (rounded).
    """
    if factor < 1:
        raise ValueError("factor must be >= 1")
    if factor == 1:
        return rec
    from scipy.signal import decimate as sp_decimate  # slow import: only when needed

    channels = []
    for ch in rec.channels:
        if len(ch) <= 27 * factor:  # too short for the filter: plain subsampling
            y = ch[::factor].astype(np.float64)
        else:
            # Filter around the median: a large DC level (mid-rail 2048) leaves long edge transients.
            level = float(np.median(ch))
            y = sp_decimate(ch.astype(np.float64) - level, factor, zero_phase=True) + level
        channels.append(np.round(y).astype(np.int32) if rec.units == "counts" else y)
    return Recording(
        rate_hz=rec.rate_hz / factor,
        channels=channels,
        units=rec.units,
        mode=rec.mode,
        source=rec.source,
        names=list(rec.names),
        indices=list(rec.indices),
        warnings=list(rec.warnings),
        notes=list(rec.notes),
    )
