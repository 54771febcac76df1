"""Recordings: read EMG from CSV/TXT, OpenSignals (BITalino) text, WAV and MATLAB files; write our CSV."""

from __future__ import annotations

import json
import math
import re
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError

RATE_MIN_HZ = 25.0
RATE_MAX_HZ = 2048.0  # 2000 Hz plus the 2048 Hz lab systems (emgGO samples)
UNITS = ("counts", "uV", "mV", "V", "au")
MODES = ("raw", "env")
TIME_COLUMNS = ("t", "t_s", "time", "timestamp")  # kept for callers; time_column_scale() knows many more names
TIME_WORDS = ("t", "time", "timestamp", "time stamp", "elapsed", "elapsed time")
# Unit words (alone, or after a time word as "time_ms", "Time (s)", "t [us]") and their length in seconds.
TIME_UNITS = {
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "ms": 1e-3, "msec": 1e-3, "msecs": 1e-3, "millis": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3,
    "us": 1e-6, "\u00b5s": 1e-6, "usec": 1e-6, "micros": 1e-6, "microsecond": 1e-6, "microseconds": 1e-6,
}
ADC_BITS = 12  # ESP32 ADC1: every "counts" signal is expressed on this 0..4095 scale
TEXT_SUFFIXES = {".csv", ".txt", ".tsv", ".dat", ".log", ".text", ".asc", ""}
# Arduino Serial Plotter lines: "emg:2048" or "a:1,b:2" (label, colon, number; comma, space or tab between).
PLOTTER_LABEL = re.compile(r"([A-Za-z_][\w.\-]*)\s*:\s*(?=[-+.\d])")
MAGIC = b"# spasmwatch recording v1"


@dataclass
class Recording:
    """Samples of one recording, one array per channel, all of the same length.

    `channels` hold int32 ADC counts when `units == "counts"`; for physical or arbitrary units (uV, mV, V, au)
    they hold float64 values that `spasmwatch.frontend.to_counts` maps onto ADC counts.
    """

    rate_hz: float
    channels: list[np.ndarray]
    units: str
    mode: str | None
    source: str
    names: list[str] = field(default_factory=list)  # column name per channel (ch0, A1, EMG, ...)
    indices: list[int] = field(default_factory=list)  # index of each channel among the file's data columns
    warnings: list[str] = field(default_factory=list)  # things the reader worked around; callers show them
    notes: list[str] = field(default_factory=list)  # how the file was read (format, rate origin): for -v

    @property
    def n_samples(self) -> int:
        return len(self.channels[0]) if self.channels else 0

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.rate_hz


# ---------------------------------------------------------------------------------------------------- writing


def _fmt_rate(rate_hz: float) -> str:
    rate = float(rate_hz)
    return str(int(rate)) if rate.is_integer() else repr(rate)


def _column(values: np.ndarray) -> tuple[str, np.ndarray]:
    """The %-format and the values of one column: integers when the data is integer-valued."""
    if np.issubdtype(values.dtype, np.integer):
        return "%d", values
    if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        return "%d", values.astype(np.int64)
    return "%r", values.astype(np.float64)  # repr: the shortest exact form, so the output is deterministic


def write_recording(
    path: str | Path,
    rate_hz: float,
    channels: list[np.ndarray] | np.ndarray,
    units: str = "counts",
    mode: str | None = None,
    with_time: bool = False,
) -> None:
    """Write a spasmwatch recording CSV: `#` header lines, a `ch0,ch1,...` row, one row per sample.

    `channels` is a list of 1-D arrays (or a 2-D array, one row per channel). Integer-valued data is
    written as integers. The same input always gives the same bytes.
    """
    if units not in UNITS:
        raise ValueError(f"units must be one of {', '.join(UNITS)}, not {units!r}")
    if mode is not None and mode not in MODES:
        raise ValueError(f"mode must be raw or env, not {mode!r}")
    arrays = [np.asarray(c) for c in channels]
    if not arrays or any(a.ndim != 1 for a in arrays):
        raise ValueError("channels must be a non-empty list of 1-D arrays")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError("all channels must have the same length")
    header = [
        MAGIC.decode(),
        f"# rate_hz={_fmt_rate(rate_hz)}",
        f"# units={units}",
        *([f"# mode={mode}"] if mode else []),
        f"# channels={len(arrays)}",
    ]
    names = [f"ch{i}" for i in range(len(arrays))]
    columns = [_column(a) for a in arrays]
    if with_time:
        # Enough decimals to tell consecutive samples apart; the header rate stays the authority.
        decimals = max(3, math.ceil(math.log10(float(rate_hz))) + 1)
        columns.insert(0, (f"%.{decimals}f", np.arange(n) / float(rate_hz)))
        names.insert(0, "t_s")
    row_fmt = ",".join(fmt for fmt, _ in columns) + "\n"
    width = len(columns)
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        fh.write("\n".join([*header, ",".join(names)]) + "\n")
        # One C-level %-format per chunk of rows: ~20x faster than formatting values one by one in Python.
        chunk = 65536
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            flat = np.empty((stop - start) * width, dtype=object)
            for k, (_, values) in enumerate(columns):
                flat[k::width] = values[start:stop].tolist()
            fh.write((row_fmt * (stop - start)) % tuple(flat))


# ---------------------------------------------------------------------------------------------------- reading


def _check_rate(rate_hz: float, path: Path, origin: str) -> float:
    if not math.isfinite(rate_hz) or not RATE_MIN_HZ <= rate_hz <= RATE_MAX_HZ:
        raise InputError(
            f"{path}: sample rate {rate_hz:g} Hz ({origin}) is out of range {RATE_MIN_HZ:g}..{RATE_MAX_HZ:g} Hz"
        )
    return float(rate_hz)


def _to_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _split(line: str, delim: str | None) -> list[str]:
    return [t.strip() for t in (line.split(delim) if delim else line.split())]


def _sniff_delimiter(line: str) -> str | None:
    # Semicolon and tab first: they are what decimal-comma locales use ("0,000;12,5"), where "," is no delimiter.
    for delim in (";", "\t", ","):
        if delim in line:
            return delim
    return None  # whitespace


def time_column_scale(name: str) -> tuple[bool, float | None]:
    """(is a time column, seconds per unit or None when the name gives no unit) for a header name.

    Knows t, time, timestamp, elapsed alone or with a unit ("t_s", "time_ms", "Time (s)", "timestamp [us]"),
    and the unit words alone ("seconds", "millis", "ms", "micros"; not a bare "s").
    """
    n = name.strip().strip("\"'").strip().lower()
    m = re.fullmatch(r"(.*?)\s*[(\[]\s*([^)\]]*?)\s*[)\]]", n)
    if m:
        base, unit = m.group(1), m.group(2)
    else:
        m = re.fullmatch(r"(.*?)[\s_\-]+([^\s_\-]+)", n)
        base, unit = (m.group(1), m.group(2)) if m else (n, "")
    if base in TIME_WORDS:
        if not unit:
            return True, None
        if unit in TIME_UNITS:
            return True, TIME_UNITS[unit]
        return False, None
    if n in TIME_UNITS and n != "s":
        return True, TIME_UNITS[n]
    if base in TIME_WORDS or n in TIME_WORDS:
        return True, None
    return False, None


def _find_bad_row(path: Path, lines: list[str], numbers: list[int], delim: str | None, width: int) -> None:
    """Raise an InputError naming the first row that is ragged or not numeric (slow path, errors only)."""
    for line, lineno in zip(lines, numbers, strict=True):
        _check_row(path, line, lineno, delim, width)


def _check_row(path: Path, line: str, lineno: int, delim: str | None, width: int) -> None:
    tokens = _split(line, delim)
    if len(tokens) != width:
        raise InputError(f"{path}:{lineno}: expected {width} value(s), found {len(tokens)} (truncated or ragged row)")
    for tok in tokens:
        if tok == "":
            raise InputError(f"{path}:{lineno}: empty value (truncated row?)")
        if _to_float(tok) is None:
            raise InputError(f"{path}:{lineno}: non-numeric value {tok[:20]!r}")


def _drop_cut_last_row(
    path: Path, lines: list[str], numbers: list[int], delim: str | None, width: int, warnings: list[str]
) -> None:
    """A log cut off while writing ends in a partial row: drop it with a warning (ragged rows elsewhere are fatal)."""
    if len(lines) < 2:
        return
    try:
        _check_row(path, lines[-1], numbers[-1], delim, width)
    except InputError as exc:
        reason = str(exc).split(": ", 1)[1]
        warnings.append(f"{path}:{numbers[-1]}: last row dropped, {reason.split(' (')[0]} (a cut-off log?)")
        del lines[-1], numbers[-1]


def _parse_table(path: Path, lines: list[str], numbers: list[int], delim: str | None, width: int) -> np.ndarray:
    """Parse data rows into a (rows, width) float array with precise errors."""
    try:
        data = np.loadtxt(lines, delimiter=delim, dtype=np.float64, ndmin=2, comments=None)
    except ValueError as exc:
        _find_bad_row(path, lines, numbers, delim, width)
        raise InputError(f"{path}: cannot parse the samples ({exc})") from None
    if data.shape[1] != width:
        _find_bad_row(path, lines, numbers, delim, width)
    bad = ~np.isfinite(data)
    if bad.any():
        row = int(np.argmax(bad.any(axis=1)))
        value = data[row][bad[row]][0]
        raise InputError(f"{path}:{numbers[row]}: {'NaN' if math.isnan(value) else 'infinite'} value")
    return data


def _check_time(path: Path, t: np.ndarray, numbers: list[int], name: str) -> np.ndarray:
    """The time steps; InputError naming the line where the clock stops or goes back (e.g. a restarted logger)."""
    if len(t) < 2:
        raise InputError(f"{path}: too few samples to derive the rate from the time column; pass --rate")
    dt = np.diff(t)
    if np.any(dt <= 0):
        row = int(np.argmax(dt <= 0)) + 1
        what = "goes back" if dt[row - 1] < 0 else "repeats"
        raise InputError(
            f"{path}:{numbers[row]}: time column does not increase ({name!r} {what}: {t[row - 1]:g} then "
            f"{t[row]:g}; a restarted logger? split the file, or pass --rate to ignore the time column)"
        )
    return dt


def _time_step_s(t: np.ndarray, dt: np.ndarray, scale: float | None) -> float:
    """The typical sample interval in seconds; without a unit, integer stamps are ms (or us when ms is too slow)."""
    step = float(np.median(dt))
    if scale is not None:
        return step * scale
    if step >= 0.5 and np.all(t == np.round(t)):  # loggers often write millis() or micros()
        return step / 1e6 if step / 1000.0 > 1.0 / RATE_MIN_HZ else step / 1000.0
    return step


def _time_column_checks(
    path: Path, t: np.ndarray, numbers: list[int], name: str, scale: float | None, rate: float | None,
    warnings: list[str],
) -> float:
    """Check a time column (always, not only when it gives the rate); returns the rate it implies."""
    dt = _check_time(path, t, numbers, name)
    step = _time_step_s(t, dt, scale)
    implied = float(f"{1.0 / step:.6g}")  # 34.80999999999856 -> 34.81: timestamps carry rounding noise
    median = float(np.median(dt))
    gaps = np.flatnonzero(dt > 1.5 * median)
    if len(gaps):
        longest = int(gaps[np.argmax(dt[gaps])])
        lost = float(np.sum(dt[gaps] / median - 1.0))
        warnings.append(
            f"{path}:{numbers[longest + 1]}: time column {name!r} jumps {len(gaps)} time(s) (longest "
            f"{dt[longest] / median:.0f} sample intervals): about {lost:.0f} sample(s) missing; "
            "later times are read as if none were"
        )
    if rate is not None and abs(implied - rate) > 0.02 * rate:
        warnings.append(
            f"{path}: time column {name!r} says {implied:g} Hz but the file header says {rate:g} Hz; "
            "using the header's rate"
        )
    return implied


def _plotter_lines(path: Path, lines: list[str], numbers: list[int]) -> tuple[list[str], list[str]] | None:
    """Arduino Serial Plotter data ("emg:2048", "a:1,b:2"): (labels, lines without labels), or None."""
    labels = PLOTTER_LABEL.findall(lines[0])
    if not labels or _to_float(PLOTTER_LABEL.sub("", lines[0]).replace(",", " ").split()[0]) is None:
        return None
    out = []
    for line, lineno in zip(lines, numbers, strict=True):
        if PLOTTER_LABEL.findall(line) != labels:
            if line is lines[-1] and len(lines) > 1:
                out.append(line)  # a cut-off last line: the row check drops it with a warning
                continue
            raise InputError(
                f"{path}:{lineno}: Serial Plotter labels {', '.join(PLOTTER_LABEL.findall(line)) or 'missing'} "
                f"differ from the first line's {', '.join(labels)}"
            )
        out.append(PLOTTER_LABEL.sub("", line))
    return labels, out


def _looks_like_time(values: np.ndarray) -> bool:
    """A steadily increasing column (a clock or sample counter), which EMG never is over many samples."""
    if len(values) < 10:
        return False
    dt = np.diff(values)
    return bool(np.all(dt > 0) and np.max(dt) <= 3 * np.median(dt))


def _opensignals_json(path: Path, comments: list[str]) -> dict:
    for c in comments:
        body = c.lstrip("#").strip()
        if body.startswith("{"):
            try:
                header = json.loads(body)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}: bad OpenSignals JSON header ({exc.msg})") from None
            if isinstance(header, dict) and header:
                device = next(iter(header.values()))  # several devices: the first one
                if isinstance(device, dict):
                    return device
    raise InputError(f"{path}: OpenSignals header without its JSON line")


@dataclass
class _Parsed:
    data: np.ndarray  # (rows, columns) floats, time column excluded
    names: list[str]
    rate_hz: float | None
    rate_origin: str
    units: str | None
    mode: str | None
    resolution: list[int | None]  # ADC bits per column when the file says so
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read_text(path: Path, raw: bytes, ignore_time: bool = False) -> _Parsed:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    all_lines = text.splitlines()
    comments: list[str] = []
    warnings: list[str] = []
    notes: list[str] = []
    first = None
    for i, line in enumerate(all_lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comments.append(stripped)
            continue
        first = i
        break
    if first is None:
        raise InputError(f"{path}: no samples (only header lines)")

    meta: dict[str, str] = {}
    for c in comments:
        body = c.lstrip("#").strip()
        m = re.match(r"^([A-Za-z_][\w ()]*?)\s*:?=\s*(.*)$", body)
        if m:
            meta[m.group(1).strip().lower()] = m.group(2).strip()
    opensignals_json = any("opensignals text file format" in c.lower() for c in comments)

    def data_lines(start: int) -> tuple[list[str], list[int]]:
        lines, numbers = [], []
        for i, line in enumerate(all_lines[start:]):
            s = line.strip()
            if s and not s.startswith("#"):
                lines.append(line)
                numbers.append(start + i + 1)
        return lines, numbers

    header: list[str] | None = None
    lines, numbers = data_lines(first)
    plotter = _plotter_lines(path, lines, numbers)
    if plotter is not None:
        header, lines = plotter
        delim = _sniff_delimiter(lines[0])
        notes.append(f"Arduino Serial Plotter labels: {', '.join(header)}")
    else:
        delim = _sniff_delimiter(all_lines[first])
        tokens = _split(all_lines[first], delim)
        if any(_to_float(t) is None for t in tokens) and any(ch.isalpha() for ch in all_lines[first]):
            header = [t.strip().strip('"').strip("'") for t in tokens]
            lines, numbers = lines[1:], numbers[1:]
    if not lines:
        raise InputError(f"{path}: no samples after the header row")
    if delim != "," and re.search(r"\d,\d", lines[0]):
        lines = [line.replace(",", ".") for line in lines]  # decimal commas: "0,000;12,5"
        notes.append("decimal commas")
    width = len(header) if header is not None else len(_split(lines[0], delim))
    _drop_cut_last_row(path, lines, numbers, delim, width, warnings)
    table = _parse_table(path, lines, numbers, delim, width)

    rate: float | None = None
    origin = ""
    units = meta.get("units")
    mode = meta.get("mode")
    resolution: list[int | None] = [None] * width
    names = header or [f"ch{i}" for i in range(width)]
    keep = list(range(width))

    if opensignals_json:
        device = _opensignals_json(path, comments)
        cols = [str(c) for c in device.get("column", [])]
        if len(cols) != width:
            raise InputError(f"{path}: OpenSignals header lists {len(cols)} columns, rows have {width}")
        names = cols
        keep = [i for i, c in enumerate(cols) if re.fullmatch(r"A\d+", c)]
        if not keep:
            raise InputError(f"{path}: OpenSignals file without analog (A1, A2, ...) columns")
        res = device.get("resolution", [])
        resolution = [int(r) if isinstance(r, (int, float)) else None for r in res] + [None] * width
        if "sampling rate" in device:
            rate, origin = float(device["sampling rate"]), "OpenSignals header"
        units = units or "counts"
    elif "sampling rate (hz)" in meta:  # OpenSignals "Simple Text Format" (BioSPPy examples)
        rate, origin = _to_float(meta["sampling rate (hz)"]), "OpenSignals header"
        bits = _to_float(meta.get("resolution", ""))
        resolution = [int(bits) if bits else None] * width
        labels = [s.strip() for s in re.split(r"[,\t]", meta.get("labels", "")) if s.strip()]
        if len(labels) == width and header is None:
            names = labels
        units = units or "counts"
    if "rate_hz" in meta:
        rate, origin = _to_float(meta["rate_hz"]), "file header"
        if rate is None:
            raise InputError(f"{path}: header rate_hz={meta['rate_hz']!r} is not a number")

    time_idx, scale = None, None
    if header is not None:
        for i, h in enumerate(header):
            is_time, scale = time_column_scale(h)
            if is_time:
                time_idx = i
                break
    if time_idx is not None:
        keep = [i for i in keep if i != time_idx]
        if not keep:
            raise InputError(f"{path}: only a time column, no signal column")
        if not ignore_time:
            implied = _time_column_checks(
                path, table[:, time_idx], numbers, names[time_idx], scale, rate, warnings
            )
            if rate is None:
                rate, origin = implied, f"time column {names[time_idx]!r}"
        notes.append(f"time column {names[time_idx]!r} dropped")
    elif keep and _looks_like_time(table[:, keep[0]]):
        name = names[keep[0]]
        warnings.append(
            f"{path}: the first column{f' {name!r}' if header else ''} only increases, like a clock or sample "
            "counter, yet is read as EMG channel 0; if it is time, name it t, time_s or time_ms in a header "
            "row, or leave it out with --channel"
        )
    return _Parsed(
        data=table[:, keep],
        names=[names[i] for i in keep],
        rate_hz=rate,
        rate_origin=origin,
        units=units,
        mode=mode,
        resolution=[resolution[i] for i in keep],
        warnings=warnings,
        notes=notes,
    )


def _read_wav(path: Path) -> _Parsed:
    try:
        with wave.open(str(path), "rb") as w:
            n_ch, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            frames = w.readframes(n)
    except (wave.Error, EOFError) as exc:
        raise InputError(f"{path}: not a PCM WAV file we can read ({exc})") from None
    n = len(frames) // (width * n_ch)
    frames = frames[: n * width * n_ch]
    if width == 1:  # 8-bit WAV is unsigned, centred on 128
        data = np.frombuffer(frames, dtype=np.uint8).astype(np.float64) - 128.0
    elif width == 2:
        data = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    elif width == 3:
        b = np.frombuffer(frames, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        data = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64)
    elif width == 4:
        data = np.frombuffer(frames, dtype="<i4").astype(np.float64)
    else:
        raise InputError(f"{path}: unsupported WAV sample width {8 * width} bits")
    if n == 0:
        raise InputError(f"{path}: WAV file without samples")
    return _Parsed(
        data=data.reshape(n, n_ch),
        names=[f"ch{i}" for i in range(n_ch)],
        rate_hz=float(rate),
        rate_origin="WAV header",
        units="au",  # PCM amplitude says nothing about volts or ADC counts
        mode=None,
        resolution=[None] * n_ch,
    )


def _read_mat(path: Path) -> _Parsed:
    from scipy.io import loadmat  # scipy is slow to import; only .mat files need it

    try:
        mat = loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise InputError(f"{path}: cannot read MATLAB file ({exc})") from None
    if "EMG" in mat and hasattr(mat["EMG"], "channelData"):  # emgGO layout
        emg = mat["EMG"]
        data = np.asarray(emg.channelData, dtype=np.float64)
        rate = float(emg.fs) if hasattr(emg, "fs") else None
    else:
        arrays = {k: v for k, v in mat.items() if not k.startswith("__") and isinstance(v, np.ndarray)}
        numeric = {k: v for k, v in arrays.items() if v.dtype.kind in "iuf" and v.size > 1}
        if len(numeric) != 1:
            raise InputError(
                f"{path}: MATLAB file without an EMG struct (channelData, fs) or a single numeric array "
                f"(found {', '.join(sorted(numeric)) or 'none'})"
            )
        data = np.asarray(next(iter(numeric.values())), dtype=np.float64)
        fs = next((mat[k] for k in ("fs", "Fs", "rate", "srate") if k in mat), None)
        rate = float(fs) if fs is not None else None
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.size == 0:
        raise InputError(f"{path}: MATLAB signal has shape {data.shape}, expected samples x channels")
    if data.shape[0] < data.shape[1]:  # channels x samples: transpose
        data = data.T
    if not np.all(np.isfinite(data)):
        raise InputError(f"{path}: NaN or infinite values in the MATLAB signal")
    return _Parsed(
        data=data,
        names=[f"ch{i}" for i in range(data.shape[1])],
        rate_hz=rate,
        rate_origin="MATLAB fs",
        units="mV",  # emgGO samples are in mV (probably; the upstream does not say)
        mode=None,
        resolution=[None] * data.shape[1],
    )


def _guess_units(data: np.ndarray) -> str:
    """Integers in the ADC range (or int8 Myo data) are counts; anything else is arbitrary units."""
    if data.size and np.all(data == np.round(data)) and data.min() >= -128 and data.max() <= 4095:
        return "counts"
    return "au"


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
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if not raw.strip():
        raise InputError(f"{path}: empty file")

    suffix = path.suffix.lower()
    if raw[:4] == b"RIFF" or suffix == ".wav":
        parsed = _read_wav(path)
    elif raw[:6] == b"MATLAB" or suffix == ".mat":
        parsed = _read_mat(path)
    elif b"\x00" in raw[:4096]:
        raise InputError(f"{path}: unknown binary format (expected CSV/TXT, OpenSignals, WAV or MATLAB .mat)")
    elif suffix in TEXT_SUFFIXES or raw.startswith(MAGIC):
        parsed = _read_text(path, raw, ignore_time=rate_hz is not None)
    else:
        raise InputError(
            f"{path}: unknown format {suffix!r} (expected .csv, .tsv, .txt, .log, .dat, OpenSignals .txt, .wav or .mat)"
        )

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

    channels: list[np.ndarray] = []
    for i in indices:
        col = data[:, i]
        if unit == "counts":
            bits = parsed.resolution[i]
            if bits and bits != ADC_BITS:
                col = col * 2.0 ** (ADC_BITS - bits)  # e.g. BITalino 10-bit 0..1023 -> 0..4092
            channels.append(np.round(col).astype(np.int32))
        else:
            channels.append(col.astype(np.float64))
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
