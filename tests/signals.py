"""Small synthetic EMG signals for detector tests (the full simulator lives in spasmsim)."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt


def emg(seconds: float, rate: int, bursts: list[tuple[float, float, float]], rest_rms: float = 1.5,
        seed: int = 0, mid: int = 2048) -> np.ndarray:
    """ADC counts: band-limited noise (20-200 Hz) at rest_rms, plus (start, end, rms) bursts."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    sos = butter(4, [min(20, 0.1 * rate), min(200, 0.45 * rate)], btype="band", fs=rate, output="sos")
    amp = np.full(n, rest_rms)
    for start, end, rms in bursts:
        amp[int(start * rate):int(end * rate)] = np.hypot(rest_rms, rms)
    noise = sosfilt(sos, rng.normal(0, 1, n))
    noise /= noise.std()
    return np.clip(np.rint(mid + noise * amp), 0, 4095).astype(np.int64)


def clonus(start: float, seconds: float, hz: float, burst_s: float = 0.06) -> list[tuple[float, float, float]]:
    """A clonus train as bursts at hz."""
    out = []
    t = start
    while t < start + seconds:
        out.append((t, t + burst_s, 60.0))
        t += 1 / hz
    return out
