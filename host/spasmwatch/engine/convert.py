"""spasmcore.frontend.to_counts in blocks: the whole-recording statistics from a first pass, the same arithmetic.

`to_counts` centres physical units on the recording's median, scales arbitrary units by its extremes and models the
ENV pin with an IIR envelope. Here the median is `readers.source.exact_median` (bit for bit np.median), the
extremes are running min/max (exact), and the envelope filter carries its state across blocks (scipy's lfilter
with zi/zf: the same operations sample by sample). tests/test_streaming.py checks every units x mode case
against to_counts on the whole array.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from spasmcore import frontend as fe
from spasmcore.readers.source import exact_median

Column = Callable[[], Iterator[np.ndarray]]  # yields one channel's blocks again on every call


class _Envelope:
    """frontend.envelope() over consecutive blocks."""

    def __init__(self, rate_hz: float) -> None:
        self.alpha = 1.0 - np.exp(-1.0 / (float(rate_hz) * fe.ENV_TAU_S))
        self.zi: np.ndarray | None = None

    def __call__(self, values: np.ndarray) -> np.ndarray:
        from scipy.signal import lfilter

        rect = np.abs(np.asarray(values, dtype=np.float64))
        if rect.size == 0:
            return rect
        if self.zi is None:
            self.zi = np.array([rect[0] * (1.0 - self.alpha)])
        out, self.zi = lfilter([self.alpha], [1.0, self.alpha - 1.0], rect, zi=self.zi)
        return out


def prepare_counts(values: np.ndarray, units: str) -> np.ndarray:
    """What read_recording stores for a channel: int32 for counts (rounded), float64 otherwise."""
    if units == "counts":
        return np.round(values).astype(np.int32)
    return np.asarray(values, dtype=np.float64)


class Converter:
    """One channel's to_counts(values, units, mode, rate), fed block by block after `prepare(column)`."""

    def __init__(self, units: str, mode: str, rate_hz: float, adc_max: int = fe.ADC_MAX) -> None:
        if mode not in ("raw", "env"):
            raise ValueError(f"mode must be raw or env, not {mode!r}")
        if units not in ("counts", "au", *fe.UNIT_TO_UV):
            raise ValueError(f"units must be one of counts, uV, mV, V, au, not {units!r}")
        self.units, self.mode, self.rate = units, mode, rate_hz
        self.adc_max = adc_max  # counts only: their full scale (the detector's adc_max)
        self.median = 0.0
        self.lo = self.hi = 0.0
        self.peak = 0.0
        self.env: _Envelope | None = None

    def _values(self, block: np.ndarray) -> np.ndarray:
        v = prepare_counts(block, self.units)
        return v.astype(np.float64) * fe.UNIT_TO_UV[self.units] if self.units in fe.UNIT_TO_UV else v

    def prepare(self, column: Column, n: int, lo: float, hi: float,
                middle: Callable[[], list[float] | None] | None = None) -> None:
        """The statistics to_counts takes from the whole channel: extremes given, the median (from `middle`, the
        reader's middle-rank values when it has them, else by passes over `column`) and (au env) the envelope's
        peak by an extra pass."""
        self.lo, self.hi = lo, hi
        if self.units == "counts" and n:
            problem = fe.counts_range_error(lo, hi, self.adc_max)
            if problem:
                raise ValueError(problem)
        scaled: Column = lambda: (self._values(b) for b in column())  # noqa: E731
        if self.units in fe.UNIT_TO_UV or (self.units == "au" and lo < 0):
            picked = middle() if middle is not None and n else None
            if picked is not None:  # the reader knows the middle value(s): scaled and averaged as np.median does
                self.median = float(np.median(self._values(np.array(picked, dtype=np.float64))))
            else:
                self.median = exact_median(scaled, n) if n else 0.0
        if self.units == "au" and lo < 0:
            if self.mode == "raw":
                lo_c, hi_c = lo * 1.0 - self.median, hi * 1.0 - self.median
                self.peak = max(abs(lo_c), abs(hi_c))  # |v - median| is largest at an extreme (rounding is monotone)
            else:
                env = _Envelope(self.rate)
                self.peak = max((float(env(b - self.median).max()) for b in scaled() if b.size), default=0.0)
        elif self.units == "au":
            self.peak = hi
        self.env = _Envelope(self.rate) if self.mode == "env" else None

    def needs_passes(self) -> bool:
        return self.units in fe.UNIT_TO_UV or (self.units == "au" and self.lo < 0)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        v = self._values(block)
        if self.units == "counts":
            if self.lo < 0:
                if self.mode == "raw":
                    return fe._clip(v.astype(np.float64) + (self.adc_max + 1) // 2, self.adc_max)
                assert self.env is not None
                return fe._clip(self.env(v), self.adc_max)
            return np.clip(v, 0, self.adc_max)  # (int32 already rounded: what _clip gives, without two passes)
        if self.units in fe.UNIT_TO_UV:
            c = v - self.median
            if self.mode == "raw":
                return fe._clip(fe.MID_COUNTS + c * 1e-6 * fe.RAW_GAIN * fe.COUNTS_PER_VOLT)
            assert self.env is not None
            return fe._clip(self.env(c) * 1e-6 * fe.ENV_GAIN * fe.COUNTS_PER_VOLT)
        if self.lo >= 0:  # an envelope already
            peak = self.peak
            return fe._clip(v * (fe.AU_FULL_FRACTION * fe.ADC_MAX / peak) if peak > 0 else v)
        c = v - self.median
        if self.mode == "raw":
            scale = fe.AU_FULL_FRACTION * (fe.ADC_MAX - fe.MID_COUNTS) / self.peak if self.peak > 0 else 0.0
            return fe._clip(fe.MID_COUNTS + c * scale)
        assert self.env is not None
        env = self.env(c)
        return fe._clip(env * (fe.AU_FULL_FRACTION * fe.ADC_MAX / self.peak) if self.peak > 0 else env)
