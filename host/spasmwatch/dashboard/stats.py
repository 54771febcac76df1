"""Figures over days and weeks: per-day rates over monitored time, clinical-style bands, distributions, compare.

Everything here is derived from the sensor's episodes; the bands borrow the cut-offs of the Penn Spasm
Frequency Scale and of SCATS's clonus item but are not those validated clinical scores (they are rated by a
person, over a day, with a stimulus), and the pages say so.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from spasmcore import kinds
from spasmcore.errors import InputError
from spasmwatch.report.data import merge_spans  # noqa: F401  (re-exported: one definition, used by both)
from spasmwatch.store import Gap, Link, ReadOnlyStore, StoredEvent, day_bounds, split_events
from spasmwatch.store.notes import Note

MIN_BAND_S = 3600.0  # a day's frequency band needs an hour of monitoring (a rate from minutes is a guess)
MAX_DAYS = 400  # a range longer than this is refused: more than a year per page is not readable anyway
# the days a range or a note may name: a recording cannot predate unix time, and a day past 2999 is a typo (at
# the ends of the calendar, year 1 and 9999, local midnight and the next day do not exist as datetimes)
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)
# Penn-Spasm-Frequency-Scale-style bands by spasms per monitored hour (level 1, "only on stimulation", cannot
# be told from a sensor and is never given)
BANDS = ((0, "none"), (2, "< 1/h"), (3, "1–10/h"), (4, "> 10/h"))
CLONUS_CLASSES = ("< 3 s", "3–10 s", "> 10 s")  # SCATS clonus: mild, moderate, severe
# the per-day clinical table's columns, in the range report and on the dashboard alike
DAY_HEADS = ("day", "monitored", "episodes", "per monitored h", "frequency band", "time in spasm",
             "clonus < 3 s", "3–10 s", "> 10 s", "faults", "gaps")
DURATION_EDGES = (0.0, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)  # seconds; the last bin is open-ended
STRENGTH_EDGES = (0.0, 2, 4, 6, 8, 10, 15, 20, 30, 50)  # x resting floor; the last bin is open-ended
SENSOR_NOTE = ("sensor-derived from the detected episodes, not a validated clinical score: the scales they "
               "borrow their bands from are rated by a clinician or the person")
CLINICAL_NOTE = ("Frequency band (Penn-Spasm-Frequency-Scale-style) and clonus duration classes (SCATS-style): "
                 f"{SENSOR_NOTE}. A band needs an hour of monitoring that day.")
OBSERVATIONAL = ("Observational: a difference between two periods can come from the change made, or from "
                 "anything else that changed with it (activity, season, illness, wear time, electrode "
                 "placement, the condition's own course). It does not show that the treatment caused it.")


def penn_band(episodes: int, monitored_s: float | None) -> tuple[int | None, str]:
    """(level, label) of the day's frequency band; (None, reason) with too little monitored time."""
    if monitored_s is None or monitored_s < MIN_BAND_S:
        return None, "too little monitored time"
    if episodes == 0:
        return BANDS[0]
    rate = episodes / (monitored_s / 3600)
    return BANDS[1] if rate < 1 else BANDS[2] if rate <= 10 else BANDS[3]


def clonus_class(duration_s: float) -> int:
    """0, 1, 2 for < 3 s, 3-10 s, > 10 s."""
    return 0 if duration_s < 3 else 1 if duration_s <= 10 else 2


@dataclass
class RangeData:
    """The rows of a range of calendar days [first, last] (times as unix seconds)."""

    first: str
    last: str
    days: list[tuple[str, float, float]]  # (YYYY-MM-DD, start, end)
    episodes: list[StoredEvent] = field(default_factory=list)  # closed, of an episode kind
    open_episodes: list[StoredEvent] = field(default_factory=list)
    faults: list[StoredEvent] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    now: float | None = None

    @property
    def start(self) -> float:
        return self.days[0][1]

    @property
    def end(self) -> float:
        return self.days[-1][2]

    def spans(self, start: float | None = None, end: float | None = None) -> list[tuple[float, float]]:
        stop = self.end if end is None else end
        if self.now is not None:
            stop = min(stop, self.now)
        return merge_spans(self.links, self.start if start is None else start, stop)


def parse_day(text: str) -> date:
    """A YYYY-MM-DD day from FIRST_DAY to LAST_DAY, or InputError saying what is wrong."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise InputError(f"bad day {text[:40]!r}: expected YYYY-MM-DD") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InputError(f"day {text}: expected a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def day_list(first: str, last: str, tz: tzinfo | None = None) -> list[tuple[str, float, float]]:
    a, b = parse_day(first), parse_day(last)
    if b < a:
        raise InputError(f"the range ends ({last}) before it starts ({first})")
    if (b - a).days >= MAX_DAYS:
        raise InputError(f"at most {MAX_DAYS} days at a time ({first} to {last} is {(b - a).days + 1})")
    out = []
    for i in range((b - a).days + 1):
        d = (a + timedelta(days=i)).isoformat()
        s, e = day_bounds(d, tz)
        out.append((d, s.timestamp(), e.timestamp()))
    return out


Clip = tuple[float | None, float | None]  # [from, until) in unix seconds; None: the range's own day boundary


def split_at(t: float) -> tuple[Clip, Clip]:
    """Clips for two periods that meet at the time `t` (a note's exact time, not its day)."""
    return (None, t), (t, None)


def load_range(ro: ReadOnlyStore, first: str, last: str, device: str | None = None, channel: int | None = None,
               tz: tzinfo | None = None, now: float | None = None, clip: Clip = (None, None)) -> RangeData:
    """The rows of the days [first, last]; `clip` cuts the first day's start and the last day's end to a time."""
    lo, hi = clip
    days = [(d, s if lo is None else max(s, lo), e if hi is None else min(e, hi))
            for d, s, e in day_list(first, last, tz)]
    days = [(d, s, e) for d, s, e in days if s < e]  # a day wholly outside the clip is not in the period
    if not days:
        raise InputError(f"{first} to {last} holds no time inside the period asked")
    data = RangeData(first, last, days, now=now)
    data.episodes, data.open_episodes, data.faults = split_events(ro.events(data.start, data.end, device,
                                                                            channel=channel))
    data.gaps = ro.gaps(data.start, data.end, device)
    data.links = ro.links(data.start, data.end, device)
    data.notes = ro.notes(data.start, data.end, device)
    return data


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(eps: list[StoredEvent], monitored_s: float | None) -> dict[str, object]:
    """Counts, rate per monitored hour, time in spasm, medians and kind mix of a set of closed episodes."""
    durs = [e.duration_s or 0.0 for e in eps]
    counts = {k: sum(1 for e in eps if e.kind == k) for k in kinds.episode_names()}
    hours = monitored_s / 3600 if monitored_s else None
    return {
        "episodes": len(eps), "by_kind": counts, "monitored_s": monitored_s,
        "rate_h": len(eps) / hours if hours and monitored_s and monitored_s >= MIN_BAND_S else None,
        "spasm_s": sum(durs),
        "spasm_pct": 100 * sum(durs) / monitored_s if monitored_s else None,
        "median_duration_s": _median(durs),
        "median_peak_x": _median([e.peak_x for e in eps if e.peak_x]),
        "kind_pct": {k: 100 * n / len(eps) for k, n in counts.items()} if eps else {k: None for k in counts},
    }


def day_stats(data: RangeData) -> list[dict[str, object]]:
    """One dict per day: summarize() figures, faults, gaps, the frequency band and clonus classes."""
    out = []
    has_links = bool(data.links)
    for day, start, end in data.days:
        inside = lambda e, a=start, b=end: e.onset_wall is not None and a <= e.onset_wall < b  # noqa: E731
        eps = [e for e in data.episodes if inside(e)]
        faults = [f for f in data.faults if inside(f)]
        monitored = float(sum(b - a for a, b in data.spans(start, end))) if has_links else None
        row = {"day": day, "start": start, "end": end, **summarize(eps, monitored)}
        level, label = penn_band(len(eps), monitored)
        classes = [0, 0, 0]
        graded = kinds.scats_clonus()
        for e in eps:
            if e.kind in graded:
                classes[clonus_class(e.duration_s or 0.0)] += 1
        row.update(faults=len(faults), fault_s=sum(f.duration_s or 0.0 for f in faults),
                   gaps=sum(1 for g in data.gaps if start <= g.start_wall < end),
                   open=sum(1 for e in data.open_episodes if inside(e)),
                   band_level=level, band=label, clonus_classes=classes,
                   clonus_worst=CLONUS_CLASSES[max(i for i, n in enumerate(classes) if n)] if any(classes) else None)
        out.append(row)
    return out


def histogram(values: list[tuple[str, float]], edges: tuple[float, ...]) -> dict[str, object]:
    """Counts per bin and kind; bin i is [edges[i], edges[i+1]), the last one [edges[-1], inf)."""
    counts = {k: [0] * len(edges) for k in kinds.episode_names()}
    for kind, v in values:
        if kind in counts:
            i = max(j for j, e in enumerate(edges) if v >= e) if v >= edges[0] else 0
            counts[kind][i] += 1
    return {"edges": list(edges), "counts": counts}


def period_figures(data: RangeData, days: list[dict[str, object]]) -> dict[str, object]:
    """summarize() over the whole range, plus the per-day rates (days with at least MIN_BAND_S monitored)."""
    monitored = float(sum(b - a for a, b in data.spans())) if data.links else None
    fig = summarize(data.episodes, monitored)
    fig["days"] = len(days)
    fig["daily"] = [{"day": d["day"], "rate_h": d["rate_h"], "monitored_s": d["monitored_s"]} for d in days]
    fig["daily_rates"] = [d["rate_h"] for d in days if d["rate_h"] is not None]
    fig["daily_spasm_pct"] = [d["spasm_pct"] for d in days
                              if d["rate_h"] is not None and d["spasm_pct"] is not None]
    fig["faults"] = len(data.faults)
    fig["gaps"] = len(data.gaps)
    return fig


def rank_test(a: list[float], b: list[float]) -> dict[str, object]:
    """Two-sided Mann-Whitney U over days; None figures with a reason when either side has under 3 days."""
    if len(a) < 3 or len(b) < 3:
        return {"test": "Mann-Whitney U, two-sided, over days", "p": None, "u": None,
                "reason": "needs at least 3 days with an hour of monitoring in each period"}
    from scipy.stats import mannwhitneyu

    res = mannwhitneyu(a, b, alternative="two-sided")
    return {"test": "Mann-Whitney U, two-sided, over days", "p": float(res.pvalue), "u": float(res.statistic),
            "reason": None}


def compare(ro: ReadOnlyStore, a: tuple[str, str], b: tuple[str, str], device: str | None = None,
            channel: int | None = None, tz: tzinfo | None = None, now: float | None = None,
            clips: tuple[Clip, Clip] = ((None, None), (None, None))) -> dict[str, object]:
    """The figures of two periods side by side, rank tests of their daily rates and time in spasm.

    `clips` cut each period to times (split_at(note.at): before and after a note split at its minute)."""
    out: dict[str, object] = {"caveat": OBSERVATIONAL}
    figs = []
    for key, (first, last), clip in (("a", a, clips[0]), ("b", b, clips[1])):
        data = load_range(ro, first, last, device, channel, tz, now, clip)
        fig = period_figures(data, day_stats(data))
        fig.update(first=first, last=last, start=data.start, end=data.end)
        out[key] = fig
        figs.append(fig)
    out["rate_test"] = rank_test(figs[0]["daily_rates"], figs[1]["daily_rates"])  # type: ignore[arg-type]
    out["spasm_time_test"] = rank_test(figs[0]["daily_spasm_pct"], figs[1]["daily_spasm_pct"])  # type: ignore[arg-type]
    return out


def default_compare(ro: ReadOnlyStore, device: str | None = None, days: int = 14, tz: tzinfo | None = None
                    ) -> tuple[tuple[str, str], tuple[str, str], tuple[Clip, Clip]] | None:
    """`days` x 24 h before and after the latest note, split at its exact time: (a days, b days, clips)."""
    notes = ro.notes(device=device)
    if not notes:
        return None
    at = notes[-1].at
    try:
        t = datetime.fromtimestamp(at, tz)
        d = (t if tz else t.astimezone()).date()
        parse_day(d.isoformat())
    except (ValueError, OverflowError, OSError):  # a note stored before times were checked
        raise InputError(f"the latest note's time ({at}) is not a real day: edit or delete that note") from None
    span = days * 86400.0
    a_first = datetime.fromtimestamp(at - span, tz)
    b_last = datetime.fromtimestamp(at + span, tz)
    a_day = (a_first if tz else a_first.astimezone()).date()
    b_day = (b_last if tz else b_last.astimezone()).date()
    return ((a_day.isoformat(), d.isoformat()), (d.isoformat(), b_day.isoformat()),
            ((at - span, at), (at, at + span)))
