"""The rest floor follows a drifting rest level without lag (double exponential smoothing), so the spread stays honest.

An envelope resting on an offset that wanders (an RMS stage, a MyoWare ENV output as the electrodes settle)
rises or falls for tens of seconds at a time. A one-pole mean lags a ramp by slope x time constant (1.5 counts/s
x 10 s = 15 counts); every rest tick then sits above the floor by that lag, the spread learns it as noise and the
onset threshold rises far above the rest, over weak contractions. See docs/detector.md ("Rest model").
"""

from __future__ import annotations

import random
from array import array

from spasmfw import detector as fw
from spasmsim.generate import generate
from spasmwatch.engine.detect import detect
from spasmwatch.scoring.score import score


def _ramp_rest(rate: float, seconds: float, start: float, slope: float, noise: float) -> list[int]:
    rng = random.Random(7)
    return [max(0, int(round(start + slope * i / rate + rng.gauss(0.0, noise)))) for i in range(int(seconds * rate))]


def test_the_floor_follows_a_rising_rest_level_and_its_spread_stays_the_noise():
    rate = 100.0
    counts = _ramp_rest(rate, 90.0, 200.0, 1.5, 2.0)
    d = fw.Detector(rate, "env", {})
    buf = array("H", counts)
    d.process(memoryview(buf), len(buf))
    while d.pop():
        pass
    level = 200.0 + 1.5 * 90.0  # where the rest stands at the end
    floor = d.floor / fw.ENV_SCALE
    spread = (d.dev_acc >> fw.FLOOR_BITS) / fw.ENV_SCALE
    # A one-pole floor would sit ~15 counts low with a spread of ~10 counts (the lag learnt as noise).
    assert abs(floor - level) < 4.0, (floor, level)
    assert spread < 4.0, spread


def test_a_rising_rest_is_not_an_episode_and_a_weak_contraction_on_it_is():
    # The same ramp with three weak contractions (+25 counts for 2 s, about 12 rest SDs): with a lagging floor
    # the threshold sat ~35 counts above the rest and missed them.
    rate = 100.0
    counts = _ramp_rest(rate, 120.0, 200.0, 1.5, 2.0)
    for start_s in (60.0, 80.0, 100.0):
        for i in range(int(start_s * rate), int((start_s + 2.0) * rate)):
            counts[i] += 25
    events = [e for e in detect(counts, rate, "env", {}, engine="python") if e.kind != "fault"]
    onsets = sorted(round(e.onset_s) for e in events)
    assert onsets == [60, 80, 100], [(round(e.onset_s, 2), round(e.duration_s, 2), e.kind) for e in events]


def test_weak_grasps_on_a_wandering_envelope_offset_are_found():
    # Simulator `env_offset_grasps` at 50 Hz: short grasps 0.5-3x the offset above an envelope resting at ~100
    # counts that wanders by 5-10 %. Sensitivity 0.71 with a one-pole floor.
    sim = generate("env_offset_grasps", seed=1, minutes=5, mode="env", rate_hz=50.0)
    truth = [t for t in sim.truth if t.channel == 0]
    events = detect(sim.channels[0], 50.0, "env", {}, engine="python")
    s = score(events, truth, len(sim.channels[0]) / 50.0, channels=[0])
    assert s.sensitivity is not None and s.sensitivity >= 0.9, (s.truth_detected, len(truth))
    assert s.false_alarms <= 1, [(round(e.onset_s, 2), e.kind) for e in events]


def test_raw_mode_keeps_the_one_pole_floor():
    # In raw mode the high-pass has removed any offset: the rest level is the noise amplitude, which moves by steps
    # and slow drift. There the trend gained nothing on the simulator and cost false events on real rest (Myo cue
    # files, emgGO; docs/detector.md), so the floor stays a one-pole mean and its trend zero.
    rate = 1000.0
    rng = random.Random(3)
    counts = [2048 + int(round(rng.gauss(0.0, 3.0 + 6.0 * i / (60 * rate)))) for i in range(int(60 * rate))]
    d = fw.Detector(rate, "raw", {})
    buf = array("H", counts)
    d.process(memoryview(buf), len(buf))
    while d.pop():
        pass
    assert d.trend_acc == 0
    assert d.floor > 0
