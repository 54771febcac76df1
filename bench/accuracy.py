"""Accuracy benchmark: every simulator scenario through our detector and the peer detectors, one table.

    python bench/accuracy.py [--quick] [--jobs N] [--json OUT.json] [--no-peers] [--no-real]

Runs each scenario of `spasmwatch simulate --list` (RAW, 1 kHz, one channel, fixed seed) through
firmware/detector.py (via spasmwatch.detect) and, when installed (`pip install neurokit2 biosppy`), through
NeuroKit2 and BioSPPy's Bonato and Solnik onset detectors (see bench/peers.py), scores each with
spasmwatch.scoring.score, prints one scenario x detector table, pooled figures per detector and the issue's
targets for ours, then the real-recording checks of bench/real_data.py. Generated scenarios are cached in a
temporary directory. See docs/accuracy.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # noqa: E402

from spasmsim import generate as gen_mod  # noqa: E402
from spasmsim.scenarios import SCENARIOS  # noqa: E402
from spasmwatch.detect import detect  # noqa: E402
from spasmwatch.events import Event, TruthInterval  # noqa: E402
from spasmwatch.scoring import Scores, match, percentile, score  # noqa: E402

SEED = 1
RATE_HZ = 1000.0
MODE = "raw"
REST_S = 3.0  # the peers' rest period: the first seconds of every scenario (no spasm starts before 19 s)
QUICK_MINUTES = 1.0
OURS = "ours"

# Targets of the issue for our detector (pooled over the suite).
TARGETS = {
    "sensitivity": 0.97,
    "false_alarms_per_rest_hour": 1.0,
    "fragmented_pct": 2.0,
    "onset_abs_median_ms": 40.0,
    "latency_median_ms": 150.0,
    "latency_p95_ms": 400.0,
    "clonus_labelled": 0.90,
}


def suite(quick: bool) -> list[tuple[str, float]]:
    """(scenario, minutes): every scenario at its default length (5 h 45 min in all), or 1 min each."""
    return [(sc.name, QUICK_MINUTES if quick else float(sc.minutes)) for sc in SCENARIOS]


def detector_names(with_peers: bool) -> list[str]:
    names = [OURS]
    if with_peers:
        for p in peers.available_peers():
            names += [p, p + "+merge"]
    return names


# ------------------------------------------------------------------------------------------ scenario cache


def _cache_dir() -> Path:
    """A temp folder keyed by the simulator's source, so a changed simulator never reuses old signals."""
    src = Path(gen_mod.__file__).resolve().parent
    digest = hashlib.sha1()
    for f in sorted(src.glob("*.py")):
        digest.update(f.read_bytes())
    path = Path(tempfile.gettempdir()) / f"spasmwatch-accuracy-{digest.hexdigest()[:12]}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def scenario_signal(name: str, minutes: float, seed: int = SEED) -> tuple[np.ndarray, list[TruthInterval]]:
    """Channel 0 counts and truth of a scenario, generated once and cached as .npz."""
    path = _cache_dir() / f"{name}-{minutes:g}min-seed{seed}-{MODE}-{RATE_HZ:g}.npz"
    if path.exists():
        data = np.load(path)
        truth = [
            TruthInterval(0, float(a), float(b), str(k))
            for a, b, k in zip(data["on"], data["off"], data["kind"], strict=True)
        ]
        return data["counts"], truth
    sim = gen_mod.generate(name, seed=seed, minutes=minutes, mode=MODE, rate_hz=RATE_HZ)
    truth = [t for t in sim.truth if t.channel == 0]
    tmp = path.with_suffix(f".{os.getpid()}.npz")
    np.savez(
        tmp,
        counts=sim.channels[0],
        on=[t.onset_s for t in truth],
        off=[t.offset_s for t in truth],
        kind=np.array([t.kind for t in truth], dtype="U8"),
    )
    tmp.replace(path)  # atomic: parallel workers never read half a file
    return sim.channels[0], truth


# ------------------------------------------------------------------------------------------ running


def run_scenario(job: tuple[str, float, tuple[str, ...]]) -> dict:
    """Events of every detector on one scenario (runs in a worker process)."""
    name, minutes, names = job
    counts, truth = scenario_signal(name, minutes)
    duration = len(counts) / RATE_HZ
    events: dict[str, list[Event]] = {}
    seconds: dict[str, float] = {}
    for det in names:
        t0 = time.perf_counter()
        if det == OURS:
            events[det] = detect(counts, RATE_HZ, MODE)
        else:
            peer, _, variant = det.partition("+")
            events[det] = peers.run_peer(peer, counts, RATE_HZ, MODE, REST_S, merged=variant == "merge")
        seconds[det] = time.perf_counter() - t0
    early = [t for t in truth if t.onset_s < REST_S and t.kind != "fault"]
    return {
        "scenario": name,
        "duration_s": duration,
        "truth": truth,
        "events": events,
        "seconds": seconds,
        "rest_warning": bool(early),
    }


def run_suite(jobs: list[tuple[str, float]], names: list[str], n_jobs: int) -> list[dict]:
    order = sorted(jobs, key=lambda j: -j[1])  # longest first: better balance over the workers
    tasks = [(name, minutes, tuple(names)) for name, minutes in order]
    if n_jobs <= 1:
        results = [run_scenario(t) for t in tasks]
    else:
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=get_context("fork")) as pool:
            results = list(pool.map(run_scenario, tasks))
    by_name = {r["scenario"]: r for r in results}
    return [by_name[name] for name, _ in jobs]


def pooled(results: list[dict], det: str) -> tuple[list[Event], list[TruthInterval], float]:
    """The whole suite as one recording, scenarios end to end on one time axis: events, truth, length."""
    events: list[Event] = []
    truth: list[TruthInterval] = []
    t0 = 0.0
    for r in results:
        events += [
            replace(e, onset_s=e.onset_s + t0, offset_s=e.offset_s + t0, detected_s=e.detected_s + t0)
            for e in r["events"][det]
        ]
        truth += [replace(t, onset_s=t.onset_s + t0, offset_s=t.offset_s + t0) for t in r["truth"]]
        t0 += r["duration_s"]
    return events, truth, t0


def pooled_scores(results: list[dict], det: str) -> Scores:
    events, truth, duration = pooled(results, det)
    return score(events, truth, duration, channels=[0])


def by_kind_lines(results: list[dict]) -> list[str]:
    """Our detector per truth kind over the suite: where the misses and the slow detections are."""
    events, truth, _ = pooled(results, OURS)
    m = match(events, truth)
    lines = [
        "ours by truth kind (pooled):",
        "  kind     spasms  missed  onset |err| med/p95 ms  latency med/p95 ms  missed at (scenario @ s)",
    ]
    starts = np.cumsum([0.0] + [r["duration_s"] for r in results])
    for kind in ("tonic", "clonus", "jerk", "cramp"):
        idx = [i for i, t in enumerate(m.spasms) if t.kind == kind]
        if not idx:
            continue
        hit = [i for i in idx if m.hits[i]]
        onset = [abs(min(m.episodes[j].onset_s for j in m.hits[i]) - m.spasms[i].onset_s) * 1000 for i in hit]
        lat = [(min(m.episodes[j].detected_s for j in m.hits[i]) - m.spasms[i].onset_s) * 1000 for i in hit]
        where = []
        for i in idx:
            if not m.hits[i]:
                k = int(np.searchsorted(starts, m.spasms[i].onset_s, side="right")) - 1
                where.append(f"{results[k]['scenario']} @ {m.spasms[i].onset_s - starts[k]:.1f}")
        lines.append(
            f"  {kind:7s} {len(idx):7d} {len(idx) - len(hit):7d} "
            f"{_f(percentile(onset, 50), 0):>11s}/{_f(percentile(onset, 95), 0):<10s}"
            f"{_f(percentile(lat, 50), 0):>10s}/{_f(percentile(lat, 95), 0):<8s}  {', '.join(where)}"
        )
    return lines


# ------------------------------------------------------------------------------------------ output


def _f(value: float | None, digits: int = 3, scale: float = 1.0) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


HEADER = [
    "scenario",
    "detector",
    "min",
    "spasms",
    "episodes",
    "F1",
    "sens",
    "prec",
    "FA/rest h",
    "frag %",
    "onset ms",
]


def row(scenario: str, det: str, minutes: float, s: Scores) -> list[str]:
    return [
        scenario,
        det,
        f"{minutes:g}",
        str(s.truth_spasms),
        str(s.episodes),
        _f(s.f1),
        _f(s.sensitivity),
        _f(s.precision),
        _f(s.false_alarms_per_rest_hour, 1),
        _f(s.fragmented_pct, 1),
        _f(s.onset_abs_median_ms, 0),
    ]


def grid(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    lines = []
    for r in [header, ["-" * w for w in widths], *rows]:
        lines.append(
            "  ".join(
                c.ljust(w) if k < 2 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
    return "\n".join(lines)


def target_lines(
    ours: Scores, per_scenario: dict[str, dict[str, Scores]], peer_names: list[str]
) -> list[str]:
    """PASS/MISS per target of the issue, with the measured figure."""
    clonus = ours.kind_accuracy_by_truth.get("clonus")
    checks = [
        ("sensitivity >= 0.97", ours.sensitivity, lambda v: v >= TARGETS["sensitivity"], 3),
        (
            "false alarms <= 1 / rest h",
            ours.false_alarms_per_rest_hour,
            lambda v: v <= TARGETS["false_alarms_per_rest_hour"],
            2,
        ),
        ("fragments <= 2 % of spasms", ours.fragmented_pct, lambda v: v <= TARGETS["fragmented_pct"], 2),
        (
            "median onset error <= 40 ms",
            ours.onset_abs_median_ms,
            lambda v: v <= TARGETS["onset_abs_median_ms"],
            0,
        ),
        ("median latency <= 150 ms", ours.latency_median_ms, lambda v: v <= TARGETS["latency_median_ms"], 0),
        ("p95 latency <= 400 ms", ours.latency_p95_ms, lambda v: v <= TARGETS["latency_p95_ms"], 0),
        ("clonus labelled right >= 90 %", clonus, lambda v: v >= TARGETS["clonus_labelled"], 3),
    ]
    out = []
    for label, value, ok, digits in checks:
        verdict = "n/a " if value is None else ("PASS" if ok(value) else "MISS")
        out.append(f"  {verdict}  {label:32s} measured {_f(value, digits)}")
    if ours.false_alarms_per_rest_hour is not None:
        out[1] += f"  ({ours.false_alarms} false alarms in {ours.rest_s / 3600:.2f} h of rest)"
    if clonus is not None:
        row_ = ours.confusion.get("clonus", {})
        out[-1] += f"  (clonus trains labelled {dict(row_)})"
    for peer in peer_names:
        worse, ties = [], 0
        for sc, by_det in per_scenario.items():
            verdict, text = beats(by_det[OURS], by_det[peer])
            if verdict == "tie":
                ties += 1
            elif verdict == "lose":
                worse.append(f"{sc} ({text})")
        note = f"not higher on {', '.join(worse)}" if worse else "higher on every scenario"
        if ties:
            note += f"; {ties} tie(s) with both perfect, counted as met"
        out.append(f"  {'MISS' if worse else 'PASS'}  F1 above {peer:22s} {note}")
    return out


def beats(mine: Scores, theirs: Scores) -> tuple[str, str]:
    """'win', 'tie' (both perfect) or 'lose' for ours against a peer on one scenario, and the figures.

    With spasms: F1 (None, i.e. no episode at all, counts as 0). Rest only (no F1): fewer false alarms.
    """
    if mine.truth_spasms == 0:
        a, b = mine.false_alarms, theirs.false_alarms
        return ("tie" if a == b == 0 else "win" if a < b else "lose"), f"false alarms {a} vs {b}"
    a, b = mine.f1 or 0.0, theirs.f1 or 0.0
    return ("tie" if a == b == 1.0 else "win" if a > b else "lose"), f"F1 {a:.3f} vs {b:.3f}"


def summary_line(det: str, s: Scores) -> str:
    text = (
        f"  {det:13s} F1 {_f(s.f1)}  sens {_f(s.sensitivity)} ({s.truth_detected}/{s.truth_spasms})  "
        f"prec {_f(s.precision)}  FA/rest h {_f(s.false_alarms_per_rest_hour, 2)} ({s.false_alarms})  "
        f"frag {_f(s.fragmented_pct, 1)} %  onset {_f(s.onset_abs_median_ms, 0)} ms"
    )
    if det == OURS:
        text += (
            f"  latency {_f(s.latency_median_ms, 0)}/{_f(s.latency_p95_ms, 0)} ms (median/p95)  "
            f"kinds {_f(s.kind_accuracy)}"
        )
    return text


def report(jobs: list[tuple[str, float]], names: list[str], results: list[dict]) -> tuple[str, dict]:
    minutes = dict(jobs)
    per_scenario: dict[str, dict[str, Scores]] = {}
    rows = []
    for r in results:
        sc = r["scenario"]
        per_scenario[sc] = {
            d: score(r["events"][d], r["truth"], r["duration_s"], channels=[0]) for d in names
        }
        rows += [row(sc, d, minutes[sc], per_scenario[sc][d]) for d in names]
    pooled_ = {d: pooled_scores(results, d) for d in names}
    total_min = sum(r["duration_s"] for r in results) / 60
    lines = [grid(HEADER, rows), ""]
    lines.append(
        f"pooled over {len(results)} scenarios, {total_min:.0f} min of signal "
        f"(RAW 1 kHz, seed {SEED}; tolerance 100 ms):"
    )
    lines += [summary_line(d, pooled_[d]) for d in names]
    lines += ["", *by_kind_lines(results)]
    lines += ["", "targets for ours:"]
    lines += target_lines(pooled_[OURS], per_scenario, [d for d in names if d != OURS])
    warn = [r["scenario"] for r in results if r["rest_warning"]]
    if warn:
        lines.append(f"note: a spasm starts within the peers' {REST_S:g} s rest period in {', '.join(warn)}")
    cpu = {d: sum(r["seconds"][d] for r in results) for d in names}
    lines.append("detector CPU time: " + ", ".join(f"{d} {cpu[d]:.1f} s" for d in names))
    data = {
        "suite": [{"scenario": s, "minutes": m} for s, m in jobs],
        "per_scenario": {sc: {d: s.to_dict() for d, s in by.items()} for sc, by in per_scenario.items()},
        "pooled": {d: s.to_dict() for d, s in pooled_.items()},
    }
    for d in data["pooled"].values():
        d.pop("per_channel", None)
    return "\n".join(lines), data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_MINUTES:g} min per scenario (smoke run)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--json", metavar="OUT", help="also write all scores as JSON")
    ap.add_argument("--no-peers", action="store_true", help="only our detector")
    ap.add_argument("--no-real", action="store_true", help="skip the real recordings")
    args = ap.parse_args(argv)

    have = peers.installed()
    missing = [p for p, ok in have.items() if not ok]
    if missing and not args.no_peers:
        print(
            f"note: peer package(s) not installed: {', '.join(missing)} (pip install neurokit2 biosppy); "
            "skipping them"
        )
    names = detector_names(not args.no_peers)
    jobs = suite(args.quick)
    t0 = time.perf_counter()
    results = run_suite(jobs, names, max(1, args.jobs))
    text, data = report(jobs, names, results)
    print(text)
    print(f"scenario suite: {time.perf_counter() - t0:.0f} s wall with {args.jobs} job(s)")
    if not args.no_real:
        import real_data

        print()
        data["real"] = real_data.main_report(with_peers=not args.no_peers, quick=args.quick)
    if args.json:
        plain = lambda o: o.item() if hasattr(o, "item") else str(o)  # noqa: E731  numpy scalars -> Python
        Path(args.json).write_text(json.dumps(data, indent=1, default=plain))
    return 0


if __name__ == "__main__":
    sys.exit(main())
