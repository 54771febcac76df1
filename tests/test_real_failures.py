"""The simulator reproduces the real recordings' failures (issue 8): with the issue's base-commit parameters
(`BASE_PARAMS` in host/spasmwatch/engine/params.py) the detector fails each new
scenario the way it fails the real files. A scenario that cannot reproduce a real failure is not a test.

Real failures (issue 8, measured on real recordings at the base commit):
- ECG: every heartbeat of a leg recording at 250 Hz is logged as a twitch (~3,400 false events per rest hour);
  real envelopes show the beats as bumps too.
- MyoWare-scale quiet rest moves by less than a count: healthy electrodes raise `flat` faults, whose blanking
  hides bursts; with pop rejection against the first sample, a thumb recording found 2 of 16 presses, and 15
  of 16 with `spike_ms=0 flat_ms=0`.
- A rest level that steps up gives episodes minutes long (the floor does not re-learn).
- Envelopes on a DC offset never cross the multiplicative threshold: 14 of 352 grasps found.
Only the base behaviour is asserted here; the new defaults passing is asserted elsewhere.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from spasmcore.events import Event
from spasmsim import generate as gen
from spasmsim.scenarios import get_scenario
from spasmwatch.engine.detect import detect
from spasmwatch.engine.params import BASE_PARAMS
from spasmwatch.scoring.score import match, score

BASE = dict(BASE_PARAMS)


def _run(scenario: str, minutes: float, mode: str = "raw", rate: float | None = None, seed: int = 1,
         params: dict | None = None):
    rate = rate or (1000.0 if mode == "raw" else 100.0)
    sim = gen.generate(scenario, seed=seed, minutes=minutes, mode=mode, rate_hz=rate)
    events = detect(sim.channels[0], rate, mode, {**BASE, **(params or {})})
    truth = [t for t in sim.truth if t.channel == 0]
    return sim, events, truth, score(events, truth, len(sim.channels[0]) / rate, channels=[0])


def _false(events: list[Event], truth) -> tuple[list[Event], list[Event]]:
    """(false episodes, false fault events): overlapping no truth spasm / no truth fault."""
    m = match(events, truth)
    faults = [ev for ev, hit in zip(m.fault_events, m.fault_event_faults, strict=True) if not hit]
    return [m.episodes[j] for j in m.false_alarms], faults


@pytest.mark.parametrize(("mode", "rate"), [("raw", 1000.0), ("raw", 250.0), ("env", 100.0)])
def test_base_logs_heartbeats_as_false_events(mode: str, rate: float) -> None:
    sim, events, truth, s = _run("ecg_rest", 3, mode, rate)
    episodes, _ = _false(events, truth)
    per_rest_h = len(episodes) / (s.rest_s / 3600)
    assert per_rest_h >= 300, f"{len(episodes)} false episodes in {s.rest_s:.0f} s: the heartbeat is not failing"
    if mode == "raw":  # mostly one short twitch per (detected) beat, spaced like heartbeats, never two per beat
        assert sum(e.kind == "twitch" for e in episodes) >= 0.7 * len(episodes)
        gaps = np.diff([e.onset_s for e in episodes])
        assert np.median(gaps) >= 0.5


def test_base_misses_spasms_among_strong_heartbeats_by_precision() -> None:
    _, events, truth, s = _run("ecg_spasms", 4)
    episodes, _ = _false(events, truth)
    assert s.truth_spasms >= 5
    assert len(episodes) > 3 * s.truth_spasms and (s.f1 or 0.0) < 0.5


def test_base_raises_flat_faults_on_a_healthy_quiet_electrode() -> None:
    sim, events, truth, s = _run("quantised_rest", 3)
    c = sim.channels[0].astype(float)
    assert np.std(np.diff(c)) / np.sqrt(2) < 1.0  # the premise: quiet rest moves by less than a count
    assert not [t for t in truth if t.kind == "fault"]
    _, faults = _false(events, truth)
    assert len(faults) / (s.rest_s / 3600) >= 100, f"only {len(faults)} false faults"
    assert {f.detail for f in faults} == {"flat"}


def test_base_hides_quiet_electrode_bursts_behind_flat_faults() -> None:
    _, events, truth, s = _run("quantised_bursts", 6)
    m = match(events, truth)
    missed = [m.spasms[i] for i in m.missed]
    assert missed, f"all {s.truth_spasms} bursts found: the flat-fault blanking failure is not reproduced"
    faults = [e for e in events if e.kind == "fault"]
    # every missed burst starts inside a fault or in the blanking second and the rest re-calibration after it
    # (BASE calibrates for 2 s)
    near = [t for t in missed if any(f.onset_s - 0.1 <= t.onset_s <= f.offset_s + 3.5 for f in faults)]
    assert len(near) >= 0.8 * len(missed), (missed, faults[:5])


def test_base_rejects_bursts_on_a_movement_swing_like_the_thumb_recording() -> None:
    _, _, _, base = _run("swing_bursts", 6)
    _, _, _, relaxed = _run("swing_bursts", 6, params={"spike_ms": 0, "flat_ms": 0})
    assert base.truth_spasms >= 10
    assert (base.sensitivity or 0.0) <= 0.85, base.sensitivity
    assert (relaxed.sensitivity or 0.0) >= (base.sensitivity or 0.0) + 0.1, (base.sensitivity, relaxed.sensitivity)


def test_base_floor_sticks_after_a_rest_level_step() -> None:
    sc = replace(get_scenario("floor_step"), kinds=())  # rest only: every episode is false
    sim = gen.generate(sc, seed=1, minutes=8)
    events = [e for e in detect(sim.channels[0], 1000.0, "raw", BASE) if e.kind != "fault"]
    longest = max((e.duration_s for e in events), default=0.0)
    assert longest >= 60, f"longest false episode {longest:.1f} s: the stuck floor is not reproduced"


def test_grasps_on_an_envelope_offset_are_measured_where_it_rests() -> None:
    # Real RMS envelopes rest on an offset (issue: 14 of 352 grasps found when the offset was subtracted as a
    # fixed number). The rest model measures the envelope where it rests, in every parameter set, BASE's too:
    # so this failure is no longer reproducible by BASE_PARAMS; the tracked 20 s minimum (env_track=1) is the
    # mechanism that swallowed whole files and is kept only as an option.
    sim, events, truth, s = _run("env_offset_grasps", 4, "env", 100.0)
    rest = np.ones(len(sim.channels[0]), bool)
    for t in truth:
        rest[int(t.onset_s * 100) - 50 : int(t.offset_s * 100) + 50] = False
    assert 70 <= np.median(sim.channels[0][rest]) <= 130  # the premise: the envelope rests at ~+100 counts
    assert s.truth_spasms >= 30
    # 29 of 36 without the rest tail, 26 with it: the weakest grasps of a wandering offset sit at the onset
    # threshold, which the tail raises (docs/detector.md, "Rest tail"). A fixed offset found 14 of TUM's 352.
    assert (s.sensitivity or 0.0) >= 0.7, f"{s.truth_detected}/{s.truth_spasms} grasps found"


def test_base_env_rest_with_artefacts_gives_false_alarms() -> None:
    _, events, truth, s = _run("rest_artifacts", 6, "env", 100.0)
    episodes, faults = _false(events, truth)
    assert (len(episodes) + len(faults)) / (s.rest_s / 3600) >= 50
