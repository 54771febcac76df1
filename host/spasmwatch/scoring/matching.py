"""Episode matching: overlaps of events and truth intervals, and their one-to-one pairing."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from spasmcore import kinds
from spasmcore.events import Event, TruthInterval

# The kinds table's (spasmcore.kinds): truth spasm kinds, and the detected labels that count as correct for each.
SPASM_KINDS = kinds.spasm_truth_names()
FAULT_KIND = kinds.FAULT
CORRECT_LABELS: dict[str, tuple[str, ...]] = kinds.correct_labels()
DEFAULT_TOLERANCE_S = 0.1


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
    # One-to-one pairing: per truth spasm its episode, per episode its truth spasm (None: unpaired).
    pair_of_truth: list[int | None]
    pair_of_episode: list[int | None]

    @property
    def detected(self) -> list[int]:
        """Indices of truth spasms paired with an episode (one episode finds one truth spasm at most)."""
        return [i for i, j in enumerate(self.pair_of_truth) if j is not None]

    @property
    def missed(self) -> list[int]:
        return [i for i, j in enumerate(self.pair_of_truth) if j is None]

    @property
    def split(self) -> list[int]:
        """Truth spasms overlapped by two or more episodes (one contraction reported in pieces)."""
        return [i for i, h in enumerate(self.hits) if len(h) > 1]

    @property
    def merged(self) -> list[int]:
        """Truth spasms sharing an overlapping episode with another truth spasm (contractions run together)."""
        return sorted({i for s in self.episode_spasms if len(s) > 1 for i in s})

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


def _overlap_len(ev: Event, t: TruthInterval) -> float:
    return min(ev.offset_s, t.offset_s) - max(ev.onset_s, t.onset_s)


def _augment(start: int, cands: list[list[int]], of_truth: list[int | None], of_ep: list[int | None]) -> None:
    """Kuhn's augmenting path from an unpaired truth spasm (breadth first, no recursion): when some
    alternating path ends at an unpaired episode, shift the pairs along it, so one more truth is paired."""
    came_from: dict[int, int] = {}  # episode -> the truth spasm that reached it
    queue, head = [start], 0
    while head < len(queue):
        i = queue[head]
        head += 1
        for j in cands[i]:
            if j in came_from:
                continue
            came_from[j] = i
            if of_ep[j] is None:
                while True:  # walk back, re-pairing each truth spasm on the path with the episode it reached
                    i = came_from[j]
                    nxt = of_truth[i]
                    of_truth[i], of_ep[j] = j, i
                    if i == start or nxt is None:
                        return
                    j = nxt
            queue.append(of_ep[j])  # type: ignore[arg-type]  # paired: of_ep[j] is a truth index


def pair(
    episodes: Sequence[Event], spasms: Sequence[TruthInterval], hits: Sequence[tuple[int, ...]]
) -> tuple[list[int | None], list[int | None]]:
    """One-to-one pairs of overlapping truth spasms and episodes: largest overlap first (greedy), then
    augmenting paths until no further truth spasm can be paired (a maximum matching that prefers overlap)."""
    of_truth: list[int | None] = [None] * len(spasms)
    of_ep: list[int | None] = [None] * len(episodes)
    ranked = [(-_overlap_len(episodes[j], spasms[i]), i, j) for i, h in enumerate(hits) for j in h]
    for _, i, j in sorted(ranked):
        if of_truth[i] is None and of_ep[j] is None:
            of_truth[i], of_ep[j] = j, i
    cands = [sorted(h, key=lambda j, i=i: (-_overlap_len(episodes[j], spasms[i]), j))  # type: ignore[misc]
             for i, h in enumerate(hits)]
    for i, h in enumerate(hits):
        if h and of_truth[i] is None:
            _augment(i, cands, of_truth, of_ep)
    return of_truth, of_ep


def match(
    events: Iterable[Event], truth: Iterable[TruthInterval], tolerance_s: float = DEFAULT_TOLERANCE_S
) -> Matching:
    """Match events to truth intervals (see the module docstring); ValueError on unknown kinds."""
    if not tolerance_s >= 0:
        raise ValueError(f"tolerance must be >= 0 s, got {tolerance_s}")
    episodes, fault_events, spasms, faults = [], [], [], []
    episode_kinds, spasm_kinds = kinds.episode_names(), kinds.spasm_truth_names()
    for ev in events:
        if ev.kind in episode_kinds:
            episodes.append(ev)
        elif ev.kind == FAULT_KIND:
            fault_events.append(ev)
        else:
            raise ValueError(f"unknown event kind {ev.kind!r} (expected {', '.join(episode_kinds)} or fault)")
    for t in truth:
        if t.kind in spasm_kinds:
            spasms.append(t)
        elif t.kind == FAULT_KIND:
            faults.append(t)
        else:
            raise ValueError(f"unknown truth kind {t.kind!r} (expected {', '.join(spasm_kinds)} or fault)")
    hits, episode_spasms = _overlaps(episodes, spasms, tolerance_s)
    _, episode_faults = _overlaps(episodes, faults, tolerance_s)
    fault_hits, fault_event_faults = _overlaps(fault_events, faults, tolerance_s)
    of_truth, of_ep = pair(episodes, spasms, hits)
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
        pair_of_truth=of_truth,
        pair_of_episode=of_ep,
    )
