"""Event and truth records shared by replay, evaluate, the store and reports, with their CSV forms."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, fields
from pathlib import Path

from spasmfw import codes

from . import kinds
from .errors import InputError

EPISODE_KINDS = kinds.episode_names()  # the kinds table's episode rows, whose codes are the firmware's
TRUTH_KINDS = kinds.truth_names()
# An events CSV (replay --events, evaluate --save-events, spasmwatch events) can serve as truth, e.g. to compare
# two runs: the detector's labels are read as the truth kinds they stand for.
TRUTH_ALIASES = kinds.truth_aliases()


@dataclass(frozen=True)
class Event:
    """One detected episode or sensor fault; times in seconds from the start of the recording."""

    channel: int
    kind: str  # an episode kind of spasmcore.kinds, or fault
    onset_s: float
    offset_s: float
    detected_s: float
    duration_s: float
    peak: float  # envelope peak, ADC counts
    mean: float  # envelope mean, ADC counts
    peak_x: float  # peak as a multiple of the noise floor
    mean_x: float  # mean as a multiple of the noise floor
    detail: str = ""  # for faults: flat | rail
    # the end record's fields that Event does not name (MORE_FIELDS), as (column, value) pairs: a field added to
    # the firmware's table travels here, through replay, the events CSV and JSON, with no edit on the host
    more: tuple[tuple[str, float], ...] = ()

    def as_row(self) -> dict[str, object]:
        """The event as one flat mapping of column to value, its `more` fields as columns of their own."""
        row: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "more"}
        row.update(self.more)
        return row


def column(name: str, kind: str) -> str:
    """An end-record field's column in an Event: a time (kind t, ms or samples) in seconds, named ..._s."""
    return name.removesuffix("_ms") + "_s" if kind == "t" else name


BASE_COLUMNS = [f.name for f in fields(Event) if f.name != "more"]
# The firmware's end-record fields (spasmfw.codes.REC_FIELDS, REC_KINDS) that Event has no field for; the floor is
# carried as peak_x and mean_x.
MORE_FIELDS = [(n, k) for n, k in zip(codes.REC_FIELDS, codes.REC_KINDS, strict=True)
               if column(n, k) not in BASE_COLUMNS and n != "floor"]
MORE_COLUMNS = [column(n, k) for n, k in MORE_FIELDS]
EVENT_COLUMNS = BASE_COLUMNS + MORE_COLUMNS
# the measured columns an events CSV may leave out, read by name (a float field added to Event is read too)
_MEASURES = [f.name for f in fields(Event) if f.type == "float" and f.name not in ("onset_s", "offset_s")]


def more_of(values: dict[str, int | float | None], seconds_per_time: float, level_scale: float) -> \
        tuple[tuple[str, float], ...]:
    """Event.more from end-record fields by their firmware names: times (ticks or ms) made seconds, envelope
    levels divided by their scale, plain integers as they are; a field the record lacks is left out."""
    more = []
    for name, kind in MORE_FIELDS:
        v = values.get(name)
        if v is not None:
            more.append((column(name, kind), v * seconds_per_time if kind == "t" else v / level_scale if kind == "l"
                         else v))
    return tuple(more)


@dataclass(frozen=True)
class TruthInterval:
    """One ground-truth spasm or fault interval written by the simulator."""

    channel: int
    onset_s: float
    offset_s: float
    kind: str


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def events_to_csv(events: list[Event]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    for ev in events:
        row = ev.as_row()
        writer.writerow([_fmt(row.get(c, "")) for c in EVENT_COLUMNS])
    return out.getvalue()


def write_events(path: str | Path, events: list[Event]) -> None:
    Path(path).write_text(events_to_csv(events))


def _float(row: dict[str, str], key: str, path: Path, line: int) -> float:
    try:
        value = float(row[key])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{path}:{line}: column {key!r} missing or not a number") from None
    if math.isnan(value):
        raise InputError(f"{path}:{line}: column {key!r} is NaN")
    return value


def _rows(path: Path, required: list[str]) -> list[tuple[int, dict[str, str]]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        if b"\x00" in raw:
            raise UnicodeDecodeError("utf-8", raw, raw.index(b"\x00"), raw.index(b"\x00") + 1, "NUL byte")
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # a binary file or another encoding given as the CSV
        raise InputError(f"{path}: not a UTF-8 text CSV (byte {exc.start}: {exc.reason})") from None
    reader = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    try:
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
        return [(i + 2, row) for i, row in enumerate(reader)]
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise InputError(f"{path}: not a CSV file we can read ({exc})") from None


def read_events(path: str | Path) -> list[Event]:
    path = Path(path)
    required = ["channel", "kind", "onset_s", "offset_s"]
    events = []
    for line, row in _rows(path, required):
        onset = _float(row, "onset_s", path, line)
        offset = _float(row, "offset_s", path, line)
        missing = {"detected_s": onset, "duration_s": offset - onset}  # what a column left out stands for; else 0
        measures = {k: _float(row, k, path, line) if row.get(k) not in (None, "") else missing.get(k, 0.0)
                    for k in _MEASURES}
        more = tuple((c, _float(row, c, path, line)) for c in MORE_COLUMNS if row.get(c) not in (None, ""))
        events.append(Event(channel=int(_float(row, "channel", path, line)), kind=row["kind"].strip(),
                            onset_s=onset, offset_s=offset, detail=(row.get("detail") or "").strip(), more=more,
                            **measures))
    return events


def write_truth(path: str | Path, truth: list[TruthInterval]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["channel", "onset_s", "offset_s", "kind"])
    for t in truth:
        writer.writerow([t.channel, f"{t.onset_s:.4f}", f"{t.offset_s:.4f}", t.kind])
    Path(path).write_text(out.getvalue())


def read_truth(path: str | Path) -> list[TruthInterval]:
    """A truth CSV (channel,onset_s,offset_s,kind), or an events CSV: twitch is read as jerk, and episodes still
    open in a `spasmwatch events --include-open` export (no end yet) are left out."""
    path = Path(path)
    truth = []
    for line, row in _rows(path, ["channel", "onset_s", "offset_s", "kind"]):
        kind = row["kind"].strip()
        if (row.get("state") or "").strip() == "open":
            continue
        kind = TRUTH_ALIASES.get(kind, kind)
        if kind not in TRUTH_KINDS:
            known = ", ".join([*TRUTH_KINDS, *TRUTH_ALIASES])
            raise InputError(f"{path}:{line}: unknown kind {kind!r} (expected one of {known})")
        truth.append(
            TruthInterval(
                channel=int(_float(row, "channel", path, line)),
                onset_s=_float(row, "onset_s", path, line),
                offset_s=_float(row, "offset_s", path, line),
                kind=kind,
            )
        )
    return truth
