"""A contraction outlasts `spike_ms` (30 ms); an electrode pop or a click is over within it.

The width of a run above 5x the floor is its area above the floor as a rectangle of its peak. It was the number
of 10 ms rectified means above half the run's highest one, and one such mean of EMG swings by a factor of two at
random: against one high tick a 110 ms burst counted two ticks and was dropped as a pop (a held-out thumb
recording, scored against the pop rule of the day, found 10 of 16 presses, 15 with the rule off). And narrow runs
between 5x and 40x the floor were taken for jerks: every pop or click of that size was a twitch.
"""

from __future__ import annotations

from array import array

import numpy as np

from spasmfw import detector
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


def _clicks(amplitude: float) -> np.ndarray:
    # A cable tap or a static discharge: two-sided (not a pop decaying from one side), over within 20 ms.
    x = _rest(30.0, 3)
    k = np.arange(20)
    for t_s in (10.0, 20.0):
        i = int(t_s * RATE)
        x[i:i + 20] += amplitude * np.sin(2 * np.pi * k / 10) * np.exp(-k / 6)
    return x


def test_a_click_far_above_the_floor_is_rejected():
    assert _episodes(_clicks(1500.0)) == []  # ~50x the floor


def test_a_click_of_a_few_tens_of_floors_is_rejected_too():
    for amplitude in (300.0, 800.0):  # ~12x and ~30x the floor: these were twitches
        assert _episodes(_clicks(amplitude)) == [], amplitude


def test_the_pops_counter_counts_runs_that_end_as_pops_only():
    x = _clicks(800.0)
    x[int(25.0 * RATE):int(25.11 * RATE)] += np.random.default_rng(4).standard_normal(110) * 300.0  # a burst
    counts = np.clip(np.rint(x + MID), 0, 4095).astype("<u2")
    d = detector.Detector(RATE, "raw", {})
    buf = array("H", counts.tobytes())
    view = memoryview(buf)
    kinds = []
    for i in range(0, len(buf) - 100, 100):
        d.process(view[i:i + 100], 100)
        while (rec := d.pop()) is not None:
            kinds.append(rec[0])
    assert d.artefacts == 2  # the two clicks; the burst, narrow in its first ticks, is an episode
    assert kinds.count(detector.EV_ONSET) == 1
