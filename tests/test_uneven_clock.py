"""Logs on an uneven clock (a PC logger's timestamps) are put on an even grid and said so, never read as even."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spasmcore.recording import read_recording
from spasmwatch.commands.replay import replay


def _log(path: Path, t: np.ndarray, v: np.ndarray) -> Path:
    path.write_text("Time_sec,Voltage1\n" + "".join(f"{a:.3f},{b:.4f}\n" for a, b in zip(t, v, strict=True)))
    return path


def test_an_uneven_slow_log_is_resampled_to_an_even_grid_and_says_so(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.uniform(0.03, 0.07, 2000))  # ~20 Hz with jitter, plus one 1.5 s gap
    t[1000:] += 1.5
    v = 0.1 + 0.8 * ((t % 10) < 5)  # a 5 s "grasp" every 10 s
    rec = read_recording(_log(tmp_path / "log.csv", t - t[0], v))
    assert rec.rate_hz == 25.0
    assert abs(rec.duration_s - (t[-1] - t[0])) < 0.1  # time kept: the gap is bridged, not squeezed out
    assert any("uneven" in w and "resampled onto an even 25 Hz grid" in w and "raised from" in w
               for w in rec.warnings)
    # a value is where its time says: 12.5 s is inside the second grasp, 16 s in the pause after it, and past the
    # gap (at ~51.5 s) the phase still holds: 62.5 s in a grasp, 66 s in a pause
    x = rec.channels[0]
    assert x[int(12.5 * 25)] > x[int(16.0 * 25)] and x[int(62.5 * 25)] > x[int(66.0 * 25)]


def test_an_even_clock_is_left_as_it_is(tmp_path: Path) -> None:
    t = np.arange(500) / 50.0
    rec = read_recording(_log(tmp_path / "even.csv", t, np.sin(t)))
    assert rec.rate_hz == 50.0 and len(rec.channels[0]) == 500
    assert not any("uneven" in w for w in rec.warnings)


def test_a_real_myoware_log_gives_episodes_that_end_between_its_cycles(shared_data: Path) -> None:
    # A MyoWare's own ENV output logged at ~19.5 Hz with gaps up to 1.8 s, on/off about every 10 s.
    path = shared_data / "myoware_rrp" / "20_02_Protocol_Power_grasp_1_s.csv"
    rec = read_recording(path)
    assert rec.rate_hz == 25.0 and any("uneven" in w for w in rec.warnings)
    episodes = [e for e in replay(rec, "env", None, engine="python") if e.kind != "fault"]
    per_channel = [sum(1 for e in episodes if e.channel == c) for c in (0, 1)]
    assert min(per_channel) >= 10  # ~20 cycles in 210 s: most are their own episode
    assert max(e.duration_s for e in episodes) < 20  # none swallows the next cycle's grasp


def test_a_repeated_time_is_still_one_clear_error(tmp_path: Path) -> None:
    from spasmcore.errors import InputError

    with pytest.raises(InputError, match="does not increase"):
        read_recording(_log(tmp_path / "x.csv", np.array([0.0, 0.05, 0.05, 0.1]), np.zeros(4)))
