"""Front-end model: maps electrode voltages (or other units) to the ESP32 ADC counts a MyoWare 2.0 would give.

The chain modelled, with its sources:

- MyoWare 2.0 RAW output = electrode differential voltage x 200, centred at Vs/2. The fixed RAW gain of 200 is
  from Advancer Technologies' MyoWare Arduino library (`m_rawGain = 200.`, "RAW output has a set gain of 200",
  and the ReadMyoWareVoltage example: "RAW gain ... fixed at 200"). Vs = 3.3 V (the ESP32 supply), so the
  rest level is 1.65 V.
- MyoWare 2.0 ENV output = envelope of the rectified RAW signal x ENV gain, no offset. The same library
  computes the ENV gain as 200 x (1 + R_pot), R_pot the gain potentiometer in kOhm; its examples use
  R_pot = 50 kOhm, which we take as the nominal setting: ENV gain = 200 x 51 = 10200. Users turn the pot so
  the strongest contraction stays below 3.3 V, so real boards vary by several times around this figure.
  The envelope detector's time constant is not published; we assume a first-order low-pass of 50 ms
  (ENV_TAU_S), which gives a smooth ENV trace like the one in the MyoWare guide.
- The sensor is AC-coupled (band-pass ~20-500 Hz); instead of modelling the filter we remove each recording's
  DC level (its median) before applying the gain.
- ESP32 ADC1, 12 bit, 11 dB attenuation: nominal 0..3.3 V -> 0..4095 counts, linear, clipped to the rails.
  (The real ADC is only linear over ~0.15..2.45 V and saturates outside it; this is not modelled.)

Unit conventions for `to_counts`:

- "counts": ADC counts as the board read them, passed through (rounded, clipped to 0..4095). Counts centred on
  0 (any negative value, e.g. the Myo armband's int8 -128..127) are raw EMG around zero: in raw mode they are
  moved to mid-rail (+2048) like MyoWare RAW; in env mode they are rectified and envelope-detected.
- "uV", "mV", "V": electrode-referred voltages, put through the MyoWare model above.
- "au" (arbitrary units, e.g. the TUM exoskeleton RMS envelopes, 0..0.2): scaled so that the recording's
  maximum maps to 70% of full scale (AU_FULL_FRACTION); a signal with negative values is taken as raw EMG,
  centred on its median and its largest excursion mapped to 70% of the half range around mid-rail (raw mode),
  or rectified and envelope-detected before scaling (env mode).
"""

from __future__ import annotations

import numpy as np

ADC_MAX = 4095  # 12-bit ESP32 ADC
ADC_VREF = 3.3  # nominal full scale at 11 dB attenuation, V
SUPPLY_V = 3.3  # MyoWare Vs; RAW rests at Vs/2
MID_COUNTS = 2048  # Vs/2 in counts (1.65 V / 3.3 V x 4095 = 2047.5)
RAW_GAIN = 200.0  # MyoWare 2.0 RAW gain (Advancer MyoWare library)
GAIN_POT_KOHM = 50.0  # nominal gain potentiometer setting (Advancer library examples)
ENV_GAIN = RAW_GAIN * (1.0 + GAIN_POT_KOHM)  # 10200, Advancer library getENVGain()
ENV_TAU_S = 0.05  # assumed envelope-detector time constant (not published)
AU_FULL_FRACTION = 0.7  # arbitrary units: recording maximum -> 70% of full scale
UNIT_TO_UV = {"uV": 1.0, "mV": 1e3, "V": 1e6}
COUNTS_PER_VOLT = ADC_MAX / ADC_VREF


def _clip(counts: np.ndarray, adc_max: int = ADC_MAX) -> np.ndarray:
    return np.clip(np.round(counts), 0, adc_max).astype(np.int32)


def counts_range_error(lo: float, hi: float, adc_max: int = ADC_MAX) -> str | None:
    """Why counts from `lo` to `hi` cannot be an ADC's readings at full scale `adc_max` (None: they can).

    Counts are passed to the detector as read, so a value the ADC cannot give (a 14- or 16-bit converter's
    reading, values in other units) would be clipped into a rail fault or a flat line: refused instead. Counts
    centred on 0 (raw EMG around zero) must fit the half range around mid-scale they are moved to."""
    hint = "give --param adc_max=FULL_SCALE for a wider ADC, or --units uV, mV, V or au for other values"
    if lo >= 0:
        if hi > adc_max:
            return f"counts reach {hi:g}, above the ADC's full scale adc_max={adc_max}: {hint}"
        return None
    mid = (adc_max + 1) // 2
    if lo < -mid or hi > adc_max - mid:
        return (f"counts centred on 0 span {lo:g}..{hi:g}, wider than the {-mid}..{adc_max - mid} around mid-scale "
                f"of adc_max={adc_max}: {hint}")
    return None


def envelope(values: np.ndarray, rate_hz: float, tau_s: float = ENV_TAU_S) -> np.ndarray:
    """Full-wave rectify and smooth with a first-order low-pass (the ENV detector model)."""
    from scipy.signal import lfilter  # imported here: scipy.signal slows every CLI start by ~0.3 s

    alpha = 1.0 - np.exp(-1.0 / (float(rate_hz) * tau_s))
    rect = np.abs(np.asarray(values, dtype=np.float64))
    if rect.size == 0:
        return rect
    # Start settled at the first value, so a recording does not begin with a fake rising envelope.
    out, _ = lfilter([alpha], [1.0, alpha - 1.0], rect, zi=[rect[0] * (1.0 - alpha)])
    return out


def _need_rate(rate_hz: float | None) -> float:
    if rate_hz is None or rate_hz <= 0:
        raise ValueError("env mode needs the sample rate to model the envelope detector")
    return float(rate_hz)


def uv_to_counts(values_uv: np.ndarray, mode: str, rate_hz: float | None = None) -> np.ndarray:
    """Electrode voltage in microvolts -> ADC counts of the MyoWare RAW (mode "raw") or ENV (mode "env") pin.

    The DC level (median) is removed first, as the sensor is AC-coupled. Env mode needs `rate_hz`.
    """
    v = np.asarray(values_uv, dtype=np.float64)
    v = v - np.median(v) if v.size else v
    if mode == "raw":
        return _clip(MID_COUNTS + v * 1e-6 * RAW_GAIN * COUNTS_PER_VOLT)
    if mode == "env":
        env = envelope(v, _need_rate(rate_hz))
        return _clip(env * 1e-6 * ENV_GAIN * COUNTS_PER_VOLT)
    raise ValueError(f"mode must be raw or env, not {mode!r}")


def _au_to_counts(values: np.ndarray, mode: str, rate_hz: float | None) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return v.astype(np.int32)
    if v.min() >= 0:  # an envelope already: max -> 70% of full scale
        peak = v.max()
        return _clip(v * (AU_FULL_FRACTION * ADC_MAX / peak) if peak > 0 else v)
    v = v - np.median(v)
    if mode == "raw":
        peak = np.abs(v).max()
        scale = AU_FULL_FRACTION * (ADC_MAX - MID_COUNTS) / peak if peak > 0 else 0.0
        return _clip(MID_COUNTS + v * scale)
    env = envelope(v, _need_rate(rate_hz))
    peak = env.max()
    return _clip(env * (AU_FULL_FRACTION * ADC_MAX / peak) if peak > 0 else env)


def _counts(values: np.ndarray, mode: str, rate_hz: float | None, adc_max: int) -> np.ndarray:
    v = np.asarray(values)
    if v.size:
        problem = counts_range_error(float(v.min()), float(v.max()), adc_max)
        if problem:
            raise ValueError(problem)
    if v.size and v.min() < 0:  # centred on 0 (Myo int8): raw EMG around zero
        if mode == "raw":
            return _clip(v.astype(np.float64) + (adc_max + 1) // 2, adc_max)
        return _clip(envelope(v, _need_rate(rate_hz)), adc_max)
    return _clip(v.astype(np.float64), adc_max)


def to_counts(values: np.ndarray, units: str, mode: str, rate_hz: float | None = None,
              adc_max: int = ADC_MAX) -> np.ndarray:
    """Samples in `units` (counts, uV, mV, V, au) -> int32 ADC counts 0..4095 for a detector in `mode`.

    `rate_hz` is needed in env mode when the input is raw EMG (physical units, centred counts or centred au).
    Counts stay as read, 0..`adc_max` (the detector's parameter); counts no ADC of that scale gives are a
    ValueError (counts_range_error). Other units are put through the MyoWare and 12-bit ADC model.
    """
    if mode not in ("raw", "env"):
        raise ValueError(f"mode must be raw or env, not {mode!r}")
    if units == "counts":
        return _counts(values, mode, rate_hz, adc_max)
    if units in UNIT_TO_UV:
        return uv_to_counts(np.asarray(values, dtype=np.float64) * UNIT_TO_UV[units], mode, rate_hz)
    if units == "au":
        return _au_to_counts(values, mode, rate_hz)
    raise ValueError(f"units must be one of counts, uV, mV, V, au, not {units!r}")
