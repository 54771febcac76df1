"""Accuracy benchmark: the simulator suite through our detector (RAW and ENV) and the peer detectors.

    python bench/accuracy.py [--mode raw|env|both] [--quick] [--jobs N] [--param NAME=VALUE ...] [--seed N]
                             [--json OUT.json] [--no-peers] [--no-real]

Runs each scenario of `spasmwatch simulate --list` (one channel, seed 1 unless --seed) through firmware/detector.py (via
spasmwatch.engine.detect): RAW at 1 kHz and the ECG scenarios also at 250 and 500 Hz (`--mode raw`), a MyoWare-style
ENV at 100 Hz derived by the simulator from the same scenarios (`--mode env`), or all of it (`both`, the
default). When installed (`pip install neurokit2 biosppy`) NeuroKit2 and BioSPPy's Bonato and Solnik onset
detectors (see bench/peers.py) run on the RAW 1 kHz signals. Each run is scored one-to-one (an episode finds one
truth spasm at most) with spasmwatch.scoring.score.score; false events are every episode overlapping no truth spasm
(twitches included) plus every fault event overlapping no truth fault (a `flat` fault on a healthy electrode).
Prints one table per suite, our pooled figures and the issue's targets as PASS/MISS, then the real-recording
checks of bench/real_data.py. `--param` overrides our detector's defaults (repeatable). Generated scenarios are
cached in a temporary directory keyed by the simulator's source. See docs/accuracy.md.
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

from spasmcore.errors import ConfigError  # noqa: E402
from spasmcore.events import Event, TruthInterval  # noqa: E402
from spasmsim import generate as gen_mod  # noqa: E402
from spasmsim.scenarios import SCENARIOS  # noqa: E402
from spasmwatch.engine.detect import check_params, detect  # noqa: E402
from spasmwatch.scoring.score import Scores, match, percentile, score  # noqa: E402

SEED = 1
RATE_HZ = 1000.0
MODE = "raw"
ENV_RATE_HZ = 100.0
ENV_RATES_HZ = (100.0, 50.0)  # MyoWare-style envelopes as an ESP32 samples them; the targets hold at both
ECG_SCENARIOS = ("ecg_leadoff", "ecg_rest", "ecg_spasms")
ECG_RATES_HZ = (250.0, 500.0)  # besides 1 kHz, which the RAW suite runs
# The bench runs these shorter than their `simulate` default, to keep a full run within ~3 min on 2 cores.
BENCH_MINUTES = {"night": 60.0, "drifting_floor": 30.0}
REST_S = 3.0  # the peers' rest period: the first seconds of every scenario (no spasm starts before 19 s)
QUICK_MINUTES = 1.0
OURS = "ours"

# Targets of the issue for our detector (pooled over the suite).
TARGETS = {
    "sensitivity": 0.97,
    "false_alarms_per_rest_hour": 1.0,
    "split_pct": 2.0,
    "onset_abs_median_ms": 40.0,
    "latency_median_ms": 150.0,
    "latency_p95_ms": 400.0,
    "clonus_labelled": 0.90,
}


Job = tuple[str, float, str, float]  # scenario, minutes, mode, rate


def suite(quick: bool, mode: str = "raw") -> list[Job]:
    """(scenario, minutes, mode, rate) of the suite: `raw` = every scenario at RAW 1 kHz and the ECG scenarios
    at RAW 250 and 500 Hz, `env` = every scenario as ENV at 100 and 50 Hz, `both` = all of it; `quick` = 1 min each."""
    minutes = lambda sc: QUICK_MINUTES if quick else BENCH_MINUTES.get(sc.name, float(sc.minutes))  # noqa: E731
    jobs: list[Job] = []
    if mode in ("raw", "both"):
        jobs += [(sc.name, minutes(sc), "raw", RATE_HZ) for sc in SCENARIOS]
        jobs += [(sc.name, minutes(sc), "raw", r) for r in ECG_RATES_HZ for sc in SCENARIOS if sc.name in ECG_SCENARIOS]
    if mode in ("env", "both"):
        jobs += [(sc.name, minutes(sc), "env", r) for r in ENV_RATES_HZ for sc in SCENARIOS]
    return jobs


def group_of(mode: str, rate: float) -> str:
    return f"{mode.upper()} {rate:g} Hz"


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


def scenario_signal(name: str, minutes: float, seed: int = SEED, mode: str = MODE, rate: float = RATE_HZ
                    ) -> tuple[np.ndarray, list[TruthInterval]]:
    """Channel 0 counts and truth of a scenario, generated once and cached as .npz."""
    path = _cache_dir() / f"{name}-{minutes:g}min-seed{seed}-{mode}-{rate:g}.npz"
    if path.exists():
        data = np.load(path)
        truth = [
            TruthInterval(0, float(a), float(b), str(k))
            for a, b, k in zip(data["on"], data["off"], data["kind"], strict=True)
        ]
        return data["counts"], truth
    sim = gen_mod.generate(name, seed=seed, minutes=minutes, mode=mode, rate_hz=rate)
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


def set_seed(seed: int) -> None:
    """The simulator seed of every scenario run from here on (workers are forked after it is set)."""
    global SEED
    SEED = seed


def run_scenario(job: tuple[str, float, str, float, tuple[str, ...], dict]) -> dict:
    """Events of every detector on one scenario, mode and rate (runs in a worker process)."""
    name, minutes, mode, rate, names, params = job
    counts, truth = scenario_signal(name, minutes, seed=SEED, mode=mode, rate=rate)  # (SEED: as --seed set it)
    duration = len(counts) / rate
    events: dict[str, list[Event]] = {}
    seconds: dict[str, float] = {}
    for det in names:
        t0 = time.perf_counter()
        if det == OURS:
            events[det] = detect(counts, rate, mode, params, engine="fast")  # = python (test_fast_engine.py)
        else:
            peer, _, variant = det.partition("+")
            events[det] = peers.run_peer(peer, counts, rate, mode, REST_S, merged=variant == "merge")
        seconds[det] = time.perf_counter() - t0
    early = [t for t in truth if t.onset_s < REST_S and t.kind != "fault"]
    return {
        "scenario": name,
        "mode": mode,
        "rate_hz": rate,
        "minutes": minutes,
        "duration_s": duration,
        "truth": truth,
        "events": events,
        "seconds": seconds,
        "rest_warning": bool(early),
    }


def run_suite(jobs: list[Job], names: list[str], n_jobs: int, params: dict | None = None) -> list[dict]:
    """Run every job; peers only on RAW 1 kHz jobs. Results in the order of `jobs`."""
    tasks = [
        (name, minutes, mode, rate, tuple(names) if (mode, rate) == ("raw", RATE_HZ) else (OURS,), params or {})
        for name, minutes, mode, rate in jobs
    ]
    # longest work first (RAW costs ~10x ENV per second of signal): better balance over the workers
    order = sorted(range(len(tasks)), key=lambda k: -tasks[k][1] * tasks[k][3] * len(tasks[k][4]))
    if n_jobs <= 1:
        done = {k: run_scenario(tasks[k]) for k in order}
    else:
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=get_context("fork")) as pool:
            done = dict(zip(order, pool.map(run_scenario, [tasks[k] for k in order]), strict=True))
    return [done[k] for k in range(len(tasks))]


# ------------------------------------------------------------------------------------------ false events


def false_events(events: list[Event], truth: list[TruthInterval], s: Scores) -> dict[str, int]:
    """False events by kind: episodes overlapping no truth spasm (twitch, tonic, clonus) and fault events
    overlapping no truth fault (flat, rail). Uses the scorer's by-kind counts where it has them."""
    m = match(events, truth)
    out: dict[str, int] = {}
    by_kind = getattr(s, "false_alarms_by_kind", None)
    if by_kind is None:
        for j in m.false_alarms:
            out[m.episodes[j].kind] = out.get(m.episodes[j].kind, 0) + 1
    else:
        out.update({k: int(n) for k, n in by_kind.items() if n})
    for ev, hit in zip(m.fault_events, m.fault_event_faults, strict=True):
        if not hit:
            key = ev.detail or "fault"
            out[key] = out.get(key, 0) + 1
    return out


def false_time_pct(events: list[Event], truth: list[TruthInterval], rest_s: float) -> float | None:
    """Share of rest time (%) covered by episodes outside every truth spasm (a stuck floor shows here, even
    when its minutes-long episode also touches a spasm and so is not a false event)."""
    spasms = sorted((t.onset_s, t.offset_s) for t in truth if t.kind != "fault")
    covered = 0.0
    for e in events:
        if e.kind == "fault":
            continue
        length = e.offset_s - e.onset_s
        for a, b in spasms:
            length -= max(0.0, min(b, e.offset_s) - max(a, e.onset_s))
        covered += max(length, 0.0)
    return None if rest_s <= 0 else 100.0 * covered / rest_s


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
        pair = m.pair_of_truth  # one-to-one: each found spasm's own episode
        hit = [i for i in idx if pair[i] is not None]
        onset = [abs(m.episodes[pair[i]].onset_s - m.spasms[i].onset_s) * 1000 for i in hit]  # type: ignore[index]
        lat = [(m.episodes[pair[i]].detected_s - m.spasms[i].onset_s) * 1000 for i in hit]  # type: ignore[index]
        where = []
        for i in idx:
            if pair[i] is None:
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
    "false",
    "false/rest h",
    "false by kind",
    "rest in ep %",
    "split %",
    "merged %",
    "longest s",
    "onset ms",
]


def _kinds_text(kinds: dict[str, int]) -> str:
    return " ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])) or "-"


def row(scenario: str, det: str, minutes: float, s: Scores, kinds: dict[str, int] | None = None,
        rest_pct: float | None = None) -> list[str]:
    kinds = kinds if kinds is not None else {"episodes": s.false_alarms, "faults": s.false_faults}
    n_false = sum(kinds.values())
    return [
        scenario,
        det,
        f"{minutes:g}",
        str(s.truth_spasms),
        str(s.episodes),
        _f(s.f1),
        _f(s.sensitivity),
        _f(s.precision),
        str(n_false),
        _f(n_false / (s.rest_s / 3600) if s.rest_s > 0 else None, 1),
        _kinds_text(kinds),
        _f(rest_pct, 1),
        _f(s.split_pct, 1),
        _f(s.merged_pct, 1),
        _f(s.longest_episode_s, 1),
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
        ("split <= 2 % of spasms", ours.split_pct, lambda v: v <= TARGETS["split_pct"], 2),
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
    f1a, f1b = mine.f1 or 0.0, theirs.f1 or 0.0
    return ("tie" if f1a == f1b == 1.0 else "win" if f1a > f1b else "lose"), f"F1 {f1a:.3f} vs {f1b:.3f}"


def summary_line(det: str, s: Scores) -> str:
    text = (
        f"  {det:13s} F1 {_f(s.f1)}  sens {_f(s.sensitivity)} ({s.truth_detected}/{s.truth_spasms})  "
        f"prec {_f(s.precision)}  FA/rest h {_f(s.false_alarms_per_rest_hour, 2)} ({s.false_alarms})  "
        f"split {_f(s.split_pct, 1)} %  merged {_f(s.merged_pct, 1)} %  longest {_f(s.longest_episode_s, 1)} s  "
        f"onset {_f(s.onset_abs_median_ms, 0)} ms"
    )
    if det == OURS:
        text += (
            f"  latency {_f(s.latency_median_ms, 0)}/{_f(s.latency_p95_ms, 0)} ms (median/p95)  "
            f"kinds {_f(s.kind_accuracy)}"
        )
    return text


SENS_TARGET = 0.97  # every scenario
F1_TARGET = {"raw": 0.95, "env": 0.90}  # every scenario
FALSE_TARGET = {"raw": 2.0, "env": 5.0}  # false events of every kind per hour of rest, pooled over the suite


def issue_checks(group: str, per: list[dict], mode: str) -> list[str]:
    """PASS/MISS of the detection targets for one suite (mode and rate): sensitivity and F1 in every scenario,
    false events of all kinds per hour of rest pooled over the suite (docs/accuracy.md, the targets table)."""
    f1_target, false_target = F1_TARGET[mode], FALSE_TARGET[mode]
    low_sens = [f"{r['scenario']} {r['s'].sensitivity:.3f}" for r in per
                if r["s"].sensitivity is not None and r["s"].sensitivity < SENS_TARGET]
    low_f1 = [f"{r['scenario']} {(r['s'].f1 or 0.0):.3f}" for r in per
              if r["s"].truth_spasms and (r["s"].f1 or 0.0) < f1_target]
    n_false = sum(sum(r["kinds"].values()) for r in per)
    rest_h = sum(r["s"].rest_s for r in per) / 3600
    rate = n_false / rest_h if rest_h > 0 else 0.0
    worst = sorted(((sum(r["kinds"].values()), r["scenario"]) for r in per), reverse=True)
    where = ", ".join(f"{sc} {n}" for n, sc in worst if n)
    verdict = lambda ok: "PASS" if ok else "MISS"  # noqa: E731
    return [
        f"  {verdict(not low_sens)}  {group:13s} sensitivity >= {SENS_TARGET} every scenario"
        + (f"  (below: {', '.join(low_sens)})" if low_sens else ""),
        f"  {verdict(not low_f1)}  {group:13s} F1 >= {f1_target} every scenario"
        + (f"  (below: {', '.join(low_f1)})" if low_f1 else ""),
        f"  {verdict(rate <= false_target)}  {group:13s} false events <= {false_target:g} / rest h: measured {rate:.1f}"
        f" ({n_false} in {rest_h:.2f} h of rest" + (f": {where})" if where else ")"),
    ]


def report(jobs: list[Job], names: list[str], results: list[dict], params: dict | None = None
           ) -> tuple[str, dict]:
    lines: list[str] = []
    data: dict = {"suite": [{"scenario": j[0], "minutes": j[1], "mode": j[2], "rate_hz": j[3]} for j in jobs],
                  "params": params or {}, "groups": {}}
    checks: list[str] = []
    groups: dict[str, list[dict]] = {}
    for r in results:
        groups.setdefault(group_of(r["mode"], r["rate_hz"]), []).append(r)
    for group, rs in groups.items():
        rows: list[list[str]] = []
        per: list[dict] = []
        per_scenario: dict[str, dict[str, Scores]] = {}
        dets = [d for d in names if d in rs[0]["events"]]
        for r in rs:
            sc = r["scenario"]
            per_scenario[sc] = {}
            for d in dets:
                s = score(r["events"][d], r["truth"], r["duration_s"], channels=[0])
                kinds = false_events(r["events"][d], r["truth"], s)
                pct = false_time_pct(r["events"][d], r["truth"], s.rest_s)
                per_scenario[sc][d] = s
                rows.append(row(sc, d, r["minutes"], s, kinds, pct))
                if d == OURS:
                    per.append({"scenario": sc, "s": s, "kinds": kinds, "rest_pct": pct})
        total_min = sum(r["duration_s"] for r in rs) / 60
        lines += [f"== {group}: {len(rs)} scenarios, {total_min:.0f} min of signal (seed {SEED}; tolerance 100 ms)",
                  grid(HEADER, rows), ""]
        pooled_ = {d: pooled_scores(rs, d) for d in dets}
        lines += ["pooled:", *[summary_line(d, pooled_[d]) for d in dets], ""]
        if (rs[0]["mode"], rs[0]["rate_hz"]) in (("raw", RATE_HZ), ("env", ENV_RATE_HZ)):
            lines += [*by_kind_lines(rs), ""]
        if (rs[0]["mode"], rs[0]["rate_hz"]) == ("raw", RATE_HZ):
            lines += ["pooled targets for ours (RAW 1 kHz):",
                      *target_lines(pooled_[OURS], per_scenario, [d for d in dets if d != OURS]), ""]
        checks += issue_checks(group, per, rs[0]["mode"])
        data["groups"][group] = {
            "per_scenario": {
                sc: {d: {**s.to_dict(), "false_events_by_kind": false_events(r["events"][d], r["truth"], s)}
                     for d, s in by.items()}
                for (sc, by), r in zip(per_scenario.items(), rs, strict=True)
            },
            "pooled": {d: {k: v for k, v in s.to_dict().items() if k != "per_channel"} for d, s in pooled_.items()},
        }
    lines += ["targets (ours" + (f", params {params}" if params else ", defaults") + "):", *checks]
    warn = sorted({r["scenario"] for r in results if r["rest_warning"]})
    if warn:
        lines.append(f"note: a spasm starts within the peers' {REST_S:g} s rest period in {', '.join(warn)}")
    cpu: dict[str, float] = {}
    for r in results:
        for d, t in r["seconds"].items():
            cpu[d] = cpu.get(d, 0.0) + t
    lines.append("detector CPU time: " + ", ".join(f"{d} {t:.1f} s" for d, t in cpu.items()))
    return "\n".join(lines), data


def parse_params(items: list[str]) -> dict:
    """NAME=VALUE strings -> a parameter dict (numbers as int or float; other values, e.g. ecg=auto, as text)."""
    out: dict = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--param needs NAME=VALUE, got {item!r}")
        try:
            number = float(text)
        except ValueError:
            out[name.strip()] = text
        else:
            out[name.strip()] = int(number) if number.is_integer() else number
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("raw", "env", "both"), default="both",
                    help="RAW (1 kHz, ECG scenarios also 250/500 Hz), ENV (100 and 50 Hz) or both (default)")
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_MINUTES:g} min per scenario (smoke run)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="our detector's parameter (repeatable), e.g. --param sensitivity=3")
    ap.add_argument("--json", metavar="OUT", help="also write all scores as JSON")
    ap.add_argument("--no-peers", action="store_true", help="only our detector")
    ap.add_argument("--no-real", action="store_true", help="skip the real recordings")
    ap.add_argument("--seed", type=int, default=SEED,
                    help=f"the simulator's seed (default {SEED}, the one docs/accuracy.md reports; others show the"
                         " spread of the figures over recordings the defaults were not chosen on)")
    args = ap.parse_args(argv)
    set_seed(args.seed)
    try:
        params = parse_params(args.param)
        for mode, rate in (("raw", RATE_HZ), ("raw", ECG_RATES_HZ[0]), *(("env", r) for r in ENV_RATES_HZ)):
            check_params(params, mode, rate)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    have = peers.installed()
    missing = [p for p, ok in have.items() if not ok]
    if missing and not args.no_peers:
        print(
            f"note: peer package(s) not installed: {', '.join(missing)} (pip install neurokit2 biosppy); "
            "skipping them"
        )
    names = detector_names(not args.no_peers)
    jobs = suite(args.quick, args.mode)
    t0 = time.perf_counter()
    results = run_suite(jobs, names, max(1, args.jobs), params)
    text, data = report(jobs, names, results, params)
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
