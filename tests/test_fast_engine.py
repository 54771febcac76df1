"""The compiled engine (derived from firmware/detector.py by engine.transform) gives the CPython reference's records,
field for field: the simulation suite in RAW and ENV, several parameter sets, and generated signals (bounded here;
bench/engine_equivalence.py runs the full sweep)."""

from __future__ import annotations

import ast

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spasmfw import detector as fw
from spasmsim import generate as gen
from spasmsim.scenarios import SCENARIOS
from spasmwatch.engine import fast, transform
from spasmwatch.engine.detect import _as_uint16, records_fast, records_python, stream
from spasmwatch.engine.params import BASE_PARAMS

PARAM_SETS = [{}, dict(BASE_PARAMS), {"sensitivity": 6, "min_off_ms": 200, "ecg": 2, "tkeo": 1, "mains_hz": 60}]


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    fast.compiled()  # the first compile (~20 s without the disk cache) is not any one test's


def _same(sig: np.ndarray, rate: float, mode: str, params: dict) -> list:
    data = _as_uint16(sig)
    try:
        ref = records_python(data, rate, mode, params)
    except OverflowError:  # the firmware's int32 state overflows (16-bit input in env mode): so must fast
        with pytest.raises(OverflowError):
            records_fast(data, rate, mode, params)
        return []
    got = records_fast(data, rate, mode, params)
    assert got == ref, f"{mode} {rate} Hz {params}: fast {got[:4]} vs python {ref[:4]}"
    return ref


@pytest.mark.parametrize("mode,rate", [("raw", 1000.0), ("env", 100.0)])
def test_simulation_suite_identical(mode: str, rate: float) -> None:
    total = 0
    for k, sc in enumerate(SCENARIOS):
        sim = gen.generate(sc.name, seed=3, minutes=1.0, mode=mode, rate_hz=rate)
        total += len(_same(sim.channels[0], rate, mode, PARAM_SETS[k % len(PARAM_SETS)]))
    assert total > 30  # the suite has episodes and faults to compare, not only empty lists


def test_blocks_do_not_change_records() -> None:
    """Fed in uneven blocks (state carried across), the records equal one unblocked run."""
    sim = gen.generate("ecg_leadoff", seed=2, minutes=1.0, mode="raw", rate_hz=1000.0)
    data = _as_uint16(sim.channels[0])
    ref = records_python(data, 1000.0, "raw", {})
    for engine in ("fast", "python"):
        s = stream(1000.0, "raw", {}, engine=engine)
        got, pos = [], 0
        for size in (256 * 7, 256, 256 * 300, 256 * 41):
            got += s.feed(data[pos : pos + size])
            pos += size
        got += s.feed(data[pos:]) + s.finish()
        assert got == ref, engine
    assert any(r[0] == fw.EV_FAULT_START for r in ref)


signals = st.sampled_from(["flat", "rail_hi", "rail_lo", "steps", "noise", "extreme"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=signals, rate=st.integers(25, 2000), seed=st.integers(0, 2**16), mode=st.sampled_from(["raw", "env"]),
       pset=st.integers(0, len(PARAM_SETS) - 1), seconds=st.floats(0.05, 6.0))
def test_generated_signals_identical(kind: str, rate: int, seed: int, mode: str, pset: int, seconds: float) -> None:
    if mode == "env" and rate > 500:
        rate = 25 + rate % 476
    rng = np.random.default_rng(seed)
    n = max(1, int(seconds * rate))
    level = rng.integers(0, 4096)
    if kind == "flat":
        sig = np.full(n, level)
    elif kind == "rail_hi":
        sig = np.where(rng.random(n) < 0.7, 4095, level)
    elif kind == "rail_lo":
        sig = np.where(np.arange(n) > n // 3, 0, 2048 + rng.integers(-50, 50, n))
    elif kind == "steps":
        sig = np.repeat(rng.integers(0, 4096, 1 + n // 97), 97)[:n]
    elif kind == "noise":
        sig = 2048 + rng.normal(0, rng.uniform(0.3, 300), n)
    else:
        sig = rng.integers(0, 65536, n)  # far beyond 12 bits: the whole uint16 range
    params = dict(PARAM_SETS[pset])
    if mode == "env":
        params.pop("mains_hz", None)
    _same(np.asarray(sig), float(rate), mode, params)


def test_replay_cuts_blocks_as_the_board_does() -> None:
    from spasmfw import app
    from spasmwatch.engine import blocks

    assert (blocks.BOARD_BLOCK_MS, blocks.BOARD_MAX_BLOCK) == (app.BLOCK_MS, app.MAX_BLOCK)
    assert [blocks.drain_block(fw.Detector(r, "raw", {})) for r in (25, 200, 1000, 2000)] == [1, 10, 50, 100]


def test_stream_cut_anywhere_equals_one_run_after_faults(monkeypatch) -> None:
    """Where process() calls begin can move a record after a fault (docs/detector.md): a stream carries part
    blocks over, so however it is fed its calls fall where one run's do. (256-sample calls: with the board's 50
    this signal happens not to show the effect, so the test could not fail.)"""
    from spasmwatch.engine import blocks
    from tests.signals import emg

    monkeypatch.setattr(blocks, "BLOCK", 256)
    rng = np.random.default_rng(5)
    sig = emg(20, 1000, [(3, 5, 80.0), (9, 9.3, 100.0), (14, 17, 60.0)], seed=5)
    for a in rng.integers(0, 20000, 4):
        sig[a : a + rng.integers(300, 2000)] = 4095 if rng.random() < 0.5 else 0
    data = _as_uint16(sig)
    ref = records_python(data, 1000.0, "raw", {})
    for engine in ("python", "fast"):
        s = stream(1000.0, "raw", {}, engine=engine)
        got, pos = [], 0
        for size in (37, 1000, 256, 5, 4093, 160) * 10:
            got += s.feed(data[pos : pos + size])
            pos += size
        assert got + s.feed(data[pos:]) + s.finish() == ref, engine
    assert sum(r[0] == fw.EV_FAULT_START for r in ref) >= 2


def test_int32_overflow_raises_as_on_cpython() -> None:
    """16-bit extremes in env mode overflow the firmware's int32 floor slot: CPython raises, the compiled engine
    must too (not wrap)."""
    rng = np.random.default_rng(0)
    rng.integers(0, 4096)  # (the draw test_generated_signals_identical makes first: its failing example)
    sig = _as_uint16(rng.integers(0, 65536, 309))
    with pytest.raises(OverflowError):
        records_python(sig, 103.0, "env", dict(BASE_PARAMS))
    with pytest.raises(OverflowError):
        records_fast(sig, 103.0, "env", dict(BASE_PARAMS))


def test_drain_matches_pop() -> None:
    """The driver's drain equals Detector.pop on the same queue (tick units scaled, -1 offsets kept)."""
    det = fw.Detector(500, "raw", {})
    rows = np.array([[fw.EV_ONSET, 0, 7, -1, 9, 0, 0, 33], [fw.EV_END, 2, 7, 40, 41, 900, 300, 33]])
    for r in rows:
        det._push(*[int(v) for v in r])
    assert fast.to_samples(rows, det.tick_samples).tolist() == [list(det.pop()), list(det.pop())]


def test_transform_refuses_what_it_cannot_carry() -> None:
    class Bad(fw.Detector):
        def flush(self):
            self.notes.append(1)  # a list attribute: not integer state
            return 0

    with pytest.raises(transform.TransformError, match="notes"):
        transform.plan_for(Bad, Bad(1000, "raw", {}))


def test_transform_refuses_an_attribute_it_cannot_find() -> None:
    class Bad(fw.Detector):
        def flush(self):
            return self.nowhere  # never set, not computed: no silent 0

    with pytest.raises(transform.TransformError, match="nowhere"):
        transform.plan_for(Bad, Bad(1000, "raw", {}))


def test_generated_code_has_no_hand_written_detector() -> None:
    """Every generated detector function comes from a firmware method; only the block driver is added."""
    eng = fast.compiled()
    tree = ast.parse(open(eng.module.__file__).read())
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert names == set(eng.plan.functions.values()) | {"run_blocks", transform.STORE}
    assert {"process", "_tick", "_in_episode", "_faults"} <= set(eng.plan.functions)
    assert any(k.endswith("chain") for k in eng.plan.functions)  # the per-sample viper chain, wherever it lives


def test_without_numba_fast_falls_back_and_says_so_once(monkeypatch, capsys) -> None:
    from spasmwatch.engine import detect

    monkeypatch.setattr(detect, "fast_available", lambda: "numba is not installed")
    monkeypatch.setattr(detect, "_FALLBACK_NOTED", False)
    sig = _as_uint16(np.full(3000, 2048))
    assert detect.resolve_engine("fast") == "python" and detect.resolve_engine("fast") == "python"
    assert detect.detect(sig, 1000.0, engine="fast") == detect.detect(sig, 1000.0, engine="python")
    err = capsys.readouterr().err.splitlines()
    assert err == ["note: engine fast unavailable (numba is not installed); using the python engine (~100x slower)"]
