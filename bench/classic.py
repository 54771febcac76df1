"""What the classical onset detectors share: the pre-filter, the rest window they learn from, runs to episodes.

The classical detectors (hodges.py, bonato_dt.py, tkeo.py) each compute a test statistic once and sweep its
threshold, which is stated in rest-window terms (mean + h * SD of the rest window, or a false-alarm
probability). The rest window is the quietest ``REST_S`` seconds of the file by the detector's own statistic
(label-free and offline, so a file that starts with a contraction still gets a rest model). Every run above
threshold becomes an episode after the same rules as ours (gaps < 0.5 s closed, episodes < 0.1 s dropped:
peers.merge), so the curves compare decision statistics, not post-processing.
"""

from __future__ import annotations

import numpy as np
from peers import Episodes, merge, runs

REST_S = 2.0
HP_HZ = 20.0  # RAW: motion artefact and drift below this (the common sEMG band starts at 10-20 Hz)


def highpass(x: np.ndarray, rate_hz: float, corner_hz: float = HP_HZ) -> np.ndarray:
    """4th-order zero-phase Butterworth high-pass (offline, as the published methods filter)."""
    from scipy.signal import butter, sosfiltfilt

    x = np.asarray(x, dtype=np.float64)
    if len(x) < 32:
        return x - x.mean()
    sos = butter(4, min(corner_hz, 0.45 * rate_hz), btype="highpass", fs=rate_hz, output="sos")
    return np.asarray(sosfiltfilt(sos, x))


def lowpass(x: np.ndarray, rate_hz: float, corner_hz: float) -> np.ndarray:
    """2nd-order zero-phase Butterworth low-pass; the signal as it is when the corner is above 0.45 fs."""
    from scipy.signal import butter, sosfiltfilt

    if corner_hz >= 0.45 * rate_hz or len(x) < 32:
        return np.asarray(x, dtype=np.float64)
    sos = butter(2, corner_hz, btype="lowpass", fs=rate_hz, output="sos")
    return np.asarray(sosfiltfilt(sos, x))


def moving_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average over n samples (n >= 1), same length as x."""
    n = max(int(n), 1)
    if n == 1:
        return np.asarray(x, dtype=np.float64)
    return np.convolve(np.asarray(x, dtype=np.float64), np.ones(n) / n, mode="same")


def rest_stats(stat: np.ndarray, rate_hz: float, rest_s: float = REST_S) -> tuple[float, float]:
    """(mean, SD) of the statistic over its quietest rest_s-second window (lowest mean)."""
    n = max(3, min(len(stat), int(rest_s * rate_hz)))
    c = np.concatenate([[0.0], np.cumsum(stat, dtype=np.float64)])
    start = int(np.argmin(c[n:] - c[:-n])) if len(stat) >= n else 0
    win = stat[start : start + n]
    sd = float(win.std())
    return float(win.mean()), sd if sd > 0 else 1e-9  # a flat rest (a quantised signal) gets a tiny SD


def episodes(active: np.ndarray, rate_hz: float, min_samples: int = 1) -> Episodes:
    """Runs of active samples at least min_samples long, then our episode rules (peers.merge)."""
    eps = runs(active, rate_hz)
    eps = [(a, b) for a, b in eps if (b - a) * rate_hz >= min_samples - 1e-9]
    return merge(eps)
