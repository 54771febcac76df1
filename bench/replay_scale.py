"""Replay at scale: speed (x real time) and peak RSS of one `spasmwatch replay` per file, 10 min, 2 h and 24 h at 1 kHz.

    python bench/replay_scale.py                    # 10 min, 2 h, 24 h; CSV and EDF
    python bench/replay_scale.py --quick            # 10 min and 2 h only
    python bench/replay_scale.py --against OLD      # also time another tree (OLD/host, OLD/firmware), alternately
    python bench/replay_scale.py --folder           # and end-to-end speed over a folder of recordings

Each figure is one `spasmwatch replay` in a fresh process (wall time including start-up; peak RSS is the
process's own VmHWM: getrusage's ru_maxrss would carry over the parent's), the best of --rounds runs, on
files made here in a temporary folder: a 10-minute simulated RAW recording (everyday_mixed, 1 kHz, one channel)
repeated to length, written as our CSV (counts) and as EDF (uV, 1 s data records). With --against, the two
trees run alternately on the same files, so their ratio holds even on a busy machine.
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

RATE = 1000
SEGMENT_S = 600  # (file lengths are whole multiples of it)


def segment() -> np.ndarray:
    sys.path[:0] = [str(ROOT / "host"), str(ROOT / "sim")]  # (the parent only: a child runs its tree's code)
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
    try:
        hwm = next(x for x in open("/proc/self/status") if x.startswith("VmHWM"))
        rss = int(hwm.split()[1]) / 1024
    except OSError:  # (not Linux: ru_maxrss, which may include the parent's)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RESULT {code} {wall:.3f} {rss:.1f}")


def tree_env(tree: Path, cache: Path) -> dict[str, str]:
    """The environment that runs `tree`'s host and firmware (its packages first on PYTHONPATH)."""
    env = {**os.environ, "SPASMWATCH_ENGINE_CACHE": str(cache)}
    links = cache / "path"
    links.mkdir(parents=True, exist_ok=True)
    for name, target in (("spasmfw", tree / "firmware"), ("spasmcore", tree / "host/spasmcore"),
                         ("spasmwatch", tree / "host/spasmwatch")):
        if not (links / name).exists():
            (links / name).symlink_to(target.resolve())
    env["PYTHONPATH"] = str(links)
    return env


def measure(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    out = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True, text=True, env=env)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None or line.split()[1] != "0":
        raise SystemExit(f"replay {' '.join(argv)} failed:\n{out.stderr[-2000:]}")
    _, _, wall, rss = line.split()
    return float(wall), float(rss)


def best(argv: list[str], envs: list[dict[str, str]], rounds: int) -> list[tuple[float, float]]:
    """Per environment: (best wall s, its largest peak RSS MB) over `rounds` runs taken alternately."""
    runs: list[list[tuple[float, float]]] = [[] for _ in envs]
    for _ in range(rounds):
        for k, env in enumerate(envs):
            runs[k].append(measure(argv, env))
    return [(min(w for w, _ in r), max(m for _, m in r)) for r in runs]


def folder_speed(d: Path, seg: np.ndarray, quick: bool, env: dict[str, str]) -> None:
    files, file_h = (4, SEGMENT_S / 3600) if quick else (12, 0.5)
    print(f"\nend to end over a folder: {files} recordings of {file_h * 60:g} min, one channel at {RATE} Hz "
          "(wall time of the whole command, start-up included)")
    for fmt, writer in (("edf", write_edf), ("csv", write_csv)):
        folder = d / fmt
        folder.mkdir()
        for k in range(files):
            writer(folder / f"r{k:02d}.{fmt}", np.roll(seg, 7919 * k), file_h)
        for jobs in (1, 2):
            wall, rss = measure([str(folder), "--out", str(d / f"out_{fmt}_{jobs}"), "--jobs", str(jobs)], env)
            total_s = files * file_h * 3600
            print(f"  {fmt}: --jobs {jobs}: {wall:6.2f} s wall, {total_s / wall:>9,.0f}x real time "
                  f"({total_s / wall / jobs:,.0f}x per core), peak RSS {rss:.0f} MB (parent)", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--folder", action="store_true", help="also time a folder of recordings (--jobs 1 and 2)")
    ap.add_argument("--against", type=Path, help="another tree (with host/ and firmware/) to time alternately")
    ap.add_argument("--rounds", type=int, default=2, help="runs per file and tree (the best is shown)")
    ap.add_argument("--child", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child)
        return 0
    lengths = [SEGMENT_S / 3600, 2] if args.quick else [SEGMENT_S / 3600, 2, 24]
    seg = segment()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        envs = [tree_env(ROOT, d / "cache_here")] + ([tree_env(args.against, d / "cache_against")]
                                                     if args.against else [])
        for env in envs:  # the compiled engine in each tree's disk cache before anything is timed
            measure([str(ROOT / "host/spasmwatch/examples/example_raw.csv"), "--engine", "fast", "--events",
                     os.devnull], env)
        print(f"replay, one channel at {RATE} Hz, best of {args.rounds} ({os.cpu_count()} cores here"
              f"{f'; against {args.against}' if args.against else ''}):")
        cols = [("length", 7), ("format", 6), ("file MB", 8), ("wall s", 7), ("x real time", 11), ("peak RSS MB", 11)]
        if args.against:
            cols += [("against: wall s", 15), ("x real time", 11), ("peak RSS MB", 11)]
        print("  " + "  ".join(f"{c:>{w}}" for c, w in cols))
        for h in lengths:
            for fmt, writer in (("csv", write_csv), ("edf", write_edf)):
                path = d / f"long_{h:g}h.{fmt}"
                writer(path, seg, h)
                results = best([str(path), "--events", str(d / "ev.csv")], envs, args.rounds)
                label = f"{h * 60:g}min" if h < 1 else f"{h:g}h"
                line = f"  {label:>7}  {fmt:>6}  {path.stat().st_size / 1e6:>8.0f}"
                for k, (wall, rss) in enumerate(results):
                    line += f"  {wall:>{15 if k else 7}.2f}  {h * 3600 / wall:>11,.0f}  {rss:>11.0f}"
                print(line, flush=True)
                path.unlink()
        if args.folder:
            folder_speed(d, seg, args.quick, envs[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
