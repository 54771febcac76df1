"""The full sweep behind `--engine fast`: identical records, field for field, against the CPython reference.

    python bench/engine_equivalence.py [--quick] [--examples 400] [--micropython]

- the whole simulation suite at full length (bench/accuracy.py's jobs: RAW 1 kHz, the ECG scenarios at 250 and
  500 Hz, ENV 100 Hz), each with three parameter sets (defaults, BASE_PARAMS, a stricter set with TKEO,
  a 60 Hz notch and ecg=on);
- every recording in ../shared/data as `replay` reads it (python vs fast through the streaming pipeline, and
  with --micropython the unix port too);
- hypothesis-generated signals (rails, flat lines, steps, extreme noise, the whole uint16 range) at every rate
  25-2000 Hz, --examples of them.
Prints one line per group and exits 1 on the first difference (naming it). tests/test_fast_engine.py runs a
bounded part of this in CI.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT.parent / "host"), str(ROOT.parent / "sim"), str(ROOT.parent), str(ROOT)]

from spasmwatch.engine import detect  # noqa: E402
from spasmwatch.engine.params import BASE_PARAMS  # noqa: E402

SETS = [{}, dict(BASE_PARAMS), {"sensitivity": 6, "min_off_ms": 200, "ecg": 2, "tkeo": 1, "mains_hz": 60}]
DATA = ROOT.parent.parent / "shared" / "data"
REAL = [  # (glob under ../shared/data, replay options) as docs/accuracy.md replays them
    ("biosppy/*.txt", {}), ("emgGO/*.mat", {}), ("lobov/*.csv", {}),
    ("myo_readings/*/*.txt", {"rate": 200, "columns": list(range(8))}),
    ("tum_ics_exo/signal_data/*.csv", {"mode": "env"}), ("tum_ics_exo/signal_data/*.csv", {"mode": "raw"}),
]


def fail(what: str) -> None:
    print(f"DIFFERENT: {what}")
    raise SystemExit(1)


def suite(quick: bool) -> None:
    import accuracy

    for mode in ("raw", "env"):
        jobs = accuracy.suite(quick, mode)
        t0, n_rec, seconds = time.perf_counter(), 0, 0.0
        for name, minutes, jmode, rate in jobs:
            counts, _ = accuracy.scenario_signal(name, minutes, mode=jmode, rate=rate)
            x = detect._as_uint16(counts)
            for params in SETS:
                p = {k: v for k, v in params.items() if jmode == "raw" or k != "mains_hz"}
                ref = detect.records_python(x, rate, jmode, p)
                if detect.records_fast(x, rate, jmode, p) != ref:
                    fail(f"{name} {jmode} {rate:g} Hz {p}")
                n_rec += len(ref)
            seconds += len(x) / rate * len(SETS)
        print(f"simulation suite {mode.upper()}: {len(jobs)} scenario runs x {len(SETS)} parameter sets, "
              f"{seconds / 3600:.1f} h of signal, {n_rec} records: identical ({time.perf_counter() - t0:.0f} s)",
              flush=True)


def real(with_micropython: bool) -> None:
    from spasmcore.recording import read_recording
    from spasmwatch.commands.replay import replay
    from spasmwatch.engine.pipeline import replay_file

    if not (DATA / "README.md").is_file():
        print(f"real recordings: skipped ({DATA} not found)")
        return
    files, events = 0, 0
    for pattern, opt in REAL:
        for path in sorted(DATA.glob(pattern)):
            kw = {"rate": opt.get("rate"), "columns": opt.get("columns"), "mode": opt.get("mode")}
            try:
                ref = replay_file(str(path), engine="python", **kw)
            except Exception as exc:  # noqa: BLE001 - a file replay refuses: the fast engine must refuse it too
                print(f"  {path.relative_to(DATA)}: not replayable ({exc})")
                continue
            if replay_file(str(path), engine="fast", **kw).events != ref.events:
                fail(f"{path} {opt}")
            if with_micropython and ref.mode:
                rec = read_recording(path, rate_hz=kw["rate"], columns=kw["columns"])
                if rec.rate_hz <= 2000 and replay(rec, ref.mode, None, "micropython") != ref.events:
                    fail(f"{path} {opt} (micropython)")
            files += 1
            events += len(ref.events)
    print(f"real recordings: {files} replays of ../shared/data, {events} events: identical"
          f"{' (and on MicroPython)' if with_micropython else ''}", flush=True)


def generated(examples: int) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests import test_fast_engine as t

    run = settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))(
        given(kind=t.signals, rate=st.integers(25, 2000), seed=st.integers(0, 2**32 - 1),
              mode=st.sampled_from(["raw", "env"]), pset=st.integers(0, len(SETS) - 1),
              seconds=st.floats(0.05, 30.0))(t.test_generated_signals_identical.hypothesis.inner_test))
    t0 = time.perf_counter()
    run()
    print(f"generated signals: {examples} hypothesis examples (rails, flat, steps, noise, full uint16 range; "
          f"25-2000 Hz, up to 30 s): identical ({time.perf_counter() - t0:.0f} s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 minute per scenario")
    ap.add_argument("--examples", type=int, default=400)
    ap.add_argument("--micropython", action="store_true", help="also compare the unix port on the real files")
    args = ap.parse_args()
    generated(args.examples)
    real(args.micropython)
    suite(args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
