"""`spasmwatch evaluate FOLDER`: every recording with its X.truth.csv, replayed as a batch and scored pooled."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from spasmcore.errors import ConfigError, InputError
from spasmcore.events import read_truth
from spasmwatch.scoring.score import DEFAULT_TOLERANCE_S, score_many
from spasmwatch.scoring.table import false_summary, format_table
from spasmwatch.terminal import ui


def _pairs(folder: Path) -> list[tuple[str, Path]]:
    from spasmwatch.engine.batch import expand

    pairs = []
    for rec in expand([str(folder)]):
        p = Path(rec)
        if p.name.endswith(".truth.csv"):
            continue
        truth = p.with_name(p.stem + ".truth.csv")
        if truth.is_file():
            pairs.append((rec, truth))
    if not pairs:
        raise InputError(f"{folder}: no recording with its X.truth.csv beside it")
    return pairs


def evaluate_many(args: argparse.Namespace) -> int:
    from spasmwatch.engine import batch
    from spasmwatch.engine.params import parse_params

    if args.truth or args.events or args.duration is not None or args.save_events:
        raise ConfigError("with a FOLDER, truth files are found beside the recordings: no TRUTH.csv, --events, "
                          "--duration or --save-events")
    if args.engine == "micropython":
        raise ConfigError("--engine micropython scores one recording at a time")
    pairs = _pairs(Path(args.recording))
    params = parse_params(args.param) or None
    columns = None if args.channel is None else [args.channel]
    jobs = [batch.Job(rec, args.mode, args.rate, None, columns, params, args.engine or "fast") for rec, _ in pairs]
    with ui.progress(f"replaying {len(jobs)} recordings", total=len(jobs)) as bar:
        outcomes = batch.run_batch(jobs, args.jobs or batch.default_jobs(len(jobs)), args.scheduler,
                                   on_done=lambda o: bar.step(1))
    bad = [o for o in outcomes if o.error]
    if bad:
        raise InputError(bad[0].error)
    tol = (args.tolerance_ms if args.tolerance_ms is not None else DEFAULT_TOLERANCE_S * 1000) / 1000.0
    runs = [(o.events, read_truth(t), o.duration_s, o.channels) for o, (_, t) in zip(outcomes, pairs, strict=True)]
    pooled = score_many(runs, tolerance_s=tol)
    if args.json:
        rows = [{"recording": o.path, "truth": str(t), **score_many([r], tol).to_dict()}
                for o, (_, t), r in zip(outcomes, pairs, runs, strict=True)]
        json.dump({"pooled": pooled.to_dict(), "recordings": rows}, sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
        return 0
    for o, r in zip(outcomes, runs, strict=True):
        s = score_many([r], tol)
        f1 = "-" if s.f1 is None else f"{s.f1:.3f}"
        print(f"{o.path}: {s.truth_spasms} spasms, {s.episodes} episodes, F1 {f1}, {s.false_alarms} false, "
              f"{s.merged} merged, {s.split} split, longest {s.longest_episode_s:.1f} s")
    print(f"pooled over {len(runs)} recording(s) in {args.recording}:")
    print(format_table(pooled))
    print(false_summary(pooled))
    return 0
