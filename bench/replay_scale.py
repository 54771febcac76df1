"""Replay at scale: peak memory from 1 h to 24 h at 1 kHz, and end-to-end speed over a folder of EDF and CSV files.

    python bench/replay_scale.py            # memory (1 h, 8 h, 24 h; CSV and EDF) and folder speed
    python bench/replay_scale.py --quick    # 1 h and 4 h only, a smaller folder

Each figure is one `spasmwatch replay` in a fresh process (its own peak RSS from getrusage), on files made here
in a temporary folder: a 10-minute simulated RAW recording (everyday_mixed, 1 kHz, one channel) repeated to
length, written as our CSV (counts) and as EDF (uV, 1 s data records). Speeds are signal time / wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "host"), str(ROOT / "sim")]

RATE = 1000
SEGMENT_S = 600  # (file lengths are whole multiples of it)


def segment() -> np.ndarray:
    from spasmsim import generate as gen

    return gen.generate("everyday_mixed", seed=1, minutes=SEGMENT_S / 60, mode="raw", rate_hz=RATE).channels[0]


def write_csv(path: Path, seg: np.ndarray, hours: float) -> None:
    reps = int(hours * 3600 / SEGMENT_S)
    body = ("\n".join(map(str, seg.astype(np.int64).tolist())) + "\n").encode()
    with open(path, "wb") as fh:
        head = f"# spasmwatch recording v1\n# rate_hz={RATE}\n# units=counts\n# mode=raw\n# channels=1\nch0\n"
        fh.write(head.encode())
        for _ in range(reps):
            fh.write(body)


def write_edf(path: Path, seg: np.ndarray, hours: float) -> None:
    """A 10-minute EDF from edfio, its data records repeated and the header's record count set to match."""
    import edfio

    uv = (seg.astype(np.float64) - 2048.0) * 4.0  # ~4 uV per count at the MyoWare RAW gain
    one = Path(str(path) + ".seg")
    edfio.Edf([edfio.EdfSignal(uv, RATE, label="EMG", physical_dimension="uV", physical_range=(-8192, 8192))],
              data_record_duration=1.0).write(one)
    raw = one.read_bytes()
    one.unlink()
    header_len = int(raw[184:192])
    reps = int(hours * 3600 / SEGMENT_S)
    header = bytearray(raw[:header_len])
    header[236:244] = f"{reps * SEGMENT_S:<8d}".encode()
    with open(path, "wb") as fh:
        fh.write(header)
        for _ in range(reps):
            fh.write(raw[header_len:])


def child(argv: list[str]) -> None:
    """Run one replay in this process and print its wall time and peak RSS (MB)."""
    from spasmwatch.cli import main

    t0 = time.perf_counter()
    code = main(["-q", "replay", *argv])
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RESULT {code} {wall:.3f} {rss:.1f}")


def measure(argv: list[str]) -> tuple[float, float]:
    out = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True, text=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None or line.split()[1] != "0":
        raise SystemExit(f"replay {' '.join(argv)} failed:\n{out.stderr[-2000:]}")
    _, _, wall, rss = line.split()
    return float(wall), float(rss)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child)
        return 0
    hours = [1, 4] if args.quick else [1, 8, 24]
    files, file_h = (4, SEGMENT_S / 3600) if args.quick else (12, 0.5)
    seg = segment()
    measure([str(ROOT / "host/spasmwatch/examples/example_raw.csv"), "--engine", "fast", "--events",
             os.devnull])  # the compiled engine in the disk cache before anything is timed
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        print(f"replay peak RSS, one channel at {RATE} Hz ({os.cpu_count()} cores here):")
        cols = ("length", 7), ("format", 6), ("file MB", 8), ("wall s", 7), ("x real time", 11), ("peak RSS MB", 11)
        print("  " + "  ".join(f"{c:>{w}}" for c, w in cols))
        for h in hours:
            for fmt, writer in (("csv", write_csv), ("edf", write_edf)):
                path = d / f"long_{h}h.{fmt}"
                writer(path, seg, h)
                wall, rss = measure([str(path), "--events", str(d / "ev.csv")])
                print(f"  {h:>6g}h  {fmt:>6}  {path.stat().st_size / 1e6:>8.0f}  {wall:>7.1f}  "
                      f"{h * 3600 / wall:>11,.0f}  {rss:>11.0f}", flush=True)
                path.unlink()
        print(f"\nend to end over a folder: {files} recordings of {file_h * 60:g} min, one channel at {RATE} Hz "
              "(wall time of the whole command, start-up included)")
        for fmt, writer in (("edf", write_edf), ("csv", write_csv)):
            folder = d / fmt
            folder.mkdir()
            for k in range(files):
                writer(folder / f"r{k:02d}.{fmt}", np.roll(seg, 7919 * k), file_h)
            for jobs in (1, 2):
                wall, rss = measure([str(folder), "--out", str(d / f"out_{fmt}_{jobs}"), "--jobs", str(jobs)])
                total_s = files * file_h * 3600
                per_core = total_s / wall / jobs
                print(f"  {fmt}: --jobs {jobs}: {wall:6.2f} s wall, {total_s / wall:>9,.0f}x real time "
                      f"({per_core:,.0f}x per core), peak RSS {rss:.0f} MB (parent)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
