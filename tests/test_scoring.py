"""Tests of the episode scorer on hand-made detections and truth intervals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spasmcore.events import Event, TruthInterval
from spasmwatch.scoring.score import match, percentile, score
from spasmwatch.scoring.table import format_table


def ev(on: float, off: float, kind: str = "tonic", ch: int = 0, det: float | None = None) -> Event:
    detected = on + 0.05 if det is None else det
    return Event(
        ch, kind, on, off, detected, off - on, 100.0, 50.0, 10.0, 5.0, "flat" if kind == "fault" else ""
    )


def tr(on: float, off: float, kind: str = "tonic", ch: int = 0) -> TruthInterval:
    return TruthInterval(ch, on, off, kind)


def test_perfect_detection() -> None:
    truth = [tr(10, 12, "tonic"), tr(20, 21, "clonus"), tr(30, 30.2, "jerk")]
    events = [ev(10, 12, "tonic"), ev(20, 21, "clonus"), ev(30, 30.2, "twitch")]
    s = score(events, truth, 3600)
    assert (s.sensitivity, s.precision, s.f1) == (1.0, 1.0, 1.0)
    assert s.false_alarms == 0 and s.fragments == 0 and s.missed == 0
    assert s.false_alarms_per_hour == 0.0
    assert s.onset_abs_median_ms == 0.0 and s.offset_abs_p95_ms == 0.0
    assert s.latency_median_ms == pytest.approx(50.0)
    assert s.kind_accuracy == 1.0 and s.kind_correct == 3
    assert s.truth_spasms_per_hour == pytest.approx(3.0) and s.detected_per_hour == pytest.approx(3.0)


def test_split_contraction_is_found_once_and_its_surplus_piece_is_not_false() -> None:
    truth = [tr(10, 14)]
    events = [ev(10, 11.5), ev(12, 14)]
    s = score(events, truth, 3600)
    assert s.sensitivity == 1.0
    assert s.fragments == 1 and s.split == 1 and s.split_pct == 100.0
    assert s.false_alarms == 0 and s.surplus == 1
    assert s.precision == 0.5  # one-to-one: only the paired piece is a true positive
    assert s.episodes == 2 and s.truth_detected == 1 and s.matched_episodes == 1
    # Errors come from the paired piece alone (the longer overlap: 12..14).
    assert s.onset_signed_median_ms == pytest.approx(2000.0)
    assert s.offset_signed_median_ms == pytest.approx(0.0)


def test_one_episode_over_a_whole_file_finds_one_of_n_contractions() -> None:
    n = 12
    truth = [tr(10 + 20 * k, 14 + 20 * k) for k in range(n)]
    s = score([ev(0, 20 * n + 10)], truth, 20 * n + 10)
    assert s.truth_detected == 1 and s.sensitivity == pytest.approx(1 / n)
    assert s.merged == n and s.merged_pct == 100.0 and s.merging_episodes == 1
    assert s.split == 0 and s.false_alarms == 0 and s.precision == 1.0
    assert s.longest_episode_s == pytest.approx(20 * n + 10) and s.longest_truth_s == pytest.approx(4)
    table = format_table(s)
    assert "12 (100.0%; 1 episodes)" in table and "250.0 / 4.0" in table


def test_pairing_takes_the_most_truth_spasms_not_the_greediest_overlap() -> None:
    # The long episode overlaps the first spasm most, but only it reaches the second: the short episode,
    # inside the first spasm, must take the first, so both spasms are found.
    truth = [tr(0, 5), tr(5.4, 8)]
    events = [ev(0, 5.5), ev(4, 4.5)]
    m = match(events, truth, 0.1)
    assert m.pair_of_truth == [1, 0] and m.pair_of_episode == [1, 0]
    assert score(events, truth, 60).sensitivity == 1.0


def test_pairing_augments_along_a_chain() -> None:
    # e_k overlaps t_k a lot and t_k+1 a little, the last spasm only e_last: greedy pairs e_k-t_k and
    # strands the last spasm unless the augmenting path shifts every pair along the chain.
    truth = [tr(10 * k, 10 * k + 9) for k in range(5)] + [tr(49.5, 49.8)]
    events = [ev(10 * k, 10 * k + 10.2) for k in range(5)] + [ev(0.5, 1)]
    s = score(events, truth, 100, tolerance_s=0.0)
    assert s.truth_detected == 6 and s.sensitivity == 1.0


def test_miss() -> None:
    truth = [tr(10, 12), tr(100, 102)]
    s = score([ev(10.2, 12.3)], truth, 3600)
    assert s.sensitivity == 0.5 and s.missed == 1 and s.precision == 1.0
    assert s.f1 == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    assert s.onset_signed_median_ms == pytest.approx(200.0)
    assert s.offset_signed_median_ms == pytest.approx(300.0)


def test_false_alarm_in_rest_rates() -> None:
    # 30 min recording with 3 min of truth spasm: rest is 27 min.
    truth = [tr(0, 60), tr(100, 160), tr(150, 220)]  # overlapping truth: union is 60 + 120 = 180 s
    events = [ev(0, 60), ev(100, 220), ev(1000, 1001)]
    s = score(events, truth, 1800)
    assert s.false_alarms == 1
    assert s.rest_s == pytest.approx(1620.0)
    assert s.false_alarms_per_hour == pytest.approx(2.0)
    assert s.false_alarms_per_rest_hour == pytest.approx(3600 / 1620)
    assert s.precision == pytest.approx(2 / 3)
    assert s.merged == 2 and s.merging_episodes == 1  # ev(100, 220) covers two truth spasms
    assert s.truth_detected == 2 and s.sensitivity == pytest.approx(2 / 3)  # it finds one of them


def test_jerk_detected_as_twitch_is_right_kind() -> None:
    s = score([ev(5, 5.1, "twitch")], [tr(5, 5.15, "jerk")], 600)
    assert s.kind_accuracy == 1.0 and s.kind_accuracy_by_truth["jerk"] == 1.0
    assert s.confusion == {"jerk": {"twitch": 1}}
    wrong = score([ev(5, 5.1, "tonic")], [tr(5, 5.15, "jerk")], 600)
    assert wrong.kind_accuracy == 0.0 and wrong.kind_correct == 0


def test_clonus_labelled_tonic_is_wrong_kind() -> None:
    truth = [tr(10, 13, "clonus"), tr(20, 23, "clonus"), tr(30, 33, "cramp")]
    events = [ev(10, 13, "tonic"), ev(20, 23, "clonus"), ev(30, 33, "clonus")]
    s = score(events, truth, 600)
    assert s.kind_accuracy_by_truth["clonus"] == 0.5
    assert s.kind_accuracy_by_truth["cramp"] == 1.0  # cramp labelled clonus is accepted
    assert s.kind_accuracy_by_truth["tonic"] is None
    assert s.confusion == {"clonus": {"clonus": 1, "tonic": 1}, "cramp": {"clonus": 1}}
    assert s.kind_correct == 2 and s.kind_accuracy == pytest.approx(2 / 3)


def test_kind_comes_from_the_largest_overlap() -> None:
    s = score([ev(10, 10.2, "twitch"), ev(10.3, 13, "clonus")], [tr(10, 13, "clonus")], 600)
    assert s.confusion == {"clonus": {"clonus": 1}}


def test_faults_found_and_episode_inside_fault_is_false_alarm() -> None:
    truth = [tr(100, 110, "fault"), tr(200, 210, "fault"), tr(50, 52, "tonic")]
    events = [ev(100.5, 109, "fault"), ev(104, 106, "tonic"), ev(300, 301, "fault"), ev(50, 52, "tonic")]
    s = score(events, truth, 3600)
    assert s.truth_faults == 2 and s.faults_found == 1 and s.fault_sensitivity == 0.5
    assert s.fault_events == 2 and s.false_faults == 1
    assert s.false_alarms == 1 and s.false_alarms_in_faults == 1
    assert s.episodes == 2 and s.precision == 0.5  # fault events are not episodes
    assert s.sensitivity == 1.0


def test_tolerance() -> None:
    truth = [tr(10, 12)]
    events = [ev(12.08, 12.5)]  # starts 80 ms after the truth offset
    assert score(events, truth, 60).sensitivity == 1.0
    strict = score(events, truth, 60, tolerance_s=0.05)
    assert strict.sensitivity == 0.0 and strict.false_alarms == 1
    assert strict.tolerance_ms == 50.0


def test_channels_are_scored_separately_then_pooled() -> None:
    truth = [tr(10, 12, ch=0), tr(20, 22, ch=1)]
    events = [ev(20, 22, ch=0), ev(20, 22, ch=1)]  # ch0 event matches ch1 truth only in time
    s = score(events, truth, 1800)
    ch0, ch1 = s.per_channel
    assert (ch0.channel, ch1.channel) == (0, 1)
    assert (
        ch0.sensitivity == 0.0 and ch0.false_alarms == 1 and ch0.false_alarms_per_hour == pytest.approx(2.0)
    )
    assert ch1.sensitivity == 1.0 and ch1.false_alarms == 0
    assert s.channel is None and s.channels == 2
    assert s.sensitivity == 0.5 and s.false_alarms == 1
    assert s.duration_s == 3600.0 and s.false_alarms_per_hour == pytest.approx(1.0)  # per channel-hour
    only1 = score(events, truth, 1800, channels=[1])
    assert only1.sensitivity == 1.0 and only1.false_alarms == 0 and only1.channels == 1


def test_error_statistics() -> None:
    truth = [tr(10 * k, 10 * k + 2) for k in range(1, 5)]
    onset_shift = [0.01, -0.02, 0.03, 0.04]
    events = [
        ev(t.onset_s + d, t.offset_s, det=t.onset_s + 0.1 * (k + 1))
        for k, (t, d) in enumerate(zip(truth, onset_shift, strict=True))
    ]
    s = score(events, truth, 3600)
    assert s.onset_signed_median_ms == pytest.approx(20.0)  # median of 10, -20, 30, 40
    assert s.onset_abs_median_ms == pytest.approx(25.0)  # median of 10, 20, 30, 40
    assert s.onset_abs_p95_ms == pytest.approx(38.5)
    assert s.latency_median_ms == pytest.approx(250.0)
    assert s.latency_p95_ms == pytest.approx(385.0)


def test_percentile_known_values() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([4, 1, 3, 2], 95) == pytest.approx(3.85)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    data = [0.3, 9.1, 2.2, 5.5, 1.0, 8.8, 4.4]
    for q in (0, 5, 50, 90, 95, 100):
        assert percentile(data, q) == pytest.approx(float(np.percentile(data, q)))
    with pytest.raises(ValueError):
        percentile(data, 101)


def test_empty_inputs_are_defined() -> None:
    s = score([], [], 3600)
    assert s.sensitivity is None and s.precision is None and s.f1 is None
    assert s.false_alarms_per_hour == 0.0 and s.false_alarms_per_rest_hour == 0.0
    assert s.onset_abs_median_ms is None and s.latency_p95_ms is None and s.kind_accuracy is None
    assert s.split_pct is None and s.merged_pct is None and s.fault_sensitivity is None
    assert s.longest_episode_s == 0.0
    assert s.truth_spasms_per_hour == 0.0
    zero = score([], [], 0)
    assert zero.false_alarms_per_hour is None and zero.detected_per_hour is None
    # Events but no truth: precision 0, sensitivity undefined, F1 undefined.
    fa = score([ev(1, 2)], [], 3600)
    assert fa.precision == 0.0 and fa.sensitivity is None and fa.f1 is None and fa.false_alarms == 1
    # Truth but no events.
    miss = score([], [tr(1, 2)], 3600)
    assert miss.sensitivity == 0.0 and miss.precision is None and miss.missed == 1
    for x in (s, zero, fa, miss):
        json.dumps(x.to_dict(), allow_nan=False)  # None, never NaN
        assert "sensitivity" in format_table(x)


def test_both_zero_gives_f1_zero() -> None:
    s = score([ev(100, 101)], [tr(1, 2)], 3600)
    assert s.sensitivity == 0.0 and s.precision == 0.0 and s.f1 == 0.0


def test_to_dict_and_table() -> None:
    s = score([ev(10, 12, ch=0), ev(10, 12, ch=2)], [tr(10, 12, "clonus", ch=0)], 3600)
    d = s.to_dict()
    assert d["sensitivity"] == 1.0 and d["channel"] is None
    assert [c["channel"] for c in d["per_channel"]] == [0, 2]  # type: ignore[index, union-attr]
    assert d["confusion"] == {"clonus": {"tonic": 1}}
    table = format_table(s)
    assert "ch0" in table and "ch2" in table and "all" in table
    assert "50.0% (1/2)" in table  # pooled precision
    assert "kind confusion" in table


def test_unknown_kinds_and_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="event kind"):
        match([ev(1, 2, "spasm")], [])
    with pytest.raises(ValueError, match="truth kind"):
        match([], [tr(1, 2, "twitch")])
    with pytest.raises(ValueError):
        score([], [], -1)
    with pytest.raises(ValueError):
        score([], [], 10, tolerance_s=math.nan)


def test_match_indices() -> None:
    events = [ev(30, 31, "twitch"), ev(10, 11), ev(11.5, 12), ev(50, 51, "fault"), ev(70, 71)]
    truth = [tr(10, 12), tr(30, 31, "jerk"), tr(50, 52, "fault"), tr(90, 91)]
    m = match(events, truth, 0.1)
    assert [e.onset_s for e in m.episodes] == [30, 10, 11.5, 70]
    assert m.hits == [(1, 2), (0,), ()]
    assert m.detected == [0, 1] and m.missed == [2]
    assert m.pair_of_truth == [1, 0, None] and m.pair_of_episode == [1, 0, None, None]  # the larger overlap
    assert m.split == [0] and m.merged == []
    assert m.false_alarms == [3]
    assert m.fault_hits == [(0,)]


intervals = st.lists(st.tuples(st.integers(0, 1), st.floats(0, 100), st.floats(0, 5)), max_size=25)


@settings(max_examples=150, deadline=None)
@given(intervals, intervals, st.sampled_from([0.0, 0.1, 1.0]))
def test_sweep_matches_brute_force(ev_specs: list, tr_specs: list, tol: float) -> None:
    events = [ev(on, on + d, ch=ch) for ch, on, d in ev_specs]
    truth = [tr(on, on + d, ch=ch) for ch, on, d in tr_specs]
    m = match(events, truth, tol)
    for i, t in enumerate(truth):
        expected = [
            j
            for j, e in enumerate(events)
            if e.channel == t.channel and e.onset_s <= t.offset_s + tol and e.offset_s >= t.onset_s - tol
        ]
        assert sorted(m.hits[i]) == expected
    for j in range(len(events)):
        assert m.episode_spasms[j] == tuple(i for i in range(len(truth)) if j in m.hits[i])
    # The pairing is one-to-one, pairs only overlapping intervals, and is as large as any pairing can be.
    pairs = [(i, j) for i, j in enumerate(m.pair_of_truth) if j is not None]
    assert len({j for _, j in pairs}) == len(pairs)
    assert all(j in m.hits[i] and m.pair_of_episode[j] == i for i, j in pairs)
    assert len(pairs) == _max_pairs(m.hits)


def _max_pairs(hits: list[tuple[int, ...]]) -> int:
    """Maximum matching size by another method: an assignment of largest total weight on 0/1 weights."""
    from scipy.optimize import linear_sum_assignment

    n = max((j + 1 for h in hits for j in h), default=0)
    if not hits or not n:
        return 0
    w = np.zeros((len(hits), n))
    for i, h in enumerate(hits):
        w[i, list(h)] = 1.0
    rows, cols = linear_sum_assignment(w, maximize=True)
    return int(w[rows, cols].sum())


# ------------------------------------------------------------------ false events of every kind (issue 8)


def test_twitch_outside_every_truth_interval_is_a_false_event() -> None:
    truth = [tr(10, 12, "tonic"), tr(40, 50, "fault")]
    events = [
        ev(10, 12, "tonic"),  # a hit
        ev(100, 100.15, "twitch"),  # alone in rest
        ev(12.3, 12.4, "twitch"),  # 300 ms after the truth offset: beyond the 100 ms tolerance
        ev(45, 45.1, "twitch"),  # inside a truth fault, not a truth spasm: still a false event
        ev(200, 205, "clonus"),
    ]
    s = score(events, truth, 3600)
    assert s.false_alarms == 4 and s.false_alarms_in_faults == 1
    assert s.false_alarms_by_kind == {"twitch": 3, "tonic": 0, "clonus": 1}
    rest_h = (3600 - 2) / 3600
    assert s.false_alarms_per_rest_hour_by_kind["twitch"] == pytest.approx(3 / rest_h)
    assert s.false_alarms_per_rest_hour_by_kind["tonic"] == 0.0
    assert s.false_alarms_per_rest_hour_by_kind["clonus"] == pytest.approx(1 / rest_h)
    assert s.precision == pytest.approx(1 / 5)
    # The by-kind counts always add up to the total.
    assert sum(s.false_alarms_by_kind.values()) == s.false_alarms


def test_twitch_inside_a_truth_spasm_is_a_fragment_not_a_false_event() -> None:
    s = score([ev(10, 12, "tonic"), ev(12.5, 12.6, "twitch")], [tr(10, 13, "tonic")], 600)
    assert s.false_alarms == 0 and s.false_alarms_by_kind["twitch"] == 0 and s.fragments == 1
    assert s.surplus == 1 and s.split == 1


def test_false_events_by_kind_pooled_per_channel_hour() -> None:
    events = [ev(5, 5.1, "twitch", ch=0), ev(5, 5.1, "twitch", ch=1), ev(20, 25, "tonic", ch=1)]
    s = score(events, [tr(100, 101, ch=0)], 1800)
    ch0, ch1 = s.per_channel
    assert ch0.false_alarms_by_kind == {"twitch": 1, "tonic": 0, "clonus": 0}
    assert ch1.false_alarms_by_kind == {"twitch": 1, "tonic": 1, "clonus": 0}
    assert s.false_alarms_by_kind == {"twitch": 2, "tonic": 1, "clonus": 0}
    rest_h = (1800 - 1 + 1800) / 3600  # channel 0 has 1 s of truth spasm
    assert s.false_alarms_per_rest_hour_by_kind["twitch"] == pytest.approx(2 / rest_h)
    assert s.false_alarms_per_rest_hour == pytest.approx(3 / rest_h)


def test_false_events_by_kind_in_table_json_and_empty() -> None:
    s = score([ev(5, 5.1, "twitch")], [], 3600)
    table = format_table(s)
    assert "false twitch" in table and "1, 1.00 / rest h" in table
    assert "false tonic" in table and "false clonus" in table
    d = json.loads(json.dumps(s.to_dict(), allow_nan=False))
    assert d["false_alarms_by_kind"] == {"twitch": 1, "tonic": 0, "clonus": 0}
    assert d["false_alarms_per_rest_hour_by_kind"]["twitch"] == pytest.approx(1.0)
    zero = score([], [], 0)  # no rest time: rates undefined, counts zero
    assert zero.false_alarms_by_kind == {"twitch": 0, "tonic": 0, "clonus": 0}
    assert zero.false_alarms_per_rest_hour_by_kind == {"twitch": None, "tonic": None, "clonus": None}
    from spasmwatch.scoring.table import false_summary

    assert false_summary(s).startswith("false events per hour of rest: 1.00")
    assert "twitch 1.00, tonic 0.00, clonus 0.00" in false_summary(s)
