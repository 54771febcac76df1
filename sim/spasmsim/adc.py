"""MyoWare 2.0 RAW/ENV outputs and the ESP32 12-bit ADC (11 dB attenuation) that reads them."""

from __future__ import annotations

import numpy as np
from scipy import signal
from scipy.interpolate import PchipInterpolator

from spasmcore.frontend import ENV_GAIN, ENV_TAU_S, RAW_GAIN

VS = 3.3  # supply, V
MID = VS / 2  # RAW output is centred on Vs/2
RAIL_LO, RAIL_HI = 0.02, VS - 0.02  # output swing of the sensor's op-amps
RAW_HP_HZ = 20.0  # assumed first-order high-pass of the RAW path (the sensor is AC-coupled, ~20-500 Hz)
# The envelope circuit couples the band-passed signal into its rectifier through one more first-order 20 Hz
# high-pass, so ENV sees electrode wander through two poles. With one pole, wander of a few mV at 0.05-0.5 Hz
# rectified into ENV humps of hundreds of counts at rest; a real MyoWare's ENV rests within a few counts of
# its level (the ENV rest of ../shared/data/myoware_rrp moves by 0.005-0.14 V under bursts of 0.4-1.9 V), as
# tests/test_simulator.py checks on the wander-heavy scenarios.
ENV_HP_HZ = 20.0
# RAW_GAIN (200) and ENV_GAIN (electrode -> ENV, 200 x (1 + 50 kOhm pot) = 10200) and the envelope
# time constant (50 ms, first order) are shared with spasmcore.frontend, which documents their sources.

# ESP32 ADC, 11 dB attenuation, raw (uncalibrated) reading versus pin voltage. Espressif documents the
# accurate range as 150-2450 mV: below ~0.1 V the reading sticks at 0, from ~2.5 V the slope drops by ~10 %
# and the reading saturates at 4095 from ~3.25 V. ~1330 counts/V in the linear part puts 1.65 V at 2048.
# The anchors are a smooth monotone (PCHIP) fit in the shape of published measurements, not one chip's curve.
_CURVE_V = np.array([0.0, 0.05, 0.10, 0.15, 0.25, 1.65, 2.50, 2.80, 3.00, 3.15, 3.25, 3.40])
_CURVE_C = np.array([0.0, 0.0, 12.0, 60.0, 195.0, 2048.0, 3180.0, 3560.0, 3800.0, 3975.0, 4095.0, 4095.0])
COUNTS_PER_V = 1330.0
ADC_NOISE_COUNTS = 1.0  # input-referred ADC noise, counts RMS
GLITCH_PER_S = 0.05  # isolated single-sample glitches (supply/Wi-Fi spikes)
GLITCH_COUNTS = (15.0, 25.0)

_GRID = np.linspace(0.0, 3.4, 3401)
_LUT = np.asarray(PchipInterpolator(_CURVE_V, _CURVE_C)(_GRID))


def volts_to_counts(v: np.ndarray) -> np.ndarray:
    """Noise-free ADC transfer curve (float counts)."""
    return np.interp(v, _GRID, _LUT)


def counts_to_volts(c: float) -> float:
    """Inverse of the ADC curve on its monotone part: the pin voltage that reads `c` counts (0 < c < 4095)."""
    rising = np.flatnonzero(np.diff(_LUT) > 0)
    return float(np.interp(c, _LUT[rising + 1], _GRID[rising + 1]))


class FrontEnd:
    """Stateful MyoWare model: feed electrode µV chunk by chunk, get RAW (and ENV) volts."""

    def __init__(self, fs: float) -> None:
        self.hp = signal.butter(1, RAW_HP_HZ, "highpass", fs=fs, output="sos")
        alpha = 1.0 - np.exp(-1.0 / (fs * ENV_TAU_S))
        self.lp = (np.array([alpha]), np.array([1.0, alpha - 1.0]))  # first-order envelope smoother
        self.hp_zi: np.ndarray | None = None
        self.lp_zi = np.zeros(1)
        self.env_hp = signal.butter(1, ENV_HP_HZ, "highpass", fs=fs, output="sos")
        self.env_hp_zi = np.zeros((1, 2))  # starts from mid-rail: the RAW path starts in steady state

    def raw(self, uv: np.ndarray) -> np.ndarray:
        if self.hp_zi is None:  # start in steady state so the electrode offset causes no start-up transient
            self.hp_zi = signal.sosfilt_zi(self.hp) * uv[0]
        hp, self.hp_zi = signal.sosfilt(self.hp, uv, zi=self.hp_zi)
        return np.clip(MID + hp * 1e-6 * RAW_GAIN, RAIL_LO, RAIL_HI)

    def env(self, raw_v: np.ndarray, gain_fold: float = 1.0, offset_v: float | np.ndarray = 0.0) -> np.ndarray:
        """ENV output from RAW volts: full-wave rectify about mid-rail, smooth, amplify (nominal gain x
        `gain_fold`, the pot), plus `offset_v` (0 for the MyoWare itself; an RMS/ENV stage resting on a DC
        offset otherwise)."""
        coupled, self.env_hp_zi = signal.sosfilt(self.env_hp, raw_v - MID, zi=self.env_hp_zi)
        smooth, self.lp_zi = signal.lfilter(*self.lp, np.abs(coupled), zi=self.lp_zi)
        return np.clip(smooth * (ENV_GAIN / RAW_GAIN * gain_fold) + offset_v, RAIL_LO, RAIL_HI)


def to_counts(v: np.ndarray, rng: np.random.Generator, noise_counts: float = ADC_NOISE_COUNTS) -> np.ndarray:
    """Sample volts with the ESP32 ADC: input noise, non-linear curve, quantisation, 0..4095."""
    noisy = v + rng.standard_normal(v.size) * (noise_counts / COUNTS_PER_V)
    return np.clip(np.rint(volts_to_counts(noisy)), 0, 4095).astype(np.uint16)


def add_glitches(counts: np.ndarray, rng: np.random.Generator, fs: float) -> None:
    """Add isolated ±15-25 count single-sample glitches in place."""
    n = int(rng.poisson(GLITCH_PER_S * counts.size / fs))
    where = rng.integers(0, counts.size, n)
    size = rng.uniform(*GLITCH_COUNTS, n) * rng.choice([-1.0, 1.0], n)
    counts[where] = np.clip(np.rint(counts[where] + size), 0, 4095).astype(np.uint16)
