"""A streaming CSV reader (pyarrow) for the common case: our own recordings and plain delimited numeric tables.

It reads what `recording.read_recording` would read, in blocks: a file it is not sure of (a time column,
Serial Plotter labels, decimal commas, OpenSignals, comment lines among the rows, a bad value anywhere) is left
to `read_recording`, whose one precise error or in-memory result then stands. Nothing is ever half read.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from .. import recording as R
from ..errors import InputError
from ..recsniff import check_columns
from .source import Source

HEAD_BYTES = 1 << 16
TAIL_BYTES = 1 << 16
META = re.compile(r"^([A-Za-z_][\w ()]*?)\s*:?=\s*(.*)$")


class Fallback(Exception):
    """The streaming reader is not sure it reads this file as read_recording would: read it whole instead."""


class _Limited(io.RawIOBase):
    """The first `size` bytes of a file (to leave out a cut-off last row)."""

    def __init__(self, path: Path, start: int, size: int) -> None:
        self.fh = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.fh.seek(start)
        self.left = size - start

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        n = min(len(b), self.left)
        got = self.fh.readinto(memoryview(b)[:n]) if n > 0 else 0
        self.left -= got
        return got

    def close(self) -> None:
        self.fh.close()
        super().close()


def _head(path: Path) -> tuple[list[str], int, str] | None:
    """(comment lines, byte offset of the first row after them, that row) or None if not plain text."""
    with open(path, "rb") as fh:
        raw = fh.read(HEAD_BYTES)
    if b"\x00" in raw or raw.startswith(b"\xef\xbb\xbf"):
        return None
    comments: list[str] = []
    pos = 0
    for line in raw.split(b"\n")[:-1]:
        text = line.decode("ascii", errors="replace").strip()
        if text and not text.startswith("#"):
            return comments, pos, text
        if text:
            comments.append(text)
        pos += len(line) + 1
    return None


def _last_line(path: Path, size: int) -> tuple[int, bytes]:
    """(byte offset, bytes) of the file's last non-blank line."""
    with open(path, "rb") as fh:
        start = max(0, size - TAIL_BYTES)
        fh.seek(start)
        tail = fh.read()
    body = tail.rstrip(b"\r\n \t")
    cut = body.rfind(b"\n")
    if cut < 0 and start > 0:
        raise Fallback
    last = body[cut + 1 :]
    if last.lstrip().startswith(b"#"):
        raise Fallback  # a comment among the rows: read_recording skips it
    return start + cut + 1, last


def _count_lines(path: Path, stop: int) -> int:
    n = 0
    with open(path, "rb") as fh:
        while fh.tell() < stop:
            chunk = fh.read(min(1 << 24, stop - fh.tell()))
            if not chunk:
                break
            n += chunk.count(b"\n")
    return n


def _meta(comments: list[str]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for c in comments:
        m = META.match(c.lstrip("#").strip())
        if m:
            meta[m.group(1).strip().lower()] = m.group(2).strip()
    return meta


def _first_row(first: str) -> tuple[str, list[str], list[str] | None]:
    """(delimiter, tokens, header names or None) of the first row; Fallback when read_recording should read it."""
    delim = R._sniff_delimiter(first)
    if delim is None and len(first.split()) == 1:
        delim = ","  # one column: no delimiter to sniff (a stray one in a later row is an error pyarrow finds)
    if delim is None or R.PLOTTER_LABEL.search(first):
        raise Fallback
    tokens = R._split(first, delim)
    header = None
    if any(R._to_float(t) is None for t in tokens) and any(ch.isalpha() for ch in first):
        header = [t.strip().strip('"').strip("'") for t in tokens]
        if any(R.time_column_scale(h)[0] for h in header) or len(set(header)) != len(header):
            raise Fallback
    elif delim != "," and re.search(r"\d,\d", first):
        raise Fallback  # decimal commas
    return delim, tokens, header


def _data_end(path: Path, first_pos: int, delim: str, width: int, warnings: list[str]) -> int:
    """Where the rows end: the file's size, or the start of a cut-off last row (dropped with a warning)."""
    size = path.stat().st_size
    last_pos, last = _last_line(path, size)
    if last_pos > first_pos:
        try:
            R._check_row(path, last.decode("ascii"), 0, delim, width)
        except (InputError, UnicodeDecodeError):
            lines_before = _count_lines(path, last_pos)
            reason = f"expected {width} value(s)"
            try:
                R._check_row(path, last.decode("ascii", errors="replace"), lines_before + 1, delim, width)
            except InputError as exc:
                reason = str(exc).split(": ", 1)[1].split(" (")[0]
            warnings.append(f"{path}:{lines_before + 1}: last row dropped, {reason} (a cut-off log?)")
            return last_pos
    return size


def _block_reader(
    path: Path, data_start: int, end: int, delim: str, width: int
) -> Callable[[int], Iterator[np.ndarray]]:
    """read(rows): the rows between data_start and end as float64 blocks, parsed by pyarrow."""

    def read(rows: int) -> Iterator[np.ndarray]:
        import pyarrow as pa
        import pyarrow.csv as pc

        src = _Limited(path, data_start, end)
        opts = pc.ReadOptions(column_names=[f"c{i}" for i in range(width)], block_size=max(1 << 16, rows * 8))
        conv = pc.ConvertOptions(column_types={f"c{i}": pa.float64() for i in range(width)})
        try:
            reader = pc.open_csv(io.BufferedReader(src, 1 << 20), read_options=opts,
                                 parse_options=pc.ParseOptions(delimiter=delim), convert_options=conv)
            for batch in reader:
                block = np.stack([batch.column(k).to_numpy(zero_copy_only=False) for k in range(width)], axis=1)
                if block.size and not (np.isfinite(block).all() and np.abs(block).max() <= R.INT32_MAX):
                    raise Fallback  # NaN/inf, or a value no count can be: read_recording names it
                yield block
        except (pa.ArrowInvalid, ValueError) as exc:
            raise Fallback from exc
        finally:
            src.close()

    return read


def open_csv(path: Path, rate_hz: float | None, units: str | None, columns: list[int] | None) -> Source:
    """A streaming Source for a plain numeric table; raises Fallback when read_recording should read it."""
    head = _head(path)
    if head is None:
        raise Fallback
    comments, first_pos, first = head
    meta = _meta(comments)
    if any("opensignals" in c.lower() for c in comments) or "sampling rate (hz)" in meta:
        raise Fallback
    delim, tokens, header = _first_row(first)
    width = len(tokens)
    check_columns(path, width)
    rate_text = meta.get("rate_hz")
    if rate_hz is None and rate_text is None:
        raise Fallback  # the rate comes from a time column or nowhere: read_recording says which
    warnings: list[str] = []
    end = _data_end(path, first_pos, delim, width, warnings)
    data_start = first_pos + (len(first) + 1 if header is not None else 0)
    if header is not None:
        with open(path, "rb") as fh:  # the header row's own bytes (it may end in \r\n)
            fh.seek(first_pos)
            data_start = first_pos + len(fh.readline())
    names = header or [f"ch{i}" for i in range(width)]
    if columns is not None:
        bad = [c for c in columns if not 0 <= c < width]
        if bad:
            raise InputError(f"{path}: no channel {bad[0]} (the file has channels 0..{width - 1})")
    indices = list(range(width)) if columns is None else list(columns)
    read = _block_reader(path, data_start, end, delim, width)

    rate = float(rate_hz) if rate_hz is not None else R._to_float(rate_text or "")
    if rate is None:
        raise Fallback
    rate = R._check_rate(rate, path, "--rate" if rate_hz is not None else "file header")
    if units is None and meta.get("units") not in (None, *R.UNITS):
        raise Fallback
    mode = meta.get("mode")
    if mode is not None and mode not in R.MODES:
        raise Fallback
    notes = [f"rate {rate:g} Hz from {'--rate' if rate_hz is not None else 'file header'}", "read in blocks (pyarrow)"]
    return Source(rate_hz=rate, units=units or meta.get("units") or "", mode=mode, source=str(path),
                  names=[names[i] for i in indices], indices=indices, read=read, warnings=warnings, notes=notes,
                  fmt="csv", take=indices, table=(data_start, end, delim, width))
