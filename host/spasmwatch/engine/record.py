"""The detector's record on the host: one named tuple of the firmware queue's fields, made and read in one place."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from spasmcore.errors import FatalError
from spasmcore.events import Event, more_of
from spasmfw import codes
from spasmfw import detector as fw

# The record's fields: etype and kind, then the firmware's end-record table (spasmfw.codes.REC_FIELDS) by the
# names pop() gives them (onset, not onset_ms: the queue holds sample indices). Built from the table, so a field
# added there is a field here; `Record` below names today's fields for the type checker.
FIELDS = ("etype", "kind", *(n.removesuffix("_ms") for n in codes.REC_FIELDS))


class _Closes:
    __slots__ = ()
    etype: int

    @property
    def closes(self) -> bool:
        """An episode's or a fault's end: the record that completes an event."""
        return self.etype in (codes.EV_END, codes.EV_FAULT_END)


if TYPE_CHECKING:
    class Record(NamedTuple):
        """One record of firmware/detector.py's queue, in the order Detector._push stores it and pop() returns it.

        A NamedTuple, not a dataclass: it is a plain tuple to pickle (batch workers, Dask) and compares equal to
        the device's own tuple, so parity tests compare them directly. A field added to the firmware's table is
        a field at runtime (FIELDS) and reaches Event.more without being named here."""

        etype: int  # codes.EV_ONSET, EV_END, EV_FAULT_START or EV_FAULT_END
        kind: int  # EV_END: the spasm kind code (codes.KINDS); a fault: its fault code; an onset: 0
        onset: int  # sample index of the onset (a fault's start)
        offset: int  # sample index of the end; -1 while open (an onset, a fault's start)
        detected: int  # sample index at which the detector decided
        peak: int  # EV_END: envelope peak, counts x detector.ENV_SCALE; else 0
        mean: int  # EV_END: envelope mean, counts x detector.ENV_SCALE; else 0
        floor: int  # the noise floor at the time, counts x detector.ENV_SCALE

        @property
        def closes(self) -> bool: ...
else:
    class Record(_Closes, namedtuple("Record", FIELDS)):  # noqa: PYI024 (the fields come from the table)
        __slots__ = ()


REC_LEN = len(FIELDS)  # ints per queued record (the firmware's _REC_LEN)
TICK_FIELDS = tuple(f for f, k in zip(FIELDS[2:], codes.REC_KINDS, strict=True) if k == "t")
# kept in ticks inside the queue; pop() scales them to samples


def from_record(values: Sequence[int | str]) -> Record:
    """The one place a device's record becomes a Record: Detector.pop()'s tuple, a row of the compiled
    engine's int64 array, or a line of MicroPython's replay split at its commas."""
    if len(values) != REC_LEN:
        raise FatalError(f"a detector record of {len(values)} fields, not {REC_LEN} ({', '.join(Record._fields)})")
    return Record._make(int(v) for v in values)


def by_table_name(r: Record) -> dict[str, int | float | None]:
    """A record's table fields under the firmware's names (onset_ms for onset)."""
    return {n: getattr(r, n.removesuffix("_ms")) for n in codes.REC_FIELDS}


def records_to_events(records: Iterable[Record], rate_hz: float, channel: int = 0) -> list[Event]:
    """Pair onset/end and fault start/end records into Events with times in seconds (where each field of a
    record goes: a field the firmware's table adds is carried into Event.more, by its kind)."""
    events: list[Event] = []
    decided: float | None = None
    fault_detected = 0.0
    s = lambda n: n / rate_hz  # noqa: E731
    for r in records:
        if r.etype == codes.EV_ONSET:
            decided = s(r.detected)
        elif r.etype == codes.EV_FAULT_START:
            fault_detected = s(r.detected)
        elif r.closes:
            is_fault = r.etype == codes.EV_FAULT_END
            fl = max(r.floor, 1)
            events.append(
                Event(
                    channel=channel,
                    kind="fault" if is_fault else fw.KIND_NAMES[r.kind],
                    onset_s=s(r.onset),
                    offset_s=s(r.offset),
                    detected_s=fault_detected if is_fault else (decided if decided is not None else s(r.detected)),
                    duration_s=s(r.offset - r.onset),
                    peak=r.peak / fw.ENV_SCALE,
                    mean=r.mean / fw.ENV_SCALE,
                    peak_x=round(r.peak / fl, 2),
                    mean_x=round(r.mean / fl, 2),
                    detail=fw.FAULT_NAMES[r.kind] if is_fault else "",
                    more=more_of(by_table_name(r), 1 / rate_hz, fw.ENV_SCALE),
                )
            )
            if not is_fault:
                decided = None
    events.sort(key=lambda e: (e.onset_s, e.kind))
    return events
