"""Episode matching: which detected events overlap which truth intervals (definitions in spasmwatch.scoring)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from spasmcore.events import EPISODE_KINDS, Event, TruthInterval

SPASM_KINDS = ("tonic", "clonus", "jerk", "cramp")
FAULT_KIND = "fault"
DEFAULT_TOLERANCE_S = 0.1

# Detected labels that count as correct for each truth kind.
CORRECT_LABELS: dict[str, tuple[str, ...]] = {
    "clonus": ("clonus",),
    "jerk": ("twitch",),
    "tonic": ("tonic", "clonus"),
    "cramp": ("tonic", "clonus"),
}


@dataclass(frozen=True)
class Matching:
    """Which events overlap which truth intervals; indices refer to the lists held here."""

    tolerance_s: float
    spasms: list[TruthInterval]  # truth spasms, input order
    episodes: list[Event]  # detected episodes, input order
    hits: list[tuple[int, ...]]  # per truth spasm: overlapping episode indices, by episode onset
    episode_spasms: list[tuple[int, ...]]  # per episode: overlapped truth spasm indices
    faults: list[TruthInterval]  # truth faults
    fault_events: list[Event]  # detected fault events
    fault_hits: list[tuple[int, ...]]  # per truth fault: overlapping fault event indices
    episode_faults: list[tuple[int, ...]]  # per episode: overlapped truth fault indices
    fault_event_faults: list[tuple[int, ...]]  # per fault event: overlapped truth fault indices

    @property
    def detected(self) -> list[int]:
        """Indices of truth spasms overlapped by at least one episode."""
        return [i for i, h in enumerate(self.hits) if h]

    @property
    def missed(self) -> list[int]:
        return [i for i, h in enumerate(self.hits) if not h]

    @property
    def false_alarms(self) -> list[int]:
        """Indices of episodes overlapping no truth spasm."""
        return [j for j, s in enumerate(self.episode_spasms) if not s]


def _overlaps(
    events: Sequence[Event], truth: Sequence[TruthInterval], tol: float
) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """Overlap lists both ways (truth -> events, events -> truth), same channel only.

    Sweep instead of all pairs: events sorted by onset with a running maximum of their offsets, so each truth
    interval scans back only over candidates (hours of simulated recording have thousands of events).
    """
    by_truth: list[list[int]] = [[] for _ in truth]
    by_event: list[list[int]] = [[] for _ in events]
    channels: dict[int, list[int]] = {}
    for j, ev in enumerate(events):
        channels.setdefault(ev.channel, []).append(j)
    for idx in channels.values():
        idx.sort(key=lambda j: (events[j].onset_s, j))
    prefix: dict[int, tuple[list[float], list[float]]] = {}
    for ch, idx in channels.items():
        onsets = [events[j].onset_s for j in idx]
        running, top = [], -math.inf
        for j in idx:
            # An open or inverted event (offset before onset) is treated as the instant at its onset.
            top = max(top, events[j].offset_s, events[j].onset_s)
            running.append(top)
        prefix[ch] = (onsets, running)
    for i, t in enumerate(truth):
        if t.channel not in channels:
            continue
        idx = channels[t.channel]
        onsets, running = prefix[t.channel]
        k = bisect.bisect_right(onsets, t.offset_s + tol) - 1
        found = []
        while k >= 0 and running[k] >= t.onset_s - tol:
            ev = events[idx[k]]
            if max(ev.offset_s, ev.onset_s) >= t.onset_s - tol:
                found.append(idx[k])
            k -= 1
        found.sort(key=lambda j: (events[j].onset_s, j))
        by_truth[i] = found
        for j in found:
            by_event[j].append(i)
    return [tuple(x) for x in by_truth], [tuple(sorted(x)) for x in by_event]


def match(
    events: Iterable[Event], truth: Iterable[TruthInterval], tolerance_s: float = DEFAULT_TOLERANCE_S
) -> Matching:
    """Match events to truth intervals (see the module docstring); ValueError on unknown kinds."""
    if not tolerance_s >= 0:
        raise ValueError(f"tolerance must be >= 0 s, got {tolerance_s}")
    episodes, fault_events, spasms, faults = [], [], [], []
    for ev in events:
        if ev.kind in EPISODE_KINDS:
            episodes.append(ev)
        elif ev.kind == FAULT_KIND:
            fault_events.append(ev)
        else:
            raise ValueError(f"unknown event kind {ev.kind!r} (expected {', '.join(EPISODE_KINDS)} or fault)")
    for t in truth:
        if t.kind in SPASM_KINDS:
            spasms.append(t)
        elif t.kind == FAULT_KIND:
            faults.append(t)
        else:
            raise ValueError(f"unknown truth kind {t.kind!r} (expected {', '.join(SPASM_KINDS)} or fault)")
    hits, episode_spasms = _overlaps(episodes, spasms, tolerance_s)
    _, episode_faults = _overlaps(episodes, faults, tolerance_s)
    fault_hits, fault_event_faults = _overlaps(fault_events, faults, tolerance_s)
    return Matching(
        tolerance_s=tolerance_s,
        spasms=spasms,
        episodes=episodes,
        hits=hits,
        episode_spasms=episode_spasms,
        faults=faults,
        fault_events=fault_events,
        fault_hits=fault_hits,
        episode_faults=episode_faults,
        fault_event_faults=fault_event_faults,
    )
