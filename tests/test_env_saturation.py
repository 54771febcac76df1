"""An envelope that rises through the range onto the top rail is a saturating spasm; one that jumps there is not.

A MyoWare ENV output clips at the ADC's top for the strongest spasms. A lead-off (or a pop) drives the envelope
from rest onto the rail within one sample, and must stay a rail fault, never an episode. A spasm rises through
the range first: two ticks or more above the onset threshold before it pins the rail are a spasm under way.
Before this rule such a spasm, pinned for longer than `rail_ms` before its onset was decided, was logged as a
rail fault (simulator ENV `strong_saturating`: its 4-s tonic spasm at 43 s).
"""

from __future__ import annotations

import pytest

from spasmwatch.engine.detect import detect

RAIL = 4095


def _rest(seconds: float, rate: float) -> list[int]:
    return [(i * 7919) % 3 for i in range(int(seconds * rate))]  # 0-2 counts: a MyoWare ENV at rest


@pytest.mark.parametrize("rate", [100.0, 50.0])
def test_a_spasm_rising_onto_the_rail_is_an_episode_not_a_fault(rate):
    counts = _rest(40.0, rate)
    i = int(20.0 * rate)
    for j, v in enumerate((40, 400, 1500, 3400)):  # a strong spasm's rise, then pinned for 3 s
        counts[i + j] = v
    for j in range(i + 4, i + 4 + int(3.0 * rate)):
        counts[j] = RAIL
    events = detect(counts, rate, "env", {}, engine="python")
    assert [(e.kind, round(e.onset_s)) for e in events] == [("tonic", 20)], [
        (e.kind, round(e.onset_s, 2), round(e.offset_s, 2)) for e in events]


@pytest.mark.parametrize("rate", [100.0, 50.0])
def test_a_jump_from_rest_onto_the_rail_stays_a_rail_fault(rate):
    counts = _rest(40.0, rate)
    i = int(20.0 * rate)
    for j in range(i, i + int(3.0 * rate)):  # a lead-off: from rest to the rail within one sample
        counts[j] = RAIL
    events = detect(counts, rate, "env", {}, engine="python")
    assert [e.kind for e in events] == ["fault"], [(e.kind, round(e.onset_s, 2)) for e in events]
    assert events[0].onset_s == pytest.approx(20.0, abs=0.05)
