"""Everyday interference at the electrodes (µV): mains, wander, motion, electrode pops, ECG, drifting floor."""

from __future__ import annotations

import numpy as np
from scipy import signal

# Relative amplitudes of the mains harmonics picked up by unshielded leads (odd harmonics dominate).
MAINS_HARMONICS = ((1, 1.0), (2, 0.08), (3, 0.3), (5, 0.15), (7, 0.06))


def slow_curve(rng: np.random.Generator, duration_s: float, step_s: float, sd: float) -> np.ndarray:
    """Knots (time, log-multiplier) of a smooth random walk, evaluated later with `curve_at`."""
    n = int(duration_s / step_s) + 2
    walk = np.cumsum(rng.normal(0, sd, n))
    return np.stack([np.arange(n) * step_s, walk - walk.mean()])


def curve_at(knots: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.exp(np.interp(t, knots[0], knots[1]))


def floor_knots(rng: np.random.Generator, duration_s: float, fold: float) -> np.ndarray:
    """Noise-floor multiplier: a smooth sweep from 1x to `fold`x over the recording, plus small wobbles.

    Skin impedance and electrode gel change over an hour, so the floor drifts several-fold; the sweep
    rises or falls (chosen at random), the wobble is a slow random walk.
    """
    knots = slow_curve(rng, duration_s, 30.0, 0.04)
    u = np.clip(knots[0] / max(duration_s, 1.0), 0, 1)
    sweep = np.log(fold) * (0.5 - 0.5 * np.cos(np.pi * u))
    if rng.random() < 0.5:
        sweep = sweep[::-1]
    knots[1] += sweep
    return knots


def mains(t: np.ndarray, hz: float, fs: float, phases: np.ndarray) -> np.ndarray:
    """Unit-amplitude mains waveform with harmonics below 0.45 fs; `phases` holds one phase per harmonic."""
    out = np.zeros(t.size)
    for (h, rel), ph in zip(MAINS_HARMONICS, phases, strict=True):
        if h * hz < 0.45 * fs:
            out += rel * np.sin(2 * np.pi * h * hz * t + ph)
    return out


def wander_params(rng: np.random.Generator, amp_uv: float) -> np.ndarray:
    """Baseline wander (breathing, electrode half-cell drift): 4 sinusoids at 0.05-0.5 Hz; rows f, a, phase."""
    f = rng.uniform(0.05, 0.5, 4)
    a = amp_uv * rng.uniform(0.3, 1.0, 4) / 2
    return np.stack([f, a, rng.uniform(0, 2 * np.pi, 4)])


def wander(t: np.ndarray, params: np.ndarray) -> np.ndarray:
    out = np.zeros(t.size)
    for f, a, ph in params.T:
        out += a * np.sin(2 * np.pi * f * t + ph)
    return out


def motion(rng: np.random.Generator, fs: float, amp_uv: float) -> np.ndarray:
    """Motion artefact: 0.5-4 s of large 1-10 Hz swings (cable and skin movement), tapered ends."""
    n = int(rng.uniform(0.5, 4.0) * fs)
    t = np.arange(n) / fs
    out = np.zeros(n)
    for _ in range(int(rng.integers(2, 5))):
        out += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * rng.uniform(1.0, 10.0) * t + rng.uniform(0, 6.3))
    out *= signal.windows.tukey(n, 0.3)
    return amp_uv * out / max(float(np.abs(out).max()), 1e-9)


def pop(rng: np.random.Generator, fs: float, amp_uv: float) -> np.ndarray:
    """Electrode pop: a sudden step of the electrode potential that recovers exponentially (0.2-2 s)."""
    tau = rng.uniform(0.2, 2.0)
    t = np.arange(int(5 * tau * fs)) / fs
    return (1 if rng.random() < 0.5 else -1) * amp_uv * np.exp(-t / tau)


def ecg_template(fs: float) -> np.ndarray:
    """One heartbeat as seen on a trunk EMG lead: Gaussian Q, R, S and T waves, R peak = 1, 0.6 s long."""
    t = np.arange(int(0.6 * fs)) / fs - 0.2
    g = lambda c, s: np.exp(-0.5 * ((t - c) / s) ** 2)
    return -0.15 * g(-0.025, 0.008) + g(0.0, 0.010) - 0.35 * g(0.028, 0.010) + 0.25 * g(0.25, 0.04)


def beat_times(rng: np.random.Generator, duration_s: float, bpm: tuple[float, float]) -> np.ndarray:
    """Heartbeat times with a slowly varying rate and ~3 % beat-to-beat variability."""
    rr0 = 60.0 / rng.uniform(*bpm)
    n = int(duration_s / rr0 * 1.2) + 4
    k = np.arange(n)
    rr = rr0 * (1 + 0.03 * rng.standard_normal(n) + 0.04 * np.sin(2 * np.pi * k / rng.uniform(4, 6)))
    times = rng.uniform(0, rr0) + np.cumsum(rr)
    return times[times < duration_s]


def poisson_times(rng: np.random.Generator, duration_s: float, per_min: float) -> np.ndarray:
    """Sorted times of a Poisson process with `per_min` events per minute."""
    count = int(rng.poisson(per_min * duration_s / 60.0))
    return np.sort(rng.uniform(0, duration_s, count))
