"""Fuzzing the block readers: a damaged file is one clear InputError or exactly what the in-memory reader makes of it,
never a crash or a partial, silently different result (bounded here: a few dozen examples each)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spasmcore.errors import FatalError, InputError
from spasmcore.readers import open_source, source
from spasmcore.recording import read_recording, write_recording
from spasmwatch.commands.replay import replay
from spasmwatch.engine import pipeline
from tests.signals import emg

SIG = emg(4, 500, [(1.5, 2.5, 60.0)], seed=9)
FUZZ = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture
def streamed(monkeypatch):
    monkeypatch.setattr(pipeline, "ROWS", 256)
    monkeypatch.setattr(pipeline, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(source, "COLLECT_MAX", 100)


def _outcome(fn):  # type: ignore[no-untyped-def]
    try:
        return "ok", fn()
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc), exc
        return "error", str(exc)


edits = st.lists(st.tuples(st.sampled_from(["cut", "insert", "replace"]), st.floats(0, 1),
                           st.sampled_from([b"nan", b"x", b",", b"\n", b"-7", b"1e9", b"#c\n", b"\x00", b"", b";"])),
                 min_size=1, max_size=3)


@FUZZ
@given(edits=edits)
def test_damaged_csv_streams_as_read_recording_reads_it(tmp_path_factory, streamed, edits) -> None:
    path = tmp_path_factory.mktemp("f") / "r.csv"
    write_recording(path, 500, [SIG, SIG[::-1].copy()], units="counts", mode="raw")
    data = bytearray(path.read_bytes())
    for op, where, text in edits:
        at = int(where * len(data))
        if op == "cut":
            data = data[: max(at, 1)]
        elif op == "insert":
            data[at:at] = text
        else:
            data[at : at + len(text)] = text
    path.write_bytes(bytes(data))
    want = _outcome(lambda: read_recording(path))
    got = _outcome(lambda: pipeline.replay_file(str(path), engine="python"))
    if want[0] == "error":
        assert got == want
    else:
        if got[0] == "error":  # the detector may refuse what the reader accepts (a rate out of its range, ...)
            with pytest.raises((InputError, FatalError, ValueError)):
                replay(want[1], want[1].mode or "raw", None, "python")
            return
        assert got[1].events == replay(want[1], want[1].mode or "raw", None, "python")
        assert got[1].source.warnings == want[1].warnings and got[1].n_samples == want[1].n_samples


@FUZZ
@given(cut=st.floats(0, 1), flips=st.lists(st.tuples(st.integers(0, 1200), st.integers(0, 255)), max_size=4))
def test_damaged_edf_is_an_error_or_whole(tmp_path_factory, cut: float, flips) -> None:
    import edfio

    path = tmp_path_factory.mktemp("e") / "r.edf"
    edfio.Edf([edfio.EdfSignal((SIG - 2048.0) * 4, 500, label="EMG", physical_dimension="uV")]).write(path)
    data = bytearray(path.read_bytes())
    for at, value in flips:
        if at < len(data):
            data[at] = value
    data = data[: max(1, int(len(data) * (0.5 + cut / 2)))] if cut < 0.9 else data
    path.write_bytes(bytes(data))
    kind, src = _outcome(lambda: open_source(path))
    if kind == "error":
        return
    rows = _outcome(lambda: sum(b.shape[0] for b in src.blocks(300)))
    assert rows[0] == "error" or rows[1] == src.n_samples
    if rows[0] == "ok" and src.n_samples:
        got = np.concatenate([b for b in src.blocks(300)])
        assert np.all(np.isfinite(got))
