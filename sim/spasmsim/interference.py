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


# One heartbeat at the skin of an EMG lead, as Gaussian P, Q, R, S and T waves (centre s, width s, amplitude
# relative to R). Q, R and S were fitted by least squares so that the beat after the sensor's 20 Hz first-order
# high-pass matches the mean normalised beat of emgGO `ECG Contaminated.mat` (8 channels, 2048 Hz; residual 2 %
# of the peak): a monophasic R 10 ms wide (sigma) with a small Q, which the high-pass turns into the file's
# biphasic R-S complex of 60-75 ms; the high-passed peak is ~0.4x the skin R. P and T are small at the skin, as
# the fit found, and all but vanish on RAW, as in the file.
PQRST = (
    ("P", -0.165, 0.022, 0.06),
    ("Q", -0.024, 0.007, -0.15),
    ("R", 0.0, 0.010, 1.0),
    ("S", 0.010, 0.0045, -0.155),
    ("T", 0.26, 0.045, 0.12),
)
ECG_PRE_S, ECG_POST_S = 0.3, 0.5  # template span around the R peak
ECG_WIDTHS = (0.9, 0.95, 1.0, 1.05, 1.1)  # QRS width variants: beat-to-beat shape differences


def ecg_template(fs: float, width: float = 1.0, gaussian: bool = False) -> np.ndarray:
    """One heartbeat (R peak = 1, at ECG_PRE_S into the array): the PQRST model above, QRS widths x `width`.

    `gaussian=True` gives the older spike-like Q-R-S-T model (no P wave, narrower S) kept for `ecg_leadoff`.
    """
    t = np.arange(int((ECG_PRE_S + ECG_POST_S) * fs)) / fs - ECG_PRE_S
    g = lambda c, s: np.exp(-0.5 * ((t - c) / s) ** 2)  # noqa: E731
    if gaussian:
        return -0.15 * g(-0.025, 0.008) + g(0.0, 0.010) - 0.35 * g(0.028, 0.010) + 0.25 * g(0.25, 0.04)
    out = np.zeros(t.size)
    for name, c, s, a in PQRST:
        qrs = name in "QRS"
        out += a * g(c * width if qrs else c, s * width if qrs else s)
    return out


def beat_times(rng: np.random.Generator, duration_s: float, bpm: tuple[float, float]) -> np.ndarray:
    """Heartbeat times with a slowly varying rate and ~3 % beat-to-beat variability (plus ~4 % sinus arrhythmia)."""
    rr0 = 60.0 / rng.uniform(*bpm)
    n = int(duration_s / rr0 * 1.2) + 4
    k = np.arange(n)
    rr = rr0 * (1 + 0.03 * rng.standard_normal(n) + 0.04 * np.sin(2 * np.pi * k / rng.uniform(4, 6)))
    times = rng.uniform(0, rr0) + np.cumsum(rr)
    return times[times < duration_s]


def beat_gains(rng: np.random.Generator, times: np.ndarray) -> np.ndarray:
    """Per-beat amplitude: breathing (0.2-0.33 Hz) modulates the QRS by ~±10 %, plus 4 % beat-to-beat noise."""
    f, ph = rng.uniform(0.2, 0.33), rng.uniform(0, 2 * np.pi)
    return (1 + 0.1 * np.sin(2 * np.pi * f * times + ph)) * (1 + 0.04 * rng.standard_normal(times.size))


def swing(rng: np.random.Generator, fs: float, amp_uv: float) -> tuple[int, np.ndarray]:
    """Movement-induced baseline swing under a burst: a single-lobed (half-sine) shift of the electrode potential
    lasting 0.4-1.2 s, of either sign; -> (samples before the burst onset where it starts, waveform µV).

    Through the sensor's 20 Hz high-pass the RAW output keeps its fast part: the burst rides tens of counts off
    the baseline, all on one side of where it started.
    """
    dur = rng.uniform(0.4, 1.2)
    lead = int(rng.uniform(0.05, 0.3) * fs)
    t = np.arange(int(dur * fs)) / fs
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return lead, sign * amp_uv * np.sin(np.pi * t / dur) ** 2


def step_factor(times_s: np.ndarray, step_t: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Piecewise-constant multiplier: the product of every step `factors[k]` whose time `step_t[k]` has passed."""
    if step_t.size == 0:
        return np.ones(times_s.size)
    levels = np.concatenate([[1.0], np.cumprod(factors)])
    return levels[np.searchsorted(step_t, times_s, side="right")]


def poisson_times(rng: np.random.Generator, duration_s: float, per_min: float) -> np.ndarray:
    """Sorted times of a Poisson process with `per_min` events per minute."""
    count = int(rng.poisson(per_min * duration_s / 60.0))
    return np.sort(rng.uniform(0, duration_s, count))
