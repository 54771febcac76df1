"""Seeded fault soaks: the real firmware (unix port) through the fault relay into the real monitor and
store; every relay fault both ways, SIGKILL power cuts; nothing lost, doubled or stored wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import soak_harness as soak

from spasmsim.relay import FAULTS

# `python bench/soak.py` runs the long ones (docs/reliability.md). These short ones (~40 s for the file) stay in
# the default run; `pytest -m soak` runs only them, `-m "not soak"` leaves them out.
pytestmark = [pytest.mark.soak, pytest.mark.slow, pytest.mark.micropython, pytest.mark.timeout(300)]


def assert_clean(r: dict) -> None:
    assert r["settled"], r["examples"]  # the monitor caught up on the healed link
    assert r["synced"] > 0 and r["unverifiable"] == 0  # log_kb 1024 holds the run: every row was checked
    assert (r["lost"], r["duplicated"], r["corrupted"]) == (0, 0, 0), r["examples"]


@pytest.fixture(autouse=True)
def quick_resync(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync whose closing ok was lost is asked again after 3 s, not 15: the same policy, a shorter test."""
    monkeypatch.setattr("spasmwatch.monitor.dispatch.SYNC_STALL_S", 3.0)


def test_every_link_fault_both_ways_loses_nothing(tmp_path: Path) -> None:
    # a high rate so that every kind occurs in a short run (the bench soak uses a lower one, for hours)
    r = soak.soak(0.2, seed=3, rate=0.15, cut_every=(1e9, 1e9), workdir=tmp_path, max_wall=150, cut_s=0.05)
    assert all(r["faults"].get(k, 0) > 0 for k in FAULTS), r["faults"]
    assert r["events"] >= 200 and r["rows"] >= 100, r["events"]
    assert r["rejected"] > 0  # corrupted lines reached the monitor and were refused, not stored
    assert r["live"] > 0 and r["live_not_logged"] == 0  # every announced event is on flash
    assert_clean(r)


def test_power_cuts_mid_write_lose_nothing(tmp_path: Path) -> None:
    r = soak.soak(0.1, seed=4, rate=0.0, cut_every=(1.0, 2.5), workdir=tmp_path, min_cuts=3, max_wall=150)
    assert r["power_cuts"] >= 3 and r["events"] >= 100
    assert len({m["boot"] for m in r["logs"]}) >= 4  # every cut started a new boot
    assert r["live"] > 0 and r["live_not_logged"] == 0  # every announced event is on flash
    assert_clean(r)


def test_power_cuts_with_lost_boot_hellos_lose_nothing(tmp_path: Path) -> None:
    # only the boot hellos are dropped (other faults make the monitor ask for a hello sooner, hiding it at times)
    r = soak.soak(0.1, seed=5, rate=0.0, cut_every=(1.0, 2.5), workdir=tmp_path, min_cuts=3, max_wall=150,
                  lose_hello=True)
    # every boot hello dropped but the last one's (the settle phase's boot, soak_harness._last_boot_at)
    assert r["power_cuts"] >= 4 and r["faults"] == {"drop": r["power_cuts"] - 1}
    assert r["live"] > 0 and r["live_not_logged"] == 0  # every announced event is on flash
    assert_clean(r)
