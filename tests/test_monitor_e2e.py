"""monitor end to end: virtual device killed and restarted, a second monitor catching up, on-event hook."""

from __future__ import annotations

import io
import json
import os
import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from signals import emg

from spasmcore.crc16 import seal, split
from spasmcore.errors import LinkError
from spasmcore.recording import write_recording
from spasmfw import protocol
from spasmsim.device import VirtualDevice
from spasmwatch.link.client import Client
from spasmwatch.link.serial_link import Link, LinkLost
from spasmwatch.monitor import HookRunner, Monitor, PlainSink
from spasmwatch.store import Store

RATE = 1000
SECONDS = 30
SPEED = 10


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "many.csv"
    bursts = [(1.0 + 1.5 * k, 1.0 + 1.5 * k + 0.3, 150.0) for k in range(19)]  # a twitch every 1.5 s
    write_recording(path, RATE, [emg(SECONDS, RATE, bursts, seed=11)], units="counts", mode="raw")
    return path


def device_log(port: str) -> tuple[list[dict], dict]:
    client = Client(Link.open(port))
    try:
        client.hello()
        return client.sync(0)
    finally:
        client.close()


class ManualClock:
    """The monitor's monotonic clock, moved only by the test: silence, probes and sync stalls happen when the test
    says so, however slowly a loaded machine runs the board (Monitor(clock=...))."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def step_until(mon: Monitor, cond, what: str, timeout: float = 60) -> None:
    """Run the monitor's loop until cond() (a bound of real time many times what an idle machine needs)."""
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        mon.step()


def in_thread(body) -> tuple[threading.Thread, list[BaseException]]:
    """Start body() beside the monitor's loop; its failure is kept for the test to raise after join()."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            body()
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    return t, errors


def wait_until_played(port: str, samples: int, timeout: float = 120) -> None:
    """Poll `status` until the device has processed `samples` (~3 s at SPEED on an idle machine; the
    timeout is generous because a busy machine plays the sim clock late)."""
    client = Client(Link.open(port))
    try:
        end = time.monotonic() + timeout
        while client.status()["samples"] < samples:
            assert time.monotonic() < end, f"the device did not play {samples} samples in {timeout} s"
            time.sleep(0.2)
    finally:
        client.close()


def episodes(logs: list[dict]) -> dict[tuple, dict]:
    """Episodes and faults the device logged, keyed like the store's rows: (boot, ch, onset ms, is fault)."""
    out: dict[tuple, dict] = {}
    for m in logs:
        fault = m["ev"] == "fault"
        key = (str(m["boot"]), m["ch"], m["start_ms"] if fault else m["onset_ms"], fault)
        ep = out.setdefault(key, {"end": None})
        if m["ev"] == "end" or (fault and m["state"] == "end"):
            ep["end"] = m
    return out


def check_store_matches(store: Store, logs: list[dict], done: dict, last_boot: str) -> list:
    rows = store.events(states=("open", "closed", "abandoned"))
    keys = [(r.boot_id, r.channel, r.onset_ms, r.kind == "fault") for r in rows]
    dupes = [k for k, n in Counter(keys).items() if n > 1]
    assert not dupes, dupes
    want = episodes(logs)
    assert set(keys) == set(want), (set(want) - set(keys), set(keys) - set(want))
    for r, key in zip(rows, keys, strict=True):
        end = want[key]["end"]
        if end is None:  # onset logged, never ended: open in the running boot, abandoned in an earlier one
            assert r.state == ("open" if r.boot_id == last_boot else "abandoned"), r
        else:
            assert r.state == "closed" and r.seq == end["eseq"], (r, end)
            assert r.kind == (end.get("kind") or "fault")
            assert r.offset_ms == (end.get("offset_ms") if end["ev"] == "end" else end["end_ms"])
    assert store.last_seq(rows[0].device_id) == done["last"]
    return rows


def test_live_records_of_a_boot_whose_hello_was_lost_are_not_filed_under_the_last_boot(
        tmp_path: Path, monkeypatch) -> None:
    # Issue 11: a board restarts and its boot hello is lost; the new boot's episode has the onset ms of one of the
    # last boot's (a looping signal; possible on a real board). Filed under the boot the monitor knew, its end
    # overwrote that boot's closed row. Live lines carry `boot` now: the monitor asks hello and syncs it instead.
    board = ScriptedBoard()
    live_with_boot = board.send

    def send(t: str, **fields: object) -> None:
        if t in ("onset", "end", "fault"):
            fields["boot"] = board.boot
        live_with_boot(t, **fields)

    board.send = send  # type: ignore[method-assign]
    monkeypatch.setattr(Link, "open", staticmethod(lambda port, **kw: FakeLink(board, port)))
    out = io.StringIO()
    with Store(tmp_path / "e.sqlite3") as store:
        mon = Monitor(store, "/dev/ttyFAKE0", sink=PlainSink(out))
        mon.connect()
        board.episode(1000)
        mon.step()
        board.boot, board.seq = 2, 0  # power cut: a new boot, its hello (seq 0) lost on the link
        board.episode(1000)
        for _ in range(4):
            mon.step()
        rows = store.events()
        assert mon.boot_id == "2" and mon.counts["deferred"] == 2
    assert sorted((r.boot_id, r.onset_ms, r.state, r.seq) for r in rows) == [
        ("1", 1000, "closed", 2), ("2", 1000, "closed", 4)]
    assert board.commands[:2] == ["hello", "sync"] and "hello" in board.commands[2:]
    assert "its restart hello was lost" in out.getvalue()


@pytest.mark.slow
@pytest.mark.micropython
@pytest.mark.timeout(300)
def test_kill_restart_and_second_monitor_end_with_every_event_once(recording: Path, tmp_path: Path) -> None:
    db = tmp_path / "events.sqlite3"
    # sim clock: every twitch is played (a busy machine would drop samples, and episodes with them)
    dev = VirtualDevice(recording, speed=SPEED, state_dir=tmp_path / "state", clock="sim")
    out = io.StringIO()
    clock = ManualClock()  # the board falls silent for the monitor only when the test moves its clock
    try:
        dev.start()
        with Store(db) as store:
            mon = Monitor(store, dev.port, sink=PlainSink(out), probe_s=0.4, dead_s=1.2, clock=clock)
            mon.connect()

            def noticed_silence() -> bool:
                clock.advance(0.5)  # silent time passes (lines already on their way reset it: so, again)
                return not mon.link.connected

            def chaos() -> None:  # kill the board once it has reported a few events, power it up again
                try:
                    wait_for(lambda: len(mon.state.recent) >= 3, "3 events before the power cut")
                    dev.kill()
                    wait_for(noticed_silence, "the monitor to find the board silent")
                    dev.start()
                    wait_for(lambda: mon.boot_id == "2" and not mon.syncing, "boot 2 greeted and synced")
                finally:
                    mon.stop()  # then the board goes on logging with nobody listening

            t, errors = in_thread(chaos)
            mon.run()
            t.join()
            assert not errors, errors
            first_rows = len(store.events(states=("open", "closed", "abandoned")))
            assert mon.counts["reconnects"] >= 1
            gaps = store.gaps()
            assert [g.kind for g in gaps] == ["disconnect"] and gaps[0].end_wall > gaps[0].start_wall
        text = out.getvalue()
        assert "device silent" in text and "boot 2" in text

        wait_until_played(dev.port, SECONDS * RATE)  # boot 2 plays the recording to its end, unwatched
        with Store(db) as store:
            mon2 = Monitor(store, dev.port, sink=PlainSink(out), clock=ManualClock())
            mon2.connect()
            step_until(mon2, lambda: mon2.counts["synced"] > 0 and not mon2.syncing, "the second monitor's sync")
            mon2.close()  # it caught up from the last event the store held
            logs, done = device_log(dev.port)
            rows = check_store_matches(store, logs, done, last_boot="2")
        assert first_rows < len(rows)
        assert {r.boot_id for r in rows} == {"1", "2"}
        assert sum(1 for r in rows if r.state == "closed" and r.boot_id == "2") >= 15  # the whole second boot
    finally:
        dev.close()


@pytest.mark.micropython
@pytest.mark.timeout(60)
def test_on_event_hook_gets_each_live_event_as_json(recording: Path, tmp_path: Path) -> None:
    hook_out = tmp_path / "hook.jsonl"
    out = io.StringIO()
    with VirtualDevice(recording, speed=SPEED) as dev, Store(tmp_path / "e.sqlite3") as store:
        mon = Monitor(store, dev.port, sink=PlainSink(out), on_event=f"cat >> '{hook_out}'")
        mon.connect()
        step_until(mon, lambda: mon.counts["live"] >= 6, "6 live records")
        mon.close()  # lets the queued hook commands finish
        rows = store.events()
    payloads = [json.loads(line) for line in hook_out.read_text().splitlines()]
    assert len(payloads) >= 4
    kinds = {p["event"] for p in payloads}
    assert kinds <= {"onset", "end", "fault"} and "end" in kinds
    for p in payloads:
        assert p["device"] == rows[0].device_id and p["boot"] == "1" and p["received_at"].endswith("Z")
    ends = {(p["ch"], p["onset_ms"]): p for p in payloads if p["event"] == "end"}
    closed = {(r.channel, r.onset_ms): r for r in rows if r.state == "closed"}
    assert set(ends) <= set(closed)
    for key, p in ends.items():
        assert p["kind"] == closed[key].kind and p["peak_x"] == pytest.approx(closed[key].peak_x)
    lines = [ln for ln in out.getvalue().splitlines() if " end ch0 " in ln]
    assert len(lines) == len(ends)  # plain output: one line per live end


@pytest.mark.micropython
@pytest.mark.timeout(60)
def test_a_failing_hook_is_one_line_on_stderr_and_monitoring_goes_on(
        recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the hook runs in the monitor's directory
    ran = tmp_path / "ran"
    (tmp_path / "notify.sh").write_text("echo run >> ran\necho sending\necho 'curl: (7) could not connect' >&2\n"
                                        "echo >&2\nexit 3\n")
    hook = "sh ./notify.sh"
    out = io.StringIO()
    with VirtualDevice(recording, speed=SPEED) as dev, Store(tmp_path / "e.sqlite3") as store:
        mon = Monitor(store, dev.port, sink=PlainSink(out), on_event=hook)
        hooks = mon.hooks
        assert hooks is not None
        mon.connect()
        step_until(mon, lambda: mon.counts["live"] >= 6, "6 live records")
        mon.close()  # lets the queued hook commands finish
        rows = store.events(states=("closed",))
    err = [ln for ln in capsys.readouterr().err.splitlines() if "--on-event" in ln]
    runs = len(ran.read_text().splitlines())
    assert runs >= 4 and hooks.failed == runs  # every event still ran the hook, though each run failed
    assert len(err) == runs  # one line per failure, on stderr
    for line in err:
        assert line.endswith('--on-event "sh ./notify.sh" exited with 3: curl: (7) could not connect; '
                             "monitoring goes on"), line
    assert "--on-event" not in out.getvalue()  # not mixed into the event lines on stdout
    assert len(rows) >= 2 and out.getvalue().count(" end ch0 ") == len(rows)  # monitoring went on


def test_a_hook_failing_without_output_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    errors: list[str] = []
    runner = HookRunner("exit 3", on_error=errors.append)
    runner.submit({"event": "end"})
    runner.submit({"event": "end"})
    runner.close()
    assert errors == ['--on-event "exit 3" exited with 3: no output; monitoring goes on'] * 2
    runner = HookRunner("kill -9 $$", on_error=errors.append)
    runner.submit({"event": "onset"})
    runner.close()
    assert errors[-1] == '--on-event "kill -9 $$" was killed by signal 9 (SIGKILL): no output; monitoring goes on'


# ---- a scripted board behind a fake link: unplug and replug, without MicroPython -------------------------


class ScriptedBoard:
    """Speaks enough of the protocol (hello, ping, status, sync, stream) over fake links; can be unplugged."""

    def __init__(self) -> None:
        self.plugged = True
        self.boot = 1
        self.seq = 0
        self.eseq = 0
        self.log: list[dict] = []
        self.out: list[bytes] = []
        self.commands: list[str] = []

    def send(self, t: str, **fields: object) -> None:
        self.seq += 1
        self.out.append(protocol.encode(t, self.seq, fields).rstrip(b"\n"))

    def episode(self, onset_ms: int, live: bool = True) -> None:
        for ev in ("onset", "end"):
            self.eseq += 1
            f: dict = {"ch": 0, "eseq": self.eseq, "onset_ms": onset_ms, "detected_ms": onset_ms + 100}
            if ev == "end":
                f.update(kind="tonic", offset_ms=onset_ms + 2000, detected_ms=onset_ms + 2500,
                         duration_ms=2000, peak=320, mean=160, floor=16)
            self.log.append({"ev": ev, "boot": self.boot, **f})
            if live and self.plugged:
                self.send(ev, **f)

    def command(self, line: bytes) -> None:
        name, args = protocol.parse_command(line)
        self.commands.append(name)
        if name == "hello":
            self.send("hello", proto=1, fw="0.1.0", id="fake01", name="t", boot=self.boot, rate=1000,
                      channels=["ch0"], mode="raw", scale=16, config={})
        elif name == "sync":
            n = 0
            for r in self.log:
                if r["eseq"] > args[0]:
                    self.send("log", **r)
                    n += 1
            self.send("ok", cmd="sync", data={"count": n, "last": self.eseq})
        elif name == "status":
            self.send("status", uptime_ms=1000, eseq=self.eseq, boot=self.boot)
        else:
            self.send("ok", cmd=name)


class FakeLink:
    def __init__(self, board: ScriptedBoard, port: str) -> None:
        self.board, self.port = board, port

    def read_lines(self, timeout: float = 0.05) -> list[bytes]:
        if not self.board.plugged:
            raise LinkLost(f"lost {self.port}: device disconnected")
        out, self.board.out = self.board.out, []
        if not out:
            time.sleep(min(timeout, 0.01))
        return out

    def write(self, data: bytes) -> None:
        if not self.board.plugged:
            raise LinkLost(f"lost {self.port}: write failed")
        self.board.command(data)

    def close(self) -> None:
        pass


def test_unplug_replug_reconnects_by_polling_the_port_and_syncs(tmp_path: Path, monkeypatch) -> None:
    board = ScriptedBoard()
    opens: list[str] = []

    def fake_open(port: str, **kw: object) -> FakeLink:
        opens.append(port)
        if not board.plugged:
            raise LinkError(f"no such port {port}")
        board.out.clear()  # pyserial flushes input on open: the device's earlier lines are gone
        return FakeLink(board, port)

    monkeypatch.setattr(Link, "open", staticmethod(fake_open))
    monkeypatch.setattr("spasmwatch.link.serial_link.os.path.exists", lambda p: board.plugged)
    out = io.StringIO()
    with Store(tmp_path / "e.sqlite3") as store:
        mon = Monitor(store, "/dev/ttyFAKE0", sink=PlainSink(out), poll_s=0.02)
        mon.connect()
        board.episode(1000)
        mon.step()
        board.plugged = False
        mon.step()  # the read fails: disconnected, link closed
        assert mon.client is None and not mon.state.connected
        board.episode(5000, live=False)  # logged while unplugged
        board.episode(9000, live=False)
        board.boot = 2
        board.episode(500, live=False)  # ... and after a reset
        board.plugged = True
        mon._reconnect()
        for _ in range(5):
            mon.step()
        board.episode(3000)
        mon.step()
        rows = store.events()
        mon.close()
        links = store.links()
        gaps = store.gaps()
    assert sorted((r.boot_id, r.onset_ms, r.state, r.seq) for r in rows) == [
        ("1", 1000, "closed", 2), ("1", 5000, "closed", 4), ("1", 9000, "closed", 6), ("2", 500, "closed", 8),
        ("2", 3000, "closed", 10)]
    assert board.commands.count("sync") == 2 and len(opens) == 2
    assert len(links) == 2 and all(link.disconnected_at is not None for link in links)
    assert [g.kind for g in gaps] == ["disconnect"] and "disconnected" in gaps[0].detail
    assert "waiting for the board to come back" in out.getvalue() and "reconnected" in out.getvalue()


def test_seq_jump_triggers_a_sync_from_before_the_jump(tmp_path: Path, monkeypatch) -> None:
    board = ScriptedBoard()
    monkeypatch.setattr(Link, "open", staticmethod(lambda port, **kw: FakeLink(board, port)))
    with Store(tmp_path / "e.sqlite3") as store:
        mon = Monitor(store, "/dev/ttyFAKE0")
        mon.connect()
        mon.step()
        board.episode(1000)
        board.out = board.out[1:]  # the onset line is lost on the wire (seq jumps by one)
        board.episode(4000)
        mon.step()
        mon.step()
        rows = store.events()
        gaps = store.gaps()
    assert [(r.onset_ms, r.state) for r in rows] == [(1000, "closed"), (4000, "closed")]
    assert [(g.kind, g.first_seq, g.last_seq) for g in gaps] == [("seq", 3, 3)]
    assert board.commands == ["hello", "sync", "sync"]


@pytest.mark.slow
@pytest.mark.micropython
@pytest.mark.timeout(60)
def test_port_vanishes_and_returns(recording: Path, tmp_path: Path) -> None:
    """Unplug for real: the pty is closed (its path disappears, reads fail) and a new one appears later."""
    port = tmp_path / "ttyUSB0"  # a stable name, as udev gives a board, for ptys whose numbers vary
    state = tmp_path / "state"
    out = io.StringIO()
    dev = VirtualDevice(recording, speed=SPEED, state_dir=state)
    port.symlink_to(dev.start())
    devices = [dev]

    def played_and_stored() -> bool:
        """Boot 2's last status says the whole recording played (samples processed or dropped as overruns), and the
        store holds every record it names."""
        st = mon.state.status or {}
        played = st.get("samples", 0) + st.get("dropped", 0)
        return (st.get("boot") == 2 and played >= SECONDS * RATE and not mon.syncing
                and mon.policy.synced_to >= (st.get("eseq") or 0))

    def unplug_replug() -> None:
        try:
            wait_for(lambda: len(mon.state.recent) >= 2, "2 events before the unplug")
            port.unlink()
            devices[0].close()
            wait_for(lambda: mon.client is None, "the monitor to find the port gone")
            new = VirtualDevice(recording, speed=SPEED, state_dir=state)
            devices.append(new)
            port.symlink_to(new.start())
            wait_for(played_and_stored, "boot 2 played whole and stored")
        finally:
            mon.stop()

    try:
        with Store(tmp_path / "e.sqlite3") as store:
            mon = Monitor(store, str(port), sink=PlainSink(out), poll_s=0.1)
            mon.connect()
            t, errors = in_thread(unplug_replug)
            mon.run()
            t.join()
            assert not errors, errors
            logs, done = device_log(str(port))
            check_store_matches(store, logs, done, last_boot="2")
            gaps = store.gaps()
        assert [g.kind for g in gaps] == ["disconnect"] and "lost" in gaps[0].detail
        text = out.getvalue()
        assert "disconnected: lost" in text and f"reconnected on {port}" in text
    finally:
        for d in devices:
            d.close()


def test_a_sync_whose_end_is_lost_is_asked_again(tmp_path: Path, monkeypatch) -> None:
    board = ScriptedBoard()
    board.episode(1000, live=False)
    monkeypatch.setattr(Link, "open", staticmethod(lambda port, **kw: FakeLink(board, port)))
    monkeypatch.setattr("spasmwatch.monitor.dispatch.SYNC_STALL_S", 0.2)
    clock = ManualClock()
    with Store(tmp_path / "e.sqlite3") as store:
        mon = Monitor(store, "/dev/ttyFAKE0", clock=clock)
        mon.connect()
        board.out = [line for line in board.out if b'"cmd":"sync"' not in line]  # the sync's ok is lost
        mon.step()
        assert mon.syncing and len(store.events()) == 1
        clock.advance(0.3)
        mon.step()  # stalled: sync again
        assert board.commands.count("sync") == 2
        for _ in range(3):  # (the lost ok also shows as a seq jump: one more sync, queued behind this one)
            mon.step()
        assert not mon.syncing and len(store.events()) == 1 and [g.kind for g in store.gaps()] == ["seq"]


# ---- the monitor follows a path: another device on it (issue 12.9) ---------------------------------------


def wait_for(cond, what: str, timeout: float = 60) -> None:
    """Poll cond(); the bound is many times what an idle machine needs (a loaded one plays the sim clock late)."""
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.micropython
@pytest.mark.timeout(240)
def test_a_different_device_on_the_link_is_warned_and_kept_apart(recording: Path, tmp_path: Path) -> None:
    """Two virtual boards take turns behind one --link path: the monitor follows the path, says that another
    device answered, and stores each board's events under its own id, each matching that board's log."""
    port = tmp_path / "ttyVIRT0"
    out = io.StringIO()
    first = VirtualDevice(recording, speed=SPEED, state_dir=tmp_path / "a", clock="sim", link=port)
    second = VirtualDevice(recording, speed=SPEED, state_dir=tmp_path / "b", clock="sim", link=port)
    try:
        first.start()
        assert port.is_symlink() and str(port.readlink()) == first.port
        with Store(tmp_path / "e.sqlite3") as store:
            mon = Monitor(store, str(port), sink=PlainSink(out), poll_s=0.1)
            mon.connect()
            id_a = mon.device_id

            def swap() -> None:
                wait_for(lambda: len(mon.state.recent) >= 3, "3 events from the first board")
                first.close()  # its pty and the link go away, as when a board is unplugged
                assert not os.path.lexists(port)
                second.start()  # another board, plugged in where the first one was
                wait_for(lambda: mon.device_id not in (None, id_a) and len(mon.state.recent) >= 3,
                         "3 events from the second board")
                mon.stop()

            t = threading.Thread(target=swap)
            t.start()
            mon.run(200)
            t.join()
            id_b = mon.device_id
            assert id_a and id_b and id_a != id_b
            logs_b, done_b = device_log(str(port))
            rows_a = store.events(device=id_a, states=("open", "closed", "abandoned"))
            rows_b = store.events(device=id_b, states=("open", "closed", "abandoned"))
            assert rows_a and rows_b
            assert {(r.boot_id, r.channel, r.onset_ms, r.kind == "fault") for r in rows_b} == set(episodes(logs_b))
            assert store.last_seq(id_b) == done_b["last"]  # the first board's log position was not used
            assert {lk.device_id for lk in store.links()} == {id_a, id_b}
            gaps = store.gaps()
            assert [(g.kind, g.device_id) for g in gaps] == [("disconnect", id_a)]
            assert f"then device {id_b} answered" in gaps[0].detail
        text = out.getvalue()
        assert f"warning: a different device answered on {port}: {id_b} (was {id_a})" in text
        assert f"reconnected on {port}" in text

        # --device insists on one board: the other one is refused with one line, and nothing is stored
        with Store(tmp_path / "f.sqlite3") as store:
            with pytest.raises(LinkError, match=f"the board there is device {id_b}, not {id_a}"):
                Monitor(store, str(port), device=id_a).connect()
            mon = Monitor(store, str(port), device=id_b)
            mon.connect()
            mon.close()
            assert [lk.device_id for lk in store.links()] == [id_b]
    finally:
        first.close()
        second.close()
    assert not os.path.lexists(port)  # the last device removed its link


def test_monitor_device_waits_for_its_board_and_ignores_another(tmp_path: Path, monkeypatch) -> None:
    """--device after a reconnection: another board on the port is refused (said once) until ours is back."""
    board = ScriptedBoard()
    monkeypatch.setattr(Link, "open", staticmethod(lambda port, **kw: FakeLink(board, port)))
    monkeypatch.setattr("spasmwatch.link.serial_link.os.path.exists", lambda p: board.plugged)
    out = io.StringIO()
    with Store(tmp_path / "e.sqlite3") as store:
        mon = Monitor(store, "/dev/ttyFAKE0", sink=PlainSink(out), poll_s=0.01, device="fake01")
        mon.connect()
        board.episode(1000)
        mon.step()
        board.plugged = False
        mon.step()
        assert mon.client is None
        other = ScriptedBoard()
        other.episode(2000, live=False)
        real_command = board.command
        board.command = lambda line: other_hello(board, line, real_command)  # type: ignore[method-assign]
        board.plugged = True
        for _ in range(3):
            mon._reconnect()
            assert mon.client is None  # refused every time
        board.command = real_command  # type: ignore[method-assign]
        mon._reconnect()
        assert mon.client is not None and mon.device_id == "fake01"
        mon.close()
        assert {r.device_id for r in store.events()} == {"fake01"}
    text = out.getvalue()
    assert text.count("the board there is device other02, not fake01 (--device); waiting for fake01") == 1


def other_hello(board: ScriptedBoard, line: bytes, real) -> None:
    """The same fake port answering as another device (id other02)."""
    if line.startswith(b"hello"):
        board.send("hello", proto=1, fw="0.1.0", id="other02", name="t", boot=1, rate=1000, channels=["ch0"],
                   mode="raw", scale=16, config={})
    else:
        real(line)


@pytest.mark.micropython
@pytest.mark.timeout(90)
def test_names_set_in_the_board_config_reach_the_view_store_and_report(recording: Path, tmp_path: Path) -> None:
    """`config set name=... channels.0.name=...` on the (virtual) board: the monitor's hello carries them, the
    store keeps them, the view and the report show them instead of the hex id and "ch 0"."""
    from spasmwatch.report.day import DayData

    with VirtualDevice(recording, speed=SPEED) as dev, Store(tmp_path / "e.sqlite3") as store:
        client = Client(Link.open(dev.port))
        try:
            client.hello()
            if client.config_set([("name", "left leg"), ("channels.0.name", "left calf")]).get("reboot"):
                # the board restarts to apply it: wait for its new hello before the monitor connects
                client.hello(timeout=10)  # (its new hello may have come before the reply: ask for one)
        finally:
            client.close()
        mon = Monitor(store, dev.port)
        mon.connect()
        mon.close()
        assert mon.state.device_name == "left leg" and mon.state.channel_names == {0: "left calf"}
        (d,) = store.devices()
        assert d["name"] == "left leg" and d["channel_names"] == ["left calf"]
        data = DayData(day="x", start=0, end=1, tz=None, devices=store.devices())
        assert data.device_label(mon.device_id or "") == f"left leg ({mon.device_id})"
        assert data.channel_name(mon.device_id or "", 0) == "left calf"


# ---- corrupted lines (issue 11.2): dropped and counted, what they held fetched again ----------------------


class CheckedBoard(ScriptedBoard):
    """A protocol v2 board: every line sealed with its CRC-16; it records the command lines as they came."""

    def __init__(self) -> None:
        super().__init__()
        self.raw_commands: list[bytes] = []

    def send(self, t: str, **fields: object) -> None:
        if t == "hello":
            fields["proto"] = 2
        self.seq += 1
        body = json.dumps({"t": t, "seq": self.seq, **fields}, separators=(",", ":")).encode()
        self.out.append(seal(body))

    def command(self, line: bytes) -> None:
        self.raw_commands.append(line)
        super().command(line)


@pytest.mark.parametrize("checked", [False, True])
def test_corrupted_lines_never_crash_or_reach_the_store(tmp_path: Path, monkeypatch, checked: bool) -> None:
    board = CheckedBoard() if checked else ScriptedBoard()
    monkeypatch.setattr(Link, "open", staticmethod(lambda port, **kw: FakeLink(board, port)))
    out = io.StringIO()
    with Store(tmp_path / "e.sqlite3") as store:
        mon = Monitor(store, "/dev/ttyFAKE0", sink=PlainSink(out))
        mon.connect()
        mon.step()
        board.episode(134_490)
        onset, end = board.out[-2:]
        if checked:  # a flipped digit: the JSON stays valid, only the checksum shows it
            board.out[-2] = onset.replace(b"134490", b"134491")
            board.out[-1] = split(end)[0]  # the checksum cut off
        else:  # v1: a flipped byte in a key, a digit lost (still valid JSON)
            board.out[-2] = onset.replace(b"onset_ms", b"onset_mq")
            board.out[-1] = end.replace(b'"onset_ms":134490', b'"onset_ms":13449')
        board.episode(150_000)
        for _ in range(4):
            mon.step()
        rows = store.events()
        mon.close()
    assert [(r.onset_ms, r.state, r.seq) for r in rows] == [(134_490, "closed", 2), (150_000, "closed", 4)]
    assert mon.rejected == 2 and mon.state.link.corrupt == 2
    assert board.commands.count("sync") == 2  # at the hello, then for the hole the dropped lines left
    if checked:
        assert all(split(c.rstrip(b"\n"))[1] for c in board.raw_commands[1:])  # after hello: all sealed


def test_an_absurd_device_time_is_dropped_and_never_stored(tmp_path: Path, monkeypatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A checked line with onset_ms 2**53-1 or status uptime_ms 2**53 moved its boot to year -283,400 and
    `events` crashed (issue 22.3): it is counted and dropped, the boot's start and the store stay sane."""
    from spasmwatch import cli

    board = ScriptedBoard()
    monkeypatch.setattr(Link, "open", staticmethod(lambda port, **kw: FakeLink(board, port)))
    db = tmp_path / "e.sqlite3"
    with Store(db) as store:
        mon = Monitor(store, "/dev/ttyFAKE0", sink=PlainSink(io.StringIO()))
        mon.connect()
        mon.step()
        board.episode(134_490)
        board.send("status", uptime_ms=2**53, eseq=board.eseq, boot=board.boot)
        board.send("onset", ch=0, eseq=board.eseq + 1, onset_ms=2**53 - 1, detected_ms=2**53 - 1, boot=board.boot)
        board.send("status", uptime_ms=200_000, eseq=board.eseq, boot=board.boot)
        board.send("status", uptime_ms=100_000, eseq=board.eseq, boot=board.boot)  # went back: refused
        for _ in range(4):
            mon.step()
        rows = store.events(states=("open", "closed"))
        origin = store.boot_wall("fake01", "1")
        assert mon.client is not None and mon.client.rejected["time"] == 3
        mon.close()
    assert [(r.onset_ms, r.state) for r in rows] == [(134_490, "closed")]
    assert origin is not None and abs(origin - time.time()) < 3600
    assert mon.state.link.corrupt == 3
    capsys.readouterr()
    assert cli.main(["events", "--db", str(db), "--since", "1970-01-02"]) == 0
    assert "tonic" in capsys.readouterr().out


def test_a_repeated_eseq_with_other_content_prints_what_was_stored_and_counts_the_conflict(
        tmp_path: Path, monkeypatch) -> None:
    """The store kept the first record of an eseq but `monitor --plain` printed the second as if stored
    (issue 22.11); a plain repeat of a line is not printed twice either."""
    board = ScriptedBoard()
    monkeypatch.setattr(Link, "open", staticmethod(lambda port, **kw: FakeLink(board, port)))
    out = io.StringIO()
    with Store(tmp_path / "e.sqlite3") as store:
        mon = Monitor(store, "/dev/ttyFAKE0", sink=PlainSink(out))
        mon.connect()
        mon.step()
        board.episode(134_490)
        board.out.append(board.out[-1])  # the same end line twice
        board.send("end", ch=1, eseq=board.eseq, kind="clonus", onset_ms=200_000, offset_ms=209_000,
                   detected_ms=209_500, duration_ms=9000, peak=640, mean=320, floor=16)
        for _ in range(4):
            mon.step()
        rows = store.events()
        mon.close()
        from spasmwatch.commands.monitor import summary

        assert "1 conflicting repeat(s) of a stored record ignored" in summary(store, "fake01", mon.counts)
    text = out.getvalue()
    assert [(r.channel, r.kind, r.onset_ms) for r in rows] == [(0, "tonic", 134_490)]
    assert text.count("end ch0 tonic 2.00 s") == 1 and "end ch1 clonus" not in text
    assert ("conflict: event record 2 came again as ch1 clonus at 200000 ms, 9.00 s; the store keeps the first: "
            "ch0 tonic at 134490 ms, 2.00 s") in text
    assert mon.counts["conflicts"] == 1 and [r.kind for r in mon.state.recent] == ["tonic"]


class LossyLink(FakeLink):
    """A link that drops and duplicates device lines and drops commands (issue 11.1: 20 % drops lost ends)."""

    def __init__(self, board: ScriptedBoard, port: str, seed: int, drop: float = 0.2) -> None:
        super().__init__(board, port)
        self.rnd = random.Random(seed)
        self.drop = drop

    def read_lines(self, timeout: float = 0.05) -> list[bytes]:
        out = []
        for line in super().read_lines(timeout):
            r = self.rnd.random()
            if r < self.drop:
                continue
            out += [line, line] if r < self.drop * 1.5 else [line]
        return out

    def write(self, data: bytes) -> None:
        if self.rnd.random() >= self.drop:  # a lost command: no reply, the policy's timeout asks again
            super().write(data)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_lossy_link_loses_nothing(tmp_path: Path, monkeypatch, seed: int) -> None:
    board = ScriptedBoard()
    links: list[LossyLink] = []

    def lossy_open(port: str, **kw: object) -> LossyLink:
        links.append(LossyLink(board, port, seed))
        return links[-1]

    monkeypatch.setattr(Link, "open", staticmethod(lossy_open))
    monkeypatch.setattr("spasmwatch.monitor.dispatch.SYNC_STALL_S", 0.05)
    clock = ManualClock()
    with Store(tmp_path / "e.sqlite3") as store:
        mon = Monitor(store, "/dev/ttyFAKE0", probe_s=30, dead_s=60, clock=clock)
        while mon.client is None:
            try:
                mon.connect()  # the hello itself may be lost
            except LinkError:
                pass
        for k in range(60):
            board.episode(1000 * (k + 1))
            if k % 5 == 4:
                board.send("status", uptime_ms=1000 * k, eseq=board.eseq, boot=board.boot)
            mon.step(0)
        links[-1].drop = 0.0  # the link heals: what is missing must now come back
        end = time.monotonic() + 30
        while time.monotonic() < end and (mon.syncing or mon.policy.due(clock() + 1) is not None
                                          or mon.policy.synced_to < board.eseq):
            board.send("status", uptime_ms=99_000, eseq=board.eseq, boot=board.boot)
            clock.advance(0.06)  # past the sync stall: a sync whose ok was lost is asked again
            mon.step(0)
        rows = store.events()
        mon.close()
    got = sorted((r.onset_ms, r.state, r.seq) for r in rows)  # (by wall time, rows come in origin-estimate order)
    assert got == [(1000 * (k + 1), "closed", 2 * k + 2) for k in range(60)]
    assert mon.policy.synced_to == board.eseq == 120 and mon.counts["syncs"] >= 2
