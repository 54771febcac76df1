"""Bonato, D'Alessio & Knaflitz (1998) double-threshold detector, its first threshold from a false-alarm rate.

RAW (20 Hz high-pass): g = (x[k-1]^2 + x[k]^2) / var(rest) on non-overlapping sample pairs, chi-square with
2 degrees of freedom at rest, so a pair crosses zeta = -2 ln(p) with probability p (the first threshold,
swept as p). Second threshold: at least r0 = 1 of m = 5 successive pairs above zeta, held for 30 ms (the
paper's values). ENV: the same on the envelope's deviation from its rest mean (a mean shift instead of a
variance change), which is how a double threshold reads an envelope.
"""

from __future__ import annotations

import classic
import numpy as np
from peers import Episodes

NAME = "bonato"
PARAM = "p (false crossings per pair)"
LEVELS = (0.3, 0.1, 0.05, 0.01, 1e-3, 1e-4, 1e-6, 1e-9, 1e-15, 1e-25)
DEFAULT = 0.05
M, R0, ACTIVE_S = 5, 1, 0.030


def statistic(x: np.ndarray, rate_hz: float, mode: str) -> np.ndarray:
    """Per sample pair, the rest-normalised energy g (one value per pair)."""
    y = classic.highpass(x, rate_hz) if mode == "raw" else np.asarray(x, dtype=np.float64)
    n = len(y) // 2 * 2
    pairs = y[:n].reshape(-1, 2)
    if mode == "env":  # deviation from rest: the rest mean of the envelope, from its quietest window
        mu, _ = classic.rest_stats(pairs.mean(1), rate_hz / 2)
        pairs = pairs - mu
    energy = (pairs**2).sum(1)
    rest_mean, _ = classic.rest_stats(energy, rate_hz / 2)
    var = rest_mean / 2 if rest_mean > 0 else 1e-9  # E[x1^2 + x2^2] = 2 var at rest
    return energy / var


def sweep(x: np.ndarray, rate_hz: float, mode: str, levels: tuple[float, ...] = LEVELS) -> list[Episodes]:
    """Episodes at each pair false-alarm probability p (zeta = -2 ln p)."""
    g = statistic(x, rate_hz, mode)
    pair_hz = rate_hz / 2
    hold = max(1, round(ACTIVE_S * pair_hz))
    out = []
    for p in levels:
        above = (g > -2.0 * np.log(p)).astype(np.float64)
        count = np.convolve(above, np.ones(M), mode="full")[M - 1 : M - 1 + len(above)]  # pairs k-m+1..k
        out.append(classic.episodes(count >= R0, pair_hz, hold))
    return out
