"""Surface-EMG physiology: EMG-spectrum noise and the activation envelopes of each spasm kind."""

from __future__ import annotations

import numpy as np
from scipy import signal

# Shwedyk, Balasubramanian & Scott (1977) sEMG power spectrum:
#   P(f) ~ fh^4 f^2 / ((f^2 + fl^2) (f^2 + fh^2)^2)
# i.e. white noise through one first-order high-pass pole at fl and two first-order low-pass poles at fh.
# fl = 60 Hz, fh = 120 Hz puts the spectral peak near 60-90 Hz with most power in 30-200 Hz.
SHWEDYK_FL_HZ = 60.0
SHWEDYK_FH_HZ = 120.0


def emg_shaping_sos(fs: float) -> np.ndarray:
    """Second-order sections of the Shwedyk shaping filter at `fs`, scaled for unit output RMS."""
    fh = min(SHWEDYK_FH_HZ, 0.4 * fs)
    wl, wh = 2 * np.pi * SHWEDYK_FL_HZ, 2 * np.pi * fh
    z, p, k = signal.bilinear_zpk([0.0], [-wl, -wh, -wh], wh * wh, fs)
    sos = signal.zpk2sos(z, p, k)
    # Unit white noise in -> unit RMS out: scale by the L2 norm of the impulse response.
    impulse = np.zeros(int(fs))
    impulse[0] = 1.0
    gain = float(np.sqrt(np.sum(signal.sosfilt(sos, impulse) ** 2)))
    sos[0, :3] /= gain
    return sos


class ShapedNoise:
    """Unit-RMS noise with an EMG spectrum, produced chunk by chunk with the filter state carried over."""

    def __init__(self, rng: np.random.Generator, fs: float) -> None:
        self.rng = rng
        self.sos = emg_shaping_sos(fs)
        self.zi = np.zeros((self.sos.shape[0], 2))

    def next(self, n: int) -> np.ndarray:
        out, self.zi = signal.sosfilt(self.sos, self.rng.standard_normal(n), zi=self.zi)
        return out


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _wobble(rng: np.random.Generator, n: int, fs: float, lo_hz: float, hi_hz: float) -> np.ndarray:
    """Slow zero-mean unit-std fluctuation (sum of three random sinusoids): recruitment is never steady."""
    t = np.arange(n) / fs
    out = np.zeros(n)
    for _ in range(3):
        out += np.sin(2 * np.pi * rng.uniform(lo_hz, hi_hz) * t + rng.uniform(0, 2 * np.pi))
    return out / np.sqrt(1.5)


def _ramp(n: int) -> np.ndarray:
    """Raised-cosine rise from 0 to 1 over n samples."""
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / max(n, 1))


def _rise_plateau_fall(fs: float, rise: float, plateau: float, fall: float) -> np.ndarray:
    nr, npl, nf = int(rise * fs), int(plateau * fs), int(fall * fs)
    return np.concatenate([_ramp(nr), np.ones(npl), _ramp(nf)[::-1]])


def tonic(rng: np.random.Generator, fs: float, amp: float, dur_s: tuple[float, float]) -> np.ndarray:
    """Tonic spasm: fast (50-300 ms) or slow (1-4 s) rise, fluctuating plateau, 0.3-3 s relaxation."""
    dur = _loguniform(rng, *dur_s)
    fast = rng.random() < 0.5
    rise = rng.uniform(0.05, 0.3) if fast else rng.uniform(1.0, max(1.0, min(4.0, dur / 3)))
    fall = rng.uniform(0.3, max(0.3, min(3.0, dur / 3)))
    shape = _rise_plateau_fall(fs, rise, max(dur - rise - fall, 0.2), fall)
    wob = np.clip(1 + 0.15 * _wobble(rng, shape.size, fs, 0.2, 2.0), 0.5, 1.5)
    return amp * shape * wob


def clonus(rng: np.random.Generator, fs: float, amp: float, dur_s: tuple[float, float]) -> np.ndarray:
    """Clonus: a train of 3-8 Hz bursts, each 40-100 ms (Hann-shaped), for the train duration."""
    dur = rng.uniform(*dur_s)
    rate = rng.uniform(3.0, 8.0)
    width = rng.uniform(0.04, min(0.1, 0.7 / rate))
    n_bursts = max(3, int(dur * rate))
    times = np.arange(n_bursts) / rate + rng.normal(0, 0.04 / rate, n_bursts)
    times -= times.min()
    n = int((times.max() + 1.5 * width) * fs) + 1
    env = np.zeros(n)
    # Trains build up over the first bursts and fade over the last ones.
    train = np.minimum(1.0, np.minimum(np.arange(1, n_bursts + 1), np.arange(n_bursts, 0, -1)) / 3 + 0.3)
    for k in range(n_bursts):
        w = max(4, int(width * rng.uniform(0.85, 1.15) * fs))
        i0 = int(times[k] * fs)
        burst = np.hanning(w + 2)[1:-1] * train[k] * float(np.exp(rng.normal(0, 0.2)))
        env[i0 : i0 + w] = np.maximum(env[i0 : i0 + w], burst[: n - i0])
    return amp * env


def jerk(rng: np.random.Generator, fs: float, amp: float, dur_s: tuple[float, float]) -> np.ndarray:
    """Myoclonic jerk: 0.1-0.4 s, quick rise (about a third) and slower fall."""
    dur = rng.uniform(*dur_s)
    rise = dur * rng.uniform(0.25, 0.4)
    return amp * _rise_plateau_fall(fs, rise, 0.0, dur - rise)


def cramp(rng: np.random.Generator, fs: float, amp: float, dur_s: tuple[float, float]) -> np.ndarray:
    """Cramp: 1-5 min, 2-8 s build-up, amplitude declining with fatigue, 2-6 s release."""
    dur = rng.uniform(*dur_s)
    rise, fall = rng.uniform(2.0, 8.0), rng.uniform(2.0, 6.0)
    shape = _rise_plateau_fall(fs, rise, max(dur - rise - fall, 1.0), fall)
    t = np.arange(shape.size) / fs
    residual, tau = rng.uniform(0.3, 0.6), dur * rng.uniform(0.3, 0.6)
    fatigue = residual + (1 - residual) * np.exp(-t / tau)
    wob = np.clip(1 + 0.2 * _wobble(rng, shape.size, fs, 0.1, 1.0), 0.4, 1.6)
    return amp * shape * fatigue * wob


SPASM_MAKERS = {"tonic": tonic, "clonus": clonus, "jerk": jerk, "cramp": cramp}


def truth_bounds(env: np.ndarray, fraction: float = 0.1) -> tuple[int, int]:
    """First and last sample where the activation exceeds `fraction` of this event's peak."""
    above = np.flatnonzero(env > fraction * float(env.max()))
    return int(above[0]), int(above[-1])
