"""Firmware app (firmware/app.py) driven on CPython by a fake board, plus its no-allocation loop on the unix port."""

from __future__ import annotations

import json
from array import array
from pathlib import Path

import numpy as np
import pytest
from mpy_runner import run as mpy_run
from signals import emg as _emg

from spasmcore import protohost
from spasmfw import app as fwapp
from spasmfw import config as fwconfig
from spasmfw import detector as fwdet
from spasmfw import start as fwstart
from spasmwatch.engine.detect import detect

RATE = 1000
REST_RMS = 8.0  # ADC noise of a MyoWare at rest; much quieter reads as a flat line (lead off)


def emg(seconds: float, rate: int, bursts: list, **kw: float) -> np.ndarray:
    kw.setdefault("rest_rms", REST_RMS)
    return _emg(seconds, rate, bursts, **kw)  # type: ignore[arg-type]


class FakeBoard:
    """The board interface over an in-memory recording; output is collected as decoded messages."""

    def __init__(self, tmp: Path, channels: list[np.ndarray], rate: int = RATE) -> None:
        self.storage_dir = str(tmp)
        self.unique_id = "fake0001"
        self.data = [np.asarray(c, dtype=np.uint16) for c in channels]
        self.rate = rate
        self.pos = 0
        self.t_ms = 0
        self.inbox = bytearray()
        self.out = bytearray()
        self.overruns = 0
        self.dropped = 0
        self.resets = 0
        self.leds: list[int] = []

    def read_block(self, bufs: list[array], n: int) -> int:
        got = max(0, min(n, len(self.data[0]) - self.pos))
        for c, buf in enumerate(bufs):
            chunk = self.data[c][self.pos:self.pos + got] if c < len(self.data) else np.full(got, 2048)
            for i, v in enumerate(chunk.tolist()):
                buf[i] = v
        self.pos += got
        self.t_ms += n * 1000 // self.rate
        return got

    def ticks_ms(self) -> int:
        return self.t_ms

    def poll_input(self) -> bytes | None:
        if not self.inbox:
            return None
        data = bytes(self.inbox[:128])
        del self.inbox[:128]
        return data

    def write(self, data: bytes) -> None:
        self.out += data

    def led(self, state: int) -> None:
        self.leds.append(state)

    def feed_watchdog(self) -> None:
        pass

    def reset(self) -> None:
        self.resets += 1

    def mem_free(self) -> int:
        return 50000

    def messages(self) -> list[dict]:
        """Decode and clear the output so far (every line must be a valid protocol message)."""
        lines = bytes(self.out).splitlines()
        self.out.clear()
        return [protohost.decode(line) for line in lines]


def make_app(tmp: Path, seconds: float = 5.0, channels: list[np.ndarray] | None = None,
             cfg_over: dict | None = None) -> tuple[fwapp.App, FakeBoard]:
    chans = channels if channels is not None else [emg(seconds, RATE, [])]
    cfg = fwconfig.validate({"channels": [36, 39, 34, 35][:len(chans)], **(cfg_over or {})}, "fake0001")
    board = FakeBoard(tmp, chans)
    return fwapp.App(board, cfg), board


def run_for(app: fwapp.App, board: FakeBoard, seconds: float) -> None:
    end = board.t_ms + seconds * 1000
    while board.t_ms < end:
        app.step()


def command(app: fwapp.App, board: FakeBoard, line: bytes, steps: int = 3) -> list[dict]:
    board.messages()
    board.inbox += line
    for _ in range(steps):
        app.step()
    return board.messages()


def replies(msgs: list[dict], kinds: tuple[str, ...] = ("ok", "error")) -> list[dict]:
    return [m for m in msgs if m["t"] in kinds]


# ---------------------------------------------------------------------------------------------- boot, hello


def test_boot_sends_hello_and_counts_boots(tmp_path: Path) -> None:
    app, board = make_app(tmp_path)
    app.hello()
    hello = board.messages()[0]
    assert hello["seq"] == 0  # the first message of a boot
    assert hello["t"] == "hello" and hello["boot"] == 1 and hello["id"] == "fake0001"
    assert hello["rate"] == RATE and hello["channels"] == ["ch0"] and hello["scale"] == fwdet.ENV_SCALE
    assert hello["config"]["rate_hz"] == RATE
    app2, board2 = make_app(tmp_path)
    app2.hello()
    assert board2.messages()[0]["boot"] == 2


def test_seq_increases_by_one_per_message(tmp_path: Path) -> None:
    app, board = make_app(tmp_path)
    msgs = command(app, board, b"ping\nstatus\nhelp\n")
    seqs = [m["seq"] for m in msgs]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


# ---------------------------------------------------------------------------------------------- commands


def test_ping_status_help(tmp_path: Path) -> None:
    app, board = make_app(tmp_path)
    run_for(app, board, 1)
    assert replies(command(app, board, b"ping\n")) == [{"t": "ok", "seq": app.seq - 1, "cmd": "ping"}]
    status = [m for m in command(app, board, b"status\n") if m["t"] == "status"][0]
    assert status["samples"] >= RATE and status["state"] == "idle" and status["boot"] == 1
    assert status["heap_free"] == 50000 and status["overruns"] == 0 and status["faults"] == 0
    assert status["lost"] == 0 and status["pops"] == 0
    help_lines = [m["data"] for m in command(app, board, b"help\n") if m["t"] == "ok"]
    assert help_lines[-1] == "end of help"
    for name in protohost.COMMANDS:
        assert any(line.startswith(name) for line in help_lines), name


def test_config_get_and_set_params_live(tmp_path: Path) -> None:
    app, board = make_app(tmp_path)
    got = replies(command(app, board, b"config get\n"))[0]
    assert got["data"] == app.cfg
    r = replies(command(app, board, b"config set params.sensitivity=5 status_s=2\n"))
    assert r[0]["t"] == "ok" and r[0]["data"] == {"saved": True, "reboot": False}
    assert app.dets[0].params["sensitivity"] == 5 and app.status_ms == 2000
    saved = json.loads((tmp_path / fwapp.CONFIG_FILE).read_text())
    assert saved["params"] == {"sensitivity": 5} and saved["status_s"] == 2
    assert board.resets == 0


def test_config_set_sampling_key_saves_and_reboots(tmp_path: Path) -> None:
    app, board = make_app(tmp_path)
    r = replies(command(app, board, b"config set rate_hz=500\n"))
    assert r[0]["data"] == {"saved": True, "reboot": True}
    assert board.resets == 1
    assert fwconfig.load(str(tmp_path / fwapp.CONFIG_FILE))[0]["rate_hz"] == 500


@pytest.mark.parametrize("line, needle", [
    (b"config set rate_hz=5\n", "rate_hz"),
    (b"config set params.sensitivity=0.001\n", "sensitivity"),
    (b"config set nosuchkey=1\n", "nosuchkey"),
    (b"config set channels=[36,36]\n", "used twice"),
    (b"calibrate rest 0\n", "1..300"),
    (b"stream env maybe\n", "on or off"),
    (b"sync -3\n", "SEQ"),
    (b"ping extra\n", "no arguments"),
])
def test_bad_values_are_refused_and_config_kept(tmp_path: Path, line: bytes, needle: str) -> None:
    app, board = make_app(tmp_path)
    before = dict(app.cfg)
    r = replies(command(app, board, line))
    assert len(r) == 1 and r[0]["t"] == "error" and needle in r[0]["msg"], r
    assert app.cfg == before and not (tmp_path / fwapp.CONFIG_FILE).exists()


@pytest.mark.parametrize("junk", [
    b"\xff\xfe\x80garbage\n",
    b"x" * 1000 + b"\n",
    b"frobnicate\n",
    b'{"t": "hello"\n',
    b"\x01\x02\x1b[A\n",
])
def test_malformed_input_gets_error_and_sampling_continues(tmp_path: Path, junk: bytes) -> None:
    app, board = make_app(tmp_path)
    run_for(app, board, 0.5)
    before = app.samples
    msgs = command(app, board, junk, steps=12)
    errs = replies(msgs)
    assert errs and all(m["t"] == "error" for m in errs), msgs
    assert app.samples > before
    assert replies(command(app, board, b"ping\n"))[-1]["t"] == "ok"  # the link still works


def test_handler_crash_is_reported_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app, board = make_app(tmp_path)

    def boom(app: fwapp.App, name: str, args: tuple) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(fwapp.appcmds, "ping", boom)  # the command table: one function per command
    r = replies(command(app, board, b"ping\n"))
    assert r[0]["t"] == "error" and "internal error" in r[0]["msg"]
    before = app.samples
    app.step()
    assert app.samples > before


def test_reboot_replies_then_resets(tmp_path: Path) -> None:
    app, board = make_app(tmp_path)
    r = replies(command(app, board, b"reboot\n", steps=1))
    assert r[0] == {"t": "ok", "seq": r[0]["seq"], "cmd": "reboot"} and board.resets == 1


# ---------------------------------------------------------------------------------------------- detection


def burst_signal(seconds: float = 20.0, seed: int = 3) -> np.ndarray:
    return emg(seconds, RATE, [(4.0, 6.5, 80.0), (9.0, 9.25, 150.0), (13.0, 17.5, 60.0)], seed=seed)


def test_events_match_detect_and_log(tmp_path: Path) -> None:
    x = burst_signal()
    app, board = make_app(tmp_path, channels=[x, x[::-1].copy()])
    run_for(app, board, 21)  # past the end: the app flushes like detect() does
    msgs = board.messages()
    ends = [m for m in msgs if m["t"] == "end"]
    onsets = [m for m in msgs if m["t"] == "onset"]
    for ch, sig in enumerate([x, x[::-1]]):
        want = [e for e in detect(sig, RATE, "raw", {"mains_hz": 50}, channel=ch) if e.kind != "fault"]
        got = [m for m in ends if m["ch"] == ch]
        got_on = [m for m in onsets if m["ch"] == ch]
        assert len(want) >= 2 and len(got) == len(want) == len(got_on)
        for e, m, on in zip(want, got, got_on, strict=True):
            assert m["kind"] == e.kind and on["onset_ms"] == m["onset_ms"]
            assert abs(m["onset_ms"] - e.onset_s * 1000) <= 1 and abs(m["offset_ms"] - e.offset_s * 1000) <= 1
            assert abs(on["detected_ms"] - e.detected_s * 1000) <= 1
    eseqs = sorted(m["eseq"] for m in onsets + ends)
    assert eseqs == list(range(1, len(eseqs) + 1))
    assert {fwapp.IDLE, fwapp.SPASM} <= set(board.leds)  # idle and spasm shown


def test_open_episode_closed_at_end_of_recording(tmp_path: Path) -> None:
    x = emg(8, RATE, [(5.0, 8.0, 80.0)])
    app, board = make_app(tmp_path, channels=[x])
    run_for(app, board, 9)
    ends = [m for m in board.messages() if m["t"] == "end"]
    assert len(ends) == 1 and ends[0]["offset_ms"] >= 7900


def test_flat_input_reports_fault_and_led(tmp_path: Path) -> None:
    app, board = make_app(tmp_path, channels=[np.full(8000, 2048)])
    run_for(app, board, 6)
    faults = [m for m in board.messages() if m["t"] == "fault"]
    assert faults and faults[0]["state"] == "start" and faults[0]["detail"] == "flat"
    assert board.leds[-1] == fwapp.FAULT
    status = [m for m in command(app, board, b"status\n") if m["t"] == "status"][0]
    assert status["faults"] == 1 and status["state"] == "fault"


# ---------------------------------------------------------------------------------------------- sync, log


def test_sync_replays_log_paced_and_from_seq(tmp_path: Path) -> None:
    app, board = make_app(tmp_path, channels=[burst_signal()])
    run_for(app, board, 21)
    live = [m for m in board.messages() if m["t"] in ("onset", "end")]
    n = len(live)
    board.inbox += b"sync 0\n"
    app.step()
    first = [m for m in board.messages() if m["t"] == "log"]
    assert 0 < len(first) <= fwapp.SYNC_PER_LOOP  # paced: a few records per loop pass
    board.inbox += b"status\n"
    app.step()  # input is handled before this pass's sync records
    out = board.messages()
    assert [m for m in out if m["t"] == "status"][0]["queue"] == n - first[-1]["eseq"]  # backlog
    msgs = first + [m for m in out if m["t"] != "status"] + command(app, board, b"", steps=n)
    logs = [m for m in msgs if m["t"] == "log"]
    assert [m["eseq"] for m in logs] == [m["eseq"] for m in live]
    for lg, lv in zip(logs, live, strict=True):
        assert lg["ev"] == lv["t"] and lg["onset_ms"] == lv["onset_ms"] and lg["boot"] == 1
    done = replies(msgs)[-1]
    assert done["cmd"] == "sync" and done["data"] == {"count": n, "last": n}
    tail = command(app, board, f"sync {n - 2}\n".encode(), steps=4)
    assert [m["eseq"] for m in tail if m["t"] == "log"] == [n - 1, n]


def test_log_clear_keeps_counting(tmp_path: Path) -> None:
    x = burst_signal()
    app, board = make_app(tmp_path, channels=[np.concatenate([x, x])])
    run_for(app, board, 20)
    last = app.log.last_seq
    assert last > 0
    r = replies(command(app, board, b"log clear\n"))
    assert r[0]["data"] == {"eseq": last}
    assert [m for m in command(app, board, b"sync 0\n", steps=3) if m["t"] == "log"] == []
    run_for(app, board, 21)
    new = [m["eseq"] for m in board.messages() if m["t"] in ("onset", "end")]
    assert new and new[0] == last + 1


def test_log_survives_restart_with_new_boot(tmp_path: Path) -> None:
    app, board = make_app(tmp_path, channels=[burst_signal()])
    run_for(app, board, 21)
    n = app.log.last_seq
    app2, board2 = make_app(tmp_path)
    msgs = command(app2, board2, b"sync 0\n", steps=n)
    assert [m["eseq"] for m in msgs if m["t"] == "log"] == list(range(1, n + 1))
    assert app2.boot == 2 and all(m["boot"] == 1 for m in msgs if m["t"] == "log")


# ---------------------------------------------------------------------------------------------- calibrate


def _calibrate(app: fwapp.App, board: FakeBoard, line: bytes, seconds: float) -> dict:
    """Run one calibration command to its end; its last reply (ok done or error)."""
    r = replies(command(app, board, line, steps=1))
    assert r[0]["data"]["state"] == "started", r
    end = board.t_ms + (seconds + 0.5) * 1000
    while board.t_ms < end:  # stop at the reply: the detector state is then as the run left it
        app.step()
        got = [m for m in replies(board.messages()) if m["cmd"].startswith("calibrate")]
        if got:
            return got[-1]
    raise AssertionError("no reply")


def test_calibrate_rest_sets_and_stores_floor(tmp_path: Path) -> None:
    x = np.concatenate([emg(5, RATE, [], seed=7), emg(10, RATE, [], seed=1)])
    app, board = make_app(tmp_path, channels=[x])
    run_for(app, board, 5)
    kept = app.dets[0].floor
    done = _calibrate(app, board, b"calibrate rest 2\n", 2)
    assert done["t"] == "ok" and done["data"]["state"] == "done" and done["data"]["kept"] == [kept]
    floor = done["data"]["floor"][0]
    assert floor == app.dets[0].floor and 0.5 * kept < floor < 2 * kept
    # the stored floor replaces the start-up calibration at the next boot with the same settings
    app2, _ = make_app(tmp_path)
    assert app2.dets[0].floor == floor and app2.dets[0].cal_left == 0
    app3, _ = make_app(tmp_path, cfg_over={"params": {"smooth_ms": 50}})
    assert app3.dets[0].cal_left > 0


@pytest.mark.parametrize("bursts, needle", [
    ([(6.0, 6.4, 80.0)], "not at rest: activity at"),  # a burst in the rest period
    ([(5.0, 20.0, 100.0)], "is over 2x the one in use"),  # held contraction: steady, but far above the floor
    ([(10.0, 20.0, 24.0)], "not at rest"),  # contraction starting half-way: above the onset test of the new floor
])
def test_rest_that_is_not_rest_is_refused_and_the_floor_kept(tmp_path: Path, bursts: list, needle: str) -> None:
    app, board = make_app(tmp_path, channels=[emg(20, RATE, bursts, seed=2)])
    run_for(app, board, 5)
    kept = app.dets[0].floor
    err = _calibrate(app, board, b"calibrate rest 10\n", 10)
    assert err["t"] == "error" and err["cmd"] == "calibrate rest" and needle in err["msg"], err
    assert err["msg"].startswith("ch0: ") and app.dets[0].floor == kept
    assert not (tmp_path / fwapp.CALIB_FILE).exists()


def test_clear_relearns_so_a_new_higher_rest_can_be_kept(tmp_path: Path) -> None:
    quiet = emg(8, RATE, [], seed=4)
    loud = emg(20, RATE, [], rest_rms=4 * REST_RMS, seed=1)  # electrodes moved: a 4x higher resting level
    app, board = make_app(tmp_path, channels=[np.concatenate([quiet, loud])])
    run_for(app, board, 8.5)
    assert "over 2x" in _calibrate(app, board, b"calibrate rest 2\n", 2)["msg"]
    r = replies(command(app, board, b"calibrate clear\n", steps=1))[0]
    assert r["t"] == "ok" and r["data"]["floor"] is None and app.dets[0].cal_left > 0
    run_for(app, board, 2)
    done = _calibrate(app, board, b"calibrate rest 2\n", 2)
    assert done["t"] == "ok", done
    assert done["data"]["floor"][0] > 3 * fwapp.detector.Detector(RATE, "raw", {}).min_floor


def test_mvc_must_be_well_above_the_floor_and_held(tmp_path: Path) -> None:
    x = emg(30, RATE, [(3.3, 3.6, 300.0), (9.5, 12.5, 15.0), (15.5, 19.5, 200.0)], seed=5)
    app, board = make_app(tmp_path, channels=[x])
    run_for(app, board, 3)
    floor = app.dets[0].floor
    err = _calibrate(app, board, b"calibrate mvc 5\n", 5)  # 3-8 s: a 0.3 s spike only
    assert err["t"] == "error" and "not held" in err["msg"] and app.dets[0].mvc == 0
    run_for(app, board, 1)
    err = _calibrate(app, board, b"calibrate mvc 5\n", 5)  # 9-14 s: a weak contraction
    assert "needs 5x" in err["msg"] and app.dets[0].mvc == 0
    run_for(app, board, 1)
    done = _calibrate(app, board, b"calibrate mvc 5\n", 5)  # 15-20 s: held hard
    assert done["t"] == "ok" and done["data"]["mvc"][0] > 20 * floor and done["data"]["floor"] == [app.dets[0].floor]
    saved = json.loads((tmp_path / fwapp.CALIB_FILE).read_text())
    assert saved["mvc"] == done["data"]["mvc"]
    app2, _ = make_app(tmp_path)
    assert app2.dets[0].mvc == saved["mvc"][0]


def test_show_and_undo(tmp_path: Path) -> None:
    app, board = make_app(tmp_path, channels=[emg(30, RATE, [], seed=6)])
    run_for(app, board, 3)
    shown = replies(command(app, board, b"calibrate show\n", steps=1))[0]["data"]
    assert shown["saved"] is None and shown["floor"] == [app.dets[0].floor] and shown["running"] is False
    first = _calibrate(app, board, b"calibrate rest 2\n", 2)["data"]["floor"]
    app.dets[0].set_floor(first[0] + 40)  # as if the floor had moved before a second calibration
    second = _calibrate(app, board, b"calibrate rest 2\n", 2)["data"]["floor"]
    assert replies(command(app, board, b"calibrate show\n", steps=1))[0]["data"]["saved"]["floor"] == second
    r = replies(command(app, board, b"calibrate undo\n", steps=1))[0]
    assert r["t"] == "ok" and r["data"]["floor"] == first and abs(app.dets[0].floor - first[0]) <= 2  # (tracks on)
    assert json.loads((tmp_path / fwapp.CALIB_FILE).read_text())["floor"] == first
    r = replies(command(app, board, b"calibrate undo\n", steps=1))[0]  # undo twice: the second one again
    assert r["data"]["floor"] == second and abs(app.dets[0].floor - second[0]) <= 2
    replies(command(app, board, b"calibrate clear\n", steps=1))
    assert not (tmp_path / fwapp.CALIB_FILE).exists() and app.dets[0].cal_left > 0
    r = replies(command(app, board, b"calibrate undo\n", steps=1))[0]  # the cleared one comes back
    assert r["data"]["floor"] == second and abs(app.dets[0].floor - second[0]) <= 2 and app.dets[0].cal_left == 0
    command(app, board, b"calibrate rest 5\n", steps=1)
    r = replies(command(app, board, b"calibrate undo\n", steps=1))[0]
    assert r["t"] == "error" and "running" in r["msg"]
    assert replies(command(app, board, b"calibrate show\n", steps=1))[0]["data"]["running"] is True


def test_undo_of_a_first_calibration_goes_back_to_none(tmp_path: Path) -> None:
    app, board = make_app(tmp_path, channels=[emg(10, RATE, [], seed=6)])
    run_for(app, board, 3)
    assert replies(command(app, board, b"calibrate undo\n", steps=1))[0]["t"] == "error"  # nothing to undo
    assert _calibrate(app, board, b"calibrate rest 2\n", 2)["t"] == "ok"
    r = replies(command(app, board, b"calibrate undo\n", steps=1))[0]
    assert r["t"] == "ok" and r["data"]["floor"] is None and app.dets[0].cal_left > 0
    assert not (tmp_path / fwapp.CALIB_FILE).exists()


# ---------------------------------------------------------------------------------------------- streams


def test_stream_raw_carries_samples_with_counters(tmp_path: Path) -> None:
    x = burst_signal(3)
    app, board = make_app(tmp_path, channels=[x])
    run_for(app, board, 0.5)
    command(app, board, b"stream raw on\n", steps=1)
    run_for(app, board, 1)
    raws = [m for m in board.messages() if m["t"] == "raw"]
    assert raws
    for m in raws:
        assert m["values"] == x[m["n"]:m["n"] + len(m["values"])].tolist()
    assert all(b["n"] == a["n"] + len(a["values"]) for a, b in zip(raws, raws[1:], strict=False))
    command(app, board, b"stream raw off\n", steps=1)
    run_for(app, board, 0.3)
    assert not [m for m in board.messages() if m["t"] == "raw"]


def test_stream_env_is_decimated(tmp_path: Path) -> None:
    app, board = make_app(tmp_path, channels=[burst_signal(6)])
    r = replies(command(app, board, b"stream env on\n", steps=1))
    assert r[0]["data"]["hz"] == 50
    run_for(app, board, 2)
    envs = [m for m in board.messages() if m["t"] == "env"]
    n_values = sum(len(m["values"]) for m in envs)
    assert 90 <= n_values <= 101  # 50 Hz over 2 s
    assert all(b["n"] - a["n"] == fwapp.ENV_BATCH * RATE // 50 for a, b in zip(envs, envs[1:], strict=False))
    assert all(m["floor"] > 0 and m["on"] > m["off"] for m in envs)


# ---------------------------------------------------------------------------------------------- boot errors


class _BoardModule:
    """Stands in for the board module that main() is given."""

    def __init__(self, tmp: Path, fail_pins: bool = False) -> None:
        self.STORAGE_DIR = str(tmp)
        self.boards: list[FakeBoard] = []
        self.fail_pins = fail_pins

    def unique_id(self) -> str:
        return "fake0001"

    def Board(self, cfg: dict) -> FakeBoard:  # noqa: N802 - mirrors board.Board
        if self.fail_pins and cfg["channels"][0]["pin"] != 36:
            raise ValueError("pin refused")
        b = FakeBoard(Path(self.STORAGE_DIR), [emg(1, RATE, [])])
        self.boards.append(b)
        return b


@pytest.mark.parametrize("text, needle", [
    ("{not json", "not valid JSON"),
    ('{"rate_hz": 99999}', "rate_hz"),
])
def test_bad_config_file_boots_with_defaults_and_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       text: str, needle: str) -> None:
    (tmp_path / fwapp.CONFIG_FILE).write_text(text)
    mod = _BoardModule(tmp_path)
    monkeypatch.setattr(fwapp.App, "run", lambda self: self.hello())
    fwstart.main(mod)
    msgs = mod.boards[0].messages()
    assert msgs[0]["t"] == "error" and needle in msgs[0]["msg"]
    assert msgs[1]["t"] == "hello" and msgs[1]["config"]["rate_hz"] == fwconfig.DEFAULTS["rate_hz"]


def test_board_refusing_config_falls_back_to_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fwconfig.save(str(tmp_path / fwapp.CONFIG_FILE), fwconfig.validate({"channels": [34]}))
    mod = _BoardModule(tmp_path, fail_pins=True)
    monkeypatch.setattr(fwapp.App, "run", lambda self: self.hello())
    fwstart.main(mod)
    msgs = mod.boards[0].messages()
    assert msgs[0]["t"] == "error" and "board setup failed" in msgs[0]["msg"]


def test_a_config_set_that_cannot_start_at_boot_gets_an_error_reply(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # `config set` with no heap to apply it live is written down and applied at the next boot (start.py). If the
    # board then cannot start with it, the boot falls back to the defaults, and the command still gets a reply:
    # an error naming why (the host waited 15 s for a reply that never came).
    (tmp_path / (fwapp.CONFIG_FILE + ".pending")).write_text('[["params.sensitivity", 4]]')
    mod = _BoardModule(tmp_path)
    real = mod.Board

    def board(cfg: dict) -> FakeBoard:
        if cfg["params"].get("sensitivity") == 4:
            raise MemoryError("memory allocation failed, allocating 640 bytes")
        return real(cfg)

    monkeypatch.setattr(mod, "Board", board)
    monkeypatch.setattr(fwapp.App, "run", lambda self: (self.hello(), self.send(*self.boot_reply)))
    fwstart.main(mod)
    msgs = mod.boards[0].messages()
    reply = [m for m in msgs if m.get("cmd") == "config set"]
    assert len(reply) == 1 and reply[0]["t"] == "error" and "more heap" in reply[0]["msg"]


# ---------------------------------------------------------------------------------------------- unix port

MPY_LOOP = """
import sys, micropython, gc
from array import array
import app, config
STATE = sys.argv[1]

class B:
    storage_dir = STATE
    unique_id = "mpy"
    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.t = 0
        self.overruns = 0
        self.dropped = 0
    def read_block(self, bufs, n):
        d = self.data
        for c in range(len(bufs)):
            b = bufs[c]
            p = self.pos
            for i in range(n):
                b[i] = d[p % 4000]
                p += 1
        self.pos += n
        self.t += n
        return n
    def ticks_ms(self):
        return self.t
    def poll_input(self):
        return None
    def write(self, data):
        pass
    def led(self, s):
        pass
    def feed_watchdog(self):
        pass
    def reset(self):
        pass
    def mem_free(self):
        return gc.mem_free()

data = array("H", [2048 + ((i * 7919) % 9) - 4 for i in range(4000)])  # quiet noise: no events
cfg = config.validate({"channels": [36, 39], "status_s": 0})
a = app.App(B(data), cfg)
for _ in range(100):
    a.step()
micropython.heap_lock()
try:
    for _ in range(200):
        a.step()
finally:
    micropython.heap_unlock()
print("ok", a.samples)
"""


@pytest.mark.micropython
def test_block_path_does_not_allocate_on_unix_port(tmp_path: Path, micropython_bin: str) -> None:
    """read_block + process + LED + input poll, 10 s of two channels at 1 kHz with the heap locked."""
    out = mpy_run(MPY_LOOP, "micropython", args=(str(tmp_path),), heap="256K")
    assert out.split() == ["ok", str(300 * 50 * 1)]


MACHINE_STUB = '''
"""Stand-in for the ESP32 machine module: ADC reads a ramp, pins and the watchdog record what they get."""
log = []
_ramp = [0]

class Pin:
    IN = 1
    OUT = 2
    PULL_UP = 3
    def __init__(self, n, mode=None, pull=None):
        self.n = n
        self.v = 1 if pull == Pin.PULL_UP else 0
    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v
        log.append((self.n, v))

class _Block:
    def init(self, bits=12):
        log.append(("bits", bits))

class ADC:
    ATTN_11DB = 3
    WIDTH_12BIT = 12
    def __init__(self, pin, atten=None):
        self.pin = pin.n
        log.append(("adc", pin.n, atten))
    def block(self):
        return _Block()
    def read_u16(self):
        _ramp[0] = (_ramp[0] + 1) % 4096
        return (_ramp[0] << 4) | (_ramp[0] >> 8)  # 12-bit value scaled to 16 bits like the ESP32 port

class WDT:
    feeds = 0
    def __init__(self, id=0, timeout=5000):
        log.append(("wdt", timeout))
    def feed(self):
        WDT.feeds += 1

def unique_id():
    return b"\\xa4\\xcf\\x12\\xb0\\xc3\\xd8"

def reset():
    log.append("reset")
'''

BOARD_SCRIPT = """
import sys, time, json
from array import array
import board, machine, config


class SimTime:
    # board.py's clock, simulated: the overrun logic is checked without depending on how busy this machine is.
    # Each reading takes 5 us, so the board's busy-wait ends; sleeps advance the clock exactly.
    def __init__(self):
        self.us = 0
    def ticks_us(self):
        self.us += 5
        return self.us
    def ticks_ms(self):
        return self.ticks_us() // 1000
    def ticks_diff(self, a, b):
        return a - b
    def ticks_add(self, a, b):
        return a + b
    def sleep_ms(self, ms):
        self.us += ms * 1000
    def sleep_us(self, us):
        self.us += us


cfg = config.validate({"channels": [36, 39], "rate_hz": 1000, "buzzer_pin": 4, "watchdog": True})
out = {}
out["safe_boot"] = board.safe_boot(50)
b = board.Board(cfg)
out["id"] = b.unique_id
bufs = [array("H", bytearray(100)) for _ in range(2)]
b.read_block(bufs, 50)
t0 = time.ticks_us()
for _ in range(20):
    b.read_block(bufs, 50)
out["paced_s"] = time.ticks_diff(time.ticks_us(), t0) / 1e6  # on the real clock
out["ramp_ok"] = all((bufs[1][i] - bufs[0][i]) % 4096 == 1 for i in range(50))
sim = board.time = SimTime()
b = board.Board(cfg)
b.read_block(bufs, 50)
t0 = sim.ticks_us()
for _ in range(20):
    b.read_block(bufs, 50)
out["sim_paced_s"] = sim.ticks_diff(sim.ticks_us(), t0) / 1e6
out["overruns_paced"] = b.overruns
sim.sleep_ms(30)
b.read_block(bufs, 50)  # behind by less than a block: caught up, not an overrun
out["overruns_catchup"] = b.overruns
sim.sleep_ms(300)
b.read_block(bufs, 50)
out["overruns"] = b.overruns
out["dropped"] = b.dropped
b.led(board.SPASM)
on = machine.log[-2:]
sim.sleep_ms(200)
b.led(board.IDLE)
b.led(board.IDLE)
out["led_spasm"] = on
out["buzzer_after"] = [e for e in machine.log if e[0] == 4][-1]
b.feed_watchdog()
out["feeds"] = machine.WDT.feeds
out["setup"] = [e for e in machine.log if e[0] in ("adc", "wdt", "bits")]
time.sleep_ms(50)
out["input"] = b.poll_input()
print(json.dumps(out))
"""


@pytest.mark.micropython
def test_esp32_board_layer_with_stub_machine(tmp_path: Path, micropython_bin: str) -> None:
    """board.py itself (pacing, overrun counting, LED/buzzer, watchdog, stdin) on the unix port."""
    import subprocess

    (tmp_path / "machine.py").write_text(MACHINE_STUB)
    script = tmp_path / "run.py"
    script.write_text(f"import sys\nsys.path[0:0] = [{str(tmp_path)!r}, {str(fwapp.__file__.rsplit('/', 1)[0])!r}]\n"
                      + BOARD_SCRIPT)
    proc = subprocess.run([micropython_bin, str(script)], input=b"ping\n", capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode() + proc.stdout.decode()
    out = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert out["safe_boot"] is False and out["id"] == "a4cf12b0c3d8"
    # 20 blocks of 50 samples at 1 kHz: never faster than real time. A busy machine only makes it slower, and
    # an overrun skips ahead, so the upper bound is only a sanity check (10x headroom for a loaded CI host)
    assert 0.98 <= out["paced_s"] <= 10
    # the overrun logic, on a simulated clock (exact, whatever the load)
    assert 0.999 <= out["sim_paced_s"] <= 1.01
    assert out["ramp_ok"] and out["overruns_paced"] == 0 and out["overruns_catchup"] == 0
    assert out["overruns"] == 1 and 270 <= out["dropped"] <= 300
    assert out["led_spasm"] == [[2, 1], [4, 1]] and out["buzzer_after"] == [4, 0]
    assert out["feeds"] == 1
    assert ["adc", 36, 3] in out["setup"] and ["adc", 39, 3] in out["setup"] and ["wdt", 8000] in out["setup"]
    assert out["input"] == "ping\n"
