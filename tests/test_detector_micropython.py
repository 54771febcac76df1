"""The detector under the MicroPython unix port: same events as CPython, no allocation, 32-bit bounds, 64 KB."""

from __future__ import annotations

import platform
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import FIRMWARE_DIR
from signals import clonus, emg

from spasmfw import detchain as chain_slots  # the state and coefficient slot names (CPython sees them)
from spasmfw import detector as fw
from spasmwatch.engine.detect import detect

pytestmark = pytest.mark.micropython
SMALL_INT = 1 << 30  # MicroPython small ints on a 32-bit ESP32 are 31-bit signed: beyond, ints go to the heap
# firmware/detector.py and the modules it imports (a board needs all of them)
DETECTOR_MODULES = ("compat", "codes", "detparams", "detchain", "detbeats", "detepisode", "detrest", "detector")


def run_mpy(micropython_bin: str, code: str, heap: str = "256k", cwd: Path | None = None) -> str:
    script = f"import sys\nsys.path.insert(0, {str(FIRMWARE_DIR)!r})\n" + textwrap.dedent(code)
    proc = subprocess.run([micropython_bin, "-X", f"heapsize={heap}", "-c", script], capture_output=True,
                          text=True, timeout=300, cwd=cwd)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout


def _with_faults(sig: np.ndarray) -> np.ndarray:
    sig = sig.copy()
    n = len(sig)
    sig[n // 2:n // 2 + n // 10] = 4095
    return sig


def _envelope(seconds: float, rate: int, bursts: list[tuple[float, float, float]]) -> np.ndarray:
    """A MyoWare-ENV-like signal: smoothed rectified noise around a rest level of ~20 counts."""
    rng = np.random.default_rng(4)
    t = np.arange(int(seconds * rate)) / rate
    level = np.full(t.size, 20.0)
    for start, end, amp in bursts:
        level[(t >= start) & (t < end)] += amp
    noisy = level * (1 + 0.2 * rng.standard_normal(t.size))
    smooth = np.convolve(noisy, np.ones(3) / 3, mode="same")
    return np.clip(np.rint(smooth), 0, 4095)


def _sim(name: str, mode: str, rate: float, minutes: float) -> np.ndarray:
    from spasmsim.generate import generate

    return np.asarray(generate(name, seed=1, minutes=minutes, mode=mode, rate_hz=rate).channels[0])


SYNTHETIC = [
    ("raw1k", lambda: emg(40, 1000, [(5, 9, 40), (14, 14.2, 50), *clonus(20, 4, 5)], seed=1), 1000, "raw", {}),
    ("raw2k_tkeo_lp", lambda: emg(20, 2000, [(4, 7, 30), *clonus(10, 3, 7)], seed=2), 2000, "raw",
     {"tkeo": 1, "mains_hz": 60, "lp_hz": 400}),
    ("raw_fault", lambda: _with_faults(emg(30, 500, [(3, 6, 40), (25, 27, 40)], seed=3)), 500, "raw", {}),
    ("env50", lambda: _envelope(60, 50, [(10, 16, 300), (30, 30.3, 300), (40, 40.5, 50)]), 50, "env", {}),
    ("raw_low_rate", lambda: emg(30, 25, [(10, 15, 40)], seed=5), 25, "raw", {"hp_hz": 5}),
    # the mechanisms of issue 8 on the simulator scenarios that exercise them
    ("ecg250", lambda: _sim("ecg_spasms", "raw", 250, 2), 250, "raw", {}),
    ("ecg_env", lambda: _sim("ecg_spasms", "env", 100, 2), 100, "env", {}),
    ("env_offset", lambda: _sim("env_offset_grasps", "env", 100, 2), 100, "env", {}),
    ("floor_step", lambda: _sim("floor_step", "raw", 500, 3), 500, "raw", {}),
    ("swing_ecg_on", lambda: _sim("swing_bursts", "raw", 1000, 1), 1000, "raw", {"ecg": 2}),
    ("dead_line", lambda: np.concatenate([emg(5, 1000, [(2, 3, 40)], seed=6), np.full(3000, 2050)]), 1000, "raw",
     {}),
]


@pytest.mark.parametrize("name, make, rate, mode, params", SYNTHETIC, ids=[s[0] for s in SYNTHETIC])
def test_same_events_on_cpython_and_micropython(name, make, rate, mode, params):
    sig = make()
    on_cpython = detect(sig, rate, mode, params)
    on_micropython = detect(sig, rate, mode, params, engine="micropython")
    assert on_cpython == on_micropython
    assert on_cpython, "the signal should produce events, or the comparison proves little"


@pytest.mark.realdata
@pytest.mark.parametrize(
    "rel, mode, columns",
    [("biosppy/emg.txt", "raw", None), ("biosppy/emg_1.txt", "raw", None), ("myo_readings/12345-1/7.txt", "raw", [0]),
     ("tum_ics_exo/signal_data/RMS_healthy_P1_34p81hz_processed_cleaned.csv", "env", None),
     ("emgGO/ecg_contaminated.mat", "raw", [0])],
)
def test_same_events_on_real_recordings(shared_data, rel, mode, columns):
    from spasmcore.recording import decimate, read_recording
    from spasmwatch.commands.replay import replay

    rec = read_recording(shared_data / rel, rate_hz=200 if "myo" in rel else None, columns=columns)
    if rec.rate_hz > 2000:
        rec = decimate(rec, 2)
    assert replay(rec, mode, {}) == replay(rec, mode, {}, engine="micropython")


HEAP_LOCK = """
import micropython
from array import array
import detector

def fill(buf, start, seed):
    # LCG noise; bursts and a railed stretch so onsets, ends and faults happen while the heap is locked
    for j in range(len(buf)):
        i = start + j
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        v = ((seed >> 16) & 7) - 4
        if 4000 <= i < 7000 or 12000 <= i < 12300 or 20000 <= i < 24000:
            v *= 25
        elif i % 800 < 30:  # a 30 ms heartbeat-like pulse at 75 bpm: the heartbeat gate runs too
            v *= 12
        v += 2048
        if 15000 <= i < 16500:
            v = 4095
        buf[j] = v
    return seed

def main():  # locals only: a new module global created under the lock would itself allocate
    dets = [detector.Detector(1000, 'raw', {}), detector.Detector(1000, 'raw', {'tkeo': 1, 'lp_hz': 300}),
            detector.Detector(100, 'env', {})]
    blk = array('h', bytes(2 * 50))
    seed = 1
    kinds = {}
    for b in range(600):
        seed = fill(blk, b * 50, seed)
        micropython.heap_lock()
        try:
            for d in dets:
                d.process(blk, 50)
        finally:
            micropython.heap_unlock()
        for d in dets:
            while True:
                r = d.pop()
                if r is None:
                    break
                kinds[r[0]] = kinds.get(r[0], 0) + 1
    big = 0
    for d in dets:
        for v in d.st:
            big = max(big, abs(v))
    return kinds, big, dets[0].beats

kinds, big, beats = main()
print(sorted(kinds.items()), big)
print(beats)
"""


def test_block_processing_allocates_nothing(micropython_bin):
    out, beats = run_mpy(micropython_bin, HEAP_LOCK).split("\n")[:2]
    assert int(beats) >= 3  # the heartbeat rhythm was learnt (and gated runs) under the lock
    kinds = dict(eval(out.rsplit(" ", 1)[0]))  # [(etype, count), ...]
    assert kinds.get(fw.EV_ONSET, 0) >= 3 and kinds.get(fw.EV_END, 0) >= 3
    assert kinds.get(fw.EV_FAULT_START, 0) >= 1 and kinds.get(fw.EV_FAULT_END, 0) >= 1
    assert int(out.rsplit(" ", 1)[1]) < SMALL_INT


HEAP_64K = """
import gc
gc.collect()
free0 = gc.mem_free()
import detector
from array import array
gc.collect()
free1 = gc.mem_free()
dets = [detector.Detector(1000, 'raw', {}), detector.Detector(1000, 'raw', {})]
bufs = [array('H', [2048] * 50), array('H', [2048] * 50)]
gc.collect()
free2 = gc.mem_free()
for b in range(400):
    for j in range(50):
        bufs[0][j] = 2048 + ((b * 50 + j) * 37 % 11) - 5
        bufs[1][j] = 2048 + ((b * 50 + j) * 53 % 13) - 6
    for d, buf in zip(dets, bufs):
        d.process(buf, 50)
        while d.pop():
            pass
gc.collect()
print(free0, free1, free2, gc.mem_free())
"""


def test_two_channels_fit_a_64k_heap_with_room_to_spare(micropython_bin, tmp_path):
    # As on a board, the modules are precompiled with mpy-cross (compiling source needs more than 64 KB) and
    # imported from the current directory under their bare names (-s: a module keeps its source name, and a long
    # host path would cost heap and make the figure depend on the checkout's path); only
    # the .mpy files are on the path, so a module the detector imports and this list lacks fails here.
    arch = "x64" if platform.machine() in ("x86_64", "AMD64") else "armv7m"
    for name in DETECTOR_MODULES:
        subprocess.run(["mpy-cross", f"-march={arch}", "-s", f"{name}.py", "-o", str(tmp_path / f"{name}.mpy"),
                        str(FIRMWARE_DIR / f"{name}.py")], check=True)
    code = HEAP_64K.replace("import gc", "import gc\nsys.path[0] = ''", 1)
    free0, free1, free2, free3 = map(int, run_mpy(micropython_bin, code, heap="64k", cwd=tmp_path).split())
    module = free0 - free1
    two_channels = free1 - free2
    print(f"module {module} B, two detectors {two_channels} B, free after run {free3} B of 64 KB")
    assert two_channels < 12 * 1024
    # The detector's modules take ~23.3 KB on this 64-bit port (each module adds its dict, context and imported
    # names; compat, ~0.6 KB of it, is shared with the app); a bound on them catches growth before the app feels it.
    assert module < 24 * 1024
    # Nearly half of the 64 KB heap left for the app on this 64-bit port (codes.py, which the detector imports,
    # also holds the end-record field table the app reads); the board's real margin is measured on the 32-bit
    # model (tests/test_board_budget.py).
    assert free3 > 29 * 1024
    assert abs(free3 - free2) < 1024  # steady state: nothing accumulates


def _worst_case_inputs(rate: int) -> list[np.ndarray]:
    rng = np.random.default_rng(9)
    out = []
    for period in (2, 3, 4, 5, 7, 10, 16, 40, 100, 400):  # rail-to-rail square waves, up to Nyquist
        out.append(np.where((np.arange(4000) // (period // 2 or 1)) % 2 == 0, 0, 4095))
    out.append(rng.integers(0, 4096, 4000))  # full-scale random
    imp = np.zeros(4000, dtype=int)
    imp[::97] = 4095
    out.append(imp)  # impulses off the bottom rail
    return out


@pytest.mark.parametrize("rate, params", [(1000, {}), (2000, {"lp_hz": 400, "mains_hz": 60}),
                                          (1000, {"tkeo": 1}), (200, {"hp_hz": 5, "smooth_ms": 500}),
                                          (2000, {"smooth_ms": 500})])
def test_every_intermediate_fits_signed_32_bit(rate, params):
    """Worst-case inputs, one sample at a time: the largest state of each filter bounds its products."""
    det = fw.Detector(rate, "raw", params)
    c = det.coef
    peak = np.zeros(len(det.st), dtype=np.int64)
    run_tail = 0  # the rest tail a run moves (detrest._learn), outside the chain's state
    for sig in _worst_case_inputs(rate):
        for v in sig.tolist():
            det.process([v], 1)
            peak = np.maximum(peak, np.abs(np.asarray(det.st, dtype=np.int64)))
            run_tail = max(run_tail, abs(det.run_tail))
            while det.pop():
                pass
    x_in = 2 * 4095  # (sample - offset) << 1
    rnd = 1 << fw.COEF_BITS
    ch = chain_slots
    bounds = {
        "hp1": abs(c[ch._C_HP1_G]) * 4 * x_in + (abs(c[ch._C_HP1_A1]) + abs(c[ch._C_HP1_A2])) * peak[ch._S_Y1] + rnd,
        "hp2": abs(c[ch._C_HP2_G]) * 4 * peak[ch._S_Z1] + (abs(c[ch._C_HP2_A1]) + abs(c[ch._C_HP2_A2])) * peak[ch._S_W1]
        + rnd,
        "notch": abs(c[ch._C_NOTCH_G]) * 2 * peak[ch._S_V1] + abs(c[ch._C_NOTCH_A1]) * (peak[ch._S_V1] + peak[ch._S_U1])
        + abs(c[ch._C_NOTCH_A2]) * peak[ch._S_U1] + rnd,
        "lp": abs(c[ch._C_LP_G]) * 4 * peak[ch._S_T1] + (abs(c[ch._C_LP_A1]) + abs(c[ch._C_LP_A2])) * peak[ch._S_L1]
        + rnd,
        "tkeo": 2 * peak[ch._S_P1] * peak[ch._S_P1],
        "states": int(peak.max()),
        "floor": det.floor_acc,
        "threshold": det.floor * det.on_q,
        "run tail": run_tail,
        "tail threshold": ((int(peak[ch.S_TAIL]) >> fw.FLOOR_BITS) << 4) // ch.TAIL_Q * det.on_q,
    }
    print(rate, params, {k: f"2^{np.log2(max(v, 1)):.1f}" for k, v in bounds.items()})
    for name, bound in bounds.items():
        assert bound < SMALL_INT, f"{name} may reach {bound} >= 2**30"
