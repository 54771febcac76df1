"""Live monitor view: state updates from protocol messages, rich rendering, plain log lines."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from rich.console import Console

from spasmfw import protocol
from spasmwatch.link import wire as typed
from spasmwatch.terminal.screen import level_bar, plain_line, render
from spasmwatch.terminal.view import Level, MonitorState, Recent

W0 = datetime(2025, 3, 10, 14, 20).timestamp()  # local time: the counts use local clock hours


def wire(t: str, seq: int, **fields: object) -> typed.Message:
    """A line as the firmware sends it, checked and parsed as the client does (scale 16)."""
    return typed.read_line(protocol.encode(t, seq, fields))[1]


def session() -> list[typed.Message]:
    return [
        wire("hello", 1, proto=1, fw="0.3.1", id="c0ffee42", boot=12, rate=1000, channels=["calf", "thigh"],
             mode="raw", scale=16, config="default"),
        wire("status", 2, uptime_ms=3_723_000, samples=3_723_000, overruns=0, dropped=0, heap_free=90_000,
             queue=0, faults=0, state="idle", eseq=40, boot=12),
        wire("env", 3, ch=0, n=2, values=[600, 640], floor=640, on=3200, off=1920),
        wire("env", 4, ch=1, n=2, values=[900, 4000], floor=640, on=3200, off=1920),
        wire("onset", 5, ch=0, eseq=41, onset_ms=3_720_000, detected_ms=3_720_150),
        wire("end", 6, ch=0, eseq=42, kind="tonic", onset_ms=3_720_000, offset_ms=3_732_500,
             detected_ms=3_720_150, duration_ms=12_500, peak=16 * 800, mean=16 * 300, floor=16 * 40),
        wire("end", 7, ch=1, eseq=43, kind="twitch", onset_ms=3_733_000, offset_ms=3_733_240,
             detected_ms=3_733_100, duration_ms=240, peak=16 * 200, mean=16 * 120, floor=16 * 40),
        wire("onset", 10, ch=1, eseq=44, onset_ms=3_740_000, detected_ms=3_740_200),  # 8, 9 lost
        wire("fault", 11, ch=0, eseq=45, state="start", detail="flat", start_ms=3_741_000, end_ms=-1),
    ]


def fed() -> MonitorState:
    state = MonitorState()
    state.connect("/dev/ttyUSB0", W0)
    for i, msg in enumerate(session()):
        state.apply(msg, W0 + i)
    return state


def screen(state: MonitorState, now: float) -> str:
    console = Console(record=True, width=100, file=io.StringIO(), color_system=None)
    console.print(render(state, now=now))
    return console.export_text()


def test_state_follows_the_session() -> None:
    s = fed()
    assert (s.device_id, s.fw, s.boot, s.rate, s.mode, s.scale) == ("c0ffee42", "0.3.1", "12", 1000, "raw", 16)
    assert s.uptime_ms == 3_723_000 and s.device_state == "idle"
    assert s.levels[1].env == 4000 / 16 and s.levels[1].on == 3200 / 16 and s.levels[0].off == 1920 / 16
    assert (s.link.seq_gaps, s.link.lost, s.link.messages) == (1, 2, 9)
    assert list(s.open) == [1] and s.faults == {0: "flat"}
    assert [(r.kind, r.duration_s) for r in s.recent] == [("twitch", 0.24), ("tonic", 12.5)]
    assert s.recent[1].peak_x == pytest.approx(20.0)  # 800 / 40, scale cancels
    hour, day = s.counts(W0 + 30)
    assert hour == day == {"tonic": 1, "twitch": 1}
    assert s.counts(W0 + 3600) == ({}, {"tonic": 1, "twitch": 1})  # next clock hour, same day
    assert s.elapsed(s.open[1], W0 + 10) == pytest.approx(3.2)  # 3 s since arrival + 0.2 s detection lag


def test_fault_end_reboot_and_reconnect() -> None:
    s = fed()
    s.apply(wire("fault", 12, ch=0, eseq=46, state="end", detail="flat", start_ms=3_741_000, end_ms=3_771_000),
            W0 + 40)
    assert s.faults == {} and s.recent[0].kind == "fault" and s.recent[0].duration_s == 30.0
    s.disconnect("unplugged", W0 + 50)
    assert not s.connected and s.open == {} and s.last_error == "unplugged"
    s.connect("/dev/ttyUSB0", W0 + 60)
    assert s.link.reconnects == 1
    s.apply(wire("hello", 1, proto=1, fw="0.3.1", id="c0ffee42", boot=13, rate=1000, channels=["calf"],
                 mode="raw", scale=16), W0 + 61)
    s.apply(wire("status", 2, uptime_ms=900, state="idle"), W0 + 62)
    assert s.boot == "13" and s.link.seq_gaps == 1  # seq restarting after a reboot is not a gap
    s.apply(wire("error", 3, cmd="config set", msg="bad value"), W0 + 63)
    s.bad_line("not a message line")
    assert s.link.errors == 2 and not s.link.ok


def test_render_shows_device_events_and_levels() -> None:
    text = screen(fed(), now=W0 + 10)
    assert "c0ffee42" in text and "fw 0.3.1" in text and "/dev/ttyUSB0" in text and "up 1:02:03" in text
    assert "seq gaps 1 (2 lost)" in text
    assert "episode in progress on ch 1 (thigh): 3.2 s" in text  # channel names from hello
    rows = [line for line in text.splitlines() if "tonic" in line or "twitch" in line]
    assert any("12.5 s" in r and "20.0x" in r for r in rows if "tonic" in r)
    assert any("0.2 s" in r and "5.0x" in r for r in rows if "twitch" in r)
    assert "FAULT flat" in text and "SPASM" in text
    assert "this hour: 2" in text and "today: 2" in text
    # the envelope columns are in ADC counts (device units / scale)
    ch1 = next(line for line in text.splitlines() if "SPASM" in line)
    assert "250" in ch1 and "200" in ch1 and "40" in ch1


def test_render_before_any_message() -> None:
    text = screen(MonitorState(), now=W0)
    assert "disconnected" in text and "no episode in progress" in text and "none yet" in text


def test_level_bar_marks_thresholds() -> None:
    quiet = level_bar(Level(env=10, floor=40, on=200, off=120), width=40).plain
    loud = level_bar(Level(env=280, floor=40, on=200, off=120), width=40).plain
    assert len(quiet) == len(loud) == 40
    assert quiet.index(":") < quiet.index("|")  # off below on
    assert quiet.count("█") < 3 and loud.count("█") > 30
    assert loud.index("|") == quiet.index("|")


def test_plain_lines() -> None:
    msgs = session()
    lines = [plain_line(m, W0) for m in msgs]
    assert lines[2] is None and lines[3] is None and lines[1] is None  # env, status: no line
    assert "hello device c0ffee42 fw 0.3.1 boot 12" in lines[0]
    assert lines[4].endswith("onset ch0 at 3720000 ms")
    assert "end ch0 tonic 12.50 s peak 20.0x floor" in lines[5]
    assert "fault ch0 flat started" in lines[8]
    end = wire("fault", 12, ch=0, eseq=46, state="end", detail="flat", start_ms=1000, end_ms=31_000)
    assert "fault ch0 flat cleared after 30.0 s" in plain_line(end, W0)
    assert plain_line(wire("error", 3, cmd="sync", msg="bad seq"), W0).endswith("device error: sync bad seq")
    assert all(line.startswith(datetime.fromtimestamp(W0).strftime("%Y-%m-%d %H:%M:%S"))
               for line in lines if line)


# ---- fitting the terminal (issue 12.8) -------------------------------------------------------------------


def busy() -> MonitorState:
    """Four named channels, two episodes going, an error, a long port path and a dozen events."""
    s = MonitorState()
    s.connect("/dev/serial/by-id/usb-Silicon_Labs_CP2102N_USB_to_UART_Bridge_Controller_0001-if00-port0", W0)
    s.apply(wire("hello", 1, proto=1, fw="0.3.1", id="a4cf12b0c3d8", name="left leg", boot=12, rate=1000,
                 channels=["left calf", "left hamstring", "ch2", "left quadriceps"], mode="raw", scale=16), W0)
    s.apply(wire("status", 2, uptime_ms=90_061_000, state="spasm", eseq=40, boot=12), W0)
    for ch in range(4):
        s.apply(wire("env", 3 + ch, ch=ch, n=1, values=[900 * (ch + 1)], floor=640, on=3200, off=1920), W0)
    for i in range(12):
        s.apply(wire("end", 10 + i, ch=i % 4, eseq=41 + i, kind=("twitch", "tonic", "clonus")[i % 3],
                     onset_ms=1000 * i, offset_ms=1000 * i + 500, detected_ms=1000 * i + 600, duration_ms=500,
                     peak=16 * 800, mean=16 * 300, floor=16 * 40), W0 + 60 * i)
    s.apply(wire("onset", 30, ch=1, eseq=60, onset_ms=90_000_000, detected_ms=90_000_150), W0 + 800)
    s.apply(wire("onset", 31, ch=3, eseq=61, onset_ms=90_000_500, detected_ms=90_000_650), W0 + 801)
    s.apply(wire("error", 32, cmd="config set", msg="channels.0.name='x' is a very long complaint " * 3),
            W0 + 802)
    return s


def screen_at(state: MonitorState, width: int, height: int, now: float) -> list[str]:
    console = Console(record=True, width=width, height=height, file=io.StringIO(), color_system=None)
    console.print(render(state, now=now, width=console.width, height=console.height))
    return console.export_text().splitlines()


def test_a_busy_screen_fits_80x24_with_the_counts_and_newest_event() -> None:
    lines = screen_at(busy(), 80, 24, now=W0 + 805)
    assert len(lines) <= 23, "\n".join(lines)  # a line is left for the cursor: nothing scrolls off
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert "this hour: 12 (twitch 4, tonic 4, clonus 4)   today: 12" in text  # not cut to "…"
    assert "left leg (a4cf12b0c3d8)" in text and "up 1d 01:01:01" in text  # header not wrapped
    assert "last error: config set:" in text
    assert "on ch 1 (left hamstring)" in text and "on ch 3 (left quadriceps)" in text
    events = [line for line in lines if line[:2].isdigit() and line[2] == ":"]
    assert 3 <= len(events) < 12  # as many of the last events as there is room for, newest first
    # the onset's time: the end line arrived at W0 + 660, 0.6 s (its detected_ms - onset_ms) after the onset
    assert "last events: onset" in text
    assert events[0].split()[:4] == [datetime.fromtimestamp(W0 + 660 - 0.6).strftime("%H:%M:%S"), "3",
                                     "left", "quadriceps"]
    assert "… " not in text.replace("…\n", "")  # only the port path and the long error are cut, at the end


def test_a_larger_screen_shows_more_events_and_longer_bars() -> None:
    small = screen_at(busy(), 80, 24, now=W0 + 805)
    large = screen_at(busy(), 132, 43, now=W0 + 805)
    count = lambda ls: sum(1 for line in ls if line[:2].isdigit() and line[2] == ":")  # noqa: E731
    assert count(large) == 12 > count(small)
    bar = lambda ls: max(line.count("·") + line.count("█") for line in ls)  # noqa: E731
    assert bar(large) > bar(small)
    assert max(len(line) for line in large) <= 132 and len(large) <= 42
    assert any("/dev/serial/by-id/usb-Silicon_Labs_CP2102N" in line for line in large)


def test_a_tiny_screen_still_shows_the_counts_and_an_event() -> None:
    lines = screen_at(busy(), 60, 16, now=W0 + 805)
    assert len(lines) <= 15 and max(len(line) for line in lines) <= 60
    assert any(line.startswith("this hour: 12") for line in lines)
    assert any(line[:2].isdigit() and line[2] == ":" for line in lines)


def test_another_device_on_the_port_is_shown_and_not_counted_with_the_first() -> None:
    s = fed()
    s.disconnect("lost", W0 + 20)
    s.connect("/dev/ttyUSB0", W0 + 30)
    s.apply(wire("hello", 1, proto=1, fw="0.3.1", id="beef0001", boot=3, rate=1000, channels=["ch0"],
                 mode="raw", scale=16), W0 + 31)
    assert s.device_id == "beef0001" and s.previous_device == "c0ffee42"
    assert s.counts(W0 + 40) == ({}, {}) and not s.recent and list(s.levels) == [0]
    text = "\n".join(screen_at(s, 80, 24, now=W0 + 40))
    assert "device changed: beef0001 (was c0ffee42); events kept apart" in text


def test_recent_keeps_more_than_a_screen() -> None:
    s = MonitorState()
    for i in range(50):
        s._record(Recent(W0 + i, 0, "twitch", 0.2, 3.0))
    assert len(s.recent) == 50


def test_the_header_fits_80_columns_with_a_long_port_and_says_the_units() -> None:
    # 80x24, a /dev/serial/by-id path: nothing that identifies the board or the link is cut off
    state = fed()
    port = "/dev/serial/by-id/usb-Silicon_Labs_CP2102N_USB_to_UART_Bridge_Controller_4c1a2b3c4d5e-if00-port0"
    state.connect(port, W0 + 10)
    state.apply(wire("status", 50, uptime_ms=3_600_000, state="idle", eseq=4, boot=1), W0 + 11)
    console = Console(record=True, width=80, height=24, file=io.StringIO(), color_system=None)
    console.print(render(state, now=W0 + 12, width=80, height=24))
    lines = console.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines)
    head = lines[:3]
    assert any(line.endswith("port0") for line in head)  # the distinguishing tail of the port path
    assert any("reconn" in line and not line.rstrip().endswith("…") for line in head)  # the link line whole
    assert any("counts (: off, | on)" in line for line in lines)  # the unit of the level, env, floor and on
