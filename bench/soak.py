"""Soak: the virtual device at full speed, through the fault relay, into the real monitor and store, with SIGKILL
power cuts; prints simulated hours, events, faults by type, power cuts, events lost / duplicated /
corrupted-stored (store vs the device's flash log read with a clean `sync 0`), peak device heap, peak host RSS.
The harness is tests/soak_harness.py, which tests/test_soak.py runs short.

    python bench/soak.py [--hours 1] [--seed 1] [--rate 0.05] [--cut-every 0.5 1.5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from soak_harness import curve, soak  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=1.0, help="simulated device hours (summed over boots)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate", type=float, default=0.05, help="chance a line meets a fault")
    p.add_argument("--cut-every", type=float, nargs=2, default=(0.5, 1.5), metavar=("MIN_S", "MAX_S"),
                   help="wall seconds between power cuts, uniform")
    a = p.parse_args(argv)
    r = soak(a.hours, a.seed, a.rate, tuple(a.cut_every))
    print(f"simulated hours    {r['sim_hours']:.2f}  (wall {r['wall_s']:.0f} s)")
    print(f"events (records)   {r['events']}  -> {r['rows']} stored rows")
    print(f"faults injected    {r['injected']}  " + ", ".join(f"{k} {v}" for k, v in sorted(r["faults"].items())))
    print("  by direction     " + ", ".join(f"{k} {d} {v}" for (k, d), v in sorted(r["by_dir"].items())))
    print(f"power cuts         {r['power_cuts']}")
    print(f"live-announced     {r['live']} records, {r['live_not_logged']} of them missing from the flash log")
    print(f"events lost        {r['lost']}")
    print(f"duplicated         {r['duplicated']}")
    print(f"corrupted-stored   {r['corrupted']}  (lines refused by the monitor: {r['rejected']})")
    print(f"stored under the wrong boot  {r['wrong_boot']} rows (a record of boot B+1 on a row of boot B)")
    print(f"relay overflow     {r['faults'].get('overflow', 0)} lines (the monitor's port closed between reconnects)")
    print(f"unverifiable rows  {r['unverifiable']}  (rotated out of the flash log)")
    print(f"peak device heap   min heap_free {r['heap_min']} bytes")
    print(f"device RAM queue   {r['ring_lost']} detector records overwritten (most in one boot); sync backlog at "
          f"most {r['backlog_max']} records")
    print(f"peak host RSS      {r['rss_kb'] / 1024:.1f} MB (monitor + store + relay, one process)")
    print(f"host RSS / flash   {curve(r['curve'])}")
    print(f"flash log          at most {r['flash_kb']:.0f} kB on flash (log_kb 1024 rotates it)")
    print(f"settled            {r['settled']}")
    for e in r["examples"][:5]:
        print("  " + e[:300])
    return 0 if r["lost"] == r["duplicated"] == r["corrupted"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
