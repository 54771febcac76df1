"""Event and truth records shared by replay, evaluate, the store and reports, with their CSV forms."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

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


EVENT_COLUMNS = [f.name for f in fields(Event)]
# the measured columns an events CSV may leave out, read by name (a float field added to Event is read too)
_MEASURES = [f.name for f in fields(Event) if f.type == "float" and f.name not in ("onset_s", "offset_s")]


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
        writer.writerow([_fmt(v) for v in asdict(ev).values()])
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
        events.append(Event(channel=int(_float(row, "channel", path, line)), kind=row["kind"].strip(),
                            onset_s=onset, offset_s=offset, detail=(row.get("detail") or "").strip(), **measures))
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
