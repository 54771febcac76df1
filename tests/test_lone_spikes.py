"""A tick above the onset threshold with rest on both sides is a single-sample spike, not part of an onset.

An ESP32 ADC (supply or Wi-Fi spikes) puts isolated 15-25 count glitches into an envelope. At 50 Hz one tick
is one sample, and a run lasts until min_off of quiet so that a clonus train's bursts add up: two glitches
within 500 ms made a "twitch" (the simulator's ENV 50 Hz suite had one such pair in every scenario). A
contraction's envelope is smooth over more than one sample, so a lone tick does not count toward `min_on_ms`.
"""

from __future__ import annotations

from spasmwatch.engine.detect import detect


def _rest(seconds: float, rate: float) -> list[int]:
    return [(i * 7919) % 3 for i in range(int(seconds * rate))]  # 0-2 counts: a MyoWare ENV at rest


def test_two_lone_glitches_close_together_are_not_an_episode():
    rate = 50.0
    counts = _rest(60.0, rate)
    for t_s in (30.0, 30.2, 45.0, 45.1):  # two pairs of single-sample spikes, 200 ms and 100 ms apart
        counts[int(t_s * rate)] += 20
    events = [e for e in detect(counts, rate, "env", {}, engine="python") if e.kind != "fault"]
    assert events == [], [(round(e.onset_s, 2), e.kind) for e in events]


def test_a_brief_jerk_is_still_found():
    rate = 50.0
    counts = _rest(60.0, rate)
    for t_s in (20.0, 40.0):  # 140 ms, as brief as a jerk gets
        i = int(t_s * rate)
        for j, rise in enumerate((8, 20, 25, 20, 12, 8, 4)):
            counts[i + j] += rise
    events = [e for e in detect(counts, rate, "env", {}, engine="python") if e.kind != "fault"]
    assert [round(e.onset_s) for e in events] == [20, 40], [(round(e.onset_s, 2), e.kind) for e in events]
