"""The rest model's upper tail: measured on rest only, and the onset threshold set from it on a skewed rest."""

from __future__ import annotations

from array import array

import numpy as np

from spasmfw import detchain
from spasmfw import detector as fw

RATE = 100


def _feed(d: fw.Detector, counts: np.ndarray) -> int:
    """Feed counts in 1 s blocks; -> the onsets seen."""
    onsets = 0
    for i in range(0, counts.size, RATE):
        block = array("H", counts[i:i + RATE].tolist())
        d.process(block, len(block))
        while (r := d.pop()) is not None:
            onsets += r[0] == fw.codes.EV_ONSET
    return onsets


def _spreads(d: fw.Detector) -> tuple[float, float]:
    """(deviation spread, tail spread) in counts."""
    dev = (d.dev_acc >> detchain.FLOOR_BITS) / detchain.ENV_SCALE
    tail = (((d.tail_acc >> detchain.FLOOR_BITS) << 4) // detchain.TAIL_Q) / detchain.ENV_SCALE
    return dev, tail


def _knee_rest(seconds: float, seed: int = 3) -> np.ndarray:
    # A rectified-noise envelope read through a convex transfer (an ADC's knee): its upper tail is heavier
    # than a normal one with the same spread.
    rng = np.random.default_rng(seed)
    v = np.convolve(np.abs(rng.standard_normal(int(seconds * RATE * 10))), np.ones(50) / 50, "same")[::10]
    return np.clip(np.rint(40 * v ** 3), 0, 4095).astype(np.uint16)


def test_on_a_normal_rest_the_tail_spread_matches_the_deviation_spread():
    # TAIL_Q is the normal distribution's 98.5th percentile in mean absolute deviations: on normal rest the
    # tail says what the deviation says, and the thresholds stay as the false-alarm target sets them.
    rng = np.random.default_rng(5)
    d = fw.Detector(RATE, "env", {})
    assert _feed(d, np.rint(500 + 20 * rng.standard_normal(600 * RATE)).astype(np.uint16)) == 0
    dev, tail = _spreads(d)
    assert 0.9 * dev < tail < 1.15 * dev


class _DeviationOnly(fw.Detector):
    """The onset threshold from the deviation spread alone, as without the tail (env mode)."""

    def _thresholds(self):
        f = super()._thresholds()
        self.on_thr = f + (max(self.dev_acc >> detchain.FLOOR_BITS, self.dev_min) * self.on_q >> 4)
        return f


def test_a_skewed_rest_raises_the_onset_threshold_and_false_onsets_fall():
    rest = _knee_rest(3600, seed=4)  # an hour
    d = fw.Detector(RATE, "env", {})
    with_tail = _feed(d, rest)
    dev, tail = _spreads(d)
    assert tail > 1.1 * dev
    f = d.floor_acc >> detchain.FLOOR_BITS
    assert d.on_thr > f + (d.dev_acc >> detchain.FLOOR_BITS) * d.on_q // 16
    # the same rest, the onset threshold from the deviation spread alone: more of the skewed rest gets through
    without_tail = _feed(_DeviationOnly(RATE, "env", {}), rest)
    assert with_tail <= 1
    assert without_tail >= 4


def test_a_spasm_s_rise_does_not_move_the_rest_tail():
    # The ticks of a run move a provisional tail, dropped when the run becomes an episode.
    rest = _knee_rest(120)
    d = fw.Detector(RATE, "env", {})
    _feed(d, rest[: 60 * RATE])
    spasm = rest[60 * RATE: 62 * RATE].astype(np.int64) + np.linspace(0, 400, 2 * RATE).astype(np.int64)
    before = -1
    for i in range(spasm.size):
        if d.run < 0:
            before = d.tail_acc  # the tail as the run starts
        d.process(array("H", [int(spasm[i])]), 1)
        if d.state:
            break
    assert d.state == 1
    assert d.tail_acc == before
    assert d.run_tail > before


def test_a_long_run_below_the_onset_threshold_is_not_rest_for_the_tail():
    # A run longer than a twitch that never became an episode may be a weak contraction: its ticks do not
    # count for the tail; a short rest bump's do.
    rest = _knee_rest(120)

    def tails(bump_s: float) -> tuple[int, int]:
        """(tail as the bump's run starts, tail as it ends)."""
        d = fw.Detector(RATE, "env", {})
        _feed(d, rest[: 60 * RATE])
        level = (d.off_thr + d.on_thr) // 2 // detchain.ENV_SCALE  # between the offset and onset thresholds
        sig = rest[60 * RATE: 70 * RATE].copy()
        sig[: int(bump_s * RATE)] = np.maximum(sig[: int(bump_s * RATE)], level)
        start = -1
        for v in sig.tolist():
            before = d.tail_acc
            d.process(array("H", [v]), 1)
            assert d.pop() is None and not d.state
            if start < 0 and d.run >= 0:
                start = before
            elif start >= 0 and d.run < 0:
                return start, d.tail_acc
        raise AssertionError("the run did not end")

    start, end = tails(3.0)
    assert end == start
    start, end = tails(0.3)
    assert end > start
