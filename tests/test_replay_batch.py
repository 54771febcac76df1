"""`spasmwatch replay` over many recordings (workers, per-recording outputs, summary), JSON lines and --annotate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spasmcore.events import read_events
from spasmcore.recording import read_recording, write_recording
from spasmwatch.cli import main
from spasmwatch.commands.replay import replay
from tests.signals import emg


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["replay", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "study" / "night1"
    d.mkdir(parents=True)
    for k in range(3):
        bursts = [(4 + k, 6 + k, 60.0), (12, 12.25, 90.0)]
        write_recording(d / f"p{k}.csv", 1000, [emg(20, 1000, bursts, seed=k)], units="counts", mode="raw")
    (d / "notes.md").write_text("not a recording")
    return tmp_path / "study"


def test_folder_in_parallel_writes_one_events_file_each_and_a_summary(capsys, folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, err = _run(capsys, str(folder), "--out", str(out), "--jsonl-out", "--jobs", "2")
    assert code == 0, err
    for k in range(3):
        path = folder / "night1" / f"p{k}.csv"
        want = replay(read_recording(path), "raw", None, "python")
        csv_rows = read_events(out / f"p{k}.events.csv")
        assert [(e.kind, e.onset_s) for e in csv_rows] == [(e.kind, round(e.onset_s, 4)) for e in want]
        got = [json.loads(line) for line in (out / f"p{k}.events.jsonl").read_text().splitlines()]
        assert [(g["kind"], g["onset_s"]) for g in got] == [(e.kind, e.onset_s) for e in want] and want
        assert all(g["recording"] == str(path) for g in got)
    rows = (out / "summary.csv").read_text().splitlines()
    assert rows[0].startswith("recording,format,duration_s") and len(rows) == 4
    assert "p0.csv" in stdout and "3 recording(s)" in stdout


def test_a_bad_recording_is_one_summary_row_and_exit_1(capsys, folder: Path, tmp_path: Path) -> None:
    (folder / "night1" / "broken.csv").write_text("# rate_hz=1000\n1\n2\nx\n3\n")
    code, stdout, err = _run(capsys, str(folder), "--jobs", "1")
    assert code == 1
    row = next(line for line in stdout.splitlines() if "broken.csv" in line)
    assert "non-numeric value 'x'" in row and "broken.csv:4" in err
    assert sum(1 for line in stdout.splitlines() if "p" in line and ".csv" in line) == 4


def test_single_flags_refused_for_several(capsys, folder: Path) -> None:
    code, _, err = _run(capsys, str(folder), "--events", "x.csv")
    assert code == 2 and "--events takes one recording" in err


def test_jsonl_to_stdout(capsys, folder: Path) -> None:
    path = folder / "night1" / "p1.csv"
    code, stdout, err = _run(capsys, str(path), "--jsonl", "-")
    want = replay(read_recording(path), "raw", None, "python")
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert code == 0 and [r["onset_s"] for r in rows] == [e.onset_s for e in want] and "episode" in err


def test_annotate_writes_edf_plus_with_every_event(capsys, folder: Path, tmp_path: Path) -> None:
    import edfio

    path = folder / "night1" / "p2.csv"
    target = tmp_path / "p2.edf"
    code, _, err = _run(capsys, str(path), "--annotate", str(target), "--engine", "fast")
    assert code == 0, err
    want = replay(read_recording(path), "raw", None, "python")
    e = edfio.read_edf(target)
    assert len(e.annotations) == len(want) >= 2
    for a, ev in zip(e.annotations, want, strict=True):
        assert a.onset == pytest.approx(ev.onset_s, abs=1e-4) and a.text.startswith(f"{ev.kind} ch0 peak_x=")
    assert np.array_equal(e.signals[0].data, read_recording(path).channels[0])
    # the annotated EDF replays to the same events
    assert _run(capsys, str(target), "--events", "-")[1] == _run(capsys, str(path), "--events", "-")[1]


def test_the_same_batch_on_a_dask_cluster(capsys, folder: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed", reason="the cluster extra (dask[distributed]) is not installed")
    local, cluster_out = tmp_path / "local", tmp_path / "cluster"
    assert _run(capsys, str(folder), "--out", str(local), "--jobs", "1")[0] == 0
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as lc:
        code, stdout, err = _run(capsys, str(folder), "--out", str(cluster_out), "--scheduler", lc.scheduler_address)
    assert code == 0, err
    for k in range(3):
        name = f"p{k}.events.csv"
        assert (cluster_out / name).read_text() == (local / name).read_text() and read_events(cluster_out / name)
    assert (cluster_out / "summary.csv").read_text() == (local / "summary.csv").read_text()


def test_unreachable_scheduler_is_one_error(capsys, monkeypatch, folder: Path) -> None:
    pytest.importorskip("distributed", reason="the cluster extra (dask[distributed]) is not installed")
    from spasmwatch.engine import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2)
    code, _, err = _run(capsys, str(folder), "--scheduler", "tcp://127.0.0.1:9")
    assert code == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err, err
