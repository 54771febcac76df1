"""Reading text recordings: CSV/TSV/TXT/LOG tables, Arduino Serial Plotter lines and OpenSignals (BITalino) text."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError
from .recformat import PLOTTER_LABEL, RATE_MIN_HZ, _Parsed, _to_float
from .recsniff import _sniff_delimiter as _sniff_delimiter
from .recsniff import _split as _split
from .rectime import _looks_like_time, _time_column_checks, _time_step_s, resample_even, time_column_scale, uneven


def _find_bad_row(path: Path, lines: list[str], numbers: list[int], delim: str | None, width: int) -> None:
    """Raise an InputError naming the first row that is ragged or not numeric (slow path, errors only)."""
    for line, lineno in zip(lines, numbers, strict=True):
        _check_row(path, line, lineno, delim, width)


def _check_row(path: Path, line: str, lineno: int, delim: str | None, width: int) -> None:
    tokens = _split(line, delim)
    if len(tokens) != width:
        raise InputError(f"{path}:{lineno}: expected {width} value(s), found {len(tokens)} (truncated or ragged row)")
    for tok in tokens:
        if tok == "":
            raise InputError(f"{path}:{lineno}: empty value (truncated row?)")
        if _to_float(tok) is None:
            raise InputError(f"{path}:{lineno}: non-numeric value {tok[:20]!r}")


def _drop_cut_last_row(
    path: Path, lines: list[str], numbers: list[int], delim: str | None, width: int, warnings: list[str]
) -> None:
    """A log cut off while writing ends in a partial row: drop it with a warning (ragged rows elsewhere are fatal)."""
    if len(lines) < 2:
        return
    try:
        _check_row(path, lines[-1], numbers[-1], delim, width)
    except InputError as exc:
        reason = str(exc).split(": ", 1)[1]
        warnings.append(f"{path}:{numbers[-1]}: last row dropped, {reason.split(' (')[0]} (a cut-off log?)")
        del lines[-1], numbers[-1]


def _parse_table(path: Path, lines: list[str], numbers: list[int], delim: str | None, width: int) -> np.ndarray:
    """Parse data rows into a (rows, width) float array with precise errors."""
    try:
        data = np.loadtxt(lines, delimiter=delim, dtype=np.float64, ndmin=2, comments=None)
    except ValueError as exc:
        _find_bad_row(path, lines, numbers, delim, width)
        raise InputError(f"{path}: cannot parse the samples ({exc})") from None
    if data.shape[1] != width:
        _find_bad_row(path, lines, numbers, delim, width)
    bad = ~np.isfinite(data)
    if bad.any():
        row = int(np.argmax(bad.any(axis=1)))
        value = data[row][bad[row]][0]
        raise InputError(f"{path}:{numbers[row]}: {'NaN' if math.isnan(value) else 'infinite'} value")
    return data


def _plotter_lines(path: Path, lines: list[str], numbers: list[int]) -> tuple[list[str], list[str]] | None:
    """Arduino Serial Plotter data ("emg:2048", "a:1,b:2"): (labels, lines without labels), or None."""
    labels = PLOTTER_LABEL.findall(lines[0])
    if not labels or _to_float(PLOTTER_LABEL.sub("", lines[0]).replace(",", " ").split()[0]) is None:
        return None
    out = []
    for line, lineno in zip(lines, numbers, strict=True):
        if PLOTTER_LABEL.findall(line) != labels:
            if line is lines[-1] and len(lines) > 1:
                out.append(line)  # a cut-off last line: the row check drops it with a warning
                continue
            raise InputError(
                f"{path}:{lineno}: Serial Plotter labels {', '.join(PLOTTER_LABEL.findall(line)) or 'missing'} "
                f"differ from the first line's {', '.join(labels)}"
            )
        out.append(PLOTTER_LABEL.sub("", line))
    return labels, out


def _opensignals_json(path: Path, comments: list[str]) -> dict:
    for c in comments:
        body = c.lstrip("#").strip()
        if body.startswith("{"):
            try:
                header = json.loads(body)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}: bad OpenSignals JSON header ({exc.msg})") from None
            if isinstance(header, dict) and header:
                device = next(iter(header.values()))  # several devices: the first one
                if isinstance(device, dict):
                    return device
    raise InputError(f"{path}: OpenSignals header without its JSON line")


@dataclass
class _Layout:
    """What the header lines say of the columns: names, which to keep, ADC bits, rate and units."""

    names: list[str]
    keep: list[int]
    resolution: list[int | None]
    rate: float | None
    origin: str
    units: str | None


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _leading_comments(path: Path, all_lines: list[str]) -> tuple[list[str], int]:
    """The `#` lines before the first row, and that row's index."""
    comments: list[str] = []
    for i, line in enumerate(all_lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comments.append(stripped)
            continue
        return comments, i
    raise InputError(f"{path}: no samples (only header lines)")


def _header_meta(comments: list[str]) -> dict[str, str]:
    """`# key=value` and `# key: value` header lines, keys lower-cased."""
    meta: dict[str, str] = {}
    for c in comments:
        body = c.lstrip("#").strip()
        m = re.match(r"^([A-Za-z_][\w ()]*?)\s*:?=\s*(.*)$", body)
        if m:
            meta[m.group(1).strip().lower()] = m.group(2).strip()
    return meta


def _data_lines(all_lines: list[str], start: int) -> tuple[list[str], list[int]]:
    """The non-blank, non-comment lines from `start` on, with their 1-based line numbers."""
    lines, numbers = [], []
    for i, line in enumerate(all_lines[start:]):
        s = line.strip()
        if s and not s.startswith("#"):
            lines.append(line)
            numbers.append(start + i + 1)
    return lines, numbers


def _rows(
    path: Path, all_lines: list[str], first: int, notes: list[str]
) -> tuple[list[str] | None, list[str], list[int], str | None]:
    """(header row names or None, data lines, their line numbers, delimiter) from the first row on."""
    header: list[str] | None = None
    lines, numbers = _data_lines(all_lines, first)
    plotter = _plotter_lines(path, lines, numbers)
    if plotter is not None:
        header, lines = plotter
        delim = _sniff_delimiter(lines[0])
        notes.append(f"Arduino Serial Plotter labels: {', '.join(header)}")
    else:
        delim = _sniff_delimiter(all_lines[first])
        tokens = _split(all_lines[first], delim)
        if any(_to_float(t) is None for t in tokens) and any(ch.isalpha() for ch in all_lines[first]):
            header = [t.strip().strip('"').strip("'") for t in tokens]
            lines, numbers = lines[1:], numbers[1:]
    return header, lines, numbers, delim


def _layout(
    path: Path, comments: list[str], meta: dict[str, str], header: list[str] | None, width: int
) -> _Layout:
    """Column names, kept columns, resolution, rate and units from OpenSignals or our own header lines."""
    lay = _Layout(names=header or [f"ch{i}" for i in range(width)], keep=list(range(width)),
                  resolution=[None] * width, rate=None, origin="", units=meta.get("units"))
    if any("opensignals text file format" in c.lower() for c in comments):
        device = _opensignals_json(path, comments)
        cols = [str(c) for c in device.get("column", [])]
        if len(cols) != width:
            raise InputError(f"{path}: OpenSignals header lists {len(cols)} columns, rows have {width}")
        lay.names = cols
        lay.keep = [i for i, c in enumerate(cols) if re.fullmatch(r"A\d+", c)]
        if not lay.keep:
            raise InputError(f"{path}: OpenSignals file without analog (A1, A2, ...) columns")
        res = device.get("resolution", [])
        lay.resolution = [int(r) if isinstance(r, (int, float)) else None for r in res] + [None] * width
        if "sampling rate" in device:
            lay.rate, lay.origin = float(device["sampling rate"]), "OpenSignals header"
        lay.units = lay.units or "counts"
    elif "sampling rate (hz)" in meta:  # OpenSignals "Simple Text Format" (BioSPPy examples)
        lay.rate, lay.origin = _to_float(meta["sampling rate (hz)"]), "OpenSignals header"
        bits = _to_float(meta.get("resolution", ""))
        lay.resolution = [int(bits) if bits else None] * width
        labels = [s.strip() for s in re.split(r"[,\t]", meta.get("labels", "")) if s.strip()]
        if len(labels) == width and header is None:
            lay.names = labels
        lay.units = lay.units or "counts"
    if "rate_hz" in meta:
        lay.rate, lay.origin = _to_float(meta["rate_hz"]), "file header"
        if lay.rate is None:
            raise InputError(f"{path}: header rate_hz={meta['rate_hz']!r} is not a number")
    return lay


def _apply_time_column(
    path: Path, table: np.ndarray, numbers: list[int], header: list[str] | None, lay: _Layout,
    ignore_time: bool, warnings: list[str], notes: list[str],
) -> np.ndarray:
    """Drop a named time column from `lay.keep` (checking it, and taking the rate from it when none is known).

    The table comes back as it was, or put on an even grid when the rate comes from an uneven clock."""
    time_idx, scale = None, None
    if header is not None:
        for i, h in enumerate(header):
            is_time, scale = time_column_scale(h)
            if is_time:
                time_idx = i
                break
    names = lay.names
    if time_idx is not None:
        lay.keep = [i for i in lay.keep if i != time_idx]
        if not lay.keep:
            raise InputError(f"{path}: only a time column, no signal column")
        if not ignore_time:
            implied = _time_column_checks(
                path, table[:, time_idx], numbers, names[time_idx], scale, lay.rate, warnings
            )
            if lay.rate is None:
                lay.rate, lay.origin = implied, f"time column {names[time_idx]!r}"
                t = table[:, time_idx]
                if uneven(t) or implied < RATE_MIN_HZ:
                    step_s = _time_step_s(t, np.diff(t), scale)
                    table, lay.rate = resample_even(path, t, table, names[time_idx], step_s, warnings)
                    warnings[:] = [w for w in warnings if "later times are read as if none were" not in w]
        notes.append(f"time column {names[time_idx]!r} dropped")
    elif lay.keep and _looks_like_time(table[:, lay.keep[0]]):
        name = names[lay.keep[0]]
        warnings.append(
            f"{path}: the first column{f' {name!r}' if header else ''} only increases, like a clock or sample "
            "counter, yet is read as EMG channel 0; if it is time, name it t, time_s or time_ms in a header "
            "row, or leave it out with --channel"
        )
    return table


def _read_text(path: Path, raw: bytes, ignore_time: bool = False) -> _Parsed:
    all_lines = _decode(raw).splitlines()
    warnings: list[str] = []
    notes: list[str] = []
    comments, first = _leading_comments(path, all_lines)
    meta = _header_meta(comments)
    header, lines, numbers, delim = _rows(path, all_lines, first, notes)
    if not lines:
        raise InputError(f"{path}: no samples after the header row")
    if delim != "," and re.search(r"\d,\d", lines[0]):
        lines = [line.replace(",", ".") for line in lines]  # decimal commas: "0,000;12,5"
        notes.append("decimal commas")
    width = len(header) if header is not None else len(_split(lines[0], delim))
    _drop_cut_last_row(path, lines, numbers, delim, width, warnings)
    table = _parse_table(path, lines, numbers, delim, width)
    lay = _layout(path, comments, meta, header, width)
    table = _apply_time_column(path, table, numbers, header, lay, ignore_time, warnings, notes)
    return _Parsed(
        data=table[:, lay.keep],
        names=[lay.names[i] for i in lay.keep],
        rate_hz=lay.rate,
        rate_origin=lay.origin,
        units=lay.units,
        mode=meta.get("mode"),
        resolution=[lay.resolution[i] for i in lay.keep],
        warnings=warnings,
        notes=notes,
    )
