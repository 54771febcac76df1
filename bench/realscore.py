"""One-to-one scores of per-channel episodes against one truth-window list (bench/labelled.py), summed over files.

The episodes of every channel are paired with the windows by spasmwatch.scoring.score's one-to-one matching (an
episode finds one window at most, a window is found by one episode at most, on any channel). A window is
*merged* when an episode overlapping it overlaps another window too; *split* when two or more episodes on
the same channel overlap it. A *false* event is an episode overlapping no window, counted per channel-hour
of background (the file's background time times its channels). Windows touch an episode when
``on <= w_off and off >= w_on`` (no tolerance: the windows carry their own margins).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from spasmcore.events import Event, TruthInterval
from spasmwatch.scoring.score import match

Episode = tuple[float, float, str]  # onset_s, offset_s, kind ("-" for a peer)
Found = dict[int, list[Episode]]  # file channel -> episodes
KINDS = ("twitch", "tonic", "clonus")
# A false event this close to a labelled window (ending before it starts, or starting after it ends) is
# reported apart as `near`: on gesture sets it is mostly the arm moving into or out of the labelled hold, real
# muscle activity just outside the label rather than noise at rest.
NEAR_S = 1.0


def per_hour(n: float, seconds: float) -> float | None:
    return n / (seconds / 3600.0) if seconds > 0 else None


@dataclass
class Tally:
    """One detector's counts over files: windows found, merged and split, false events, background."""

    found: int = 0
    labels: int = 0
    merged: int = 0
    split: int = 0
    false: dict[str, int] = field(default_factory=dict)
    background_s: float = 0.0  # channel-seconds
    episodes: int = 0
    longest_s: float = 0.0
    error: str | None = None
    near: int = 0  # false events within NEAR_S of a window

    @property
    def n_false(self) -> int:
        return sum(self.false.values())

    @property
    def recall(self) -> float | None:
        return self.found / self.labels if self.labels else None

    @property
    def false_per_hour(self) -> float | None:
        return per_hour(self.n_false, self.background_s)

    def add(self, other: Tally) -> None:
        for name in ("found", "labels", "merged", "split", "background_s", "episodes", "near"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.longest_s = max(self.longest_s, other.longest_s)
        for k, n in other.false.items():
            self.false[k] = self.false.get(k, 0) + n

    def to_dict(self) -> dict:
        return {
            "found": self.found,
            "labels": self.labels,
            "recall": self.recall,
            "merged": self.merged,
            "split": self.split,
            "false_events": self.n_false,
            "false_by_kind": dict(self.false),
            "false_near_a_window": self.near,
            "background_channel_s": self.background_s,
            "false_per_channel_hour": self.false_per_hour,
            "episodes": self.episodes,
            "longest_episode_s": self.longest_s,
            "error": self.error,
        }


def score_file(found: Found, windows: list[tuple[float, float]], background_s: float) -> Tally:
    """Pair one file's episodes (all channels) with its windows one-to-one; background_s per channel."""
    flat = [(ch, on, off, kind) for ch, eps in found.items() for on, off, kind in eps]
    events = [Event(0, "tonic", on, off, on, off - on, 0.0, 0.0, 0.0, 0.0) for _, on, off, _ in flat]
    truth = [TruthInterval(0, a, b, "tonic") for a, b in windows]
    m = match(events, truth, 0.0)
    t = Tally(found=len(m.detected), labels=len(windows), merged=len(m.merged), episodes=len(flat),
              background_s=background_s * len(found))
    t.split = sum(1 for h in m.hits if any(n > 1 for n in Counter(flat[j][0] for j in h).values()))
    t.longest_s = max((off - on for _, on, off, _ in flat), default=0.0)
    for j in m.false_alarms:
        _, on, off, kind = flat[j]
        t.false[kind] = t.false.get(kind, 0) + 1
        t.near += any(0 <= on - b <= NEAR_S or 0 <= a - off <= NEAR_S for a, b in windows)
    return t
