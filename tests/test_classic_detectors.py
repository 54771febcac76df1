"""The classical onset detectors of bench/curves.py (Hodges-Bui, Bonato, TKEO) and the curve plumbing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bonato_dt  # noqa: E402
import classic  # noqa: E402
import curves  # noqa: E402
import hodges  # noqa: E402
import tkeo  # noqa: E402
from signals import emg  # noqa: E402

RATE = 1000
BURST = (4.0, 6.0)


def _raw(bursts: list[tuple[float, float, float]], seconds: float = 12.0, seed: int = 3) -> np.ndarray:
    return emg(seconds, RATE, bursts, rest_rms=1.5, seed=seed).astype(np.float64) - 2048


def _envelope(rate: float = 100.0, seconds: float = 30.0) -> np.ndarray:
    """A MyoWare-like envelope: 300-count offset, 3 counts of noise, a 100-count contraction 10-13 s."""
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * rate)) / rate
    return 300.0 + rng.normal(0, 3, len(t)) + 100.0 * ((t >= 10) & (t < 13))


# A level strict enough for 12 s of rest (h = 3 SD of a 25 ms mean crosses now and then on pure noise).
@pytest.mark.parametrize(("mod", "level"), [(hodges, 8.0), (bonato_dt, 1e-4), (tkeo, tkeo.DEFAULT)])
def test_each_classical_detector_finds_one_burst_where_it_is(mod, level: float) -> None:
    [eps] = mod.sweep(_raw([(*BURST, 20.0)]), RATE, "raw", (level,))
    assert len(eps) == 1, eps
    on, off = eps[0]
    assert abs(on - BURST[0]) <= 0.05 and abs(off - BURST[1]) <= 0.1, eps


@pytest.mark.parametrize("mod", [hodges, bonato_dt, tkeo])
def test_stricter_thresholds_never_find_more_at_rest(mod) -> None:
    rest = _raw([], seconds=30.0, seed=11)
    per_level = mod.sweep(rest, RATE, "raw")
    covered = [sum(b - a for a, b in eps) for eps in per_level]
    assert covered == sorted(covered, reverse=True), covered  # levels run from lenient to strict
    assert per_level[-1] == []  # the strictest level finds nothing on pure rest
    if mod is not tkeo:  # TKEO's 25-sample active state rejects pure noise even at j = 3
        assert per_level[0] != []


@pytest.mark.parametrize(("mod", "level"), [(hodges, hodges.DEFAULT), (bonato_dt, 1e-6)])
def test_envelope_contraction_on_an_offset(mod, level: float) -> None:
    [eps] = mod.sweep(_envelope(), 100.0, "env", (level,))
    assert len(eps) == 1 and abs(eps[0][0] - 10.0) <= 0.1 and abs(eps[0][1] - 13.0) <= 0.1, eps


def test_tkeo_refuses_an_envelope() -> None:
    with pytest.raises(ValueError, match="raw EMG"):
        tkeo.sweep(_envelope(), 100.0, "env")


def test_rest_statistics_come_from_the_quietest_window() -> None:
    x = np.concatenate([np.full(500, 50.0), np.full(300, 2.0), np.full(500, 40.0)])
    x[600] = 4.0  # one step inside the quiet stretch, so its SD is known
    mu, sd = classic.rest_stats(x, 100.0, 2.0)
    assert mu == pytest.approx(np.mean(x[500:700]), abs=0.2) and 0 < sd < 1


def test_parse_sweep_and_bad_option_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert curves.parse_sweep("on_mult=2,3,4.5") == ("on_mult", [2.0, 3.0, 4.5])
    with pytest.raises(curves.ConfigError):
        curves.parse_sweep("sensitivity=")
    assert curves.main(["--param-sweep", "oops", "--set", "sim-env-50", "--no-plot"]) == 2
    assert capsys.readouterr().err.count("\n") == 1  # one line, no traceback


def test_run_set_scores_every_detector_one_to_one() -> None:
    x = emg(20.0, RATE, [(4.0, 6.0, 20.0), (12.0, 13.0, 20.0)], rest_rms=1.5, seed=5)
    item = curves.Item("synthetic", float(RATE), "raw", {0: x}, [(3.9, 6.1), (11.9, 13.1)], 20.0 - 2.4)
    got = curves.run_set([item], "min_dur_ms", [100.0, 3000.0], 100.0, nk2=False, engine="python")
    by = {c.detector: c for c in got}
    assert set(by) == {"ours", "hodges-bui", "bonato", "tkeo"}
    assert by["ours"].points[100.0].found == 2 and by["ours"].points[3000.0].found == 0  # 2 s > max burst
    assert by["tkeo"].points[tkeo.DEFAULT].recall == 1.0
    table = "\n".join(curves.table("synthetic", got))
    assert "100*" in table and "15*" in table  # the defaults are marked


def test_dominance_names_a_peer_point_above_our_default() -> None:
    ours = curves.Curve("ours", "sensitivity", 1.0, {1.0: curves.Tally(found=5, labels=10, background_s=3600.0,
                                                                      false={"tonic": 4})})
    peer = curves.Curve("hodges-bui", "h", 3.0, {3.0: curves.Tally(found=9, labels=10, background_s=3600.0,
                                                                    false={"-": 20}),
                                                  8.0: curves.Tally(found=6, labels=10, background_s=3600.0,
                                                                    false={"-": 4})})
    [line] = curves.dominance([ours, peer])
    assert line.startswith("  hodges-bui beats ours' default at 8: recall 0.600 at 4.0 false/h")
    peer.points.pop(8.0)
    assert "no peer point beats" in curves.dominance([ours, peer])[0]
