"""Flat-line faults on an envelope: a rest at the ADC's dead zone is rest, not a lost signal.

An ESP32 reads 0 below ~0.1 V, so a MyoWare ENV resting low reads exact zeros for seconds between spasms; measured
against a floor of a count or two that rest looked like a lost signal. See docs/detector.md ("Faults").
"""

from __future__ import annotations

from spasmsim.generate import generate
from spasmwatch.engine.detect import detect
from spasmwatch.scoring.score import score


def test_an_envelope_resting_at_the_dead_zone_raises_no_flat_fault():
    # Simulator ENV at 50 Hz, tonic_moderate: the envelope rests at exact zeros after some spasms. Measured
    # without the rule: 2 flat faults, whose blanking then cost a spasm (15 of 16 found).
    sim = generate("tonic_moderate", seed=1, minutes=10, mode="env", rate_hz=50.0)
    truth = [t for t in sim.truth if t.channel == 0]
    events = detect(sim.channels[0], 50.0, "env", {}, engine="python")
    assert [(round(e.onset_s, 1), e.detail) for e in events if e.kind == "fault"] == []
    assert score(events, truth, len(sim.channels[0]) / 50.0, channels=[0]).sensitivity == 1.0

