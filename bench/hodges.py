"""Hodges & Bui (1996) onset detector: the smoothed rectified signal above mean + h * SD of rest.

RAW: 20 Hz high-pass, full-wave rectification, 50 Hz low-pass, then a 25 ms moving average (Hodges and
Bui's best combination: W = 25 ms, h = 3 SD); ENV: the envelope itself, smoothed by the same 25 ms window.
An onset is a sample whose windowed mean exceeds the threshold; the episode lasts while it does.
"""

from __future__ import annotations

import classic
import numpy as np
from peers import Episodes

NAME = "hodges-bui"
PARAM = "h (SD of rest)"
LEVELS = (1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 40.0)
DEFAULT = 3.0
WINDOW_S = 0.025


def statistic(x: np.ndarray, rate_hz: float, mode: str) -> np.ndarray:
    if mode == "raw":
        x = classic.lowpass(np.abs(classic.highpass(x, rate_hz)), rate_hz, 50.0)
    return classic.moving_mean(x, round(WINDOW_S * rate_hz))


def sweep(x: np.ndarray, rate_hz: float, mode: str, levels: tuple[float, ...] = LEVELS) -> list[Episodes]:
    """Episodes at each threshold h (mean + h * SD of the rest window)."""
    stat = statistic(x, rate_hz, mode)
    mu, sd = classic.rest_stats(stat, rate_hz)
    return [classic.episodes(stat > mu + h * sd, rate_hz) for h in levels]
