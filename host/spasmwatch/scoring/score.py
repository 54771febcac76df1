"""Episode scoring: compares detected events with ground-truth intervals, per channel and pooled.

Definitions (all times in seconds, per channel; an event only ever matches truth on its own channel):

- A *truth spasm* is a truth interval of kind tonic, clonus, jerk or cramp; a *truth fault* has kind fault.
- A *detected episode* is an event of kind twitch, tonic or clonus; a *fault event* has kind fault.
- Overlap with tolerance: an event [on, off] overlaps a truth interval [t_on, t_off] when
  ``on <= t_off + tol and off >= t_on - tol`` (touching counts).
- Pairing is one-to-one: an episode finds one truth spasm at most and a truth spasm is found by one episode
  at most (``matching.pair``: a maximum matching of the overlapping pairs, largest overlap first). So one
  episode over a whole recording with N spasms finds one of them: sensitivity 1/N, not 1.
- A truth spasm is *detected* when it is paired. ``precision`` = paired episodes / all episodes; ``f1`` is the
  harmonic mean of sensitivity and precision.
- A *false alarm* (false event) is an episode of any kind, twitches included, overlapping no truth spasm,
  also when it lies inside a truth fault (``false_alarms_in_faults`` counts that subset). A short twitch is
  not excused for being short: ``false_alarms_by_kind`` breaks the count down by the episode's label
  (twitch, tonic, clonus) and ``false_alarms_per_rest_hour_by_kind`` gives each per hour of rest.
- ``surplus`` = episodes that overlap a truth spasm but are left unpaired (the extra pieces of a split
  contraction); neither found nor false, they lower precision.
- *Split* contractions: truth spasms overlapped by two or more episodes (``split``, ``split_pct`` of all
  truth spasms; ``fragments`` = the episodes beyond the first). *Merged* contractions: truth spasms that
  share an overlapping episode with another truth spasm (``merged``, ``merged_pct`` of all truth spasms;
  ``merging_episodes`` = episodes overlapping two or more). ``longest_episode_s`` is the longest episode,
  ``longest_truth_s`` the longest truth spasm, for comparison.
- Onset error = onset of the paired episode - truth onset; offset error = its offset - truth offset;
  latency = its ``detected_s`` - truth onset. Reported in ms: median and 95th percentile of the absolute
  error, signed median; for latency the median and 95th percentile of the signed value.
- Kind: each detected truth spasm takes the label of its paired episode. Correct labels: clonus -> clonus;
  jerk -> twitch; tonic or cramp -> tonic or clonus.
- Faults: a truth fault is *found* when a fault event overlaps it; ``false_faults`` are fault events
  overlapping no truth fault.
- Rates: per hour of recording (``duration_s``) and false alarms also per hour of rest (duration minus the
  union of truth spasm time). Pooled rates are per channel-hour (duration times the number of channels).

Undefined values (a ratio with a zero denominator, statistics of no values) are ``None`` (JSON ``null``),
never NaN and never an exception. Percentiles use linear interpolation between order statistics (the
numpy default).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from spasmcore.events import EPISODE_KINDS, Event, TruthInterval

# Split by job: matching (overlaps), this module (counts and scores), table (text, imports this module). The
# matching names stay importable from here.
from spasmwatch.scoring.matching import CORRECT_LABELS as CORRECT_LABELS
from spasmwatch.scoring.matching import DEFAULT_TOLERANCE_S as DEFAULT_TOLERANCE_S
from spasmwatch.scoring.matching import FAULT_KIND as FAULT_KIND
from spasmwatch.scoring.matching import SPASM_KINDS as SPASM_KINDS
from spasmwatch.scoring.matching import Matching as Matching
from spasmwatch.scoring.matching import _overlaps as _overlaps
from spasmwatch.scoring.matching import match as match


def percentile(values: Sequence[float], q: float) -> float | None:
    """q-th percentile (0..100) with linear interpolation between order statistics; None for no values."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in 0..100, got {q}")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def _pct(num: float, den: float) -> float | None:
    return 100.0 * num / den if den > 0 else None


def _ms(value: float | None) -> float | None:
    return None if value is None else value * 1000.0


def _union_length(intervals: Iterable[tuple[float, float]], lo: float, hi: float) -> float:
    """Total length of the union of intervals clipped to [lo, hi]."""
    total, end = 0.0, lo
    for a, b in sorted((max(a, lo), min(b, hi)) for a, b in intervals):
        if b <= a or b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


@dataclass
class _Tally:
    """Counts and error samples of one channel; pooled scores add tallies, then finish them the same way."""

    channels: int = 0
    duration_s: float = 0.0
    rest_s: float = 0.0
    truth_spasms: int = 0
    truth_detected: int = 0
    episodes: int = 0
    matched_episodes: int = 0
    false_alarms: int = 0
    false_alarms_in_faults: int = 0
    false_by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EPISODE_KINDS, 0))
    surplus: int = 0
    fragments: int = 0
    split: int = 0
    merged: int = 0
    merging_episodes: int = 0
    longest_episode_s: float = 0.0
    longest_truth_s: float = 0.0
    truth_faults: int = 0
    faults_found: int = 0
    fault_events: int = 0
    false_faults: int = 0
    onset_err: list[float] = field(default_factory=list)
    offset_err: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, other: _Tally) -> None:
        for name, value in vars(other).items():
            if name == "confusion":
                for tk, row in value.items():
                    mine = self.confusion.setdefault(tk, {})
                    for label, n in row.items():
                        mine[label] = mine.get(label, 0) + n
            elif name.startswith("longest_"):
                setattr(self, name, max(getattr(self, name), value))
            elif name == "false_by_kind":
                for kind, n in value.items():
                    self.false_by_kind[kind] = self.false_by_kind.get(kind, 0) + n
            else:
                setattr(self, name, getattr(self, name) + value)


def _tally(m: Matching, duration_s: float) -> _Tally:
    t = _Tally(channels=1, duration_s=duration_s)
    t.rest_s = duration_s - _union_length(((s.onset_s, s.offset_s) for s in m.spasms), 0.0, duration_s)
    t.truth_spasms = len(m.spasms)
    t.episodes = len(m.episodes)
    t.truth_faults = len(m.faults)
    t.fault_events = len(m.fault_events)
    t.faults_found = sum(1 for h in m.fault_hits if h)
    t.false_faults = sum(1 for f in m.fault_event_faults if not f)
    t.merging_episodes = sum(1 for s in m.episode_spasms if len(s) > 1)
    t.merged = len(m.merged)
    t.split = len(m.split)
    t.fragments = sum(len(h) - 1 for h in m.hits if h)
    t.longest_episode_s = float(max((e.offset_s - e.onset_s for e in m.episodes), default=0.0))
    t.longest_truth_s = float(max((x.offset_s - x.onset_s for x in m.spasms), default=0.0))
    for j, s in enumerate(m.episode_spasms):
        if m.pair_of_episode[j] is not None:
            t.matched_episodes += 1
        elif s:
            t.surplus += 1
        else:
            t.false_alarms += 1
            t.false_alarms_in_faults += bool(m.episode_faults[j])
            kind = m.episodes[j].kind
            t.false_by_kind[kind] = t.false_by_kind.get(kind, 0) + 1
    for i, paired in enumerate(m.pair_of_truth):
        if paired is None:
            continue
        truth, e = m.spasms[i], m.episodes[paired]
        t.truth_detected += 1
        t.onset_err.append(e.onset_s - truth.onset_s)
        t.offset_err.append(e.offset_s - truth.offset_s)
        t.latency.append(e.detected_s - truth.onset_s)
        row = t.confusion.setdefault(truth.kind, {})
        row[e.kind] = row.get(e.kind, 0) + 1
    return t


@dataclass(frozen=True)
class Scores:
    """Episode-level scores of one channel (``channel`` set) or pooled over channels (``channel`` None)."""

    channel: int | None
    channels: int
    tolerance_ms: float
    duration_s: float
    rest_s: float
    truth_spasms: int
    truth_detected: int
    missed: int
    episodes: int
    matched_episodes: int
    false_alarms: int
    false_alarms_in_faults: int
    sensitivity: float | None
    precision: float | None
    f1: float | None
    false_alarms_per_hour: float | None
    false_alarms_per_rest_hour: float | None
    false_alarms_by_kind: dict[str, int]  # episode label -> false alarms (twitch, tonic, clonus)
    false_alarms_per_rest_hour_by_kind: dict[str, float | None]
    surplus: int
    fragments: int
    split: int
    split_pct: float | None
    merged: int
    merged_pct: float | None
    merging_episodes: int
    longest_episode_s: float
    longest_truth_s: float
    onset_abs_median_ms: float | None
    onset_abs_p95_ms: float | None
    onset_signed_median_ms: float | None
    offset_abs_median_ms: float | None
    offset_abs_p95_ms: float | None
    offset_signed_median_ms: float | None
    latency_median_ms: float | None
    latency_p95_ms: float | None
    kind_correct: int
    kind_accuracy: float | None
    kind_accuracy_by_truth: dict[str, float | None]
    confusion: dict[str, dict[str, int]]  # truth kind -> detected label -> count (detected truth spasms)
    truth_faults: int
    faults_found: int
    fault_sensitivity: float | None
    fault_events: int
    false_faults: int
    truth_spasms_per_hour: float | None
    detected_per_hour: float | None
    per_channel: list[Scores] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict (None for undefined values); per_channel entries are dicts too."""
        return asdict(self)


def _finish(t: _Tally, channel: int | None, tolerance_s: float, per_channel: list[Scores]) -> Scores:
    hours = t.duration_s / 3600.0
    sens = _ratio(t.truth_detected, t.truth_spasms)
    prec = _ratio(t.matched_episodes, t.episodes)
    f1 = None
    if sens is not None and prec is not None:
        f1 = 2 * sens * prec / (sens + prec) if sens + prec > 0 else 0.0
    abs_on = [abs(x) for x in t.onset_err]
    abs_off = [abs(x) for x in t.offset_err]
    correct = 0
    by_truth: dict[str, float | None] = {}
    for kind in SPASM_KINDS:
        row = t.confusion.get(kind, {})
        ok = sum(n for label, n in row.items() if label in CORRECT_LABELS[kind])
        correct += ok
        by_truth[kind] = _ratio(ok, sum(row.values()))
    return Scores(
        channel=channel,
        channels=t.channels,
        tolerance_ms=tolerance_s * 1000.0,
        duration_s=t.duration_s,
        rest_s=t.rest_s,
        truth_spasms=t.truth_spasms,
        truth_detected=t.truth_detected,
        missed=t.truth_spasms - t.truth_detected,
        episodes=t.episodes,
        matched_episodes=t.matched_episodes,
        false_alarms=t.false_alarms,
        false_alarms_in_faults=t.false_alarms_in_faults,
        sensitivity=sens,
        precision=prec,
        f1=f1,
        false_alarms_per_hour=_ratio(t.false_alarms, hours),
        false_alarms_per_rest_hour=_ratio(t.false_alarms, t.rest_s / 3600.0),
        false_alarms_by_kind=dict(t.false_by_kind),
        false_alarms_per_rest_hour_by_kind={
            k: _ratio(n, t.rest_s / 3600.0) for k, n in t.false_by_kind.items()
        },
        surplus=t.surplus,
        fragments=t.fragments,
        split=t.split,
        split_pct=_pct(t.split, t.truth_spasms),
        merged=t.merged,
        merged_pct=_pct(t.merged, t.truth_spasms),
        merging_episodes=t.merging_episodes,
        longest_episode_s=t.longest_episode_s,
        longest_truth_s=t.longest_truth_s,
        onset_abs_median_ms=_ms(percentile(abs_on, 50)),
        onset_abs_p95_ms=_ms(percentile(abs_on, 95)),
        onset_signed_median_ms=_ms(percentile(t.onset_err, 50)),
        offset_abs_median_ms=_ms(percentile(abs_off, 50)),
        offset_abs_p95_ms=_ms(percentile(abs_off, 95)),
        offset_signed_median_ms=_ms(percentile(t.offset_err, 50)),
        latency_median_ms=_ms(percentile(t.latency, 50)),
        latency_p95_ms=_ms(percentile(t.latency, 95)),
        kind_correct=correct,
        kind_accuracy=_ratio(correct, t.truth_detected),
        kind_accuracy_by_truth=by_truth,
        confusion={k: dict(sorted(v.items())) for k, v in sorted(t.confusion.items())},
        truth_faults=t.truth_faults,
        faults_found=t.faults_found,
        fault_sensitivity=_ratio(t.faults_found, t.truth_faults),
        fault_events=t.fault_events,
        false_faults=t.false_faults,
        truth_spasms_per_hour=_ratio(t.truth_spasms, hours),
        detected_per_hour=_ratio(t.episodes, hours),
        per_channel=per_channel,
    )


def score(
    events: Iterable[Event],
    truth: Iterable[TruthInterval],
    duration_s: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    channels: Iterable[int] | None = None,
) -> Scores:
    """Score events against truth over a recording of ``duration_s`` seconds; returns pooled Scores.

    ``channels`` selects the channels scored (events and truth on other channels are ignored); by default
    every channel that appears in events or truth, or channel 0 when both are empty, so an empty recording
    still has a defined false-alarm rate of 0 per hour. Each channel counts ``duration_s`` towards the pooled
    channel-hours. Raises ValueError on unknown kinds or a negative duration or tolerance.
    """
    if not duration_s >= 0:
        raise ValueError(f"duration must be >= 0 s, got {duration_s}")
    if not tolerance_s >= 0:
        raise ValueError(f"tolerance must be >= 0 s, got {tolerance_s}")
    duration_s = float(duration_s)
    events, truth = list(events), list(truth)
    if channels is None:
        chans = sorted({e.channel for e in events} | {t.channel for t in truth}) or [0]
    else:
        chans = sorted(set(channels))
    pooled = _Tally()
    per_channel = []
    for ch in chans:
        m = match([e for e in events if e.channel == ch], [t for t in truth if t.channel == ch], tolerance_s)
        tally = _tally(m, duration_s)
        per_channel.append(_finish(tally, ch, tolerance_s, []))
        pooled.add(tally)
    return _finish(pooled, None, tolerance_s, per_channel)


def score_many(recordings: Iterable[tuple[list[Event], list[TruthInterval], float, Iterable[int]]],
               tolerance_s: float = DEFAULT_TOLERANCE_S) -> Scores:
    """Pooled Scores over several recordings (events, truth, duration s, channels): each recording's channels
    are matched on their own and count their own duration, then tallied together as `score` pools channels.
    `per_channel` holds one Scores per recording and channel, in order."""
    pooled = _Tally()
    per_channel = []
    for events, truth, duration_s, channels in recordings:
        for ch in sorted(set(channels)):
            m = match([e for e in events if e.channel == ch], [t for t in truth if t.channel == ch], tolerance_s)
            tally = _tally(m, float(duration_s))
            per_channel.append(_finish(tally, ch, tolerance_s, []))
            pooled.add(tally)
    return _finish(pooled, None, tolerance_s, per_channel)
