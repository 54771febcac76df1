"""`spasmwatch replay` over many recordings: the batch (engine.batch) with its progress bar, outputs and summary."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from spasmcore.errors import ConfigError, FatalError
from spasmcore.events import write_events
from spasmwatch.terminal import ui


def _write(what: str, target: str, write: Any) -> None:
    try:
        write()
    except OSError as exc:
        raise FatalError(f"cannot write {what} {target}: {exc.strerror}") from None


def replay_many(args: argparse.Namespace, inputs: list[str], columns: list[int] | None, params: dict | None) -> int:
    from spasmwatch.engine import batch

    for flag in ("events", "jsonl", "annotate", "json"):
        if getattr(args, flag):
            raise ConfigError(f"--{flag} takes one recording; for several use --out DIR")
    if args.engine == "micropython":
        raise ConfigError("--engine micropython replays one recording at a time")
    paths = batch.expand(inputs)
    out_dir = Path(args.out) if args.out else None
    if out_dir is not None:
        _write("into", str(out_dir), lambda: out_dir.mkdir(parents=True, exist_ok=True))
    engine = args.engine or "fast"
    jobs = [batch.Job(p, args.mode, args.rate, args.units, columns, params, engine) for p in paths]
    workers = args.jobs or batch.default_jobs(len(jobs))
    root = os.path.commonpath([str(Path(p).resolve().parent) for p in paths])
    totals = {"files": 0, "samples": 0, "events": 0}
    with ui.progress(f"replaying {len(paths)} recordings", total=len(paths)) as bar:
        def done(o: Any) -> None:
            totals["files"] += 1
            totals["samples"] += o.n_samples * len(o.channels)
            totals["events"] += len(o.events)
            bar.step(1, label=f"{totals['files']}/{len(paths)} files, {totals['samples']:,} samples, "
                              f"{totals['events']} events")
            if out_dir is not None and not o.error:
                stem = out_dir / f"{batch.output_stem(o.path, root)}.events"
                _write("events", f"{stem}.csv", lambda: write_events(f"{stem}.csv", o.events))
                if args.jsonl_out:
                    from spasmwatch.report.jsonl import write_jsonl

                    _write("events", f"{stem}.jsonl", lambda: write_jsonl(f"{stem}.jsonl", o.events, o.path))

        outcomes = batch.run_batch(jobs, workers, args.scheduler, on_done=done)
    for o in outcomes:
        for w in o.warnings:
            ui.warn(w)
        if o.error:
            ui.warn(o.error)
    print(batch.format_summary(outcomes))
    if out_dir is not None:
        import csv

        rows = batch.summary_rows(outcomes)

        def write_summary() -> None:
            with open(out_dir / "summary.csv", "w", newline="") as fh:
                w = csv.DictWriter(fh, list(rows[0]), lineterminator="\n")
                w.writeheader()
                w.writerows(rows)

        _write("the summary", str(out_dir / "summary.csv"), write_summary)
        print(f"{len(outcomes)} recording(s): events and summary.csv written to {out_dir}")
    failed = sum(1 for o in outcomes if o.error)
    return 1 if failed else 0


