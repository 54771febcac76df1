"""Device vs replay parity on a long joined recording with lead-off faults (issue 11): record for record, exact.

One hour of signal (four 15-minute simulator recordings with flat and railed lead-offs, joined back to back, two
channels at 1 kHz) runs on the virtual device (the real firmware on the MicroPython unix port) and through
`replay`'s own path (spasmwatch.engine.pipeline.replay_file, engine fast, or python where numba is missing).
Every record is compared field for field: type, kind, onset/start, offset/end, detected, peak, mean, floor.

Units: the device logs times in ms (firmware/app.py `_ms`: sample * 1000 // rate), replay records in sample
indices; at 1000 Hz the two are the same integers, and the test converts with the firmware's own `_ms`, so no
rounding is involved either way. The device's flash log (all eight fields), its `sync` replay (what a host
receives) and replay's events (records_to_events on both sides) must all agree exactly.

The second device run streams the envelope from boot (`stream.env`), which makes the board hand its detectors
27-sample blocks instead of 50 (app.py: one envelope value per block): the records must not change. Before the
fix that came with this test they did: on channel 0 a flat fault started at 1,109,310 ms with 50-sample blocks
and at 1,109,320 ms with 27 (its start and end records differ; docs/reliability.md, "Device/replay parity on
joined recordings").
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_virtual_device import Link

from spasmcore.recording import write_recording
from spasmfw import app as fwapp
from spasmfw import codes, eventlog, protocol
from spasmfw import config as fwconfig
from spasmwatch.engine import detect
from spasmwatch.engine.record import from_record

# micropython_bin fails, naming the test extra, where the unix port (a dependency) is missing
pytestmark = [pytest.mark.micropython, pytest.mark.timeout(300), pytest.mark.usefixtures("micropython_bin")]
RATE = 1000
MINUTES = 15.0  # per part; four parts: one hour of signal on each of two channels
CHANNELS = 2
PARTS = [("ecg_leadoff", ("rail", "flat", "flat")), ("everyday_mixed", ("flat", "rail", "flat")),
         ("tonic_moderate", ("flat", "flat", "rail")), ("clonus_mixed", ("rail", "flat", "flat"))]
ENV_HZ = 37  # stream.env_hz of the second run: 1000 // 37 = 27-sample blocks (the board's own are 50)
FIELDS = ("etype", "kind", "onset_ms", "offset_ms", "detected_ms", "peak", "mean", "floor")


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    from spasmsim.generate import generate
    from spasmsim.scenarios import get_scenario

    parts = [generate(replace(get_scenario(name), faults=faults), seed=11 + k, minutes=MINUTES,
                      channels=CHANNELS).channels for k, (name, faults) in enumerate(PARTS)]
    chans = [np.concatenate([p[c] for p in parts]) for c in range(CHANNELS)]
    path = tmp_path_factory.mktemp("joined") / "joined.csv"
    write_recording(path, RATE, chans, units="counts", mode="raw")
    return path, chans


def run_device(path: Path, n: int, state: Path, stream_env: bool) -> tuple[list[dict], list[dict], dict, dict]:
    """(flash records, sync log messages, the sync's ok, the device config) of one whole run at full speed."""
    from spasmsim.device import VirtualDevice

    cfg = fwconfig.validate({"log_kb": 1024, "status_s": 0, "stream": {"env": stream_env, "env_hz": ENV_HZ}})
    state.mkdir(parents=True)
    (state / fwapp.CONFIG_FILE).write_text(json.dumps(cfg))  # prepare_state keeps it, setting rate and channels
    with VirtualDevice(path, speed=0, state_dir=state) as dev:
        link = Link(dev.port)
        deadline = time.monotonic() + 240  # ~15 s per run on an idle 2-core machine
        # (a status reply can queue behind seconds of envelope lines at full speed on a loaded machine)
        while link.ask(b"status\n", "status", timeout=60)["samples"] < n:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        if stream_env:
            link.ask(b"stream env off\n")  # (the run is over: no block is cut any more)
        logs, done = link.sync(0, timeout=120)
        link.close()
        errors = [m for m in link.seen if m["t"] == "error"]
    assert not errors, errors
    used = json.loads((state / fwapp.CONFIG_FILE).read_text())
    flash = list(eventlog.EventLog(str(state / fwapp.LOG_DIR), max_bytes=used["log_kb"] * 1024).since(0))
    return flash, logs, done, used


def replay_records(path: Path, params: dict, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[int, list], list]:
    """Records per channel as `replay` makes them (its streaming pipeline), and the events it reports."""
    from spasmwatch.engine.pipeline import replay_file

    seen: dict[int, list] = {}
    pair = detect.records_to_events

    def keep(records: list, rate_hz: float, channel: int = 0) -> list:
        seen[channel] = [tuple(int(v) for v in r) for r in records]
        return pair(records, rate_hz, channel)

    monkeypatch.setattr(detect, "records_to_events", keep)
    out = replay_file(str(path), params=params, engine="fast")
    monkeypatch.undo()
    assert out.n_samples > 0 and sorted(seen) == list(range(CHANNELS))
    return seen, out.events


def as_ms(r: tuple) -> tuple:
    etype, kind, onset, offset, detected, peak, mean, floor = r
    ms = lambda s: fwapp._ms(s, RATE)  # noqa: E731 - the firmware's own conversion
    return (etype, kind, ms(onset), ms(offset) if offset >= 0 else -1, ms(detected), peak, mean, floor)


def compare(flash: list[dict], logs: list[dict], done: dict, want: dict[int, list], events: list) -> int:
    assert done["data"]["count"] == len(logs) == len(flash) == done["data"]["last"]
    compared = 0
    for ch in range(CHANNELS):
        got = [tuple(f[k] for k in FIELDS) for f in flash if f["ch"] == ch]
        exp = [as_ms(r) for r in want[ch]]
        faults = sum(1 for r in exp if r[0] == codes.EV_FAULT_START)
        assert faults >= 8 and sum(1 for r in exp if r[0] == codes.EV_END) >= 50, (ch, faults)
        bad = [(k, a, b) for k, (a, b) in enumerate(zip(exp, got, strict=False)) if a != b]
        assert len(got) == len(exp) and not bad, (ch, len(exp), len(got), bad[:5])
        compared += len(got)
    # what a host receives: every `sync` line is the flash record's wire form, field for field
    for f, m in zip(flash, logs, strict=True):
        t, fields = protocol.event_fields(f["etype"], f["ch"], f["eseq"], f["kind"], f)
        assert {k: m[k] for k in fields} == fields and m["ev"] == t
    # and replay's events (seconds) are the device's records paired the same way (ms == samples at 1 kHz)
    mine = []
    for ch in range(CHANNELS):
        recs = [from_record([f[k] for k in FIELDS]) for f in flash if f["ch"] == ch]
        mine += detect.records_to_events(recs, RATE, ch)
    mine.sort(key=lambda e: (e.onset_s, e.channel))
    assert mine == events
    return compared


def test_device_equals_replay_on_an_hour_of_joined_recordings(joined, tmp_path, monkeypatch) -> None:
    path, chans = joined
    flash, logs, done, used = run_device(path, len(chans[0]), tmp_path / "state", stream_env=False)
    want, events = replay_records(path, fwconfig.detector_params(used), monkeypatch)
    compared = compare(flash, logs, done, want, events)
    assert compared >= 300, compared  # (432 measured: 143 episodes and 73 faults, onset and end each)


def test_device_records_do_not_depend_on_its_block_size(joined, tmp_path, monkeypatch) -> None:
    # The envelope stream makes the board cut 27-sample blocks; replay still cuts the board's 50.
    path, chans = joined
    flash, logs, done, used = run_device(path, len(chans[0]), tmp_path / "state", stream_env=True)
    assert used["stream"] == {"env": True, "raw": False, "env_hz": ENV_HZ}
    want, events = replay_records(path, fwconfig.detector_params(used), monkeypatch)
    compare(flash, logs, done, want, events)
