"""Sniffing a recording before it is read: its first bytes, its width, and whether reading it whole fits the budget.

Nothing here reads more than HEAD_BYTES of a file, so a huge or hostile file (a 5 GB sparse file, a CSV of a
million columns) gets its one-line error in well under a second, before any memory is spent on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

HEAD_BYTES = 1 << 20  # what is read to sniff: the format, the first row, the mean row length
MAX_COLUMNS = 1024  # data columns of a text recording (high-density EMG grids have up to a few hundred)
MAX_CHANNELS = 512  # channels replayed at once: ~0.25 MB of detector state each with the compiled engine
BUDGET_ENV = "SPASMWATCH_MEMORY_MB"
BUDGET_MB = 2048  # what reading a file whole may take (estimated before reading); streamed reads stay far below
# Measured costs of reading whole (read_recording, CPython 3.12, numpy 2): text takes about twice the file in
# bytes and str, ~130 bytes per line in the list of lines, ~20 bytes per value in floats and channel copies.
TEXT_PER_LINE = 130
TEXT_PER_VALUE = 20


@dataclass
class Head:
    """The first bytes of a file and its size."""

    raw: bytes
    size: int


def budget_bytes() -> int:
    """The memory budget for reading a file whole, in bytes ($SPASMWATCH_MEMORY_MB overrides the default)."""
    text = os.environ.get(BUDGET_ENV, "")
    try:
        mb = float(text) if text else BUDGET_MB
    except ValueError:
        raise InputError(f"{BUDGET_ENV}={text!r} is not a number of megabytes") from None
    if not mb > 0:
        raise InputError(f"{BUDGET_ENV}={text!r} must be a positive number of megabytes")
    return int(mb * (1 << 20))


def read_head(path: Path) -> Head:
    """The file's first HEAD_BYTES and its size; one clear error when it is missing, not a file or unreadable."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEAD_BYTES)
            size = os.fstat(fh.fileno()).st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if not raw.strip():
        raise InputError(f"{path}: empty file" if size <= len(raw) else f"{path}: starts with {len(raw)} blank "
                         "bytes: not a recording")
    return Head(raw=raw, size=size)


def check_columns(path: Path, n: int) -> None:
    if n > MAX_COLUMNS:
        raise InputError(f"{path}: {n} columns, more than the {MAX_COLUMNS} a recording may have (one row per "
                         "sample, one column per channel: is the table transposed?)")


def check_channels(path: str | Path, n: int) -> None:
    if n > MAX_CHANNELS:
        raise InputError(f"{path}: {n} channels, more than the {MAX_CHANNELS} replayed at once; choose some with "
                         "--channel")


def _split(line: str, delim: str | None) -> list[str]:
    return [t.strip() for t in (line.split(delim) if delim else line.split())]


def _sniff_delimiter(line: str) -> str | None:
    # Semicolon and tab first: they are what decimal-comma locales use ("0,000;12,5"), where "," is no delimiter.
    for delim in (";", "\t", ","):
        if delim in line:
            return delim
    return None  # whitespace


def sniff(path: Path) -> None:
    """The checks that need only the head, before numpy and the readers are even imported: a missing, empty or
    unknown binary file, or a text table too wide, is its one-line error in milliseconds whatever its size."""
    head = read_head(path)
    suffix = path.suffix.lower()
    if head.raw[:4] == b"RIFF" or head.raw[:6] == b"MATLAB" or head.raw[:8] in (b"0       ", b"\xffBIOSEMI"):
        return
    if suffix in (".wav", ".mat", ".edf", ".bdf", ".rec"):
        return
    if b"\x00" in head.raw[:4096]:
        raise InputError(f"{path}: unknown binary format (expected CSV/TXT, OpenSignals, WAV or MATLAB .mat)")
    text_shape(path, head)


def text_shape(path: Path, head: Head) -> tuple[int, int]:
    """(data columns of the first row, estimated number of lines) of a text file, from its head only."""
    whole = head.size <= len(head.raw)
    lines = head.raw.split(b"\n")
    if not whole:
        lines = lines[:-1]  # the last one may be cut by the head's end
    first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith(b"#")), None)
    if first is None:
        if whole:
            raise InputError(f"{path}: no samples (only header lines)")
        raise InputError(f"{path}: no row ends within the first {HEAD_BYTES >> 20} MB: not a recording "
                         f"(or more than {MAX_COLUMNS} columns)")
    text = first.decode("latin-1")
    n_cols = len(_split(text, _sniff_delimiter(text)))
    check_columns(path, n_cols)
    seen = sum(len(ln) + 1 for ln in lines)
    n_lines = len(lines) if whole else int(head.size * len(lines) / max(1, seen)) + 1
    return n_cols, n_lines


def check_whole(path: Path, head: Head, kind: str) -> None:
    """Refuse, before reading, a file whose whole read would take more than the budget (kind: text, wav, mat, bdf)."""
    if kind == "text":
        n_cols, n_lines = text_shape(path, head)
        need = 2 * head.size + n_lines * (TEXT_PER_LINE + TEXT_PER_VALUE * n_cols)
        hint = ("; a CSV with a `# rate_hz=` line (or --rate) and no time column is streamed in blocks instead")
    elif kind == "wav":
        need = head.size * 17  # the PCM bytes, then float64 samples and their channel copies (16-bit: 8x each)
        hint = ""
    elif kind == "bdf":
        need = head.size * 4  # edfio's bytes, then 32-bit digital values (a block at a time after that)
        hint = ""
    else:
        need = head.size * 10  # MATLAB: scipy's arrays, then float64 copies
        hint = ""
    budget = budget_bytes()
    if need > budget:
        raise InputError(f"{path}: reading this {kind} file whole would take about {need / (1 << 20):,.0f} MB, over "
                         f"the {budget / (1 << 20):,.0f} MB budget (${BUDGET_ENV} sets it){hint}")
