"""Start-up: wall time of `spasmwatch --help` and of replaying a short file, and the heavy modules each one loads.

    python bench/startup.py [--repeat 5]

Each command runs in a fresh interpreter (best of --repeat). "heavy" lists which of numba, llvmlite, pyarrow,
scipy, matplotlib, edfio, dask and numpy were imported by the end: a command should load only what it uses
(a short replay runs the CPython engine: loading the compiled one costs more than it saves there).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "host/spasmwatch/examples/example_raw.csv"
HEAVY = ("numba", "llvmlite", "pyarrow", "scipy", "matplotlib", "edfio", "dask", "numpy")
CODE = """
import sys
from spasmwatch.cli import main
try:
    code = main({argv!r})
except SystemExit as exc:
    code = exc.code
print("HEAVY", ",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def run(argv: list[str], repeat: int) -> tuple[float, str]:
    best, heavy = float("inf"), ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", CODE.format(argv=argv, heavy=HEAVY)], capture_output=True,
                           text=True, cwd=ROOT)
        best = min(best, time.perf_counter() - t0)
        heavy = next((x.split(" ", 1)[1] if " " in x else "" for x in p.stderr.splitlines() if x.startswith("HEAVY")),
                     "?")
    return best, heavy or "none"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"])
    python = time.perf_counter() - t0
    print(f"start-up, best of {args.repeat} (a bare `python -c pass`: {python:.2f} s):")
    for label, argv in (("spasmwatch --help", ["--help"]), ("spasmwatch replay --help", ["replay", "--help"]),
                        ("replay example (60 s, 1 ch)", ["replay", str(EXAMPLE), "--events", os.devnull]),
                        ("replay example --engine fast", ["replay", str(EXAMPLE), "--engine", "fast", "--events",
                                                          os.devnull])):
        t, heavy = run(argv, args.repeat)
        print(f"  {label:<32} {t:6.2f} s   heavy modules: {heavy}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
