"""The fast engine's own CSV reader (engine.csvint, issue 22 item 2): the values read_recording reads, without pyarrow;
whatever it is not sure of is left to the general reader, with the same events."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spasmcore.readers import Fallback, open_source
from spasmcore.recording import read_recording, write_recording
from spasmwatch.commands.replay import replay
from spasmwatch.engine import pipeline
from spasmwatch.engine.csvint import block_reader
from tests.signals import emg

SIG = emg(6, 500, [(1.5, 2.5, 60.0), (4.0, 4.3, 40.0)], seed=3)


def _blocks(path: Path, rows: int = 100) -> np.ndarray | None:
    """csvint's rows of a file, or None when the streaming reader leaves the file to read_recording anyway."""
    src = open_source(path, rate_hz=500.0)
    return None if src.table is None else np.concatenate(list(block_reader(path, *src.table)(rows)))


tables = st.tuples(
    st.integers(1, 4), st.integers(1, 60), st.sampled_from([",", ";", "\t"]), st.sampled_from(["\n", "\r\n"]),
    st.booleans(), st.integers(0, 2**31),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=tables)
def test_integer_rows_read_as_read_recording_reads_them(tmp_path_factory, shape) -> None:
    width, n, delim, eol, last_eol, seed = shape
    rng = np.random.default_rng(seed)
    values = rng.integers(-(10**12), 10**12, size=(n, width)) // rng.integers(1, 10**9, size=(n, width))
    signs = rng.choice(["", "+"], size=(n, width))  # an explicit plus sign is a number too
    body = eol.join(delim.join(f"{s}{v}" if v >= 0 else str(v) for s, v in zip(sr, vr, strict=True))
                    for sr, vr in zip(signs, values, strict=True))
    path = tmp_path_factory.mktemp("c") / "r.csv"
    path.write_bytes(("# rate_hz=500\n" + body + (eol if last_eol else "")).encode())
    got = _blocks(path, rows=7)
    if got is None:
        return
    np.testing.assert_array_equal(got, values.astype(np.float64))
    np.testing.assert_array_equal(got, np.stack(read_recording(path, rate_hz=500.0).channels, axis=1))


@pytest.mark.parametrize("row", ["1.5", "1e3", "nan", " 12", "12 ", "", "#c", "1234567890123456", "-", "+-1",
                                 "\u0661\u0662", "0x10", "1_000"])
def test_anything_but_plain_integers_is_left_to_the_general_reader(tmp_path: Path, row: str) -> None:
    path = tmp_path / "r.csv"
    path.write_text("# rate_hz=500\n2048\n2049\n" + row + "\n2050\n")
    try:
        src = open_source(path, rate_hz=500.0)
    except Fallback:
        return  # (the general reader's own sniffing already leaves it to read_recording)
    assert src.table is not None
    with pytest.raises(Fallback):
        list(block_reader(path, *src.table)(64))


def test_fast_replay_with_a_late_non_integer_row_equals_the_in_memory_replay(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "ROWS", 512)
    monkeypatch.setattr(pipeline, "STREAM_MIN_BYTES", 0)
    path = tmp_path / "r.csv"
    write_recording(path, 500, [SIG, SIG[::-1].copy()], units="counts", mode="raw")
    text = path.read_text().splitlines()
    text[-40] = text[-40].replace(",", ".5,", 1)  # a fraction near the end: read_recording reads it as au
    path.write_text("\n".join(text) + "\n")
    got = pipeline.replay_file(str(path), engine="fast")
    rec = read_recording(path)
    assert got.events == replay(rec, "raw", None, "python") and got.source.units == rec.units
    plain = tmp_path / "p.csv"
    write_recording(plain, 500, [SIG], units="counts", mode="raw")
    assert pipeline.replay_file(str(plain), engine="fast").events == replay(read_recording(plain), "raw", None,
                                                                            "python")


def test_fast_replay_of_our_csv_needs_no_pyarrow_and_stays_under_250_mb(tmp_path: Path) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc/self/status (Linux) to read a process's peak RSS")
    path = tmp_path / "r.csv"
    write_recording(path, 1000, [np.tile(SIG, 200)], units="counts", mode="raw")  # 20 min at 1 kHz, 4.8 MB
    code = ("import sys\nfrom spasmwatch.engine.pipeline import replay_file\n"
            "r = replay_file(sys.argv[1], engine='auto')\n"
            "hwm = next(x for x in open('/proc/self/status') if x.startswith('VmHWM'))\n"
            "print(len(r.events), 'pyarrow' in sys.modules, 'scipy.linalg' in sys.modules, int(hwm.split()[1]) // 1024,"
            " r.source.notes)\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=600)
    n_events, pyarrow, linalg, rss, notes = out.stdout.split(maxsplit=4)
    assert pyarrow == "False" and "engine fast" in notes, out.stdout + out.stderr
    assert linalg == "False"  # numba's BLAS probe (0.4 s of start-up) skipped: engine.jitload
    assert int(n_events) > 0 and int(rss) < 250, out.stdout


def test_auto_engine_runs_a_short_streamed_csv_on_cpython(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "STREAM_MIN_BYTES", 0)
    path = tmp_path / "r.csv"
    write_recording(path, 1000, [np.tile(SIG, 20)], units="counts", mode="raw")  # 2 min: 120k samples
    r = pipeline.replay_file(str(path), engine="auto")
    assert any(n.startswith("engine python") for n in r.source.notes), r.source.notes
    assert r.events == pipeline.replay_file(str(path), engine="fast").events


def test_without_numba_the_general_reader_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spasmwatch.engine import detect

    monkeypatch.setattr(pipeline, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(detect, "fast_available", lambda: "numba is not installed")
    monkeypatch.setitem(sys.modules, "spasmwatch.engine.csvint", None)  # importing it now fails, as without numba
    path = tmp_path / "r.csv"
    write_recording(path, 500, [SIG], units="counts", mode="raw")
    assert pipeline.replay_file(str(path), engine="fast").events == replay(read_recording(path), "raw", None,
                                                                           "python")
