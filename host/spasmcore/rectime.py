"""Time columns in text recordings: recognising them by name, checking them, and the rate they imply."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .errors import InputError
from .recformat import RATE_MIN_HZ, TIME_UNITS, TIME_WORDS


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


UNEVEN_CV = 0.1  # sample steps varying more than this (coefficient of variation) are an uneven clock


def uneven(t: np.ndarray) -> bool:
    """A time column whose steps jitter by over 10 % (gaps aside): a logger's clock, not a sampling clock.

    An even clock with a few lost stretches is not: it is read as even, with a warning naming the gaps."""
    dt = np.diff(t)
    median = float(np.median(dt))
    steps = dt[dt <= 1.5 * median]
    return bool(median > 0 and steps.size > 1 and float(np.std(steps)) > UNEVEN_CV * median)


def resample_even(
    path: Path, t: np.ndarray, table: np.ndarray, name: str, step_s: float, warnings: list[str]
) -> tuple[np.ndarray, float]:
    """Samples on an uneven clock put on an even grid by linear interpolation: (table, rate).

    The grid runs at the median rate, or at the detector's lowest rate (RATE_MIN_HZ) when the log is slower (a
    MyoWare read by a PC logger at ~20 Hz, say): never treated as even when it is not, and said in a warning.
    """
    dt = np.diff(t)
    median = float(np.median(dt))
    seconds = (t - t[0]) * (step_s / median)
    rate = float(f"{1.0 / step_s:.6g}")
    raised = rate < RATE_MIN_HZ
    rate = max(rate, float(RATE_MIN_HZ))
    grid = np.arange(int(seconds[-1] * rate) + 1) / rate
    out = np.empty((grid.size, table.shape[1]), dtype=np.float64)
    for c in range(table.shape[1]):
        out[:, c] = np.interp(grid, seconds, table[:, c].astype(np.float64))
    gaps = int(np.count_nonzero(dt > 1.5 * median))
    warnings.append(
        f"{path}: time column {name!r} is uneven (steps {float(dt.min()) * step_s / median:.3g} to "
        f"{float(dt.max()) * step_s / median:.3g} s, median {step_s:.3g} s, {gaps} gap(s) over 1.5 steps): "
        f"resampled onto an even {rate:g} Hz grid by linear interpolation"
        + (f" (raised from {1.0 / step_s:.3g} Hz, below the detector's {RATE_MIN_HZ:g} Hz)" if raised else "")
    )
    return out, rate


def _looks_like_time(values: np.ndarray) -> bool:
    """A steadily increasing column (a clock or sample counter), which EMG never is over many samples."""
    if len(values) < 10:
        return False
    dt = np.diff(values)
    return bool(np.all(dt > 0) and np.max(dt) <= 3 * np.median(dt))
