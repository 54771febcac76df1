"""Real recordings judge the detector: labelled contractions found one-to-one and false events per hour, ours vs peers.

    python bench/real_data.py [--only DATASET] [--param NAME=VALUE ...] [--json OUT] [--no-peers] [--biosppy]

Datasets (in ../shared/data, see its README; none is copied into the repo) and their truth windows are defined
once, in bench/labelled.py (tum, lobov, myo, emggo, biosppy; docs/accuracy.md, "Truth intervals of the real
recordings"). Our detector runs with its defaults unless --param is given (the same NAME=VALUE for every file,
as `spasmwatch replay --param` takes it), through the public API (spasmwatch.commands.replay.replay).

Scoring (bench/realscore.py) is one-to-one: an episode on any channel finds one window at most and a window is
found by one episode at most, so one episode over a whole file finds one contraction. Reported apart: merged
windows (an episode overlapping two or more), split windows (two or more episodes on one channel), false events
(episodes overlapping no window, twitches included, per channel-hour of background) and the longest episode.
The Myo rest files (``myo`` files with no window) are reported as their own line, ``myo rest``.

Peers: NeuroKit2 (when installed, unless --no-peers) on every dataset: on an envelope its activation step
alone; at 200 Hz, where its default cleaning (a 100 Hz high-pass) cannot run, ``nk2*`` is its amplitude and
activation steps on the signal with its mean removed. BioSPPy's Bonato and Solnik detectors only with --biosppy.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import labelled  # noqa: E402
import peers  # noqa: E402
from labelled import DATASETS, Labelled  # noqa: E402
from realscore import KINDS, Found, Tally  # noqa: E402
from realscore import score_file as score_file  # noqa: E402

from spasmcore.errors import ConfigError  # noqa: E402
from spasmcore.frontend import to_counts  # noqa: E402
from spasmcore.recording import Recording  # noqa: E402
from spasmwatch.commands.replay import replay  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = labelled.DATA
PEER_KIND = "-"  # peers give no kind
REST_S = 3.0  # the BioSPPy peers' rest period: the first seconds of each file
TITLES = {
    "tum": "TUM exoskeleton grasps (RMS envelope, 34.81 Hz, ENV; window = peak -0.5 s ... +0.8 s)",
    "lobov": "Lobov gesture holds (Myo 8 ch, 200 Hz, RAW; window = hold +- 1 s; background = class 0/1 outside)",
    "myo": "Myo cue files 1.txt/7.txt (8 ch, 200 Hz, RAW; window = cue + 1 s reaction)",
    "myo rest": "Myo rest files 0.txt (8 ch, 200 Hz, RAW; every episode is false)",
    "emggo": "emgGO ECG-contaminated (8 ch, decimated to 1024 Hz, RAW; every episode is false)",
    "biosppy": "BioSPPy emg_1.txt (1 ch, 1 kHz, RAW; four bursts +- 0.25 s)",
}


def parse_params(items: list[str]) -> dict:
    """NAME=VALUE strings -> a parameter dict: numbers as int or float, other values as text (ecg=off), which the
    detector's validate() accepts or rejects (spasmwatch.engine.params.parse_params takes numbers only)."""
    out: dict = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise ConfigError(f"--param {item!r}: expected NAME=VALUE")
        try:
            number = float(text)
        except ValueError:
            out[name] = text
        else:
            out[name] = int(number) if number.is_integer() else number
    return out


def group_of(item: Labelled) -> str:
    """The report line a file belongs to: its dataset, with the Myo rest files apart."""
    return "myo rest" if item.dataset == "myo" and not item.windows else item.dataset


@dataclass
class Setup:
    """What to run: our detector's parameters and which peers."""

    params: dict[str, int | float] = field(default_factory=dict)
    nk2: bool = True
    biosppy: bool = False

    def peer_names(self, rate_hz: float, mode: str) -> list[str]:
        have = peers.installed()
        names = []
        if self.nk2 and have["neurokit2"]:
            names.append("nk2 (env)" if mode == "env" else nk2_name(rate_hz))
        if self.biosppy and have["biosppy"] and mode == "raw":
            names += [n for p in ("bonato", "solnik") for n in (p, p + "+merge")]
        return names


def nk2_name(rate_hz: float) -> str:
    """nk2 where its default 100 Hz cleaning high-pass fits below Nyquist, else nk2* (no cleaning)."""
    return "nk2" if rate_hz > 2 * 100.0 else "nk2*"


def nk2_uncleaned(x: np.ndarray, rate_hz: float) -> list[tuple[float, float]]:
    """NeuroKit2's amplitude (TKEO + linear envelope) and default activation on x minus its mean."""
    import importlib
    import warnings


    act = importlib.import_module("neurokit2.emg.emg_activation")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        amplitude = peers.nk2_amplitude(x - np.mean(x), rate_hz)
        binary = act._emg_activation_threshold(amplitude, threshold="default")
        info = act._emg_activation_activations(binary, duration_min=int(0.05 * rate_hz))
    column = np.zeros(len(x), dtype=np.int8)
    column[np.asarray(info["EMG_Activity"], dtype=np.int64)] = 1
    return peers.runs(column, rate_hz)


def run_ours(rec: Recording, mode: str, params: dict[str, int | float]) -> Found:
    """Our episodes per file channel through replay() (fault events are not episodes)."""
    found: Found = {ch: [] for ch in rec.indices}
    for e in replay(rec, mode, params or None, engine="fast"):
        if e.kind != "fault":
            found[e.channel].append((e.onset_s, e.offset_s, e.kind))
    return found


def run_peer(name: str, rec: Recording, mode: str) -> Found:
    """A peer's episodes per file channel (raises whatever the peer raises)."""
    found: Found = {}
    for i, ch in enumerate(rec.indices):
        x = peers.counts_to_float(to_counts(rec.channels[i], rec.units, mode, rec.rate_hz), mode)
        if mode == "env":
            eps = peers.nk2_env(x, rec.rate_hz)
        elif name == "nk2*":
            eps = nk2_uncleaned(x, rec.rate_hz)
        else:
            peer, _, variant = name.partition("+")
            eps = peers.RAW_PEERS[peer][1](x, rec.rate_hz, REST_S)
            eps = peers.merge(eps) if variant == "merge" else eps
        found[ch] = [(on, off, PEER_KIND) for on, off in eps]
    return found


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.0f} %)" if b else "-"


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _row(name: str, t: Tally) -> str:
    if t.error:
        return f"  {name:14s}  n/a: {t.error}"
    kinds = " / ".join(str(t.false.get(k, 0)) for k in KINDS) if name == "ours" else "-"
    return (f"  {name:14s}  {_pct(t.found, t.labels):>16s}  {t.merged:>6d}  {t.split:>5d}  {t.n_false:>6d}"
            f"  {_f(t.false_per_hour):>9s}  {t.near:>7d}  {t.longest_s:>8.1f}  {kinds}")


HEADER = (f"  {'detector':14s}  {'found 1:1':>16s}  {'merged':>6s}  {'split':>5s}  {'false':>6s}  {'/ ch-h':>9s}"
          f"  {'near 1s':>7s}  {'longest s':>8s}  false twitch / tonic / clonus")


def run_dataset(name: str, setup: Setup) -> dict[str, dict[str, Tally]]:
    """Every file of one dataset through ours and the peers: per report group, per detector, a Tally."""
    out: dict[str, dict[str, Tally]] = {}
    for item in labelled.files(name):
        tallies = out.setdefault(group_of(item), {})
        runs: dict[str, Found | str] = {"ours": run_ours(item.rec, item.mode, setup.params)}
        for peer in setup.peer_names(item.rec.rate_hz, item.mode):
            try:
                runs[peer] = run_peer(peer, item.rec, item.mode)
            except Exception as exc:  # noqa: BLE001  a peer failing on this input is reported, not fatal
                runs[peer] = f"{type(exc).__name__}: {exc}"
        for det, found in runs.items():
            t = tallies.setdefault(det, Tally())
            if isinstance(found, str):
                t.error = found
            else:
                t.add(score_file(found, item.windows, item.background_s))
    return out


# ------------------------------------------------------------------------------------------ targets


def targets(figures: dict) -> list[dict]:
    """The issue's targets against our figures: dataset, target, measured, pass (True/False)."""
    rows: list[dict] = []

    def add(dataset: str, target: str, measured: str, ok: bool) -> None:
        rows.append({"dataset": dataset, "target": target, "measured": measured, "pass": bool(ok)})

    def ours(name: str) -> dict | None:
        d = figures.get(name, {}).get("ours")
        return d if d and not d.get("error") else None

    if (t := ours("tum")) is not None:
        add("tum", "recall >= 0.95 (1:1)", f"{t['recall']:.3f} ({t['found']}/{t['labels']})", t["recall"] >= 0.95)
        pct = 100.0 * t["merged"] / t["labels"]
        add("tum", "merged <= 5 % of labels", f"{pct:.1f} % ({t['merged']})", pct <= 5.0)
        pct = 100.0 * t["false_events"] / t["labels"]
        add("tum", "extra episodes <= 15 % of labels", f"{pct:.1f} % ({t['false_events']})", pct <= 15.0)
        add("tum", "longest episode <= 6.3 s", f"{t['longest_episode_s']:.1f} s", t["longest_episode_s"] <= 6.3)
    if (t := ours("lobov")) is not None:
        add("lobov", "hold recall >= 0.95 (1:1)", f"{t['recall']:.3f} ({t['found']}/{t['labels']})",
            t["recall"] >= 0.95)
        r = t["false_per_channel_hour"]
        add("lobov", "<= 10 false / ch-h quiet", f"{_f(r)} ({t['false_events']})", r is not None and r <= 10.0)
    if (t := ours("myo rest")) is not None:
        r = t["false_per_channel_hour"]
        add("myo rest", "<= 5 false / ch-h", f"{_f(r)} ({t['false_events']})", r is not None and r <= 5.0)
    if (t := ours("emggo")) is not None:
        add("emggo", "no episode", f"{t['episodes']} episodes", t["episodes"] == 0)
    if (t := ours("biosppy")) is not None:
        add("biosppy", "all bursts found (1:1)", f"{t['found']}/{t['labels']}", t["found"] == t["labels"])
        add("biosppy", "no other episode", f"{t['false_events']} false", t["false_events"] == 0)
    return rows


def target_table(rows: list[dict]) -> list[str]:
    lines = ["Targets (ours, defaults unless --param):", f"  {'dataset':8s}  {'target':34s}  {'measured':24s}  result"]
    for r in rows:
        lines.append(f"  {r['dataset']:8s}  {r['target']:34s}  {r['measured']:24s}  {'PASS' if r['pass'] else 'MISS'}")
    return lines


def detector_version() -> str:
    """Last commit of firmware/detector.py, with '+modified' when the detector actually imported (the
    working tree, or whatever spasmfw resolves to) differs from that commit's file."""
    import importlib.util

    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        rev = git("log", "-1", "--format=%h", "--", "firmware/detector.py")
        spec = importlib.util.find_spec("spasmfw.detector")
        used = git("hash-object", str(spec.origin)) if spec and spec.origin else ""
        committed = git("rev-parse", f"{rev}:firmware/detector.py") if rev else ""
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    if not rev:
        return "unknown"
    return rev if used == committed else f"{rev}+modified (blob {used[:8]})"


def main_report(
    with_peers: bool = True,
    quick: bool = False,
    *,
    biosppy_peers: bool | None = None,
    params: dict[str, int | float] | None = None,
    only: Sequence[str] | None = None,
) -> dict:
    """Print the real-recording checks and the target table; returns the figures ({} without the data).

    with_peers: NeuroKit2 (and, unless biosppy_peers says otherwise, BioSPPy's peers) next to ours; quick is
    accepted for bench/accuracy.py and changes nothing (the whole run takes seconds).
    """
    if not DATA.is_dir():
        print(f"real recordings: skipped ({DATA} not found; see docs/accuracy.md)")
        return {}
    setup = Setup(
        params=dict(params or {}), nk2=with_peers, biosppy=with_peers if biosppy_peers is None else biosppy_peers
    )
    version = detector_version()
    print(f"firmware/detector.py at {version}; params {setup.params or 'defaults'}; one-to-one scoring")
    print()
    figures: dict = {}
    timing: dict[str, float] = {}
    for name in only or DATASETS:
        if not labelled.available([name]):
            print(f"{name}: skipped ({DATA / labelled.FOLDERS[name]} not found)")
            continue
        t0 = time.perf_counter()
        for group, tallies in run_dataset(name, setup).items():
            print(TITLES[group] + ":")
            print(HEADER)
            print("\n".join(_row(det, t) for det, t in tallies.items()))
            print()
            figures[group] = {det: t.to_dict() for det, t in tallies.items()}
        timing[name] = round(time.perf_counter() - t0, 2)
    rows = targets(figures)
    print("\n".join(target_table(rows)))
    return {"detector": version, "params": setup.params, "datasets": figures, "targets": rows, "seconds": timing}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-peers", action="store_true", help="only our detector (no NeuroKit2, no BioSPPy)")
    ap.add_argument("--biosppy", action="store_true", help="also BioSPPy's Bonato and Solnik detectors")
    ap.add_argument(
        "--only",
        action="append",
        choices=DATASETS,
        metavar="DATASET",
        help=f"only this dataset (repeatable): {', '.join(DATASETS)}",
    )
    ap.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="detector parameter for every file (repeatable; names: firmware/detector.py PARAMS)",
    )
    ap.add_argument("--json", metavar="OUT", help="also write the figures and the target table as JSON")
    args = ap.parse_args(argv)
    try:
        params = parse_params(args.param)
        out = main_report(
            with_peers=not args.no_peers,
            biosppy_peers=args.biosppy and not args.no_peers,
            params=params,
            only=args.only,
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).write_text(
            json.dumps(out, indent=1, default=lambda o: o.item() if hasattr(o, "item") else str(o))
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
