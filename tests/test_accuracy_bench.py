"""Smoke tests of the accuracy benchmark's pieces: peer adapters, episode helpers, real-data scoring logic."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spasmwatch.events import Event, TruthInterval
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
