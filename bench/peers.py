"""Peer EMG activity detectors (NeuroKit2, BioSPPy Bonato and Solnik) as episode lists, for bench/accuracy.py.

Each peer takes a float signal (ADC counts minus the mid-rail 2048 for RAW, the counts as they are for an
envelope) and returns episodes as (onset_s, offset_s) pairs. Setup, as documented in docs/accuracy.md:

- ``nk2``: ``neurokit2.emg_process(signal, sampling_rate)`` with its defaults (BioSPPy-style cleaning:
  4th-order 100 Hz Butterworth high-pass; amplitude = TKEO + linear envelope; activity = amplitude above 1/10
  of its own standard deviation over the whole recording, runs shorter than 50 ms dropped); episodes are the
  runs of 1 in the ``EMG_Activity`` column. ``emg_process`` itself spends ~3.5 s per minute of 1 kHz signal
  in a pandas per-sample loop that only copies that column, so we call the same NeuroKit2 steps it calls and
  build the column from their output (``tests/test_accuracy_bench.py`` checks that both give the same column).
- ``bonato`` / ``solnik``: ``biosppy.signals.emg.bonato_onset_detector`` / ``solnik_onset_detector`` on the
  signal filtered as ``biosppy.signals.emg.emg()`` does (4th-order Butterworth high-pass at 100 Hz, or 0.4 x
  the sample rate when that is below 100 Hz), with the first ``rest_s`` seconds as the rest period. BioSPPy
  has no defaults for their parameters; ours are in ``BONATO`` and ``SOLNIK`` below. BioSPPy returns onsets
  and offsets interleaved in one sorted array; an onset without an offset runs to the end of the signal.
- ``+merge`` variants: the same episodes with gaps < 0.5 s closed and episodes < 0.1 s dropped (our
  detector's min_off_ms / min_dur_ms), labelled as such in the table.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable

import numpy as np

from spasmcore.events import Event

Episodes = list[tuple[float, float]]
MID_RAIL = 2048

# Bonato et al. (1998): test function g = (x[k-1]^2 + x[k]^2) / var(rest) on sample pairs, threshold 7.74,
# an active state must last 30 ms; BioSPPy counts that duration in sample pairs. r0 = 1 of m = 5 maps to
# samples_above_fail / fail_size.
BONATO = {"threshold": 7.74, "active_s": 0.030, "samples_above_fail": 1, "fail_size": 5}
# Solnik et al. (2010): |TKEO| against mean + j * SD of the rest period's |TKEO|, active state 25 samples.
# The rest statistics are given in the TKEO domain (BioSPPy's dict form of `rest=`): its array form takes
# them from the filtered signal itself, whose units (counts) differ from the TKEO's (counts^2).
SOLNIK = {"threshold": 15.0, "active_samples": 25}
MERGE_GAP_S = 0.5
MERGE_MIN_S = 0.1


def installed() -> dict[str, bool]:
    """Which optional peer packages import."""
    return {name: importlib.util.find_spec(name) is not None for name in ("neurokit2", "biosppy")}


def counts_to_float(counts: np.ndarray, mode: str) -> np.ndarray:
    """What the peers see: RAW counts around zero (minus mid-rail), envelope counts as they are."""
    x = np.asarray(counts, dtype=np.float64)
    return x - MID_RAIL if mode == "raw" else x


def runs(active: np.ndarray, rate_hz: float) -> Episodes:
    """Runs of nonzero samples as (onset_s, offset_s), offset exclusive."""
    a = np.concatenate([[0], (np.asarray(active) != 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(a))
    return [(s / rate_hz, e / rate_hz) for s, e in zip(edges[0::2], edges[1::2], strict=True)]


def pair_transitions(indices: np.ndarray, n: int, rate_hz: float) -> Episodes:
    """BioSPPy's interleaved onset/offset indices -> episodes; a trailing onset runs to the end."""
    idx = [int(i) for i in np.sort(np.asarray(indices, dtype=np.int64))]
    if len(idx) % 2:
        idx.append(n)
    return [(a / rate_hz, b / rate_hz) for a, b in zip(idx[0::2], idx[1::2], strict=True)]


def merge(episodes: Episodes, gap_s: float = MERGE_GAP_S, min_s: float = MERGE_MIN_S) -> Episodes:
    """Close gaps shorter than gap_s, then drop episodes shorter than min_s (our detector's rules)."""
    out: Episodes = []
    for on, off in sorted(episodes):
        if out and on - out[-1][1] < gap_s:
            out[-1] = (out[-1][0], max(out[-1][1], off))
        else:
            out.append((on, off))
    return [(on, off) for on, off in out if off - on >= min_s]


# ----------------------------------------------------------------------------------------------- NeuroKit2


def nk2_amplitude(cleaned: np.ndarray, rate_hz: float) -> np.ndarray:
    """nk.emg_amplitude as emg_process calls it: with the sample rate where this NeuroKit2 takes one (0.3 does;
    its linear-envelope window depends on it, and the default is 1000 Hz)."""
    import inspect

    import neurokit2 as nk

    if "sampling_rate" in inspect.signature(nk.emg_amplitude).parameters:
        return np.asarray(nk.emg_amplitude(cleaned, sampling_rate=rate_hz))
    return np.asarray(nk.emg_amplitude(cleaned))


def nk2_activity(x: np.ndarray, rate_hz: float) -> np.ndarray:
    """The EMG_Activity column of nk.emg_process(x, rate_hz), built from the steps emg_process runs."""
    import neurokit2 as nk

    # The module, not the function of the same name that neurokit2.emg exports.
    act = importlib.import_module("neurokit2.emg.emg_activation")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cleaned = nk.emg_clean(x, sampling_rate=rate_hz)
        amplitude = nk2_amplitude(cleaned, rate_hz)
        binary = act._emg_activation_threshold(amplitude, threshold="default")
        info = act._emg_activation_activations(binary, duration_min=int(0.05 * rate_hz))
    column = np.zeros(len(x), dtype=np.int8)
    column[np.asarray(info["EMG_Activity"], dtype=np.int64)] = 1
    return column


def nk2_activity_reference(x: np.ndarray, rate_hz: float) -> np.ndarray:
    """The same column from nk.emg_process itself (slow: for the equivalence test)."""
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signals, _ = nk.emg_process(x, sampling_rate=rate_hz)
    return signals["EMG_Activity"].to_numpy().astype(np.int8)


def nk2(x: np.ndarray, rate_hz: float, rest_s: float = 0.0) -> Episodes:
    return runs(nk2_activity(x, rate_hz), rate_hz)


def nk2_env(x: np.ndarray, rate_hz: float, rest_s: float = 0.0) -> Episodes:
    """NeuroKit2's activation step alone (default threshold method) on an envelope that needs no cleaning."""
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signals, _ = nk.emg_activation(emg_amplitude=x, sampling_rate=rate_hz)
    return runs(signals["EMG_Activity"].to_numpy(), rate_hz)


# ----------------------------------------------------------------------------------------------- BioSPPy


def biosppy_filter(x: np.ndarray, rate_hz: float) -> np.ndarray:
    """biosppy.signals.emg.emg()'s filter: 4th-order Butterworth high-pass at 100 Hz (0.4 fs if lower)."""
    from biosppy.signals import tools

    corner = min(100.0, 0.4 * rate_hz)
    filtered, _, _ = tools.filter_signal(
        signal=x, ftype="butter", band="highpass", order=4, frequency=corner, sampling_rate=float(rate_hz)
    )
    return np.asarray(filtered, dtype=np.float64)


def bonato(x: np.ndarray, rate_hz: float, rest_s: float = 3.0) -> Episodes:
    from biosppy.signals import emg

    f = biosppy_filter(x, rate_hz)
    rest = f[: max(int(rest_s * rate_hz), 3)]
    out = emg.bonato_onset_detector(
        signal=f,
        rest=rest,
        sampling_rate=float(rate_hz),
        threshold=BONATO["threshold"],
        active_state_duration=max(1, round(BONATO["active_s"] * rate_hz / 2)),
        samples_above_fail=BONATO["samples_above_fail"],
        fail_size=BONATO["fail_size"],
    )
    return pair_transitions(out["onsets"], len(f), rate_hz)


def tkeo_abs(x: np.ndarray) -> np.ndarray:
    """|x[k]^2 - x[k+1] x[k-1]| as BioSPPy's Solnik test function computes it."""
    return np.abs(x[1:-1] ** 2 - x[2:] * x[:-2])


def solnik(x: np.ndarray, rate_hz: float, rest_s: float = 3.0) -> Episodes:
    from biosppy.signals import emg

    f = biosppy_filter(x, rate_hz)
    rest = f[: max(int(rest_s * rate_hz), 3)]
    energy = tkeo_abs(rest - rest.mean())
    out = emg.solnik_onset_detector(
        signal=f,
        rest={"mean": float(energy.mean()), "std_dev": float(energy.std(ddof=1))},
        sampling_rate=float(rate_hz),
        threshold=SOLNIK["threshold"],
        active_state_duration=SOLNIK["active_samples"],
    )
    return pair_transitions(out["onsets"], len(f), rate_hz)


# ----------------------------------------------------------------------------------------------- registry

PeerFn = Callable[[np.ndarray, float, float], Episodes]
RAW_PEERS: dict[str, tuple[str, PeerFn]] = {
    "nk2": ("neurokit2", nk2),
    "bonato": ("biosppy", bonato),
    "solnik": ("biosppy", solnik),
}


def available_peers() -> list[str]:
    have = installed()
    return [name for name, (pkg, _) in RAW_PEERS.items() if have[pkg]]


def to_events(episodes: Episodes, channel: int = 0) -> list[Event]:
    """Episodes -> scorer Events. Peers give no kind and work offline: kind tonic, detected at onset."""
    return [
        Event(
            channel=channel,
            kind="tonic",
            onset_s=on,
            offset_s=off,
            detected_s=on,
            duration_s=off - on,
            peak=0.0,
            mean=0.0,
            peak_x=0.0,
            mean_x=0.0,
        )
        for on, off in episodes
    ]


def run_peer(
    name: str,
    counts: np.ndarray,
    rate_hz: float,
    mode: str = "raw",
    rest_s: float = 3.0,
    merged: bool = False,
    channel: int = 0,
) -> list[Event]:
    """Run one raw-EMG peer over ADC counts (optionally with our merge rules) and return scorer Events."""
    _, fn = RAW_PEERS[name]
    episodes = fn(counts_to_float(counts, mode), rate_hz, rest_s)
    return to_events(merge(episodes) if merged else episodes, channel)
