"""Replay many recordings: files and folders expanded, spread over worker processes (or a Dask cluster).

Each worker loads the compiled engine once (its initializer, job.warm), then replays whole recordings with
job.run_one; only small results (events and what was read) travel back. A recording that fails is one
line in the summary, never the end of the batch.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from spasmcore import kinds
from spasmcore.errors import FatalError
from spasmwatch.engine.job import Job, Outcome, run_one, warm

__all__ = ["Job", "Outcome", "default_jobs", "expand", "format_summary", "output_stem", "run_batch", "summary_rows"]

RECORDING_SUFFIXES = {".csv", ".tsv", ".txt", ".dat", ".log", ".edf", ".bdf", ".rec", ".wav", ".mat"}
OUTPUT_MARKERS = (".events.", "summary.csv")  # our own outputs in a folder are not recordings


def expand(inputs: Iterable[str]) -> list[str]:
    """Files as given; folders searched recursively for recordings (sorted, our own outputs skipped)."""
    out: list[str] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(str(f) for f in p.rglob("*") if f.is_file() and f.suffix.lower() in RECORDING_SUFFIXES
                           and not any(m in f.name for m in OUTPUT_MARKERS))
            if not found:
                raise FatalError(f"{p}: no recordings in this folder ({', '.join(sorted(RECORDING_SUFFIXES))})")
            out += found
        else:
            out.append(str(p))
    return list(dict.fromkeys(out))


def default_jobs(n_files: int) -> int:
    return max(1, min(n_files, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))


def run_batch(jobs: list[Job], workers: int, scheduler: str | None = None,
              on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Every job's outcome, in the order given; `on_done` as each finishes (for a progress bar)."""
    results: dict[str, Outcome] = {}
    for out in _outcomes(jobs, workers, scheduler):
        results[out.path] = out
        if on_done is not None:
            on_done(out)
    return [results[j.path] for j in jobs]


def _outcomes(jobs: list[Job], workers: int, scheduler: str | None) -> Iterator[Outcome]:
    engine = jobs[0].engine if jobs else "fast"
    if scheduler:
        from spasmwatch.engine.cluster import run_on_cluster

        yield from run_on_cluster(jobs, scheduler)
        return
    if workers <= 1 or len(jobs) <= 1:
        warm(engine)
        for job in jobs:
            yield run_one(job)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=warm,
                             initargs=(engine,)) as pool:
        futures = [pool.submit(run_one, job) for job in jobs]
        for fut in as_completed(futures):
            yield fut.result()


def summary_rows(outcomes: list[Outcome]) -> list[dict[str, object]]:
    rows = []
    for o in outcomes:
        found = Counter(e.kind for e in o.episodes)
        rows.append({"recording": o.path, "format": o.fmt, "duration_s": round(o.duration_s, 3),
                     "rate_hz": o.rate_hz, "mode": o.mode, "channels": len(o.channels), "episodes": len(o.episodes),
                     **{k: found[k] for k in kinds.episode_names()},  # a column per kind, in the table's order
                     "faults": len(o.events) - len(o.episodes), "error": o.error})
    return rows


def format_summary(outcomes: list[Outcome]) -> str:
    """An aligned table, one row per recording (errors in the last column)."""
    cols = ["recording", "format", "duration_s", "mode", "channels", "episodes", *kinds.episode_names(), "faults",
            "error"]
    rows = [[str(r[c]) if r[c] != "" else "" for c in cols] for r in summary_rows(outcomes)]
    widths = [max(len(x) for x in [c, *(r[k] for r in rows)]) for k, c in enumerate(cols)]
    left = {0, 1, 3, len(cols) - 1}
    lines = ["  ".join(v.ljust(w) if k in left else v.rjust(w) for k, (v, w) in enumerate(zip(r, widths, strict=True)))
             .rstrip() for r in [cols, *rows]]
    return "\n".join(lines)


def output_stem(path: str, root: str) -> str:
    """A file name for a recording's outputs, unique within the batch: its path below `root`, '/' as '__'."""
    try:
        rel = Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        rel = Path(Path(path).name)
    return "__".join(rel.with_suffix("").parts)
