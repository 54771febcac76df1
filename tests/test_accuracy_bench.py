"""Smoke tests of the accuracy benchmark's pieces: peer adapters, episode helpers, real-data scoring logic."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from spasmcore.events import Event, TruthInterval
from spasmwatch.scoring import score

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy  # noqa: E402
import peers  # noqa: E402
import real_data  # noqa: E402
from signals import emg  # noqa: E402

RATE = 1000
BURSTS = [(4.0, 6.0, 40.0), (9.0, 9.8, 40.0)]  # two clear bursts after a 4-s rest


def _signal(seconds: float = 12.0, rate: int = RATE) -> np.ndarray:
    return emg(seconds, rate, BURSTS, rest_rms=1.5, seed=3)


def _near(episodes: list[tuple[float, float]], on: float, off: float, tol: float) -> bool:
    return any(abs(a - on) <= tol and abs(b - off) <= tol for a, b in episodes)


# ------------------------------------------------------------------------------------------ helpers


def test_runs_and_transitions() -> None:
    active = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1])
    assert peers.runs(active, 10.0) == [(0.1, 0.3), (0.5, 0.6), (0.7, 0.9)]
    # BioSPPy's interleaved onsets/offsets; a trailing onset runs to the end of the signal.
    assert peers.pair_transitions(np.array([30, 10, 20]), 50, 10.0) == [(1.0, 2.0), (3.0, 5.0)]


def test_merge_closes_short_gaps_then_drops_short_episodes() -> None:
    eps = [(0.0, 1.0), (1.4, 2.0), (3.0, 3.05), (5.0, 5.2), (5.69, 6.0)]
    assert peers.merge(eps) == [(0.0, 2.0), (5.0, 6.0)]
    assert peers.merge([(0.0, 1.0), (1.5, 2.0)]) == [(0.0, 1.0), (1.5, 2.0)]  # a 0.5 s gap stays open


def test_counts_to_float_removes_mid_rail_in_raw_only() -> None:
    c = np.array([2048, 2058, 2038])
    assert list(peers.counts_to_float(c, "raw")) == [0.0, 10.0, -10.0]
    assert list(peers.counts_to_float(c, "env")) == [2048.0, 2058.0, 2038.0]


def test_beats_compares_f1_or_rest_false_alarms() -> None:
    truth = [TruthInterval(0, 1.0, 2.0, "tonic")]
    hit = peers.to_events([(1.0, 2.0)])
    stray = peers.to_events([(1.0, 2.0), (5.0, 6.0)])
    good, bad = score(hit, truth, 10.0), score(stray, truth, 10.0)
    assert accuracy.beats(good, bad)[0] == "win"
    assert accuracy.beats(bad, good)[0] == "lose"
    assert accuracy.beats(good, good)[0] == "tie"
    rest_quiet, rest_noisy = score([], [], 10.0), score(peers.to_events([(5.0, 6.0)]), [], 10.0)
    assert accuracy.beats(rest_quiet, rest_noisy)[0] == "win"
    assert accuracy.beats(rest_noisy, rest_quiet)[0] == "lose"


def test_pooled_lays_scenarios_end_to_end() -> None:
    ev = lambda on, off: Event(0, "tonic", on, off, on + 0.1, off - on, 0, 0, 0, 0)  # noqa: E731
    results = [
        {"duration_s": 10.0, "truth": [TruthInterval(0, 2.0, 3.0, "tonic")], "events": {"ours": [ev(2, 3)]}},
        {"duration_s": 20.0, "truth": [TruthInterval(0, 2.0, 3.0, "jerk")], "events": {"ours": [ev(15, 16)]}},
    ]
    events, truth, duration = accuracy.pooled(results, "ours")
    assert duration == 30.0
    assert [(t.onset_s, t.kind) for t in truth] == [(2.0, "tonic"), (12.0, "jerk")]
    assert [e.onset_s for e in events] == [2.0, 25.0]
    s = accuracy.pooled_scores(results, "ours")
    assert (s.truth_detected, s.false_alarms, s.truth_spasms) == (1, 1, 2)


# ------------------------------------------------------------------------------------------ real-data logic


def test_label_periods_and_cue_windows() -> None:
    labels = np.array([0] * 10 + [7] * 10 + [0] * 5)
    periods = real_data.label_periods(labels, 10.0)
    assert periods == [(0.0, 1.0, 0), (1.0, 2.0, 7), (2.0, 2.5, 0)]
    assert real_data.cue_windows(periods) == [(1.0, 3.0)]


def test_score_windows_counts_hits_and_strays() -> None:
    windows = [(5.0, 11.0), (15.0, 21.0)]
    # A late contraction (reaction time) still hits; one episode outside every window is a stray.
    episodes = [(10.5, 12.0), (13.0, 13.5)]
    assert real_data.score_windows(episodes, windows) == (1, 1)
    assert real_data.contains_peak(episodes, [11.0, 16.0]) == 1
    assert real_data.score_windows([], windows) == (0, 0)
    assert real_data.spanning([(4.0, 16.0), (13.0, 13.5)], windows) == 1


def test_real_report_skips_without_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(real_data, "DATA", tmp_path / "absent")
    assert real_data.main_report(with_peers=False) == {}
    assert "skipped" in capsys.readouterr().out


def test_lobov_hold_windows_and_quiet_time() -> None:
    # rest 0-3 s, pause 3-5, hold 5-7 (class 2), pause 7-10, hold 10-12 (class 5), pause 12-16
    segments = [[0.0, 3.0, 1], [3.0, 5.0, 0], [5.0, 7.0, 2], [7.0, 10.0, 0], [10.0, 12.0, 5], [12.0, 16.0, 0]]
    assert real_data.hold_windows(segments, 0.5) == [(4.5, 7.5), (9.5, 12.5)]
    assert real_data.hold_windows(segments, 0.0) == [(5.0, 7.0), (10.0, 12.0)]
    # class 0/1 time = 3 + 2 + 3 + 4 = 12 s; within 0.5 s of a hold: 0.5 + 0.5 + 0.5 + 0.5 = 2 s
    assert real_data.quiet_time(segments, 0.5) == pytest.approx(10.0)
    assert real_data.quiet_time(segments, 0.0) == pytest.approx(12.0)
    # A margin wider than the 3-s pause between the holds: the pause counts once, not negatively.
    assert real_data.quiet_time(segments, 2.0) == pytest.approx(3.0 - 0 + 0.0 + 0.0 + 2.0)
    assert real_data.union_length([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)], 0.0, 5.5) == pytest.approx(3.5)


def test_hold_found_on_any_channel_and_false_events_by_kind() -> None:
    windows = [(4.5, 7.5), (9.5, 12.5), (20.0, 22.0)]
    found = {
        0: [(5.0, 6.0, "tonic"), (14.0, 14.1, "twitch")],  # hold 1; a stray twitch
        1: [(7.4, 8.0, "clonus"), (15.0, 16.0, "tonic"), (16.5, 16.6, "twitch")],  # touches hold 1 late; 2 strays
        2: [],
    }
    assert real_data.found_any_channel(found, windows) == [True, False, False]
    assert real_data.false_events(found, windows) == {"twitch": 2, "tonic": 1}
    assert real_data.false_events(found, []) == {"tonic": 2, "twitch": 2, "clonus": 1}  # rest file: all
    assert real_data.false_events({0: [(1.0, 2.0, "-")]}, windows) == {"-": 1}  # a peer's episodes
    t = real_data.Tally(found=1, labels=3, background_s=3600.0 * 8)
    t.add_false(real_data.false_events(found, windows))
    assert t.n_false == 3 and t.recall == pytest.approx(1 / 3)
    assert t.false_per_hour == pytest.approx(3 / 8)  # per channel-hour
    assert t.kind_rates() == "0.2 / 0.1 / 0.0"
    d = t.to_dict()
    assert d["false_by_kind"] == {"twitch": 2, "tonic": 1}
    assert d["false_per_channel_hour_by_kind"]["twitch"] == pytest.approx(0.25)
    assert real_data.Tally().false_per_hour is None and real_data.Tally().recall is None


def test_biosppy_burst_windows_stay_apart() -> None:
    w = real_data.biosppy_windows()
    assert len(w) == 4 and all(a < b for a, b in w)
    assert all(w[i][1] < w[i + 1][0] for i in range(3))


def test_targets_table_pass_and_miss() -> None:
    ours = lambda **kw: {"ours": {"error": None, **kw}}  # noqa: E731
    figures = {
        "tum": ours(recall=0.96, found=96, labels=100, extra_pct_of_labels=20.0, false_events=20),
        "lobov": ours(recall=0.9, found=9, labels=10, false_per_channel_hour=4.0, false_events=2),
        "myo": ours(false_per_channel_hour=None, false_events=0),
        "emggo": ours(episodes=0),
        "biosppy": ours(found=4, labels=4, false_events=1),
    }
    rows = real_data.targets(figures)
    assert [(r["dataset"], r["pass"]) for r in rows] == [
        ("tum", True), ("tum", False), ("lobov", False), ("lobov", True), ("myo", False),
        ("emggo", True), ("biosppy", True), ("biosppy", False),
    ]
    table = "\n".join(real_data.target_table(rows))
    assert table.count("PASS") == 4 and table.count("MISS") == 4
    assert real_data.targets({}) == []


@pytest.mark.realdata
def test_real_data_bench_runs_on_one_dataset(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Structure and computed values only: the detector is being reworked, so its figures are not asserted.
    out_json = tmp_path / "real.json"
    assert real_data.main(["--only", "biosppy", "--no-peers", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "BioSPPy emg_1.txt" in out and "Targets (ours" in out
    lines = [ln for ln in out.splitlines() if ln.strip().startswith("biosppy ")]
    assert len(lines) == 2 and all(ln.rstrip().endswith(("PASS", "MISS")) for ln in lines)
    d = json.loads(out_json.read_text())
    ours = d["datasets"]["biosppy"]["ours"]
    assert ours["labels"] == 4 and 0 <= ours["found"] <= 4
    assert ours["false_events"] == sum(ours["false_by_kind"].values())
    assert ours["background_channel_s"] > 50
    assert [r["dataset"] for r in d["targets"]] == ["biosppy", "biosppy"]
    assert d["detector"] and d["params"] == {}
    assert real_data.main(["--only", "biosppy", "--no-peers", "--param", "no_such_param=1"]) == 2


# ------------------------------------------------------------------------------------------ peers


def test_nk2_fast_path_equals_emg_process() -> None:
    pytest.importorskip("neurokit2")
    x = peers.counts_to_float(emg(8.0, 500, [(3.0, 4.5, 40.0)], seed=5), "raw")
    fast = peers.nk2_activity(x, 500)
    ref = peers.nk2_activity_reference(x, 500)
    assert fast.sum() > 0
    assert np.array_equal(fast, ref)


def test_nk2_finds_the_bursts() -> None:
    pytest.importorskip("neurokit2")
    eps = peers.nk2(peers.counts_to_float(_signal(), "raw"), RATE)
    assert _near(eps, 4.0, 6.0, 0.3) and _near(eps, 9.0, 9.8, 0.3)


@pytest.mark.parametrize("name", ["bonato", "solnik"])
def test_biosppy_peers_find_the_bursts(name: str) -> None:
    pytest.importorskip("biosppy")
    events = peers.run_peer(name, _signal(), RATE, "raw", rest_s=3.0, merged=True)
    truth = [TruthInterval(0, on, off, "tonic") for on, off, _ in BURSTS]
    s = score(events, truth, 12.0)
    assert s.sensitivity == 1.0
    assert s.false_alarms == 0
    assert {e.kind for e in events} == {"tonic"}


def test_available_peers_follow_installed_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peers, "installed", lambda: {"neurokit2": False, "biosppy": True})
    assert peers.available_peers() == ["bonato", "solnik"]
    assert accuracy.detector_names(True) == ["ours", "bonato", "bonato+merge", "solnik", "solnik+merge"]
    assert accuracy.detector_names(False) == ["ours"]
