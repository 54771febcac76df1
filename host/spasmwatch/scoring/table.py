"""Episode scores as text: the metrics table (a column per channel, then pooled) and the false-event line."""

from __future__ import annotations

from collections.abc import Callable

from spasmcore.events import EPISODE_KINDS
from spasmwatch.scoring.matching import SPASM_KINDS
from spasmwatch.scoring.score import Scores


def _fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _pair(a: float | None, b: float | None) -> str:
    return f"{_fmt(a, 0)} / {_fmt(b, 0)}"


def _kind_row(kind: str) -> tuple[str, Callable[[Scores], str]]:
    return f"  {kind} labelled right", lambda s: _pct(s.kind_accuracy_by_truth[kind])


def _false_kind_row(kind: str) -> tuple[str, Callable[[Scores], str]]:
    def cell(s: Scores) -> str:
        n = s.false_alarms_by_kind.get(kind, 0)
        return f"{n}, {_fmt(s.false_alarms_per_rest_hour_by_kind.get(kind), 2)} / rest h"

    return f"  false {kind}", cell


def false_summary(scores: Scores) -> str:
    """One line: false events per hour of rest, all kinds and by kind (pooled)."""
    by = ", ".join(
        f"{k} {_fmt(scores.false_alarms_per_rest_hour_by_kind.get(k), 2)}" for k in EPISODE_KINDS
    )
    return (
        f"false events per hour of rest: {_fmt(scores.false_alarms_per_rest_hour, 2)} "
        f"({scores.false_alarms} in {scores.rest_s / 3600.0:.3g} h; {by})"
    )


# (label, formatter) rows of the metrics table.
_ROWS: list[tuple[str, Callable[[Scores], str]]] = [
    ("duration (s)", lambda s: _fmt(s.duration_s, 1)),
    ("rest time (s)", lambda s: _fmt(s.rest_s, 1)),
    ("truth spasms", lambda s: _fmt(s.truth_spasms)),
    ("detected episodes", lambda s: _fmt(s.episodes)),
    ("sensitivity (one-to-one)", lambda s: f"{_pct(s.sensitivity)} ({s.truth_detected}/{s.truth_spasms})"),
    ("precision", lambda s: f"{_pct(s.precision)} ({s.matched_episodes}/{s.episodes})"),
    ("F1", lambda s: _fmt(s.f1)),
    ("missed", lambda s: _fmt(s.missed)),
    ("false alarms", lambda s: f"{s.false_alarms} ({s.false_alarms_in_faults} in faults)"),
    ("false alarms / h", lambda s: _fmt(s.false_alarms_per_hour, 2)),
    ("false alarms / rest h", lambda s: _fmt(s.false_alarms_per_rest_hour, 2)),
    *[_false_kind_row(k) for k in EPISODE_KINDS],
    ("surplus (unpaired, in a spasm)", lambda s: _fmt(s.surplus)),
    ("split contractions", lambda s: f"{s.split} ({_fmt(s.split_pct, 1)}%)"),
    ("merged contractions", lambda s: f"{s.merged} ({_fmt(s.merged_pct, 1)}%; {s.merging_episodes} episodes)"),
    ("longest episode / truth s", lambda s: f"{_fmt(s.longest_episode_s, 1)} / {_fmt(s.longest_truth_s, 1)}"),
    ("onset |err| median/p95 ms", lambda s: _pair(s.onset_abs_median_ms, s.onset_abs_p95_ms)),
    ("onset err signed median ms", lambda s: _fmt(s.onset_signed_median_ms, 0)),
    ("offset |err| median/p95 ms", lambda s: _pair(s.offset_abs_median_ms, s.offset_abs_p95_ms)),
    ("offset err signed median ms", lambda s: _fmt(s.offset_signed_median_ms, 0)),
    ("latency median/p95 ms", lambda s: _pair(s.latency_median_ms, s.latency_p95_ms)),
    ("kind accuracy", lambda s: f"{_pct(s.kind_accuracy)} ({s.kind_correct}/{s.truth_detected})"),
    *[_kind_row(k) for k in SPASM_KINDS],
    ("faults found", lambda s: f"{_pct(s.fault_sensitivity)} ({s.faults_found}/{s.truth_faults})"),
    ("false fault events", lambda s: _fmt(s.false_faults)),
    ("spasms / h truth", lambda s: _fmt(s.truth_spasms_per_hour, 1)),
    ("spasms / h detected", lambda s: _fmt(s.detected_per_hour, 1)),
]


def _grid(header: list[str], rows: list[list[str]]) -> list[str]:
    """Aligned text columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]

    def line(row: list[str]) -> str:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in pairs]
        return "  ".join(cells).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *[line(r) for r in rows]]


def format_table(scores: Scores) -> str:
    """Readable metrics table (a column per channel, then pooled) and the kind confusion table."""
    cols = [*scores.per_channel, scores] if len(scores.per_channel) > 1 else [scores]
    names = [f"ch{s.channel}" if s.channel is not None else "all" for s in cols]
    if len(cols) == 1 and scores.per_channel:
        names = [f"ch{scores.per_channel[0].channel}"]
    out = _grid(["metric", *names], [[label, *[fmt(s) for s in cols]] for label, fmt in _ROWS])
    out.append(f"(tolerance {scores.tolerance_ms:.0f} ms; pooled durations and rates are per channel)")
    labels = sorted({label for row in scores.confusion.values() for label in row})
    if labels:
        out += ["", "kind confusion (detected truth spasms; rows: truth kind, columns: detected label):"]
        conf = [[k, *[str(row.get(label, 0)) for label in labels]] for k, row in scores.confusion.items()]
        out.extend(_grid(["truth", *labels], conf))
    return "\n".join(out)
