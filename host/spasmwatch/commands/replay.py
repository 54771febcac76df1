"""`spasmwatch replay`: run the spasm detector over a recorded EMG file and list the episodes found."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spasmcore import kinds
from spasmcore.errors import ConfigError, FatalError, InputError
from spasmcore.events import Event, events_to_csv, write_events
from spasmwatch import sensitivity
from spasmwatch.engine.params import adc_max, parse_params
from spasmwatch.terminal import ui

if TYPE_CHECKING:
    import numpy as np

    from spasmcore.recording import Recording

DESCRIPTION = """\
Replay a recording through the detector, exactly as the board would see it, and list the episodes
(twitch, tonic, clonus) and sensor faults (flat, rail) it reports.

RECORDING formats (sniffed from the extension and content):
  .edf/.bdf  EDF, EDF+ and BDF (BioSemi 24-bit): rate and physical units (uV, mV, V, else au) per channel
             from the header; channels of different rates need --channel; a cut-off data record or a record
             count that disagrees with the file is an error
  .csv/.tsv/.txt/.log/.dat
             spasmwatch recordings (written by `simulate`/`record`), or any text with one column per
             channel (comma, semicolon, tab or space separated; decimal commas with ; or tab; Arduino
             Serial Plotter lines like emg:2048 or a:1,b:2), optional header row, optional time column
             (t, time, timestamp, seconds, millis, micros, or with a unit: time_s, time_ms, "Time (s)";
             it must increase, and gives the rate when the file has no `# rate_hz=` line); a cut-off
             last row is dropped with a warning
  .txt       OpenSignals/BITalino text export (both the "Simple Text Format" and the JSON header; only
             the analog A1.. columns are used)
  .wav       PCM WAV, 8/16/24/32 bit, any number of channels (units: au unless --units)
  .mat       MATLAB file with an EMG struct (channelData samples x channels, fs), or one numeric array
             and fs (units: mV unless --units)

Units (--units, else the file's `# units=`, else guessed: integers are counts, other numbers au):
  counts   ESP32 ADC counts 0..4095, used as they are; counts centred on 0 (e.g. Myo armband int8) are
           moved to mid-rail (2048) in raw mode. Another converter's counts: --param adc_max=FULL_SCALE
           (e.g. 16383 for 14 bits); counts beyond the full scale are an error, never clipped
  uV mV V  electrode voltages, mapped through the MyoWare 2.0 model (RAW gain 200 around 1.65 V; ENV
           gain 10200) onto the 12-bit ADC, see spasmcore.frontend
  au       arbitrary units (e.g. an exported RMS envelope): the recording's maximum maps to 70% of full
           scale

Long recordings are read in blocks (EDF, and CSV/TSV with a `# rate_hz=` header or --rate and no time
column): memory stays flat (about 200 MB for 24 h at 1 kHz); other text files, BDF, WAV and .mat are read
whole, and refused before reading when that would take more than 2048 MB ($SPASMWATCH_MEMORY_MB sets it).
A text file may have at most 1024 columns; at most 512 channels are replayed at once (--channel).

Many recordings: give several files or folders (searched for recordings); they are spread over the cores
(--jobs), or over a Dask cluster (--scheduler tcp://HOST:PORT); a summary table is printed, and --out DIR
writes one events CSV (and with --jsonl-out one JSON lines file) per recording plus DIR/summary.csv. A
recording that cannot be read is one row with its error (exit status 1), the others are still replayed.

Channels: every channel is detected independently (events carry the channel index) unless --channel
selects some. Headerless files can hold non-EMG columns: the Myo readings have a 9th cue-label column,
so replay them with --rate 200 --channel 0-7.

Examples:
  spasmwatch replay --example
  spasmwatch replay session.csv --events events.csv
  spasmwatch replay myo/1.txt --rate 200 --channel 0-7 --mode raw
  spasmwatch replay tum.csv --mode env --units au --param sensitivity=4
  spasmwatch replay night.edf --annotate night-events.edf --jsonl night.jsonl
  spasmwatch replay study/ --out results/ --param sensitivity=5
"""

EXAMPLE = "example_raw.csv"
DETECTOR_MAX_RATE_HZ = 2000.0  # firmware/detector.py validate(): 25..2000 Hz


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "replay",
        help="run the detector over a recorded EMG file",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("recording", nargs="*", metavar="RECORDING",
                   help="recording file(s) or folder(s) (see formats above); several go through the batch mode")
    p.add_argument(
        "--example",
        action="store_true",
        help=f"replay the bundled example ({EXAMPLE}: 60 s raw, a tonic spasm, a twitch, clonus)",
    )
    p.add_argument("--mode", choices=["raw", "env"], help="detector mode (default: the file's, else raw)")
    p.add_argument("--rate", type=float, metavar="HZ", help="sample rate in Hz, overriding the file's")
    p.add_argument("--units", choices=["counts", "uV", "mV", "V", "au"], help="sample units, overriding the file's")
    p.add_argument(
        "--channel",
        metavar="N",
        help="only these channels (0-based): N, or a list like 0,2 or 0-7 (default: all)",
    )
    p.add_argument(
        "--engine",
        choices=["fast", "python", "micropython"],
        help="fast (default): the firmware detector compiled from its own source, identical events (recordings "
        "under about 7 channel-minutes run the same source on CPython instead of loading the compiler); python: "
        "always CPython; micropython: the MicroPython unix port",
    )
    p.add_argument("--events", metavar="OUT.csv", help="write the events to this CSV ('-' for stdout)")
    p.add_argument("--jsonl", metavar="OUT.jsonl", help="write the events as JSON lines ('-' for stdout)")
    p.add_argument("--annotate", metavar="OUT.edf",
                   help="write the detector's input signal as EDF+ with every episode and fault as an annotation")
    p.add_argument("--json", action="store_true", help="print the recording, summary and events as JSON")
    p.add_argument("--out", metavar="DIR", help="several recordings: write DIR/<name>.events.csv per recording "
                   "and DIR/summary.csv")
    p.add_argument("--jsonl-out", action="store_true", help="with --out: also write <name>.events.jsonl")
    p.add_argument("--jobs", "-j", type=int, metavar="N", help="several recordings: worker processes "
                   "(default: one per core)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="several recordings: run them on this Dask cluster (needs the 'cluster' extra)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="detector parameter override (repeatable)",
    )
    p.set_defaults(func=run)


def example_path() -> Path:
    """The bundled example recording (shipped as package data)."""
    return Path(str(resources.files("spasmwatch").joinpath("examples", EXAMPLE)))


def parse_channels(spec: str) -> list[int]:
    """'3' -> [3]; '0,2' -> [0, 2]; '0-7' -> [0..7]; duplicates dropped, order kept."""
    out: list[int] = []
    try:
        for part in spec.split(","):
            lo, dash, hi = part.strip().partition("-")
            values = range(int(lo), int(hi) + 1) if dash else [int(lo)]
            if dash and int(hi) < int(lo):
                raise ValueError
            out += [v for v in values if v not in out]
    except ValueError:
        raise ConfigError(f"--channel {spec!r}: expected N, a list like 0,2 or a range like 0-7") from None
    if not out or min(out) < 0:
        raise ConfigError(f"--channel {spec!r}: channels are numbered from 0")
    return out


def _looks_like_labels(values: np.ndarray, rate_hz: float) -> bool:
    """A cue/label column: few small non-negative integers held for long runs (not EMG)."""
    import numpy as np

    if len(values) < 4 * rate_hz or values.min() < 0:
        return False
    distinct = np.unique(values)
    if len(distinct) > 10 or not np.all(distinct == np.round(distinct)):
        return False
    changes = int(np.count_nonzero(np.diff(values)))
    return changes <= len(values) / (0.5 * rate_hz)  # held for 0.5 s on average


def _counts(rec: Recording, i: int, mode: str, params: dict[str, int | float] | None) -> np.ndarray:
    from spasmcore.frontend import to_counts  # scipy (env model) is slow to import: only when replaying

    try:
        return to_counts(rec.channels[i], rec.units, mode, rec.rate_hz, adc_max(params))
    except ValueError as exc:
        raise InputError(f"{rec.source}: channel {rec.indices[i]}: {exc}") from None


def replay(rec: Recording, mode: str, params: dict[str, int | float] | None, engine: str = "python",
           progress: ui.Progress | None = None) -> list[Event]:
    """Detect every channel of `rec` independently; events sorted by onset, tagged with the file channel.

    `progress` advances by each channel's duration in seconds once that channel is done."""
    from spasmwatch.engine.detect import detect

    events: list[Event] = []
    for i, ch in enumerate(rec.indices):
        if progress is not None:
            progress.label(f"detecting channel {ch} ({i + 1} of {len(rec.indices)})")
        try:
            counts = _counts(rec, i, mode, params)
            events += detect(counts, rec.rate_hz, mode=mode, params=params, channel=ch, engine=engine)
        except ValueError as exc:  # the detector's validate(): bad parameter name/value or rate
            raise ConfigError(str(exc)) from None
        if progress is not None:
            progress.step(rec.duration_s)
    return sorted(events, key=lambda e: (e.onset_s, e.channel))


def to_json(rec: Recording, mode: str, events: list[Event]) -> dict[str, Any]:
    """`replay --json`: what was read, the counts of the summary line, and every event."""
    episodes = [e for e in events if e.kind != "fault"]
    return {
        "recording": rec.source,
        "duration_s": rec.duration_s,
        "rate_hz": rec.rate_hz,
        "mode": mode,
        "units": rec.units,
        "channels": list(rec.indices),
        "names": list(rec.names),
        "warnings": list(rec.warnings),
        "episodes": len(episodes),
        "by_kind": dict(Counter(e.kind for e in episodes)),
        "faults": len(events) - len(episodes),
        "events": [e.as_row() for e in events],
    }


def format_table(events: list[Event]) -> str:
    """Plain aligned text, one row per event (stable for pipes and tests)."""
    header = [
        "ch",
        "kind",
        "onset_s",
        "offset_s",
        "dur_s",
        "latency_ms",
        "peak",
        "peak_x",
        "mean_x",
        "detail",
    ]
    rows = [
        [
            str(e.channel),
            e.kind,
            f"{e.onset_s:.3f}",
            f"{e.offset_s:.3f}",
            f"{e.duration_s:.3f}",
            f"{(e.detected_s - e.onset_s) * 1000:.0f}",
            f"{e.peak:.0f}",
            f"{e.peak_x:.1f}",
            f"{e.mean_x:.1f}",
            e.detail,
        ]
        for e in events
    ]
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    left = {1, len(header) - 1}  # text columns
    lines = [
        "  ".join(c.ljust(w) if k in left else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def summary(rec: Recording, mode: str, events: list[Event], sens: str = "") -> str:
    """One line: the recording, how it was read, and what was found; `sens` the detector's setting, as said."""
    episodes = [e for e in events if e.kind != kinds.FAULT]
    faults = [e for e in events if e.kind == kinds.FAULT]
    by_kind = Counter(e.kind for e in episodes)
    order = kinds.episode_names()  # the table's order; a kind the table lacks last, by name
    found = ", ".join(f"{by_kind[k]} {kinds.label(k)}" for k in order if by_kind[k])
    found += "".join(f", {n} {k}" for k, n in sorted(by_kind.items()) if k not in order)
    n_ch = len(rec.indices)
    return (
        f"{Path(rec.source).name}: {rec.duration_s:.1f} s, {n_ch} channel{'s' if n_ch != 1 else ''}, "
        f"{mode} mode at {rec.rate_hz:g} Hz{sens}: {len(episodes)} episode{'s' if len(episodes) != 1 else ''}"
        f"{f' ({found})' if found else ''}, {len(faults)} fault{'s' if len(faults) != 1 else ''}"
    )


def _annotations(events: list[Event]) -> list[tuple[float, float, str]]:
    """EDF+ annotation per event: onset, duration, and kind, channel and strength in the text."""
    out = []
    for e in events:
        if e.kind == "fault":
            text = f"fault {e.detail} ch{e.channel}"
        else:
            text = (f"{e.kind} ch{e.channel} peak_x={e.peak_x:.1f} mean_x={e.mean_x:.1f} "
                    f"latency_ms={(e.detected_s - e.onset_s) * 1000:.0f}")
        out.append((e.onset_s, e.duration_s, text))
    return out


def _write(what: str, target: str, write: Any) -> None:
    try:
        write()
    except OSError as exc:
        raise FatalError(f"cannot write {what} {target}: {exc.strerror}") from None


def _single_reference(args: argparse.Namespace, path: Path, columns: list[int] | None,
                      params: dict | None) -> tuple[Any, str, list[Event], list[Any] | None]:
    """--engine micropython: the whole recording in memory, as the unix port needs it."""
    from spasmcore.recording import decimate, read_recording

    rec = read_recording(path, rate_hz=args.rate, units=args.units, columns=columns)
    ui.show_recording(rec)
    mode = args.mode or rec.mode or "raw"
    if rec.rate_hz > DETECTOR_MAX_RATE_HZ:
        factor = math.ceil(rec.rate_hz / DETECTOR_MAX_RATE_HZ)
        rec = decimate(rec, factor)
        ui.note(f"decimated by {factor} to {rec.rate_hz:g} Hz (the detector takes at most 2000 Hz)")
    if columns is None and len(rec.indices) > 1:
        _label_note([ch for i, ch in enumerate(rec.indices) if _looks_like_labels(rec.channels[i], rec.rate_hz)])
    _filter_notes(params, mode, rec.rate_hz)
    with ui.progress(f"replaying {path.name}", total=rec.duration_s * len(rec.indices)) as bar:
        events = replay(rec, mode, params, args.engine, progress=bar)
    counts = [_counts(rec, i, mode, params) for i in range(len(rec.indices))] if args.annotate else None
    return rec, mode, events, counts


def _label_note(labels: list[int]) -> None:
    if labels:
        ui.note(
            f"channel(s) {', '.join(map(str, labels))} look like a cue/label column, not EMG; "
            "select the EMG channels with --channel"
        )


def _filter_notes(params: dict | None, mode: str, rate_hz: float) -> None:
    from spasmwatch.engine.detect import filter_notes
    for note in filter_notes(params, mode, rate_hz):
        ui.note(note)  # what the detector changed of the filters at this rate (never silently)


def _single(args: argparse.Namespace, path: Path, columns: list[int] | None, params: dict | None) -> int:
    from spasmcore.recsniff import sniff

    sniff(path)  # a hostile or mistaken file is refused before numpy and the readers load
    if args.engine == "micropython":
        rec, mode, events, counts = _single_reference(args, path, columns, params)
    else:
        from spasmwatch.engine.pipeline import replay_file

        notes: list[str] = []
        with ui.progress(f"replaying {path.name}", total=1.0) as bar:
            def step(n: int, total: int, n_events: int) -> None:
                bar.step(n / total if total else 0.0, label=f"replaying {path.name}: {n_events} event(s)")

            r = replay_file(str(path), mode=args.mode, rate=args.rate, units=args.units, columns=columns,
                            params=params, engine=args.engine or "auto", progress=step,
                            keep_counts=bool(args.annotate), notes=notes)
        rec, mode, events, counts = r.source, r.mode, r.events, r.counts
        ui.show_recording(rec)
        for note in notes:
            ui.note(note)
        if columns is None:
            _label_note(r.label_channels)
        if args.mode is None and rec.mode is None and r.envelope_like:
            ui.note(f"{path.name} looks like an envelope (it rests at the bottom of its range and rises from "
                    "there) and was replayed in raw mode, the default where a file does not say: give --mode env "
                    "for a MyoWare's ENV/SIG output or an RMS envelope")
        _filter_notes(params, mode, rec.rate_hz)
    # the summary says what the onset threshold allows at rest, in the user's terms
    return _emit(args, rec, mode, events, counts, ", " + sensitivity.describe(params, mode))


def _emit(args: argparse.Namespace, rec: Recording, mode: str, events: list[Event], counts: Any, sens: str) -> int:
    """Write the replay's results where the options ask (table, events CSV, JSON lines, JSON, annotated EDF)."""
    if args.annotate:
        from spasmcore.readers.edf import write_annotated

        assert counts is not None
        _write("the annotated EDF", args.annotate, lambda: write_annotated(
            args.annotate, rec.rate_hz, counts, [str(n) for n in rec.names], _annotations(events),
            adc_max=adc_max(parse_params(args.param))))
        ui.note(f"signal and {len(events)} annotation(s) written to {args.annotate}")
    if args.jsonl:
        from spasmwatch.report.jsonl import events_to_jsonl, write_jsonl

        if args.jsonl == "-":
            sys.stdout.write(events_to_jsonl(events))
            print(summary(rec, mode, events, sens), file=sys.stderr)
            return 0
        _write("events", args.jsonl, lambda: write_jsonl(args.jsonl, events))
    if args.json:
        if args.events:
            _write("events", args.events, lambda: write_events(args.events, events))
        json.dump(to_json(rec, mode, events), sys.stdout, indent=1, allow_nan=False)
        sys.stdout.write("\n")
        return 0
    if args.events == "-":
        sys.stdout.write(events_to_csv(events))
        print(summary(rec, mode, events, sens), file=sys.stderr)
        return 0
    if args.events:
        _write("events", args.events, lambda: write_events(args.events, events))
        print(f"{summary(rec, mode, events, sens)}; events written to {args.events}")
        return 0
    if events:
        print(format_table(events))
    print(summary(rec, mode, events, sens))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.example == bool(args.recording):
        raise ConfigError("give a RECORDING file or --example (not both)")
    if args.json and args.events == "-":
        raise ConfigError("--json and --events - both write to stdout: give --events a file")
    if sum(1 for x in (args.events, args.jsonl) if x == "-") + bool(args.json) > 1:
        raise ConfigError("only one of --json, --events -, --jsonl - can write to stdout")
    columns = None if args.channel is None else parse_channels(args.channel)
    params = parse_params(args.param) or None
    inputs = [str(example_path())] if args.example else list(args.recording)
    if len(inputs) > 1 or args.out or args.scheduler or Path(inputs[0]).is_dir():
        from spasmwatch.engine.replay_many import replay_many

        return replay_many(args, inputs, columns, params)
    return _single(args, Path(inputs[0]), columns, params)
