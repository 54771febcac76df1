"""`spasmwatch evaluate`: replay a recording through the detector (or take an events CSV) and score it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spasmcore.errors import ConfigError, InputError
from spasmcore.events import Event, TruthInterval, read_events, read_truth, write_events
from spasmwatch.engine.params import parse_params
from spasmwatch.scoring.score import DEFAULT_TOLERANCE_S, score
from spasmwatch.scoring.table import false_summary, format_table
from spasmwatch.terminal import ui

if TYPE_CHECKING:
    import numpy as np

    from spasmcore.recording import Recording

DESCRIPTION = """\
Score spasm detection against ground truth: a truth CSV (channel,onset_s,offset_s,kind, as `simulate`
writes), or an events CSV (from `replay --events`, `evaluate --save-events` or `spasmwatch events`), whose
twitches count as jerks, so that two runs, settings or engines can be compared.

By default RECORDING is replayed through the detector (every channel, or --channel N) and the detected
episodes are scored. With --events EVENTS.csv the given events are scored instead and the detector is not
run; the recording is then read only for its duration and channel list, and may be left out when
--duration S is given (with --duration the recording is not read at all).

Metrics are per channel, then pooled (rates per channel-hour); see spasmwatch.scoring.score for the exact
definitions. Episodes and truth spasms are paired one-to-one: an episode finds one truth spasm at most, so
one episode over a whole recording with N spasms scores sensitivity 1/N. Merged contractions (spasms sharing
an episode), split ones (a spasm under two or more episodes) and the longest episode are reported apart.
Every detected episode that overlaps no truth spasm is a false event, whatever its kind (a twitch too);
false events are reported in total and by kind (twitch, tonic, clonus), per hour of rest.
Undefined values (e.g. sensitivity with no truth spasm) print as "-" and are null in --json.

Examples:
  spasmwatch simulate night.csv --scenario night --minutes 30 && spasmwatch evaluate night.csv night.truth.csv
  spasmwatch replay night.csv --events base.csv && spasmwatch evaluate night.csv base.csv --param sensitivity=6

A FOLDER instead of RECORDING scores every recording in it that has its X.truth.csv beside it (as `simulate`
writes them), replayed over the cores as `replay` does (--jobs, --scheduler), pooled into one table, with one
line per recording.
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score detections against a truth CSV",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "recording", nargs="?", metavar="RECORDING", help="recording file (optional with --events)"
    )
    p.add_argument("truth", nargs="?", metavar="TRUTH.csv",
                   help="ground truth: channel,onset_s,offset_s,kind, or an events CSV (with a FOLDER: each "
                   "recording's X.truth.csv beside it, as `simulate` writes)")
    p.add_argument(
        "--events", metavar="EVENTS.csv", help="score these events instead of running the detector"
    )
    p.add_argument("--duration", type=float, metavar="S", help="recording length in s (with --events)")
    p.add_argument(
        "--mode", choices=["raw", "env"], help="detector mode (default: the recording's, else raw)"
    )
    p.add_argument("--rate", type=float, metavar="HZ", help="sample rate, overriding the recording's")
    p.add_argument("--channel", type=int, metavar="N", help="only this channel (default: all)")
    p.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="detector parameter (repeatable)"
    )
    p.add_argument("--engine", choices=["fast", "python", "micropython"],
                   help="detector engine: fast (default; the firmware detector compiled from its own source, the "
                   "same events; short recordings run that source on CPython), python, or micropython")
    p.add_argument(
        "--tolerance-ms",
        type=float,
        default=DEFAULT_TOLERANCE_S * 1000,
        metavar="MS",
        help="overlap tolerance (default %(default)g ms)",
    )
    p.add_argument("--save-events", metavar="PATH", help="also write the detected events to this CSV")
    p.add_argument("--jobs", "-j", type=int, metavar="N", help="with a FOLDER: worker processes (default: cores)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="with a FOLDER: run on this Dask cluster")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(func=run)


def _counts(rec: Recording, i: int, mode: str, params: dict[str, int | float] | None) -> np.ndarray:
    """Channel i of the recording as ADC counts 0..4095, whatever units it was stored in."""
    from spasmcore.frontend import to_counts  # scipy is slow to import; only the detector path needs it
    from spasmwatch.engine.params import adc_max

    try:
        return to_counts(rec.channels[i], rec.units, mode, rec.rate_hz, adc_max(params))
    except ValueError as exc:
        raise InputError(f"{rec.source}: channel {rec.indices[i]}: {exc}") from None


def _detect(rec: Recording, mode: str, params: dict[str, int | float], engine: str) -> list[Event]:
    from spasmwatch.engine.detect import detect  # imported here: scoring --events must not need the detector

    events: list[Event] = []
    with ui.progress("detecting", total=rec.duration_s * len(rec.indices)) as bar:
        for i, ch in enumerate(rec.indices):
            bar.label(f"detecting channel {ch} ({i + 1} of {len(rec.indices)})")
            samples = _counts(rec, i, mode, params)
            try:
                events += detect(
                    samples, rec.rate_hz, mode=mode, params=params or None, channel=ch, engine=engine
                )
            except ValueError as exc:  # the detector's validate(): bad parameter name or value
                raise ConfigError(str(exc)) from None
            bar.step(rec.duration_s)
    return events


def _check_args(args: argparse.Namespace) -> None:
    if not args.tolerance_ms >= 0:
        raise ConfigError("--tolerance-ms must be >= 0")
    if args.duration is not None and (args.events is None or not args.duration >= 0):
        raise ConfigError("--duration needs --events and a value >= 0")
    if args.events is not None and (args.param or args.mode or args.engine is not None):
        raise ConfigError("--param, --mode and --engine configure the detector, which --events does not run")
    if args.recording is None and (args.events is None or args.duration is None):
        raise ConfigError("give RECORDING, or --events EVENTS.csv with --duration S")


def _stray_truth(args: argparse.Namespace, truth: list[TruthInterval], channels: list[int]) -> None:
    """Truth on a channel the recording lacks means mismatched files: say so rather than ignore it."""
    stray = sorted({t.channel for t in truth} - set(channels))
    if stray:
        raise InputError(
            f"{args.truth}: truth for channel(s) {', '.join(map(str, stray))}, which {args.recording} "
            f"does not have (channels {', '.join(map(str, channels))})"
        )


def run(args: argparse.Namespace) -> int:
    if args.recording is not None and Path(args.recording).is_dir():
        from spasmwatch.scoring.evaluate_many import evaluate_many

        return evaluate_many(args)
    if args.truth is None:  # one positional is the truth (`evaluate TRUTH.csv --events E --duration S`)
        if args.recording is None:
            raise ConfigError("give RECORDING and TRUTH.csv (or a FOLDER of recordings with their .truth.csv)")
        args.truth, args.recording = args.recording, None
    _check_args(args)
    truth = read_truth(args.truth)
    rec = None
    # With --events and --duration the recording is not needed, so it is not read at all.
    if args.events is None or args.duration is None:
        from spasmcore.recording import read_recording

        columns = None if args.channel is None else [args.channel]
        rec = read_recording(args.recording, rate_hz=args.rate, columns=columns)
        ui.show_recording(rec)

    channels: list[int] | None = None if args.channel is None else [args.channel]
    mode = None
    if rec is not None:
        channels = list(rec.indices)
        if args.channel is None:
            _stray_truth(args, truth, channels)
    if args.events is not None:
        events = read_events(args.events)
    else:
        assert rec is not None  # _check_args: without --events a RECORDING is required
        mode = args.mode or rec.mode or "raw"
        if args.engine is None:  # as replay: compiled, unless loading the compiler costs more than it saves
            from spasmwatch.engine.pipeline import FAST_MIN_SAMPLES

            args.engine = "fast" if rec.n_samples * len(rec.indices) > FAST_MIN_SAMPLES else "python"
        events = _detect(rec, mode, parse_params(args.param), args.engine)
    if args.save_events:
        write_events(args.save_events, events)

    duration = rec.duration_s if rec is not None else args.duration
    try:
        scores = score(events, truth, duration, tolerance_s=args.tolerance_ms / 1000.0, channels=channels)
    except ValueError as exc:  # unknown event kinds in an events CSV
        raise InputError(f"{args.events or 'detector'}: {exc}") from None

    if args.json:
        inputs = {
            "recording": args.recording,
            "truth": args.truth,
            "events": args.events or "detector",
            "mode": mode,
            "rate_hz": rec.rate_hz if rec is not None else None,
            "params": parse_params(args.param),
            "engine": None if args.events else args.engine,
        }
        json.dump({"inputs": inputs, **scores.to_dict()}, sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    else:
        what = f"events {args.events}" if args.events else f"detector ({mode}) on {args.recording}"
        print(f"{what} vs truth {args.truth}")
        print(format_table(scores))
        print(false_summary(scores))
    return 0
