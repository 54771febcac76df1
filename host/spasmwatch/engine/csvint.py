"""Integer CSV rows parsed by a compiled loop: the fast engine's reader for our own recordings (ADC counts).

numba is loaded anyway when the compiled detector runs, so parsing with it costs no extra import (pyarrow's
reader adds ~100 MB of resident memory). It takes only what it is sure of: lines of exactly `width` tokens of
[+-]digits (at most 15) joined by the delimiter, ending in \\n or \\r\\n. Anything else raises Fallback, and the
pipeline reads the file with the general reader instead (an integer token means the same number in every reader,
so the values are those read_recording would give).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from numba import njit

from spasmcore.readers import Fallback
from spasmwatch.engine.jitload import prepare

CHUNK_BYTES = 1 << 20


@njit(cache=True)
def parse_rows(buf, n, delim, width, out):  # type: ignore[no-untyped-def]
    """Parse buf[:n] (whole lines) into out[rows, width]; the number of rows, or -1 at anything unexpected."""
    rows = 0
    col = 0
    i = 0
    while i < n:
        neg = False
        c = buf[i]
        if c == 45 or c == 43:  # - +
            neg = c == 45
            i += 1
        start = i
        v = 0
        while i < n and 48 <= buf[i] <= 57:
            v = v * 10 + (buf[i] - 48)
            i += 1
        if i == start or i - start > 15 or i >= n or rows >= out.shape[0]:
            return -1
        out[rows, col] = -float(v) if neg else float(v)  # (-0 is -0.0, as float("-0"))
        col += 1
        c = buf[i]
        if c == delim:
            if col >= width:
                return -1
            i += 1
        elif c == 10 or c == 13:
            if c == 13:
                i += 1
                if i >= n or buf[i] != 10:
                    return -1
            if col != width:
                return -1
            i += 1
            rows += 1
            col = 0
        else:
            return -1
    return rows


def block_reader(path: Path, start: int, end: int, delim: str, width: int) -> Callable[[int], Iterator[np.ndarray]]:
    """read(rows): the rows in bytes start..end as float64 blocks of about `rows` rows; Fallback if any row is not
    plain integers."""
    sep = ord(delim)

    def read(rows: int) -> Iterator[np.ndarray]:
        prepare()
        chunk = max(1 << 16, min(CHUNK_BYTES, rows * 8))
        carry = b""
        with open(path, "rb") as fh:
            fh.seek(start)
            left = end - start
            while left > 0 or carry:
                data = fh.read(min(chunk, left)) if left > 0 else b""
                left -= len(data)
                if not data and left > 0:
                    raise Fallback  # the file shrank while read: the general reader says what is wrong
                buf = carry + data
                cut = buf.rfind(b"\n") + 1 if left > 0 else len(buf)
                body, carry = buf[:cut], buf[cut:]
                if left <= 0 and body and not body.endswith(b"\n"):
                    body += b"\n"  # the last row without its newline
                if not body:
                    continue
                arr = np.frombuffer(body, dtype=np.uint8)
                out = np.empty((body.count(b"\n"), width), dtype=np.float64)
                got = parse_rows(arr, len(body), sep, width, out)
                if got < 0:
                    raise Fallback
                if got:
                    yield out[:got]

    return read
