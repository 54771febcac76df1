"""Recording formats: the accepted rates, units and modes, the Recording type, and what every reader returns."""

from __future__ import annotations

import math
import re
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
