"""spasmwatch record: exact samples from the virtual board, gaps filled and reported, events on replay."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from signals import emg

from spasmcore.events import read_events
from spasmcore.recording import read_recording, write_recording
from spasmwatch import cli
from spasmwatch.commands.record import Recorder, finalize
from spasmwatch.engine.detect import detect
from spasmwatch.link.client import Client
from spasmwatch.link.serial_link import Link

RATE = 1000
BURSTS = [(3.0, 5.5, 80.0), (9.0, 9.25, 150.0), (13.0, 17.5, 60.0), (22.0, 22.3, 120.0), (26.0, 29.0, 70.0),
          (33.0, 34.0, 90.0)]


INJECT_AT, INJECT_N = 20000, 777  # one overrun of 777 samples once the board has played 20 s of signal


def splice_at(got: np.ndarray, want: np.ndarray, missing: int) -> int:
    """Where `got` is `want` with `missing` samples cut out once (asserts it); the index of the cut."""
    diff = np.flatnonzero(got != want[:len(got)])
    cut = int(diff[0]) if diff.size else len(got)
    np.testing.assert_array_equal(got[:cut], want[:cut])
    np.testing.assert_array_equal(got[cut:], want[cut + missing:cut + missing + len(got) - cut])
    return cut


@pytest.mark.slow
@pytest.mark.micropython
@pytest.mark.timeout(300)  # ~6 s on an idle machine; the sim clock plays late on a busy one instead of dropping
def test_record_then_replay_reproduces_the_device(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """What the board sampled is what `record` writes, and replaying it gives what the board detected.

    The board runs on its simulated clock (no sample is dropped because this machine is slow) with one
    injected overrun of INJECT_N samples: `record` must report it, and the recording holds the samples the
    board processed (the source with that stretch missing), which is also what the board's detector saw.
    """
    from spasmsim.device import VirtualDevice

    src = tmp_path / "src.csv"
    bursts = BURSTS + [(s + 30, e + 30, r) for s, e, r in BURSTS]  # 60 s: `record` may connect late
    later = [(s + 0.5, e + 0.5, r) for s, e, r in bursts]
    chans = [emg(60, RATE, bursts, seed=21), emg(60, RATE, later, seed=22)]
    write_recording(src, RATE, chans, units="counts", mode="raw")
    out = tmp_path / "rec.csv"
    with VirtualDevice(src, speed=6, clock="sim", overrun_at=(INJECT_AT, INJECT_N)) as dev:
        assert cli.main(["record", "--out", str(out), "--minutes", "0.5", "--port", dev.port]) == 0
        client = Client(Link.open(dev.port))
        client.hello()
        logs, _ = client.sync(0)
        status = client.status()
        client.close()
    assert "0 gap(s)" in capsys.readouterr().out
    assert status["overruns"] == 1 and status["dropped"] == INJECT_N  # the sim clock itself never drops
    text = out.read_text()
    first = re.search(r"first sample is device sample (\d+)", text)
    assert first, text[:500]
    start = int(first.group(1))
    # the board connects in well under a second; 20 s of signal at x6 is over 3 s of wall time (headroom for a
    # loaded machine: the sim clock is paced from the wall clock while it can keep up)
    assert start < INJECT_AT, f"record connected after the injected overrun (device sample {start})"
    assert f"the board dropped {INJECT_N} sample(s) while sampling (overruns)" in text
    rec = read_recording(out)
    assert rec.rate_hz == RATE and rec.mode == "raw" and rec.units == "counts" and rec.n_samples == 30 * RATE
    # every sample, in order, on both channels; the sample counter counts processed samples, so the INJECT_N
    # dropped ones are missing at the same place on both channels, INJECT_AT - start samples in
    cuts = {splice_at(got, want[start:], INJECT_N) for got, want in zip(rec.channels, chans, strict=True)}
    assert cuts == {INJECT_AT - start}

    events_csv = tmp_path / "events.csv"
    assert cli.main(["replay", str(out), "--events", str(events_csv)]) == 0
    replayed = read_events(events_csv)
    direct = [e for ch in (0, 1) for e in detect(rec.channels[ch], RATE, "raw", None, channel=ch)]
    assert len(replayed) == len(direct) and {(e.channel, e.onset_s) for e in replayed} == {
        (e.channel, round(e.onset_s, 3)) for e in direct}
    # the device saw the same samples (plus the ones before `record` connected): once the replay's detector
    # has settled, both find the same episodes at the same times
    t0 = start / RATE
    settled = [e for e in replayed if e.kind != "fault" and e.onset_s > 5 and e.offset_s < rec.duration_s - 2]
    dev_ends = [m for m in logs if m["ev"] == "end"]
    assert len(settled) >= 6
    for e in settled:
        match = [m for m in dev_ends
                 if m["ch"] == e.channel and abs(m["onset_ms"] / 1000 - t0 - e.onset_s) < 0.1]
        assert len(match) == 1, (e, dev_ends)
        # the board's detector started earlier, so its floor differs a little: an offset may move by a tick, which
        # flips the label of an episode lasting within a few ticks of twitch_ms (0.5 s) and nothing else
        if abs(e.duration_s - 0.5) > 0.03:
            assert match[0]["kind"] == e.kind
        assert abs(match[0]["offset_ms"] / 1000 - t0 - e.offset_s) < 0.1


def test_lost_lines_become_filled_gaps_listed_in_the_file(tmp_path: Path) -> None:
    rec = Recorder(RATE, [0, 1], tmp_path)
    rec.add(1, 100, [5] * 50)  # ch1's block arrives, ch0's line of that block was lost: not started yet
    assert rec.start_n is None
    rec.add(0, 150, list(range(1000, 1050)))
    rec.add(1, 150, [7] * 50)
    assert rec.start_n == 150
    rec.add(0, 200, list(range(2000, 2050)))
    rec.add(1, 200, [8] * 50)
    rec.add(1, 250, [9] * 50)  # ch0's block at 250 is lost
    rec.add(0, 300, list(range(3000, 3050)))
    rec.add(1, 300, [10] * 50)
    rec.add(2, 300, [1] * 50)  # a channel not recorded
    assert [(g.channel, g.at, g.missing) for g in rec.gaps] == [(0, 100, 50)]
    out = tmp_path / "r.csv"
    finalize(out, RATE, "raw", rec.arrays(), ["gap: " + g.describe(RATE) for g in rec.gaps])
    text = out.read_text()
    assert "# gap: 50 sample(s) missing on ch0 after sample 100 (0.100 s), filled with the last value" in text
    r = read_recording(out)
    assert r.n_samples == 200 and r.rate_hz == RATE and r.mode == "raw"
    np.testing.assert_array_equal(r.channels[0][100:150], 2049)  # the value before the gap, held
    np.testing.assert_array_equal(r.channels[0][150:], np.arange(3000, 3050))
    np.testing.assert_array_equal(r.channels[1], [7] * 50 + [8] * 50 + [9] * 50 + [10] * 50)


def test_gaps_become_edf_annotations(tmp_path: Path) -> None:
    import edfio

    rec = Recorder(RATE, [0, 2], tmp_path)
    for n in (0, 50, 150):  # the block at 100 was lost on both channels
        rec.add(0, n, list(range(n, n + 50)))
        rec.add(2, n, [9] * 50)
    out = tmp_path / "r.edf"
    finalize(out, RATE, "raw", rec.arrays(), ["first sample is device sample 0"], rec.gaps, [0, 2])
    e = edfio.read_edf(out)
    assert [s.label for s in e.signals] == ["ch0", "ch2"] and e.signals[0].sampling_frequency == RATE
    texts = [(a.onset, a.duration, a.text) for a in e.annotations]
    assert (0.0, None, "first sample is device sample 0") in texts
    assert (100 / RATE, 50 / RATE, "gap ch0: 50 sample(s) missing, filled with the last value") in texts
    assert (100 / RATE, 50 / RATE, "gap ch2: 50 sample(s) missing, filled with the last value") in texts
    np.testing.assert_array_equal(e.signals[0].data[100:150], 99)  # held, as in the CSV
    np.testing.assert_array_equal(e.signals[0].data[150:200], np.arange(150, 200))
    # EDF holds whole 1-s data records: the rest of the last one repeats the last value, and says so
    assert (0.2, 0.8, "padding: 800 sample(s) repeat the last value (EDF needs whole data records); not recorded") \
        in texts
    np.testing.assert_array_equal(e.signals[0].data[200:], 199)


def test_record_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["record", "--out", str(tmp_path / "x.csv"), "--port", str(tmp_path / "ttyNONE")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no such port" in err
    assert cli.main(["record", "--out", str(tmp_path / "nodir" / "x.csv"), "--port", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
