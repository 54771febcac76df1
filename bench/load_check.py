"""Run the test suite several times on a deliberately busy machine and list the tests that failed.

A test that passes on an idle machine and fails while other work runs beside it is timing-sensitive; this is
the check issue 15 asks for. It starts BUSY processes that spin a core each (`while True: pass`), runs
`python -m pytest` RUNS times, always kills the busy processes (also on Ctrl-C or an error), then prints
each run's result and, per test, in how many runs it failed with the first line of its last failure.

Usage:
  python bench/load_check.py [--busy N] [--runs K] [-- PYTEST_ARGS...]
  python bench/load_check.py --busy 2 --runs 3                  # the check of issue 15
  python bench/load_check.py --runs 5 -- tests/test_record.py   # one file, more runs

Exit code 0 when every run passed, 1 when any test failed, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPIN = "while True: pass"


def start_busy(n: int) -> list[subprocess.Popen[bytes]]:
    """n processes that each keep a core busy; own sessions, so a Ctrl-C reaches only us and we end them."""
    return [subprocess.Popen([sys.executable, "-c", SPIN], start_new_session=True) for _ in range(n)]


def stop_busy(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        p.wait()


def failures(junit: Path) -> list[tuple[str, str]]:
    """(test id, first line of the message) of every failed or erroring test in a junit XML report."""
    if not junit.is_file():
        return [("<pytest wrote no report>", "")]
    out = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        for tag in ("failure", "error"):
            bad = case.find(tag)
            if bad is not None:
                path = case.get("file") or case.get("classname", "").replace(".", "/") + ".py"
                msg = (bad.get("message") or bad.text or "").strip().splitlines()
                out.append((f"{path}::{case.get('name')}", (msg[0] if msg else tag)[:160]))
                break
    return out


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--busy", type=int, default=2, metavar="N", help="busy processes beside pytest (default 2)")
    ap.add_argument("--runs", type=int, default=3, metavar="K", help="pytest runs (default 3)")
    ap.add_argument("pytest_args", nargs="*", help="passed to pytest after `--` (default: the whole suite)")
    args = ap.parse_args(argv)
    if args.busy < 0 or args.runs < 1:
        ap.error("--busy must be >= 0 and --runs >= 1")

    # Ctrl-C and SIGTERM (e.g. a CI timeout) both end the busy processes; SIGINT explicitly too, as a shell
    # starts background jobs with SIGINT ignored
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    per_test: Counter[str] = Counter()
    last_msg: dict[str, str] = {}
    results: list[str] = []
    busy: list[subprocess.Popen[bytes]] = []
    code = 0
    with tempfile.TemporaryDirectory(prefix="spasmwatch-loadcheck-") as tmp:
        try:
            busy = start_busy(args.busy)
            print(f"{args.busy} busy process(es) started (pids {', '.join(str(p.pid) for p in busy) or '-'}) "
                  f"on {os.cpu_count()} CPU(s)", flush=True)
            for k in range(1, args.runs + 1):
                junit = Path(tmp) / f"run{k}.xml"
                cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
                       *args.pytest_args]
                t0 = time.monotonic()
                proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                took = time.monotonic() - t0
                tail = proc.stdout.strip().splitlines()[-1:] or [""]
                bad = failures(junit) if proc.returncode != 5 else []  # 5: no tests collected
                for test, msg in bad:
                    per_test[test] += 1
                    last_msg[test] = msg
                line = f"run {k}/{args.runs}: {took:.0f} s, exit {proc.returncode}, {tail[0]}"
                results.append(line)
                print(line, flush=True)
                for test, _msg in bad:
                    print(f"    FAILED {test}", flush=True)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            code = 130
        finally:
            stop_busy(busy)
    print(f"\nbusy processes stopped. {len(results)} run(s) with {args.busy} busy process(es):")
    for line in results:
        print("  " + line)
    if per_test:
        print("failures per test (runs failed / runs):")
        for test, n in per_test.most_common():
            print(f"  {n}/{len(results)}  {test}\n        {last_msg[test]}")
    else:
        print("no test failed")
    return code or (1 if per_test else 0)


if __name__ == "__main__":
    sys.exit(main())
