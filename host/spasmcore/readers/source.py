"""A recording read in blocks (metadata up front, samples on demand and re-readable), and exact streaming statistics.

A `Source` hands out (rows, channels) blocks as many times as asked, so a whole-recording statistic (the median
that centres physical units, the extremes that scale arbitrary units) is computed in a first pass over the same
blocks and equals the in-memory figure bit for bit; memory stays one block whatever the length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ..recording import Recording

BLOCK_ROWS = 1 << 16  # rows per block: ~0.5 MB per channel of float64
COLLECT_MAX = 1 << 20  # a median's candidates are gathered in memory once they are this few (8 MB of keys)


@dataclass
class Source:
    """Samples of one recording as blocks; every channel has the same rate. `blocks()` may be called again."""

    rate_hz: float
    units: str
    mode: str | None
    source: str
    names: list[str]
    indices: list[int]
    read: Callable[[int], Iterator[np.ndarray]]  # rows per block -> (rows, channels) blocks, float64 or integer
    n_samples: int | None = None  # known up front (EDF, WAV, memory) or None until a pass has counted them
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fmt: str = "csv"
    take: list[int] | None = None  # block columns that are the channels (None: all); the rest only guess units
    channel_units: list[str] | None = None  # per channel (EDF headers), else `units` for all
    middle: Callable[[int], list[float] | None] | None = None  # channel -> its middle-rank value(s), if cheaper
    whole: Recording | None = None  # set when the reader had to hold the recording in memory anyway
    table: tuple[int, int, str, int] | None = None  # a plain CSV's rows: (first byte, end byte, delimiter, width)

    def blocks(self, rows: int = BLOCK_ROWS) -> Iterator[np.ndarray]:
        return self.read(rows)

    @property
    def duration_s(self) -> float:
        return (self.n_samples or 0) / self.rate_hz

    @property
    def channels(self) -> list[int]:  # (ui.show_recording counts them)
        return self.indices


def from_recording(rec: Recording, fmt: str = "memory") -> Source:
    """A Source over a Recording already in memory (WAV, .mat, text the streaming reader leaves to read_recording)."""
    def read(rows: int) -> Iterator[np.ndarray]:
        for start in range(0, rec.n_samples, rows):
            yield np.stack([c[start : start + rows] for c in rec.channels], axis=1)

    return Source(rate_hz=rec.rate_hz, units=rec.units, mode=rec.mode, source=rec.source, names=list(rec.names),
                  indices=list(rec.indices), read=read, n_samples=rec.n_samples, warnings=list(rec.warnings),
                  notes=list(rec.notes), fmt=fmt, whole=rec)


# ------------------------------------------------------------------------------------------ exact statistics


def _keys(v: np.ndarray) -> np.ndarray:
    """float64 -> uint64 keys in the same order (sign flipped for positives, all bits for negatives)."""
    b = np.ascontiguousarray(v, dtype=np.float64).view(np.uint64)
    return np.where(b >> np.uint64(63), ~b, b | np.uint64(1 << 63))


def _unkey(k: int) -> float:
    b = np.uint64(k)
    b = b & ~np.uint64(1 << 63) if b >> np.uint64(63) else ~b
    return float(np.array([b], dtype=np.uint64).view(np.float64)[0])


def exact_median(column: Callable[[], Iterator[np.ndarray]], n: int) -> float:
    """np.median of the values `column()` yields (n of them, all finite), bit for bit, in bounded memory.

    A radix selection over the values' order-preserving 64-bit keys, 16 bits per pass; once the candidates for
    the middle rank(s) are few they are gathered and partitioned in memory. np.median averages the two middle
    values of an even count: so does this, with the same numpy operation."""
    ranks = sorted({(n - 1) // 2, n // 2})
    picked = _select(column, ranks)
    return float(np.median(np.array(picked, dtype=np.float64)))


def _select(column: Callable[[], Iterator[np.ndarray]], ranks: list[int]) -> list[float]:
    """The values of the given ranks (one, or two adjacent ones), by passes over the column."""
    prefix, shift = 0, 64  # keys k with k >> shift == prefix are the candidates; ranks count within them
    whole = list(ranks)
    while True:
        shift -= 16
        hist = np.zeros(1 << 16, dtype=np.int64)
        gathered: list[np.ndarray] = []
        total = 0
        for block in column():
            k = _keys(block)
            if shift < 48:
                k = k[(k >> np.uint64(shift + 16)) == np.uint64(prefix)]
            total += k.size
            hist += np.bincount(((k >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.int64), minlength=1 << 16)
            if total <= COLLECT_MAX and shift < 48:
                gathered.append(k)
        if shift < 48 and total <= COLLECT_MAX:  # few enough: partition them in memory
            keys = np.concatenate(gathered) if gathered else np.zeros(0, dtype=np.uint64)
            part = np.partition(keys, ranks)
            return [_unkey(int(part[r])) for r in ranks]
        cum = np.cumsum(hist)
        digits = [int(np.searchsorted(cum, r, side="right")) for r in ranks]
        if len(set(digits)) > 1:  # the two middle values lie in different buckets: one selection each
            return [_select(column, [r])[0] for r in whole]
        base = int(cum[digits[0] - 1]) if digits[0] else 0
        ranks = [r - base for r in ranks]
        prefix = (prefix << 16) | digits[0]
        if shift == 0:
            return [_unkey(prefix)] * len(ranks)
