"""The store's rows as records: an episode or fault (`StoredEvent`), a data gap, a link session."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from spasmcore.events import Event, more_of
from spasmwatch.link import wire
from spasmwatch.store.schema import FAULT


@dataclass(frozen=True)
class StoredEvent:
    """One row of the events table: an episode or fault, open or closed."""

    id: int
    device_id: str
    boot_id: str
    seq: int | None
    channel: int
    kind: str | None
    detail: str
    state: str
    onset_ms: int
    offset_ms: int | None
    detected_ms: int | None
    onset_wall: float | None
    offset_wall: float | None
    duration_s: float | None
    peak: float | None
    mean: float | None
    peak_x: float | None
    mean_x: float | None
    floor: float | None
    received_at: float
    more: tuple[tuple[str, Any], ...] = ()  # (name, value) of each column in END_MORE, the End fields beyond these

    @property
    def is_fault(self) -> bool:
        return self.kind == FAULT

    def to_event(self) -> Event:
        """The replay-style record; times are device seconds since boot."""
        onset = self.onset_ms / 1000
        offset = self.offset_ms / 1000 if self.offset_ms is not None else onset
        return Event(
            channel=self.channel,
            kind=self.kind or "open",
            onset_s=onset,
            offset_s=offset,
            detected_s=self.detected_ms / 1000 if self.detected_ms is not None else onset,
            duration_s=self.duration_s if self.duration_s is not None else offset - onset,
            peak=self.peak or 0.0,
            mean=self.mean or 0.0,
            peak_x=self.peak_x or 0.0,
            mean_x=self.mean_x or 0.0,
            detail=self.detail,
            more=more_of(dict(self.more), 1 / 1000, 1),  # the store holds times in ms, levels in counts
        )


@dataclass(frozen=True)
class Gap:
    """One row of `gaps`: a stretch with missing data (a lost line, a disconnect, a reboot, an overflow)."""

    id: int
    device_id: str | None
    boot_id: str | None
    kind: str
    start_wall: float
    end_wall: float | None
    first_seq: int | None
    last_seq: int | None
    detail: str


@dataclass(frozen=True)
class Session:
    """One row of `links`: a serial session with a device (not the serial port itself, link.Link)."""

    id: int
    device_id: str | None
    port: str | None
    connected_at: float
    last_seen_at: float
    disconnected_at: float | None
    reason: str | None

    @property
    def end(self) -> float:
        """End of the covered interval: a host killed mid-session leaves only last_seen_at."""
        return self.disconnected_at if self.disconnected_at is not None else self.last_seen_at


# The End fields the events table keeps under their own names (kind, times, levels, strengths, and any field
# added to the firmware's record): Episodes.add_end writes them all. Those StoredEvent does not name are END_MORE:
# columns of their own, added to an older database when it opens (store.schema.add_columns), read into `more`.
END_VALUES = tuple(f.name for f in fields(wire.End) if f.name not in ("seq", "ch", "eseq", "boot"))
END_MORE = {f.name: "REAL" if "float" in str(f.type) else "INTEGER" for f in fields(wire.End)
            if f.name in END_VALUES and f.name not in {g.name for g in fields(StoredEvent)}}


_EVENT_BASE = [f.name for f in fields(StoredEvent) if f.name != "more"]


def event_cols(have: set[str]) -> str:
    """The events columns in StoredEvent's order, then END_MORE's (NULL where a read-only older database lacks
    one): SELECT these, then `stored_event(row)`."""
    return ", ".join(_EVENT_BASE + [n if n in have else "NULL" for n in END_MORE])


def stored_event(row: tuple) -> StoredEvent:
    n = len(_EVENT_BASE)
    return StoredEvent(**dict(zip(_EVENT_BASE, row[:n], strict=True)),
                       more=tuple(zip(END_MORE, row[n:], strict=True)))


# the columns of each table in the order of its record's fields (SELECT these, then Record(*row))
GAP_COLS = ", ".join(f.name for f in fields(Gap))
SESSION_COLS = ", ".join(f.name for f in fields(Session))


def split_events(events: Iterable[StoredEvent]) -> tuple[list[StoredEvent], list[StoredEvent], list[StoredEvent]]:
    """(closed episodes, open episodes, faults) of stored events, in their order: what the reports show apart."""
    closed: list[StoredEvent] = []
    open_: list[StoredEvent] = []
    faults: list[StoredEvent] = []
    for ev in events:
        (faults if ev.kind == FAULT else open_ if ev.state == "open" else closed).append(ev)
    return closed, open_, faults
