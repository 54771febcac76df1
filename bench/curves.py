"""Operating curves: recall against false events per hour of background, ours over a parameter sweep and the
classical detectors over their thresholds, on every labelled real set and on the simulator suite.

    python bench/curves.py [--set NAME ...] [--param-sweep NAME=V1,V2,...] [--minutes M] [--out DIR]
                           [--no-plot] [--json OUT] [--no-nk2]

Sets: the labelled recordings of ../shared/data (tum, lobov, myo, myo-rest, emggo, biosppy; truth windows
from bench/labelled.py) and the simulator suite (every scenario, channel 0, seed 1, ``--minutes`` each) as
sim-raw-250, sim-raw-500, sim-raw-1000, sim-env-50 and sim-env-100. Detectors:

- ``ours``: firmware detector through spasmwatch.engine.detect (fast engine), one point per value of the swept
  parameter (default ``sensitivity=0.1,0.3,1,3,10,30,100``, the expected false alarms per hour of rest);
- ``hodges-bui``, ``bonato``, ``tkeo`` (RAW only): bench/hodges.py, bonato_dt.py, tkeo.py, their threshold
  swept from its false-alarm parameter;
- ``nk2``: NeuroKit2's amplitude (``emg_process`` cleaning where the rate allows it, as bench/peers.py) with
  its activation threshold swept as a multiple of the amplitude's SD (0.1 is ``emg_process``'s default).

Scoring is one-to-one (bench/realscore.py): recall = windows paired with an episode / windows; false events
= episodes overlapping no window, per channel-hour of background. Simulator truth spasms are windows widened by
the scorer's 100 ms tolerance; their background is the rest time. Each detector's default is marked ``*``.
Prints one table per set and writes ``curves-<set>.png`` to --out (default docs/img).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bonato_dt  # noqa: E402
import hodges  # noqa: E402
import labelled  # noqa: E402
import peers  # noqa: E402
import tkeo  # noqa: E402
from realscore import Found, Tally, score_file  # noqa: E402

from spasmcore.errors import ConfigError  # noqa: E402
from spasmcore.frontend import to_counts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REAL_SETS = ("tum", "lobov", "myo", "myo-rest", "emggo", "biosppy")
SIM_SETS = {"sim-raw-250": ("raw", 250.0), "sim-raw-500": ("raw", 500.0), "sim-raw-1000": ("raw", 1000.0),
            "sim-env-50": ("env", 50.0), "sim-env-100": ("env", 100.0)}
SETS = (*REAL_SETS, *SIM_SETS)
DEFAULT_SWEEP = "sensitivity=0.1,0.3,1,3,10,30,100"
NK2_LEVELS = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
SIM_TOLERANCE_S = 0.1
CLASSIC = {m.NAME: m for m in (hodges, bonato_dt, tkeo)}


@dataclass
class Item:
    """One file: its channels as ADC counts, what counts as a contraction and how much background it has."""

    name: str
    rate_hz: float
    mode: str
    channels: dict[int, np.ndarray]
    windows: list[tuple[float, float]]
    background_s: float


@dataclass
class Curve:
    """One detector's points on one set: level -> pooled Tally."""

    detector: str
    param: str
    default: float | None
    points: dict[float, Tally] = field(default_factory=dict)


def parse_sweep(text: str) -> tuple[str, list[float]]:
    """'NAME=V1,V2,...' -> (NAME, [values]); ConfigError on anything else."""
    name, sep, values = text.partition("=")
    try:
        levels = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        levels = []
    if not sep or not name.strip() or not levels:
        raise ConfigError(f"--param-sweep {text!r}: expected NAME=V1,V2,... with numbers")
    return name.strip(), levels


def real_items(name: str) -> list[Item]:
    dataset = "myo" if name == "myo-rest" else name
    out = []
    for lab in labelled.files(dataset):
        if dataset == "myo" and bool(lab.windows) == (name == "myo-rest"):
            continue  # myo = the cue files, myo-rest = the rest files
        rec = lab.rec
        chans = {ch: np.asarray(to_counts(rec.channels[i], rec.units, lab.mode, rec.rate_hz))
                 for i, ch in enumerate(rec.indices)}
        out.append(Item(lab.name, rec.rate_hz, lab.mode, chans, lab.windows, lab.background_s))
    return out


def sim_items(name: str, minutes: float) -> list[Item]:
    import accuracy  # the suite's cached scenario signals

    from spasmsim.scenarios import SCENARIOS

    mode, rate = SIM_SETS[name]
    out = []
    for sc in SCENARIOS:
        mins = min(minutes, float(sc.minutes))
        counts, truth = accuracy.scenario_signal(sc.name, mins, accuracy.SEED, mode, rate)
        spasms = [(t.onset_s, t.offset_s) for t in truth if t.kind != "fault"]
        duration = len(counts) / rate
        windows = [(a - SIM_TOLERANCE_S, b + SIM_TOLERANCE_S) for a, b in spasms]
        out.append(Item(sc.name, rate, mode, {0: np.asarray(counts)}, windows,
                        duration - labelled.union_length(spasms, 0.0, duration)))
    return out


def ours(item: Item, param: str, levels: list[float], engine: str = "fast") -> list[Found]:
    from spasmwatch.engine.detect import detect

    out = []
    for v in levels:
        value: int | float = int(v) if v.is_integer() else v
        found: Found = {}
        for ch, x in item.channels.items():
            try:
                events = detect(x, item.rate_hz, item.mode, {param: value}, channel=ch, engine=engine)
            except ValueError as exc:  # the detector's validate(): unknown parameter or value out of range
                raise ConfigError(str(exc)) from None
            found[ch] = [(e.onset_s, e.offset_s, e.kind) for e in events if e.kind != "fault"]
        out.append(found)
    return out


def nk2_sweep(x: np.ndarray, rate_hz: float, mode: str, levels: tuple[float, ...] = NK2_LEVELS) -> list:
    """NeuroKit2's activation on its amplitude at thresholds of level x SD (0.1 = emg_process's default)."""
    import importlib
    import warnings

    act = importlib.import_module("neurokit2.emg.emg_activation")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mode == "env":
            amplitude = np.asarray(x, dtype=np.float64)
        elif rate_hz > 200.0:
            import neurokit2 as nk

            amplitude = peers.nk2_amplitude(nk.emg_clean(x, sampling_rate=rate_hz), rate_hz)
        else:  # below 200 Hz its 100 Hz cleaning cannot run: mean removed only (peers, nk2*)
            amplitude = peers.nk2_amplitude(x - np.mean(x), rate_hz)
        sd = float(np.std(amplitude))
        out = []
        for level in levels:
            binary = act._emg_activation_threshold(amplitude, threshold=level * sd)
            info = act._emg_activation_activations(binary, duration_min=int(0.05 * rate_hz))
            column = np.zeros(len(x), dtype=np.int8)
            column[np.asarray(info["EMG_Activity"], dtype=np.int64)] = 1
            out.append(peers.runs(column, rate_hz))
    return out


def classic_found(item: Item, det: str) -> list[Found]:
    """Per level of a classical detector (or nk2), the episodes on every channel of the item."""
    per_level: list[Found] = []
    for ch, counts in item.channels.items():
        x = peers.counts_to_float(counts, item.mode)
        eps = nk2_sweep(x, item.rate_hz, item.mode) if det == "nk2" else CLASSIC[det].sweep(x, item.rate_hz, item.mode)
        if not per_level:
            per_level = [{} for _ in eps]
        for found, e in zip(per_level, eps, strict=True):
            found[ch] = [(float(a), float(b), "-") for a, b in e]
    return per_level


def detectors(mode: str, nk2: bool) -> list[str]:
    names = ["hodges-bui", "bonato"] + (["tkeo"] if mode == "raw" else [])
    return names + (["nk2"] if nk2 and peers.installed()["neurokit2"] else [])


def run_set(items: list[Item], param: str, levels: list[float], default: float | None, nk2: bool,
            engine: str = "fast") -> list[Curve]:
    """Every detector over every item of a set, tallied per level (ours on `engine`)."""
    curves = [Curve("ours", param, default)]
    curves += [Curve(d, "SD x" if d == "nk2" else CLASSIC[d].PARAM, 0.1 if d == "nk2" else CLASSIC[d].DEFAULT)
               for d in detectors(items[0].mode, nk2)]
    for item in items:
        for curve in curves:
            if curve.detector == "ours":
                found, lv = ours(item, param, levels, engine), levels
            else:
                found = classic_found(item, curve.detector)
                lv = list(NK2_LEVELS if curve.detector == "nk2" else CLASSIC[curve.detector].LEVELS)
            for level, f in zip(lv, found, strict=True):
                curve.points.setdefault(level, Tally()).add(score_file(f, item.windows, item.background_s))
    return curves


def table(name: str, curves: list[Curve]) -> list[str]:
    lines = [f"== {name}", f"  {'detector':11s} {'level':>8s} {'recall':>7s} {'found':>11s} {'false/h':>9s}"
             f" {'merged':>6s} {'split':>5s} {'longest s':>9s}"]
    for c in curves:
        for level, t in c.points.items():
            mark = "*" if c.default is not None and np.isclose(level, c.default) else " "
            rec = "-" if t.recall is None else f"{t.recall:.3f}"
            fph = "-" if t.false_per_hour is None else f"{t.false_per_hour:.1f}"
            lines.append(f"  {c.detector:11s} {level:>7g}{mark} {rec:>7s} {t.found:>5d}/{t.labels:<5d} {fph:>9s}"
                         f" {t.merged:>6d} {t.split:>5d} {t.longest_s:>9.1f}")
    return lines


def dominance(curves: list[Curve]) -> list[str]:
    """Per peer: a point with a higher recall at an equal or lower false-event rate than ours at its default."""
    mine = next((t for c in curves if c.detector == "ours" for lv, t in c.points.items()
                 if c.default is not None and np.isclose(lv, c.default)), None)
    if mine is None or mine.false_per_hour is None:
        return ["  (no default point for ours in this sweep)"]
    out = []
    for c in curves[1:]:
        better = [(lv, t) for lv, t in c.points.items() if t.false_per_hour is not None
                  and t.false_per_hour <= mine.false_per_hour
                  and (t.recall or 0.0) > (mine.recall or 0.0)]
        if better:
            lv, t = max(better, key=lambda p: (p[1].recall or 0.0, -(p[1].false_per_hour or 0.0)))
            out.append(f"  {c.detector} beats ours' default at {lv:g}: recall {t.recall:.3f} at "
                       f"{t.false_per_hour:.1f} false/h (ours {mine.recall or 0.0:.3f} at {mine.false_per_hour:.1f})")
        elif mine.labels == 0:  # a rest set: fewer false events is all there is
            best = min((t.false_per_hour or 0.0 for t in c.points.values()), default=0.0)
            if best < mine.false_per_hour:
                out.append(f"  {c.detector} reaches {best:.1f} false/h (ours {mine.false_per_hour:.1f})")
    return out or ["  no peer point beats ours' default (higher recall at equal or fewer false events)"]


def plot(name: str, curves: list[Curve], out: Path) -> Path:
    """recall (y) against false events per channel-hour (x, symlog) per detector, its points joined in sweep
    order; the defaults ringed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for c in curves:
        pts = [(t.false_per_hour or 0.0, t.recall if t.recall is not None else 0.0, lv) for lv, t in c.points.items()]
        line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", ms=3, label=c.detector)
        for x, y, lv in pts:
            if c.default is not None and np.isclose(lv, c.default):
                ax.plot([x], [y], "o", ms=10, mfc="none", color=line.get_color())
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("false events per channel-hour of background")
    ax.set_ylabel("recall (one-to-one)" if any(t.labels for c in curves for t in c.points.values()) else "recall")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{name}: operating curves (ringed: each detector's default)", fontsize=9)
    ax.legend(fontsize=8, loc="best")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"curves-{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def default_of(param: str, mode: str) -> float | None:
    """The detector's default for the swept parameter in this mode (spasmfw.detparams.PARAMS), if any."""
    try:
        from spasmfw.detparams import PARAMS
    except ImportError:
        return None
    spec = PARAMS.get(param)
    return float(spec[0 if mode == "raw" else 1]) if spec else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", action="append", choices=SETS, metavar="NAME", help=f"only this set: {', '.join(SETS)}")
    ap.add_argument("--param-sweep", default=DEFAULT_SWEEP, metavar="NAME=V1,V2,...",
                    help=f"our detector's swept parameter and values (default {DEFAULT_SWEEP})")
    ap.add_argument("--minutes", type=float, default=5.0, help="simulator: minutes per scenario (default 5)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"), help="folder for the PNGs (default docs/img)")
    ap.add_argument("--no-plot", action="store_true", help="tables only")
    ap.add_argument("--no-nk2", action="store_true", help="without NeuroKit2 (the slowest)")
    ap.add_argument("--json", metavar="OUT", help="also write every point as JSON")
    args = ap.parse_args(argv)
    try:
        param, levels = parse_sweep(args.param_sweep)
        if not args.minutes > 0:
            raise ConfigError("--minutes must be > 0")
        figures: dict = {}
        for name in args.set or SETS:
            t0 = time.perf_counter()
            if name in SIM_SETS:
                items = sim_items(name, args.minutes)
            elif labelled.available(["myo" if name == "myo-rest" else name]):
                items = real_items(name)
            else:
                print(f"== {name}: skipped ({labelled.DATA} has no such folder)")
                continue
            curves = run_set(items, param, levels, default_of(param, items[0].mode), not args.no_nk2)
            print("\n".join(table(name, curves) + dominance(curves)) + f"\n  ({time.perf_counter() - t0:.0f} s)")
            if not args.no_plot:
                print(f"  wrote {plot(name, curves, Path(args.out))}")
            figures[name] = {c.detector: {"param": c.param, "default": c.default,
                                          "points": {str(lv): t.to_dict() for lv, t in c.points.items()}}
                             for c in curves}
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).write_text(json.dumps({"sweep": args.param_sweep, "sets": figures}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
