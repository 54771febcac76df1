"""Recordings opened as block sources: EDF/EDF+/BDF (edfio), plain CSV streamed (pyarrow), the rest in memory."""

from __future__ import annotations

from pathlib import Path

from .. import recording as R
from ..errors import InputError
from .csvfast import Fallback, open_csv
from .edf import is_edf, open_edf
from .source import Source, from_recording

__all__ = ["Fallback", "Source", "open_source", "open_whole"]


def open_whole(path: str | Path, rate_hz: float | None = None, units: str | None = None,
               columns: list[int] | None = None) -> Source:
    """The in-memory reader (read_recording) as a Source: its checks and errors, whole files."""
    return from_recording(R.read_recording(path, rate_hz=rate_hz, units=units, columns=columns))


def open_source(path: str | Path, rate_hz: float | None = None, units: str | None = None,
                columns: list[int] | None = None, stream: bool = True) -> Source:
    """Open a recording in the format its extension and content say; streamed where the format allows.

    EDF/EDF+/BDF through edfio (rate and units per channel from the header), plain delimited CSV with a
    `# rate_hz=` header (or --rate) through pyarrow in blocks; every other format read_recording knows is read
    whole. A streamed CSV that turns out to need read_recording's care raises Fallback from its blocks: callers
    then use open_whole (pipeline.replay_file does)."""
    path = Path(path)
    if units is not None and units not in R.UNITS:
        raise InputError(f"unknown units {units!r} (expected one of {', '.join(R.UNITS)})")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    suffix = path.suffix.lower()
    if is_edf(head, suffix):
        return open_edf(path, rate_hz, units, columns)
    if stream and suffix in R.TEXT_SUFFIXES and head[:4] != b"RIFF" and head[:6] != b"MATLAB":
        try:
            return open_csv(path, rate_hz, units, columns)
        except Fallback:
            pass
    return open_whole(path, rate_hz, units, columns)
