"""Solnik et al. (2010) TKEO detector: the Teager-Kaiser energy, rectified and smoothed, above mean + j * SD.

RAW only (the operator measures instantaneous frequency times amplitude, which an envelope no longer has):
20 Hz high-pass, psi[k] = x[k]^2 - x[k-1] x[k+1], full-wave rectification, 50 Hz low-pass; an onset when it
exceeds mean + j * SD of the rest window for 25 samples (Solnik's active state), the episode lasting while it
does.
"""

from __future__ import annotations

import classic
import numpy as np
from peers import Episodes

NAME = "tkeo"
PARAM = "j (SD of rest)"
LEVELS = (3.0, 5.0, 8.0, 15.0, 25.0, 40.0, 70.0, 120.0)
DEFAULT = 15.0
ACTIVE_SAMPLES = 25
RAW_ONLY = True


def statistic(x: np.ndarray, rate_hz: float) -> np.ndarray:
    y = classic.highpass(x, rate_hz)
    psi = np.zeros_like(y)
    psi[1:-1] = y[1:-1] ** 2 - y[2:] * y[:-2]
    return classic.lowpass(np.abs(psi), rate_hz, 50.0)


def sweep(x: np.ndarray, rate_hz: float, mode: str, levels: tuple[float, ...] = LEVELS) -> list[Episodes]:
    """Episodes at each threshold j (mean + j * SD of the rest window)."""
    if mode != "raw":
        raise ValueError("TKEO needs raw EMG, not an envelope")
    stat = statistic(x, rate_hz)
    mu, sd = classic.rest_stats(stat, rate_hz)
    return [classic.episodes(stat > mu + j * sd, rate_hz, ACTIVE_SAMPLES) for j in levels]
