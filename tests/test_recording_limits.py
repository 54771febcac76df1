"""Recordings that would take the tool down (issue 22, items 1, 2 and 7): refused with one line, memory bounded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spasmcore.errors import InputError
from spasmcore.readers import open_source
from spasmwatch import cli

EDF_FIELDS = 16 + 80 + 8  # label, transducer, dimension: the per-signal fields before the ranges


def _edf(path: Path, field: int, equal: bool = True) -> Path:
    """A one-signal EDF whose `field`-th range field (0 pmin, 1 pmax, 2 dmin, 3 dmax) is overwritten by the next."""
    import edfio

    sig = np.sin(np.arange(5000) / 10.0) * 100
    edfio.Edf([edfio.EdfSignal(sig, 500, label="EMG", physical_dimension="uV")]).write(path)
    raw = bytearray(path.read_bytes())
    at = 256 + EDF_FIELDS + 8 * field
    if equal:
        raw[at : at + 8] = raw[at + 8 : at + 16]
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(("field", "what"), [(2, "digital"), (0, "physical")])
def test_edf_with_an_empty_range_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], field: int,
                                            what: str) -> None:
    path = _edf(tmp_path / "r.edf", field)
    with pytest.raises(InputError, match=f"{what} minimum equals {what} maximum"):
        open_source(path)
    assert cli.main(["replay", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot be calibrated" in err


def test_edf_with_ranges_is_read(tmp_path: Path) -> None:
    src = open_source(_edf(tmp_path / "r.edf", 2, equal=False))
    assert src.n_samples == 5000 and src.units == "uV"


def _run(tmp_path: Path, argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str, float, bool]:
    """`spasmwatch ARGV` in a fresh process: (exit status, stderr, its own peak RSS in MB, whether numpy loaded)."""
    import os
    import subprocess
    import sys

    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc/self/status (Linux) to read a process's peak RSS")
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (this test process) into the child.
    code = ("import sys\nfrom spasmwatch.cli import main\nrc = main(sys.argv[1:])\n"
            "hwm = next(x for x in open('/proc/self/status') if x.startswith('VmHWM'))\n"
            "print('RSS', int(hwm.split()[1]) / 1024, 'numpy' in sys.modules)\nsys.exit(rc)\n")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=300,
                         env={**os.environ, **(env or {})}, cwd=tmp_path)
    _, rss, numpy = next(x for x in out.stdout.splitlines() if x.startswith("RSS")).split()
    return out.returncode, out.stderr.strip(), float(rss), numpy == "True"


def _wide(path: Path, columns: int, rows: int = 3) -> Path:
    with open(path, "w") as fh:
        for r in range(rows):
            fh.write(",".join(str((7 * i + r) % 4096) for i in range(columns)) + "\n")
    return path


@pytest.mark.parametrize("columns", [100_000, 1_000_000])
def test_wide_csv_is_refused_in_bounded_memory(tmp_path: Path, columns: int) -> None:
    # 100,000 columns x 3 rows grew to 7.4 GB (10^6: OOM-killed): one detector per column.
    path = _wide(tmp_path / "wide.csv", columns)
    rc, err, rss, _ = _run(tmp_path, ["replay", str(path), "--rate", "1000"])
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert f"{columns} columns, more than the 1024" in err or "no row ends within" in err
    assert rss < 200, rss


def test_too_many_channels_for_one_replay(tmp_path: Path) -> None:
    path = _wide(tmp_path / "w.csv", 600, rows=50)
    with pytest.raises(InputError, match="600 channels, more than the 512 replayed at once; choose some"):
        from spasmwatch.engine.pipeline import replay_file

        replay_file(str(path), rate=1000.0, engine="python")
    assert cli.main(["replay", str(path), "--rate", "1000", "--channel", "0-3", "--engine", "python"]) == 0


@pytest.mark.parametrize("name", ["big.csv", "big.bin", "big.txt", "big.wav", "big.mat", "big.edf", "big.bdf"])
def test_huge_file_is_sniffed_not_read(tmp_path: Path, name: str) -> None:
    # A 5 GB sparse file was read whole before its format was checked (2 GB: 2.1 GB of RSS and ~10 s).
    path = tmp_path / name
    with open(path, "wb") as fh:
        if name.endswith(".bdf"):
            fh.write(b"\xffBIOSEMI")
        fh.truncate(5 << 30)
    try:
        rc, err, rss, numpy = _run(tmp_path, ["replay", str(path)])
    finally:
        path.unlink()
    assert rc == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert rss < 200, rss
    if name.endswith((".csv", ".bin", ".txt")):  # refused from its head alone, before numpy loads (~0.5 s in all)
        assert not numpy, err


def test_whole_read_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A text file that must be read whole (a time column) is refused when its estimated cost is over budget.
    from spasmcore.recording import read_recording

    path = tmp_path / "t.csv"
    path.write_text("time_ms,emg\n" + "".join(f"{2 * i},{2048 + i % 50}\n" for i in range(50_000)))
    assert read_recording(path).n_samples == 50_000
    monkeypatch.setenv("SPASMWATCH_MEMORY_MB", "2")
    with pytest.raises(InputError, match=r"whole would take about \d+ MB, over the 2 MB budget"):
        read_recording(path)
    monkeypatch.setenv("SPASMWATCH_MEMORY_MB", "lots")
    with pytest.raises(InputError, match="SPASMWATCH_MEMORY_MB='lots' is not a number"):
        read_recording(path)


@pytest.mark.parametrize("body", [b"\xff\xfe#\x00 \x00r\x00a\x00t\x00e\x00_\x00h\x00z\x00=\x005\x000\x000\x00\n\x00",
                                  b"# rate_hz=1000\n# units=counts\n# mode=raw\n", b"\xef\xbb\xbf"])
def test_mat_file_that_is_not_matlab_5_is_one_error_without_allocating(tmp_path: Path, body: bytes) -> None:
    # The first one is 30 bytes that scipy took for a version 4 header and allocated 1.6 GB for; the others
    # raised IndexError and MatReadError through the CLI.
    import tracemalloc

    from spasmcore.recording import read_recording

    path = tmp_path / "r.mat"
    path.write_bytes(body)
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="not a MATLAB 5 .mat file"):
            read_recording(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 << 20


def test_damaged_matlab_5_file_is_one_error(tmp_path: Path) -> None:
    from scipy.io import savemat

    from spasmcore.recording import read_recording

    path = tmp_path / "r.mat"
    savemat(path, {"signal": np.arange(3000.0), "fs": 500})
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match="cannot read MATLAB file"):
        read_recording(path)
