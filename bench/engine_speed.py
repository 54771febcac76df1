"""Detection speed of every engine on one 1 kHz RAW channel, side by side with BioSPPy's Bonato detector.

    python bench/engine_speed.py [--minutes 10] [--repeat 5]

The signal is the simulator's `everyday_mixed` scenario (all spasm kinds, artefacts, a railed lead-off), one
channel of uint16 ADC counts. Timed: the detector alone (samples in memory, records out), best of --repeat for
the fast and CPython engines; the MicroPython unix port once (its time includes starting the interpreter and
reading the samples from a file); BioSPPy's Bonato onset detector (its 100 Hz high-pass and the detector, as
bench/peers.py runs it) once. The compiled engine's load is timed separately. All in one run, one process.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT.parent / "host"), str(ROOT.parent / "sim"), str(ROOT)]

import numpy as np  # noqa: E402

from spasmsim import generate as gen  # noqa: E402
from spasmwatch.engine import detect  # noqa: E402

RATE = 1000.0


def best(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    x = detect._as_uint16(gen.generate("everyday_mixed", seed=1, minutes=args.minutes, mode="raw",
                                       rate_hz=RATE).channels[0])
    seconds = len(x) / RATE
    t0 = time.perf_counter()
    from spasmwatch.engine.fast import compiled

    compiled()
    load = time.perf_counter() - t0
    detect.records_fast(x[:1000], RATE, "raw", None)  # first call: numba's dispatch set up

    rows = []
    t_fast, rec_fast = best(lambda: detect.records_fast(x, RATE, "raw", None), args.repeat)
    rows.append(("fast (compiled from firmware/detector.py)", t_fast, len(rec_fast)))  # type: ignore[arg-type]
    t_py, rec_py = best(lambda: detect.records_python(x, RATE, "raw", None), max(1, args.repeat // 2))
    rows.append(("python (CPython reference)", t_py, len(rec_py)))  # type: ignore[arg-type]
    assert rec_fast == rec_py, "fast and python engines differ"
    try:
        t_mp, rec_mp = best(lambda: detect.records_micropython(x, RATE, "raw", None), 1)
        assert rec_mp == rec_py, "micropython and python engines differ"
        rows.append(("micropython (unix port, incl. start-up)", t_mp, len(rec_mp)))  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - the port may be missing: say so in the table
        rows.append((f"micropython: not run ({exc})", float("nan"), 0))
    try:
        import peers

        f = x.astype(np.float64)
        t_bo, eps = best(lambda: peers.bonato(f, RATE), 1)
        rows.append(("BioSPPy Bonato (peers.bonato)", t_bo, len(eps)))  # type: ignore[arg-type]
    except ImportError as exc:
        rows.append((f"BioSPPy Bonato: not run ({exc})", float("nan"), 0))

    print(f"detection only, one RAW channel at {RATE:g} Hz, {seconds / 60:g} min of 'everyday_mixed' "
          f"({len(x):,} samples); best of {args.repeat} for fast, {max(1, args.repeat // 2)} for python:")
    print(f"  {'engine':<44} {'seconds':>8} {'x real time':>12} {'vs python':>10} {'records':>8}")
    for name, t, n in rows:
        print(f"  {name:<44} {t:>8.3f} {seconds / t:>12,.0f} {t_py / t:>9.1f}x {n:>8}")
    print(f"  compiled engine load (generated module from the disk cache, numba import): {load:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
