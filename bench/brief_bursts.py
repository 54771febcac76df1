"""Brief strong bursts against electrode pops and clicks on a quiet RAW rest: what the pop rule finds and drops.

Usage: python bench/brief_bursts.py [--seeds N] [--param NAME=VALUE ...]

A stand-in for the thumb-press recording the shared data lacks: per seed, 2 minutes at 1 kHz of a 3-count
Gaussian rest with 16 bursts of Gaussian EMG (80-300 ms, 20-200x the rest, Hann envelopes raised to a power of
0.5-3, so some are as peaky as a brief press or a jerk) and, between them, 4 electrode pops (a step of the
electrode potential through the sensor's 20 Hz high-pass, recovering over 0.3 s) and 2 clicks (two cycles at
100 Hz, over in 20 ms). Prints the bursts found one-to-one and the false events (any episode on a pop, a click
or rest), for the defaults and for `spike_ms=0` (no pop rule). Synthetic: the real thumb figures are not here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import parse_params  # noqa: E402

from spasmwatch.engine.detect import detect  # noqa: E402

RATE = 1000.0
SECONDS = 120.0
BURSTS = 16


def recording(seed: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """ADC counts and the bursts' (onset, offset) in seconds."""
    rng = np.random.default_rng(seed)
    n = int(SECONDS * RATE)
    x = rng.standard_normal(n) * 3.0
    truth = []
    for k in range(BURSTS):
        t0 = 8.0 + k * 7.0
        m = int(rng.uniform(0.08, 0.3) * RATE)
        i = int(t0 * RATE)
        x[i:i + m] += rng.standard_normal(m) * 3.0 * rng.uniform(20, 200) * np.hanning(m) ** rng.uniform(0.5, 3)
        truth.append((t0, t0 + m / RATE))
    sos = signal.butter(1, 20.0, "highpass", fs=RATE, output="sos")
    k20 = np.arange(20)
    for k in range(BURSTS):  # between the bursts: a pop 2.5 s after some, a click 4.5 s after others
        i = int((8.0 + k * 7.0 + 2.5) * RATE)
        if k % 4 == 0:
            step = np.zeros(n)
            step[i:] = rng.uniform(500, 2000) * np.exp(-np.arange(n - i) / 300.0)
            x += signal.sosfilt(sos, step)
        if k % 8 == 1:
            j = i + int(2.0 * RATE)
            x[j:j + 20] += rng.uniform(500, 2000) * np.sin(2 * np.pi * k20 / 10) * np.exp(-k20 / 6)
    return np.clip(np.rint(x + 2048), 0, 4095).astype(np.int32), truth


def score(counts: np.ndarray, truth: list[tuple[float, float]], params: dict) -> tuple[int, int]:
    """(bursts found one-to-one, false events)."""
    events = [e for e in detect(counts, RATE, "raw", params, engine="fast") if e.kind != "fault"]
    used: set[int] = set()
    found = 0
    for a, b in truth:
        for j, e in enumerate(events):
            if j not in used and e.onset_s < b + 0.1 and e.offset_s > a - 0.1:
                used.add(j)
                found += 1
                break
    return found, len(events) - len(used)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="recordings (seeds 1..N), 16 bursts each (default 5)")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="our detector's parameter")
    args = ap.parse_args(argv)
    params = parse_params(args.param)
    runs = {"defaults" + (f" {params}" if params else ""): params,
            "spike_ms=0 (no pop rule)": {**params, "spike_ms": 0}}
    recs = [recording(s) for s in range(1, args.seeds + 1)]
    print(f"{args.seeds} recordings x {BURSTS} bursts, 4 pops and 2 clicks each (synthetic, RAW 1 kHz)")
    for name, p in runs.items():
        found = false = 0
        for counts, truth in recs:
            f, x = score(counts, truth, p)
            found += f
            false += x
        print(f"  {name:32s} bursts found {found}/{BURSTS * len(recs)}  false events {false}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
