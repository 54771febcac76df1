"""Run firmware/detector.py over a channel of ADC counts: compiled from it (fast), on CPython or on MicroPython."""

from __future__ import annotations

import json
import subprocess
import tempfile
from array import array
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spasmcore.errors import ConfigError, FatalError
from spasmcore.events import Event
from spasmcore.firmware import FIRMWARE_DIR, UNIX_DIR
from spasmfw import detector as fw
from spasmwatch.engine.blocks import drain_block, split_carry
from spasmwatch.engine.record import Record, from_record, records_to_events

ENGINES = ("fast", "python", "micropython")
_FALLBACK_NOTED = False


def check_params(params: dict | None, mode: str, rate_hz: float) -> dict:
    try:
        return fw.validate(params or {}, mode, rate_hz)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def filter_notes(params: dict | None, mode: str, rate_hz: float) -> list[str]:
    """What the detector changes of the filter settings at this rate (a clamped high-pass, a notch or low-pass
    above Nyquist switched off), one line each; nothing is ever changed silently."""
    return list(fw.filters(check_params(params, mode, rate_hz), mode, rate_hz)[3])


def _as_uint16(samples: Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(samples)
    if arr.ndim != 1 or arr.size == 0:
        raise FatalError("the detector needs a non-empty single channel of samples")
    return np.clip(np.rint(arr), 0, 65535).astype("<u2")


def fast_available() -> str | None:
    """None when the compiled engine can run here, else why not (one line)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return "numba is not installed"
    return None


def resolve_engine(engine: str) -> str:
    """The engine that will run: 'fast' falls back to 'python' (said once, on stderr) where numba is missing."""
    global _FALLBACK_NOTED
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r} ({', '.join(ENGINES)})")
    if engine == "fast":
        why = fast_available()
        if why:
            if not _FALLBACK_NOTED:
                import sys

                print(f"note: engine fast unavailable ({why}); using the python engine (~100x slower)",
                      file=sys.stderr)
                _FALLBACK_NOTED = True
            return "python"
    return engine


class _PythonStream:
    """The CPython reference: the firmware Detector itself, drained after every drain_block() samples."""

    def __init__(self, rate_hz: float, mode: str, params: dict | None) -> None:
        self.det = fw.Detector(rate_hz, mode, params or {})
        self.block = drain_block(self.det)
        self.carry = np.zeros(0, dtype="<u2")

    def _drain(self, out: list[Record]) -> None:
        out.extend(from_record(r) for r in iter(self.det.pop, None))
        if self.det.dropped:
            raise FatalError("the detector's record queue overflowed between two drains (records lost)")

    def feed(self, samples: np.ndarray) -> list[Record]:
        now, self.carry = split_carry(self.carry, samples.astype("<u2", copy=False), self.block)
        return self._process(now)

    def _process(self, samples: np.ndarray) -> list[Record]:
        buf = array("H", samples.astype("<u2", copy=False).tobytes())
        view = memoryview(buf)
        out: list[Record] = []
        for start in range(0, len(buf), self.block):
            chunk = view[start : start + self.block]
            self.det.process(chunk, len(chunk))
            self._drain(out)
        return out

    def finish(self) -> list[Record]:
        out = self._process(self.carry)
        self.carry = self.carry[:0]
        self.det.flush()
        self._drain(out)
        return out


class _FastStream:
    def __init__(self, rate_hz: float, mode: str, params: dict | None) -> None:
        from spasmwatch.engine.fast import FastDetector  # the compiled engine's code loads only when used

        self.det = FastDetector(rate_hz, mode, params)

    def feed(self, samples: np.ndarray) -> list[Record]:
        return [from_record(r) for r in self.det.feed(samples).tolist()]

    def finish(self) -> list[Record]:
        return [from_record(r) for r in self.det.finish().tolist()]


def stream(rate_hz: float, mode: str, params: dict | None, engine: str = "fast") -> _PythonStream | _FastStream:
    """A detector fed block by block (`feed(uint16 block) -> records`, then `finish()`): the state carries
    across blocks, so the records equal one unblocked run whatever the block lengths. Feed blocks whose length
    may be anything: drains only read the queue, and each process() call spans few enough ticks that it cannot
    overflow (drain_block; an overflow would be an error, never a silent loss)."""
    check_params(params, mode, rate_hz)
    eng = resolve_engine(engine)
    if eng == "micropython":
        raise ConfigError("engine micropython runs whole recordings only (use detect())")
    return _FastStream(rate_hz, mode, params) if eng == "fast" else _PythonStream(rate_hz, mode, params)


def records_python(samples: np.ndarray, rate_hz: float, mode: str, params: dict | None) -> list[Record]:
    s = _PythonStream(rate_hz, mode, params)
    return s.feed(samples) + s.finish()


def records_fast(samples: np.ndarray, rate_hz: float, mode: str, params: dict | None) -> list[Record]:
    s = _FastStream(rate_hz, mode, params)
    return s.feed(samples) + s.finish()


def records_micropython(samples: np.ndarray, rate_hz: float, mode: str, params: dict | None) -> list[Record]:
    from spasmcore.tools import find_tool, missing

    exe = find_tool("micropython")
    if exe is None:
        raise FatalError(f"engine micropython: {missing('micropython')}")
    runner = UNIX_DIR / "replay.py"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "samples.bin"
        data.write_bytes(samples.tobytes())
        rate = int(rate_hz) if float(rate_hz).is_integer() else rate_hz
        cmd = [exe, "-X", "heapsize=256k", str(runner), str(FIRMWARE_DIR), str(data), str(rate), mode,
               json.dumps(params or {}), str(drain_block(fw.Detector(rate_hz, mode, params or {})))]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise FatalError(f"micropython detector failed: {proc.stderr.strip().splitlines()[-1:]}")
    return [from_record(line.split(",")) for line in proc.stdout.splitlines() if line]


def detect(
    samples: Sequence[int] | np.ndarray,
    rate_hz: float,
    mode: str = "raw",
    params: dict | None = None,
    channel: int = 0,
    engine: str = "python",
) -> list[Event]:
    """Episodes and faults found in one channel of ADC counts (engine fast, python or micropython)."""
    check_params(params, mode, rate_hz)
    data = _as_uint16(samples)
    engine = resolve_engine(engine)
    if engine == "python":
        records = records_python(data, rate_hz, mode, params)
    elif engine == "fast":
        records = records_fast(data, rate_hz, mode, params)
    else:
        records = records_micropython(data, rate_hz, mode, params)
    return records_to_events(records, rate_hz, channel)
