"""Replay one recording end to end in bounded memory: open, a statistics pass, then convert and detect in blocks.

The result equals `replay` over the whole recording in memory (read_recording, to_counts, detect) event for event;
memory is a few blocks whatever the length. Recordings above the detector's 2000 Hz are decimated by a zero-phase
filter over the whole channel, so those (and formats read_recording reads whole) are held in memory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spasmcore.errors import InputError
from spasmcore.events import Event
from spasmcore.frontend import counts_range_error
from spasmcore.readers import Fallback, Source, open_source, open_whole
from spasmcore.readers.source import BLOCK_ROWS, from_recording
from spasmcore.recsniff import check_channels
from spasmwatch.engine.convert import Converter, prepare_counts
from spasmwatch.engine.params import adc_max
from spasmwatch.engine.record import Record

ROWS = BLOCK_ROWS  # rows per block through every pass (a multiple of detect.BLOCK; tests make it small)

DETECTOR_MAX_RATE_HZ = 2000.0
STREAM_MIN_BYTES = 2 << 20  # smaller text files are read whole (no pyarrow import for a short file)
FAST_MIN_SAMPLES = 400_000  # engine "auto": fewer channel-samples run on CPython (loading the compiled engine
# costs 0.5 to 2 s on a busy 2-core machine: CPython won at 5 channel-minutes at 1 kHz, lost at 10 in
# bench/replay_scale.py; the events are identical). A streamed CSV's count is estimated from its size.
BYTES_PER_VALUE = 5  # "2048," or "2048\n": our recordings' counts
LABEL_MAX_DISTINCT = 10
# An envelope (a MyoWare's ENV/SIG output, an RMS stage) rests at the bottom of its range and rises from there, so
# its mean lies in the lowest part of the range; raw EMG swings about its middle (0.5). Below this share: an envelope.
ENVELOPE_MEAN_SHARE = 0.2


@dataclass
class Stats:
    """What one pass over a channel tells: extremes, integrality, and the cue/label-column test's counts."""

    n: int = 0
    lo: float = math.inf
    hi: float = -math.inf
    integral: bool = True
    changes: int = 0
    last: float | None = None
    distinct: set[float] = field(default_factory=set)
    increasing: bool = True
    total: float = 0.0

    def add(self, v: np.ndarray) -> None:
        if not v.size:
            return
        self.n += v.size
        self.total += float(v.sum())
        self.lo = min(self.lo, float(v.min()))
        self.hi = max(self.hi, float(v.max()))
        if self.integral and v.dtype.kind == "f" and not np.all(v == np.round(v)):
            self.integral = False
        joined = v if self.last is None else np.concatenate([[self.last], v])
        d = np.diff(joined)
        self.changes += int(np.count_nonzero(d))
        self.increasing = self.increasing and bool(np.all(d > 0))
        self.last = float(v[-1])
        if len(self.distinct) <= LABEL_MAX_DISTINCT:  # (past 10 distinct values it is no label column)
            self.distinct |= set(np.unique(v).tolist()[: LABEL_MAX_DISTINCT + 1])

    def looks_like_labels(self, rate_hz: float) -> bool:
        """replay's cue/label-column test (few small non-negative integers held for long runs), from the pass."""
        if self.n < 4 * rate_hz or self.lo < 0 or len(self.distinct) > LABEL_MAX_DISTINCT or not self.integral:
            return False
        return self.changes <= self.n / (0.5 * rate_hz)

    def looks_like_envelope(self) -> bool:
        """Non-negative and resting at the bottom of its range: an envelope, not raw EMG."""
        if self.n == 0 or self.lo < 0 or self.hi <= self.lo:
            return False
        return self.total / self.n - self.lo < ENVELOPE_MEAN_SHARE * (self.hi - self.lo)


@dataclass
class Replayed:
    source: Source
    mode: str
    events: list[Event]
    n_samples: int
    label_channels: list[int]
    counts: list[np.ndarray] | None = None  # the detector's input, kept only when asked (--annotate)
    envelope_like: bool = False  # every channel replayed rests at the bottom of its range (Stats)


def _units_guess(stats: list[Stats]) -> str:
    """read_recording's guess: integers in the ADC range (or int8 Myo data) are counts, anything else au."""
    if all(s.integral for s in stats) and min(s.lo for s in stats) >= -128 and max(s.hi for s in stats) <= 4095:
        return "counts"
    return "au"


def _check_counts(src: Source, stats: list[Stats], unit_list: list[str], take: list[int], adc_max: int) -> None:
    """Counts the ADC cannot give are one clear error, not samples clipped into faults (counts_range_error)."""
    for k in take:
        problem = unit_list[k] == "counts" and counts_range_error(stats[k].lo, stats[k].hi, adc_max)
        if problem:
            raise InputError(f"{src.source}: channel {src.indices[take.index(k)]}: {problem}")


def _stats_pass(src: Source, progress: Callable[[int], None] | None) -> list[Stats]:
    width = None
    stats: list[Stats] = []
    for block in src.blocks(_rows(src)):
        if width is None:
            width = block.shape[1]
            stats = [Stats() for _ in range(width)]
        units = src.channel_units or [src.units] * width
        for k in range(width):
            u = units[k] if len(units) == width else src.units
            stats[k].add(prepare_counts(block[:, k], u) if u else block[:, k])
    if not stats or stats[0].n == 0:
        raise Fallback  # no rows: read_recording says what is wrong
    if src.fmt == "csv" and stats[0].increasing and stats[0].n >= 10:
        raise Fallback  # a first column that only increases: read_recording warns about it (needs its median)
    return stats


def _decimated(src: Source, path: str, rate: float | None, units: str | None, columns: list[int] | None,
               notes: list[str]) -> tuple[Source, list[Stats]]:
    from spasmcore.recording import decimate

    rec = src.whole or open_whole(path, rate_hz=rate, units=units, columns=columns).whole
    assert rec is not None
    factor = math.ceil(rec.rate_hz / DETECTOR_MAX_RATE_HZ)
    dec = from_recording(decimate(rec, factor), fmt=src.fmt)
    notes.append(f"decimated by {factor} to {dec.rate_hz:g} Hz (the detector takes at most 2000 Hz)")
    return dec, _stats_pass(dec, None)


def _rows(src: Source) -> int:
    """Rows per block: ROWS for one channel, fewer for many, so that a block holds about ROWS values whatever
    the recording's width (memory bounded by its shape, not only its length)."""
    return max(min(ROWS, 256), ROWS // max(1, len(src.indices)))


def _channel_blocks(src: Source, k: int) -> Callable[[], Iterator[np.ndarray]]:
    return lambda: (b[:, k] for b in src.blocks(_rows(src)))


def _optimistic(src: Source) -> bool:
    """A streamed CSV of counts (or of values that may be counts): one pass that assumes no negative counts,
    checked at its end (then a second, exact run only if the assumption was wrong)."""
    return (src.whole is None and src.fmt == "csv" and src.units in ("", "counts")
            and src.rate_hz <= DETECTOR_MAX_RATE_HZ)


def replay_file(path: str, mode: str | None = None, rate: float | None = None, units: str | None = None,
                columns: list[int] | None = None, params: dict | None = None, engine: str = "fast",
                progress: Callable[[int, int, int], None] | None = None, keep_counts: bool = False,
                notes: list[str] | None = None) -> Replayed:
    """Detect every channel of one recording; `progress(rows, total rows or 0 if unknown, events so far)` after
    every block.

    engine: fast, python, or auto (fast, but short recordings on CPython: see FAST_MIN_SAMPLES)."""
    notes = notes if notes is not None else []
    try:
        big = os.path.getsize(path) >= STREAM_MIN_BYTES
    except OSError:
        big = False  # (open_source says what is wrong with the path)
    src = open_source(path, rate_hz=rate, units=units, columns=columns, stream=big)
    check_channels(path, len(src.indices))
    if _optimistic(src):
        guessed = not src.units
        if engine == "auto":
            width = src.table[3] if src.table is not None else len(src.indices)
            estimate = os.path.getsize(path) // BYTES_PER_VALUE * len(src.indices) // max(1, width)
            engine = "fast" if estimate > FAST_MIN_SAMPLES else "python"
            src.notes.append(f"engine {engine} (about {estimate} channel-samples)")
        from spasmwatch.engine.detect import fast_available

        if engine == "fast" and src.table is not None and fast_available() is None:
            from spasmwatch.engine.csvint import (
                block_reader,  # (numba is loaded for the detector anyway; pyarrow is not needed)
            )

            src.read = block_reader(Path(path), *src.table)
        try:
            out, seen = _detect(src, None, ["counts"] * (max(src.take or [0]) + 1), mode, params,
                                engine, progress, keep_counts, collect=True)
        except Fallback:
            out = None
        if out is not None and seen is not None:
            take = src.take or []
            ok = all(seen[k].lo >= 0 for k in take) and not (seen[0].increasing and seen[0].n >= 10)
            ok = ok and (not guessed or _units_guess(seen) == "counts")
            if ok:
                _check_counts(src, seen, ["counts"] * len(seen), take, adc_max(params))
                if guessed:
                    src.units = "counts"
                    src.notes.append("units counts (guessed from the values)")
                out.label_channels = _labels(src, seen, take)
                out.envelope_like = bool(take) and all(seen[k].looks_like_envelope() for k in take)
                return out
        src = open_source(path, rate_hz=rate, units=units, columns=columns, stream=big)
    try:
        stats = _stats_pass(src, None)
    except Fallback:
        src = open_whole(path, rate_hz=rate, units=units, columns=columns)
        stats = _stats_pass(src, None)
    if src.rate_hz > DETECTOR_MAX_RATE_HZ:
        src, stats = _decimated(src, path, rate, units, columns, notes)
    width = len(stats)
    unit_list = src.channel_units or [src.units or _units_guess(stats)] * width
    if len(unit_list) != width:
        unit_list = [unit_list[0]] * width
    if not src.units:
        src.units = unit_list[0]
        src.notes.append(f"units {src.units} (guessed from the values)")
    take = src.take if src.take is not None else list(range(len(src.indices)))
    from spasmwatch.engine.detect import check_params

    check_params(params, mode or src.mode or "raw", src.rate_hz)  # (adc_max below is then a valid number)
    _check_counts(src, stats, unit_list, take, adc_max(params))
    if engine == "auto":
        engine = "fast" if stats[0].n * len(take) > FAST_MIN_SAMPLES else "python"
        src.notes.append(f"engine {engine} ({stats[0].n * len(take)} channel-samples)")
    try:
        out, _ = _detect(src, stats, unit_list, mode, params, engine, progress, keep_counts, collect=False)
    except Fallback:  # (the statistics pass read every block already: the file changed under us)
        raise InputError(f"{path}: the file changed while it was read") from None
    out.label_channels = _labels(src, stats, take)
    out.envelope_like = bool(take) and all(stats[k].looks_like_envelope() for k in take)
    return out


def _labels(src: Source, stats: list[Stats], take: list[int]) -> list[int]:
    if len(take) < 2:
        return []
    return [src.indices[j] for j, k in enumerate(take) if stats[k].looks_like_labels(src.rate_hz)]


def _detect(src: Source, stats: list[Stats] | None, unit_list: list[str], mode: str | None, params: dict | None,
            engine: str, progress: Callable[[int, int, int], None] | None, keep_counts: bool,
            collect: bool) -> tuple[Replayed, list[Stats] | None]:
    """Convert and detect in one pass over the blocks; with `collect`, the blocks' statistics too (stats None:
    counts assumed non-negative, to be checked by the caller)."""
    from spasmwatch.engine.detect import check_params, records_to_events, stream

    take = src.take if src.take is not None else list(range(len(src.indices)))
    run_mode = mode or src.mode or "raw"
    check_params(params, run_mode, src.rate_hz)
    convs = []
    for k in take:
        c = Converter(unit_list[k], run_mode, src.rate_hz, adc_max(params))
        if stats is not None:
            middle = (lambda k=k: src.middle(k)) if src.middle is not None else None  # type: ignore[misc]
            c.prepare(_channel_blocks(src, k), stats[k].n, stats[k].lo, stats[k].hi, middle)
        else:
            c.prepare(_channel_blocks(src, k), 0, 0.0, 0.0)  # counts: no pass needed, lo >= 0 assumed
        convs.append(c)
    streams = [stream(src.rate_hz, run_mode, params, engine=engine) for _ in take]
    records: list[list[Record]] = [[] for _ in take]
    kept: list[list[np.ndarray]] = [[] for _ in take]
    seen: list[Stats] = []
    done, n_events = 0, 0
    total = stats[0].n if stats else 0
    for block in src.blocks(_rows(src)):
        if collect:
            if not seen:
                seen = [Stats() for _ in range(block.shape[1])]
            for k in range(block.shape[1]):
                seen[k].add(block[:, k] if src.units == "" else prepare_counts(block[:, k], "counts"))
        for j, k in enumerate(take):
            counts = np.clip(convs[j](block[:, k]), 0, 65535).astype("<u2")
            got = streams[j].feed(counts)
            records[j] += got
            n_events += sum(1 for r in got if r.closes)
            if keep_counts:
                kept[j].append(counts)
        done += block.shape[0]
        if progress is not None:
            progress(block.shape[0], total, n_events)
    if collect and (not seen or seen[0].n == 0):
        raise Fallback
    events: list[Event] = []
    for j in range(len(take)):
        records[j] += streams[j].finish()
        events += records_to_events(records[j], src.rate_hz, src.indices[j])
    events.sort(key=lambda e: (e.onset_s, e.channel))
    src.n_samples = done
    return Replayed(source=src, mode=run_mode, events=events, n_samples=done, label_channels=[],
                    counts=[np.concatenate(c) for c in kept] if keep_counts else None), (seen if collect else None)
