"""`--engine fast`: the firmware detector's own code, rewritten by engine.transform and compiled with numba.

The generated module (the firmware's methods over integer arrays, plus a block driver that drains the record
queue after every block exactly as `detect.records_python` does) is written once per firmware source to the
user cache directory and compiled with numba's on-disk cache, so later runs and every worker load it in well
under a second. The detector is built by the firmware's own `__init__` (CPython); its integer attributes and
arrays are then handed to the compiled code, so the state starts identical by construction.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import types
from pathlib import Path

import numpy as np

from spasmcore.errors import FatalError
from spasmfw import detector as fw
from spasmwatch.engine import transform
from spasmwatch.engine.blocks import drain_block, split_carry
from spasmwatch.engine.record import REC_LEN, TICK_FIELDS, Record

OUT_ROWS = 1024  # records handed back per driver call (more: the driver is called again)

DRIVER = '''

@njit(cache=True)
def run_blocks(_S, {ctx_arrays}, samples, pos, block, out, final):
    """Process samples[pos:] in blocks, draining the queue after each into out; returns (pos, rows, status)."""
    n = samples.shape[0]
    rows = 0
    while True:
        while _S[{q_len}] > 0:  # drain: the oldest record first, as Detector.pop
            if rows == out.shape[0]:
                return pos, rows, 0
            j = _S[{q_head}] * {rec_len}
            for k in range({rec_len}):
                out[rows, k] = _A_q[j + k]
            _S[{q_head}] = (_S[{q_head}] + 1) % {queue_len}
            _S[{q_len}] -= 1
            rows += 1
        if _S[{dropped}] != 0:
            return pos, rows, 1  # the queue overflowed between two drains: records were lost
        if pos >= n:
            if final and _S[{flushed}] == 0:
                _S[{flushed}] = 1
                m_flush(_S, {ctx_arrays})
                continue
            return pos, rows, 0
        stop = pos + block
        if stop > n:
            stop = n
        m_process(_S, {ctx_arrays}, samples[pos:stop], stop - pos)
        pos = stop
'''


def cache_dir() -> Path:
    env = os.environ.get("SPASMWATCH_ENGINE_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("spasmwatch")) / "engine"


class Compiled:
    """The generated module for the current firmware source, and how its state maps onto a Detector."""

    def __init__(self) -> None:
        probe = fw.Detector(1000, "raw", {})
        self.plan = transform.plan_for(fw.Detector, probe)
        self.key = ""
        self.module = self._load()

    def _render(self) -> str:
        slots = dict(self.plan.slots)
        flushed = len(slots)  # one extra slot: the driver's own "flush done" flag
        queue = len(vars(fw.Detector(1000, "raw", {}))["q"])  # REC_LEN ints per record x queue
        header = ('"""Generated from the firmware detector by spasmwatch.engine.transform; do not edit."""\n\n'
                  "from numba import njit\n\n"
                  f"SLOTS = {slots!r}\nARRAYS = {self.plan.arrays!r}\nN_SLOTS = {flushed + 1}\n\n")
        funcs = self.plan.source.replace("\ndef ", "\n@njit(cache=True)\ndef ")
        driver = DRIVER.format(ctx_arrays=", ".join(self.plan.ctx_args[1:]), q_len=slots["q_len"],
                               q_head=slots["q_head"], dropped=slots["dropped"], flushed=flushed,
                               rec_len=REC_LEN, queue_len=queue // REC_LEN)
        return header + "@njit(cache=True)\n" + funcs + "\n" + driver

    def _load(self) -> types.ModuleType:
        text = self._render()
        # Named by the generated code itself: the same firmware gives the same file in every process and worker
        self.key = hashlib.sha256((transform.VERSION + text).encode()).hexdigest()[:16]
        name = f"spasmwatch_engine_{self.key}"
        if name in sys.modules:
            return sys.modules[name]
        folder = cache_dir()
        path = folder / f"{name}.py"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text() != text:
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(text)
                os.replace(tmp, path)  # atomic: parallel workers never import half a file
        except OSError as exc:
            raise FatalError(f"engine fast: cannot write its compiled code to {folder} ({exc.strerror}); "
                             "set SPASMWATCH_ENGINE_CACHE to a writable folder") from None
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module


_COMPILED: Compiled | None = None


def compiled() -> Compiled:
    """The generated engine, built and loaded once per process."""
    global _COMPILED
    if _COMPILED is None:
        from spasmwatch.engine.jitload import prepare

        prepare()
        _COMPILED = Compiled()
    return _COMPILED


class FastDetector:
    """A firmware Detector whose process/flush run compiled; records come back as int64 rows like pop()."""

    def __init__(self, rate_hz: float, mode: str, params: dict | None) -> None:
        eng = compiled()
        self.det = fw.Detector(rate_hz, mode, params or {})
        self.mod = eng.module
        state = vars(self.det)
        self.S = np.zeros(self.mod.N_SLOTS, dtype=np.int64)
        for name, k in eng.plan.slots.items():
            self.S[k] = int(state.get(name, 0))
        # numpy views of the instance's own arrays: the compiled code and the instance share them
        self.arrays = [np.frombuffer(state[a], dtype=np.int32) for a in eng.plan.arrays]
        self.tick_samples = int(self.det.tick_samples)
        self.block = drain_block(self.det)  # samples per process() call between drains, as the reference
        self.carry = np.zeros(0, dtype=np.uint16)
        self.out = np.zeros((OUT_ROWS, REC_LEN), dtype=np.int64)

    def _run(self, samples: np.ndarray, final: bool) -> np.ndarray:
        data = np.ascontiguousarray(samples, dtype=np.uint16)
        pos, chunks = 0, []
        while True:
            pos, rows, status = self.mod.run_blocks(self.S, *self.arrays, data, pos, self.block, self.out, final)
            if rows:
                chunks.append(self.out[:rows].copy())
            if status:
                raise FatalError("the detector's record queue overflowed between two drains (records lost)")
            if rows < len(self.out):
                break
        recs = np.concatenate(chunks) if chunks else np.zeros((0, REC_LEN), dtype=np.int64)
        return to_samples(recs, self.tick_samples)

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Run a block of uint16 samples (any length: the state carries over, and so does a part block, so
        process() calls fall where they would in one run); the records completed so far."""
        now, self.carry = split_carry(self.carry, np.asarray(samples, dtype=np.uint16), self.block)
        return self._run(now, final=False)

    def finish(self) -> np.ndarray:
        """Flush (close an open episode or fault) and return the last records."""
        rest, self.carry = self.carry, self.carry[:0]
        return self._run(rest, final=True)


def to_samples(recs: np.ndarray, d: int) -> np.ndarray:
    """Queue rows (tick units) as Detector.pop returns them: the TICK_FIELDS x d (an offset of -1 kept)."""
    out = recs.copy()
    for name in TICK_FIELDS:
        k = Record._fields.index(name)
        out[:, k] = np.where(recs[:, k] >= 0, recs[:, k] * d, -1)  # -1: not yet (only an open offset has it)
    return out
