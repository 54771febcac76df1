"""A brief strong EMG burst is a contraction, not an electrode pop, however its 10 ms means fluctuate.

The pop rule rejects a run far above the floor that is narrow (`spike_ms`, 30 ms). Its width was the number of
10 ms rectified means above half the run's highest one, and one such mean of EMG swings by a factor of two at
random: against one high tick a 110 ms burst counted two ticks and was dropped as a pop (a held-out thumb
recording lost 5 of 16 presses to this rule). Far above the floor the width is now the run's area above the
floor as a rectangle of its peak, which a single high tick barely moves; a pop stays one or two ticks wide.
"""

from __future__ import annotations

import numpy as np

from spasmwatch.engine.detect import detect

RATE = 1000.0
MID = 2048


def _rest(seconds: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * 3.0  # a quiet RAW rest, 3 counts


def _episodes(x: np.ndarray) -> list:
    counts = np.clip(np.rint(x + MID), 0, 4095).astype(np.int32)
    return [e for e in detect(counts, RATE, "raw", {}, engine="python") if e.kind != "fault"]


def test_a_brief_burst_with_one_high_10ms_mean_is_a_contraction():
    x = _rest(30.0, 1)
    rng = np.random.default_rng(2)
    for t_s in (10.0, 20.0):  # 110 ms of EMG at ~100x the rest, one 10 ms stretch 2.4x as strong
        i = int(t_s * RATE)
        burst = rng.standard_normal(110) * 300.0
        burst[50:60] *= 2.4
        x[i:i + 110] += burst
    events = _episodes(x)
    assert [round(e.onset_s) for e in events] == [10, 20], [(round(e.onset_s, 2), e.kind) for e in events]


def test_a_click_as_narrow_as_a_pop_is_still_rejected():
    # A cable tap or a static discharge: strong, two-sided (so not caught as a pop decaying from one side), and
    # over within 20 ms. The width rule alone must reject it.
    x = _rest(30.0, 3)
    k = np.arange(20)
    for t_s in (10.0, 20.0):
        i = int(t_s * RATE)
        x[i:i + 20] += 1500.0 * np.sin(2 * np.pi * k / 10) * np.exp(-k / 6)
    assert _episodes(x) == []
