"""Real-recording checks for bench/accuracy.py: Myo cue periods, TUM grasp peaks, ECG-only emgGO channels.

    python bench/real_data.py [--no-peers]

None of these recordings has onset/offset annotations, so each is scored on what it does have (see
docs/accuracy.md and ../shared/data/README.md):

- Myo armband (5 participants, 8 channels int8 at ~200 Hz, RAW mode): `1.txt` (wrist flexion) and `7.txt`
  (fist) alternate 5-s rest and cue periods; a cue period counts as detected on a channel when an episode
  overlaps [cue start, cue end + 1 s] (the reaction time shifts the contraction after the cue). `0.txt`
  is rest only: every episode there is a false alarm. Reported for all 8 channels (channel-periods) and for
  the file's most active channel (largest standard deviation over the whole file, found without the labels).
- TUM exoskeleton (11 participants, RMS envelope at 34.81 Hz, ENV mode, units au): a labelled grasp counts
  as detected when an episode overlaps its movement window (peak - 0.5 s ... peak + 0.8 s, upstream's
  definition; "contains the peak" is reported too); episodes overlapping no window are counted.
- emgGO `ecg_contaminated.mat` (8 channels, 2048 Hz, mV, ECG only): decimated by 2 to 1024 Hz, RAW mode; no
  spasm is expected, so every episode is a false alarm (reported per channel).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # noqa: E402

from spasmwatch.commands.replay import replay  # noqa: E402
from spasmwatch.events import Event  # noqa: E402
from spasmwatch.frontend import to_counts  # noqa: E402
from spasmwatch.recording import Recording, decimate, read_recording  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MYO_RATE_HZ = 200.0
MYO_CHANNELS = list(range(8))
REACTION_S = 1.0
TUM_RATE_HZ = 34.81
TUM_WINDOW_S = (0.5, 0.8)  # before / after the labelled peak
OFFSET_PERCENTILE = 5
OFFSET_VARIANT = f"ours env_offset=p{OFFSET_PERCENTILE}"
REST_S = 3.0  # the peers' rest period: the first seconds of each file (Myo files start with a 5-s rest)

Window = tuple[float, float]


# ------------------------------------------------------------------------------------------ scoring logic


def label_periods(labels: np.ndarray, rate_hz: float) -> list[tuple[float, float, int]]:
    """Runs of a constant cue label as (start_s, end_s, label)."""
    lab = np.asarray(labels).astype(np.int64)
    if lab.size == 0:
        return []
    cuts = np.concatenate([[0], np.flatnonzero(np.diff(lab)) + 1, [lab.size]])
    return [(a / rate_hz, b / rate_hz, int(lab[a])) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def overlaps(episodes: list[tuple[float, float]], window: Window) -> bool:
    return any(on <= window[1] and off >= window[0] for on, off in episodes)


def cue_windows(periods: list[tuple[float, float, int]], reaction_s: float = REACTION_S) -> list[Window]:
    """The windows in which a cue's contraction may fall: the cue period extended by the reaction time."""
    return [(a, b + reaction_s) for a, b, lab in periods if lab != 0]


def score_windows(episodes: list[tuple[float, float]], windows: list[Window]) -> tuple[int, int]:
    """(windows overlapped by an episode, episodes overlapping no window)."""
    hit = sum(overlaps(episodes, w) for w in windows)
    stray = sum(not any(on <= w[1] and off >= w[0] for w in windows) for on, off in episodes)
    return hit, stray


def spanning(episodes: list[tuple[float, float]], windows: list[Window]) -> int:
    """Episodes overlapping two or more windows (several contractions reported as one)."""
    return sum(sum(on <= w[1] and off >= w[0] for w in windows) >= 2 for on, off in episodes)


def contains_peak(episodes: list[tuple[float, float]], peaks_s: list[float]) -> int:
    """Peaks lying inside an episode."""
    return sum(any(on <= p <= off for on, off in episodes) for p in peaks_s)


def spans(events: list[Event], channel: int | None = None) -> list[tuple[float, float]]:
    """(onset, offset) of the spasm episodes (not faults), optionally of one channel."""
    return [
        (e.onset_s, e.offset_s)
        for e in events
        if e.kind != "fault" and (channel is None or e.channel == channel)
    ]


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.0f} %)" if b else "0/0"


# ------------------------------------------------------------------------------------------ detectors


def detector_episodes(rec: Recording, mode: str, names: list[str]) -> tuple[dict[str, dict[int, list]], int]:
    """(detector -> file channel -> episodes, our fault events); a peer that fails gives its error text."""
    out: dict[str, dict[int, list]] = {"ours": {ch: [] for ch in rec.indices}}
    faults = 0
    for e in replay(rec, mode, None):
        if e.kind != "fault":
            out["ours"][e.channel].append((e.onset_s, e.offset_s))
        else:
            faults += 1
    for name in names:
        out[name] = {}
        for i, ch in enumerate(rec.indices):
            x = peers.counts_to_float(to_counts(rec.channels[i], rec.units, mode, rec.rate_hz), mode)
            try:
                if mode == "env":
                    eps = peers.nk2_env(x, rec.rate_hz)
                else:
                    peer, _, variant = name.partition("+")
                    eps = peers.RAW_PEERS[peer][1](x, rec.rate_hz, REST_S)
                    eps = peers.merge(eps) if variant == "merge" else eps
            except Exception as exc:  # noqa: BLE001  a peer failing on this input is reported
                out[name] = {"error": f"{type(exc).__name__}: {exc}"}  # type: ignore[dict-item]
                break
            out[name][ch] = eps
    return out, faults


def raw_peer_names(with_peers: bool) -> list[str]:
    return [n for p in peers.available_peers() for n in (p, p + "+merge")] if with_peers else []


# ------------------------------------------------------------------------------------------ datasets


def myo(with_peers: bool) -> tuple[list[str], dict]:
    root = DATA / "myo_readings"
    names = ["ours", *raw_peer_names(with_peers)]
    tot = {
        n: {
            "all_hit": 0,
            "all_n": 0,
            "best_hit": 0,
            "best_n": 0,
            "stray": 0,
            "rest_eps": 0,
            "rest_min": 0.0,
            "faults": 0,
            "error": None,
        }
        for n in names
    }
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    for folder in folders:
        for gesture in ("1", "7"):
            path = folder / f"{gesture}.txt"
            labels = np.loadtxt(path, delimiter=",")[:, 8]
            rec = read_recording(path, rate_hz=MYO_RATE_HZ, columns=MYO_CHANNELS)
            windows = cue_windows(label_periods(labels, MYO_RATE_HZ))
            best = rec.indices[int(np.argmax([np.std(c) for c in rec.channels]))]
            found, faults = detector_episodes(rec, "raw", names[1:])
            tot["ours"]["faults"] += faults
            for n in names:
                if "error" in found[n]:
                    tot[n]["error"] = found[n]["error"]
                    continue
                for ch, eps in found[n].items():
                    hit, stray = score_windows(eps, windows)
                    tot[n]["all_hit"] += hit
                    tot[n]["all_n"] += len(windows)
                    tot[n]["stray"] += stray
                    if ch == best:
                        tot[n]["best_hit"] += hit
                        tot[n]["best_n"] += len(windows)
        rec = read_recording(folder / "0.txt", rate_hz=MYO_RATE_HZ, columns=MYO_CHANNELS)
        found, faults = detector_episodes(rec, "raw", names[1:])
        tot["ours"]["faults"] += faults
        for n in names:
            if "error" in found[n]:
                tot[n]["error"] = found[n]["error"]
                continue
            tot[n]["rest_eps"] += sum(len(eps) for eps in found[n].values())
            tot[n]["rest_min"] += rec.duration_s / 60 * len(rec.indices)
    lines = [
        f"Myo armband ({len(folders)} participants x wrist flexion + fist, 6 cues of 5 s per file; RAW at "
        f"{MYO_RATE_HZ:g} Hz; a cue is detected when an episode overlaps it or the {REACTION_S:g} s after):",
        "  detector       cues, all 8 channels   cues, most active ch   stray episodes   rest-file episodes",
    ]
    for n in names:
        t = tot[n]
        if t["error"]:
            lines.append(f"  {n:13s}  n/a: {t['error']}")
            continue
        rate = t["rest_eps"] / t["rest_min"] if t["rest_min"] else 0.0
        lines.append(
            f"  {n:13s}  {_pct(t['all_hit'], t['all_n']):>21s}  {_pct(t['best_hit'], t['best_n']):>21s}"
            f"  {t['stray']:>15d}  {t['rest_eps']:>5d} = {rate:.2f} / channel-min"
        )
    lines.append(
        "  (stray: episodes in the gesture files overlapping no cue window, all 8 channels; rest file 0.txt:"
        " all 8 channels, every episode is a false alarm)"
    )
    lines.append(f"  our sensor-fault events in the Myo files (none expected): {tot['ours']['faults']}")
    return lines, tot


def tum(with_peers: bool) -> tuple[list[str], dict]:
    root = DATA / "tum_ics_exo"
    nk = with_peers and peers.installed()["neurokit2"]
    names = ["ours", OFFSET_VARIANT, *(["nk2 (env)"] if nk else [])]
    tot = {
        n: {"hit": 0, "peak_in": 0, "n": 0, "episodes": 0, "stray": 0, "spanning": 0, "missed_by": {}}
        for n in names
    }
    files = sorted((root / "signal_data").glob("RMS_healthy_P*_34p81hz_processed_cleaned.csv"))
    faults = 0
    for path in files:
        pid = path.name.split("_")[2]
        table = np.genfromtxt(
            root / "label_data" / f"peaks_{pid}_interactive_final.csv",
            delimiter=",",
            names=True,
            dtype=None,
            encoding="utf-8",
        )
        peaks_s = [int(i) / TUM_RATE_HZ for i in np.atleast_1d(table["peak_index"])]
        windows = [(p - TUM_WINDOW_S[0], p + TUM_WINDOW_S[1]) for p in peaks_s]
        rec = read_recording(path, rate_hz=TUM_RATE_HZ, columns=[0])
        x = to_counts(rec.channels[0], rec.units, "env", rec.rate_hz)
        ours = replay(rec, "env", None)
        faults += sum(e.kind == "fault" for e in ours)
        found = {"ours": spans(ours)}
        # Some envelopes rest far above 0 (P3 at ~40 % of its grasp peaks), which a floor-multiple threshold
        # cannot cross; the variant subtracts the recording's 5th percentile (offline, label-free) first.
        offset = int(np.percentile(x, OFFSET_PERCENTILE))
        found[OFFSET_VARIANT] = spans(replay(rec, "env", {"env_offset": offset}))
        if "nk2 (env)" in names:
            found["nk2 (env)"] = peers.nk2_env(x.astype(np.float64), rec.rate_hz)
        for n in names:
            hit, stray = score_windows(found[n], windows)
            t = tot[n]
            t["hit"] += hit
            t["n"] += len(windows)
            t["peak_in"] += contains_peak(found[n], peaks_s)
            t["episodes"] += len(found[n])
            t["stray"] += stray
            t["spanning"] += spanning(found[n], windows)
            if hit < len(windows):
                t["missed_by"][pid] = len(windows) - hit
    lines = [
        f"TUM exoskeleton ({len(files)} participants, RMS envelope at {TUM_RATE_HZ:g} Hz, ENV mode, units au;"
        " a grasp is detected when an episode overlaps peak -0.5 s ... +0.8 s):",
        "  detector                 grasps detected   peak in an episode  episodes  without a grasp"
        "  with 2+ grasps  missed grasps by participant",
    ]
    for n in names:
        t = tot[n]
        missed = ", ".join(f"{p} {k}" for p, k in sorted(t["missed_by"].items(), key=lambda kv: -kv[1]))
        lines.append(
            f"  {n:20s}  {_pct(t['hit'], t['n']):>18s}  {_pct(t['peak_in'], t['n']):>19s}  "
            f"{t['episodes']:>8d}  {t['stray']:>15d}  {t['spanning']:>14d}  {missed}"
        )
    lines.append(
        f"  ({OFFSET_VARIANT}: env_offset = the recording's {OFFSET_PERCENTILE}th percentile; nk2 (env): "
        "NeuroKit2's emg_activation, default threshold method, on the envelope counts)"
    )
    lines.append(f"  our sensor-fault events (none expected): {faults}")
    return lines, tot


def emggo(with_peers: bool) -> tuple[list[str], dict]:
    rec = read_recording(DATA / "emgGO" / "ecg_contaminated.mat")
    rec = decimate(rec, 2)
    names = ["ours", *raw_peer_names(with_peers)]
    found, faults = detector_episodes(rec, "raw", names[1:])
    lines = [
        f"emgGO ECG-contaminated ({len(rec.indices)} channels, {rec.duration_s:.1f} s, decimated to "
        f"{rec.rate_hz:g} Hz, RAW, units {rec.units}; no spasm present: every episode is a false alarm):",
        "  detector       episodes per channel (ch0..ch7)   total   episode time",
    ]
    out = {}
    for n in names:
        if "error" in found[n]:
            lines.append(f"  {n:13s}  n/a: {found[n]['error']}")
            continue
        counts = [len(found[n][ch]) for ch in rec.indices]
        covered = sum(off - on for eps in found[n].values() for on, off in eps)
        out[n] = {"per_channel": counts, "covered_s": covered}
        lines.append(
            f"  {n:13s}  {' '.join(f'{c:3d}' for c in counts):>31s}  {sum(counts):>6d}  "
            f"{covered / (rec.duration_s * len(rec.indices)):.0%} of the channel time"
        )
    lines.append(f"  our sensor-fault events (none expected): {faults}")
    out["ours_faults"] = faults  # type: ignore[assignment]
    return lines, out


def main_report(with_peers: bool = True, quick: bool = False) -> dict:
    """Print the real-recording checks; returns their figures (empty when the data folder is absent)."""
    if not DATA.is_dir():
        print(f"real recordings: skipped ({DATA} not found; see docs/accuracy.md)")
        return {}
    out: dict = {}
    for name, fn in (("myo", myo), ("tum", tum), ("emggo", emggo)):
        if not (DATA / {"myo": "myo_readings", "tum": "tum_ics_exo", "emggo": "emgGO"}[name]).is_dir():
            print(f"{name}: skipped (folder not found)")
            continue
        lines, out[name] = fn(with_peers)
        print("\n".join(lines))
        print()
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-peers", action="store_true", help="only our detector")
    args = ap.parse_args()
    main_report(with_peers=not args.no_peers)
