"""The firmware's time logic under the ESP32's tick clock: ticks_ms/ticks_us wrap at 2**30, and ticks_diff only
spans +-2**29 (~6.2 days in ms), which the unix port's far longer period hides. Every ticks_* use reachable on
CPython (tcpserve, mqttpub, wifi, net, board, app) runs here from a start just before the wrap, and across
idle spells longer than half the period."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from test_app import make_app, run_for

from spasmcore.firmware import FIRMWARE_DIR, UNIX_DIR
from spasmfw import codes as fwcodes
from spasmfw import compat as fwcompat
from spasmfw import config as fwconfig
from spasmfw import protocol as fwprotocol

PERIOD = 1 << 30  # the ESP32 port's ticks period (ms and us alike)
HALF = PERIOD >> 1
NEAR_WRAP_MS = PERIOD - 3000  # 3 s before ticks_ms wraps
SIX_DAYS_MS = HALF + 5000  # just over half the period: the span ticks_diff gets wrong when it is stored


class BoardTime:
    """A fake `time` module with the ESP32 port's tick arithmetic and a clock the test moves."""

    def __init__(self, start_ms: int = NEAR_WRAP_MS) -> None:
        self.us = start_ms * 1000

    def advance(self, ms: int) -> None:
        self.us += ms * 1000

    def ticks_ms(self) -> int:
        return (self.us // 1000) % PERIOD

    def ticks_us(self) -> int:
        return self.us % PERIOD

    @staticmethod
    def ticks_diff(a: int, b: int) -> int:  # MicroPython's definition (py/modtime.c: mp_time_ticks_diff)
        return ((a - b + HALF) & (PERIOD - 1)) - HALF

    @staticmethod
    def ticks_add(a: int, delta: int) -> int:
        return (a + delta) % PERIOD

    def sleep_ms(self, ms: int) -> None:
        self.advance(ms)


def load(name: str, path: Path, monkeypatch: pytest.MonkeyPatch, clock: BoardTime, **flat: ModuleType) -> ModuleType:
    """A fresh copy of one firmware module, imported flat as on a board, with `time` replaced by the clock."""
    for dep, mod in {"protocol": fwprotocol, "codes": fwcodes, "compat": fwcompat, "config": fwconfig, **flat}.items():
        monkeypatch.setitem(sys.modules, dep, mod)
    spec = importlib.util.spec_from_file_location("board_" + name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.time = clock  # type: ignore[attr-defined]
    return mod


def fw(name: str, monkeypatch: pytest.MonkeyPatch, clock: BoardTime, **flat: ModuleType) -> ModuleType:
    return load(name, FIRMWARE_DIR / f"{name}.py", monkeypatch, clock, **flat)


class App:
    """What tcpserve and net call on the app: replies collected as (kind, cmd, text)."""

    def __init__(self) -> None:
        self.said: list[tuple[str, object, str]] = []

    def error(self, cmd: object, msg: str) -> None:
        self.said.append(("error", cmd, msg))

    def ok(self, cmd: object, data: object = None) -> None:
        self.said.append(("ok", cmd, ""))


def test_the_fake_clock_has_the_board_arithmetic() -> None:
    t = BoardTime(PERIOD - 10)
    a = t.ticks_ms()
    t.advance(20)
    assert t.ticks_ms() == 10 and t.ticks_diff(t.ticks_ms(), a) == 20 and t.ticks_add(a, 20) == 10
    assert t.ticks_diff(t.ticks_add(a, HALF + 1), a) < 0  # over half a period reads as the past


# ---------------------------------------------------------------------------------------------- tcpserve


def test_right_token_accepted_after_six_days_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = BoardTime()
    tcp = fw("tcpserve", monkeypatch, clock)
    srv, app = tcp.TcpServer(7878, "right-token", False), App()
    clock.advance(SIX_DAYS_MS)  # nobody connected for 6.2 days
    srv.poll(app, "")
    srv._auth(app, [b"auth", b"right-token"])
    assert app.said == [("ok", "auth", "")] and srv.authed


def test_wrong_token_back_off_across_the_wrap_and_after_days(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = BoardTime(PERIOD - 500)
    tcp = fw("tcpserve", monkeypatch, clock)
    srv, app = tcp.TcpServer(7878, "right-token", False), App()
    srv.peer = "10.0.0.9"
    srv._auth(app, [b"auth", b"guess"])
    for _ in range(10):  # 1 s of blocks, through the wrap: still held
        clock.advance(100)
        srv.poll(app, "")
    srv._auth(app, [b"auth", b"right-token"])
    assert [s[2] for s in app.said] == ["wrong token from 10.0.0.9 (1 since boot)", "too many wrong tokens: wait 2 s"]
    for _ in range(11):
        clock.advance(100)
        srv.poll(app, "")
    srv._auth(app, [b"auth", b"right-token"])
    assert app.said[-1][0] == "ok"
    srv.authed = False
    srv._auth(app, [b"auth", b"guess"])  # a wrong token, then a week without polls (the board was busy?)
    clock.advance(SIX_DAYS_MS)
    srv.poll(app, "")
    srv._auth(app, [b"auth", b"right-token"])
    assert app.said[-1][0] == "ok"


# ---------------------------------------------------------------------------------------------- mqttpub


def publisher(monkeypatch: pytest.MonkeyPatch, clock: BoardTime, tmp_path: Path) -> tuple[ModuleType, object]:
    mq = fw("mqttpub", monkeypatch, clock)
    pub = mq.Publisher(("127.0.0.1", 1883, None, None), "spasmwatch", "", "dev1", "x", str(tmp_path / "mqtt.txt"))
    return mq, pub


class LogApp(App):
    class log:  # noqa: N801 - the app's attribute
        last_seq = 0

    cfg = {"name": "x", "channels": []}
    boot = 1
    uptime = 0

    def state(self) -> int:
        return 0


def test_mqtt_reconnects_after_wifi_was_down_for_a_week(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clock = BoardTime()
    _, pub = publisher(monkeypatch, clock, tmp_path)
    tried: list[int] = []
    monkeypatch.setattr(pub, "_connect", lambda: tried.append(clock.ticks_ms()))
    app = LogApp()
    pub._fail(app)  # a failed attempt: the next one after the back-off ...
    pub.poll(app, False)
    clock.advance(SIX_DAYS_MS)  # ... but Wi-Fi was down for a week meanwhile
    pub.poll(app, True)
    assert len(tried) == 1


def test_mqtt_keepalive_ping_after_days_without_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clock = BoardTime()
    mq, pub = publisher(monkeypatch, clock, tmp_path)
    sent: list[bytes] = []
    monkeypatch.setattr(pub, "_send", lambda pkt: sent.append(bytes(pkt)))
    app = LogApp()
    pub.state, pub.shown, pub.acked = mq.UP, 0, 0
    clock.advance(SIX_DAYS_MS)  # events kept tx and rx fresh for days: no ping was ever needed
    now = clock.ticks_ms()
    pub.tx, pub.rx = now, clock.ticks_add(now, -40000)  # now the broker has been quiet for 40 s
    pub._up(app, now)
    assert sent == [b"\xc0\x00"]  # PINGREQ


# ---------------------------------------------------------------------------------------------- wifi, net


def wifi_trace(monkeypatch: pytest.MonkeyPatch, clock: BoardTime, ssid: str) -> list[tuple[int, str, int]]:
    rom = load("rom_network", UNIX_DIR / "rom_network.py", monkeypatch, clock)
    w = fw("wifi", monkeypatch, clock, network=rom).Wifi(ssid, "", "h")
    out = []
    for i in range(1800):  # 3 minutes of 100 ms blocks
        w.poll()
        if not out or out[-1][1:] != (w.state, w.attempts):
            out.append((i, w.state, w.attempts))
        clock.advance(100)
    return out


@pytest.mark.parametrize("ssid", ["nowhere", "home"])
def test_wifi_joins_and_backs_off_the_same_across_the_wrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                          ssid: str) -> None:
    monkeypatch.chdir(tmp_path)  # rom_network looks for wifi.off here
    ref = wifi_trace(monkeypatch, BoardTime(0), ssid)
    assert wifi_trace(monkeypatch, BoardTime(PERIOD - 30000), ssid) == ref  # the wrap 30 s in
    assert len(ref) > (6 if ssid == "nowhere" else 1)


def test_net_reports_trouble_again_after_days_of_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = BoardTime()
    net_mod = fw("net", monkeypatch, clock)

    class Broken:
        def poll(self) -> bool:
            raise OSError("driver")

    net = net_mod.Net.__new__(net_mod.Net)
    net.wifi, net.tcp, net.mqtt, net.errors = Broken(), None, None, 0
    net._said = clock.ticks_add(clock.ticks_ms(), -net_mod.REPORT_MS)
    app = App()
    net.poll(app)
    net.poll(app)  # within the minute: counted, not said
    clock.advance(SIX_DAYS_MS)
    net.poll(app)
    assert [s[2] for s in app.said] == [f"net: OSError('driver') ({n} since boot)" for n in (1, 3)]


# ---------------------------------------------------------------------------------------------- board, app


class Pin:
    OUT = IN = PULL_UP = 0

    def __init__(self, *a: object) -> None:
        self.v = 0

    def value(self, v: int | None = None) -> int:
        if v is not None:
            self.v = v
        return self.v


def board_led(monkeypatch: pytest.MonkeyPatch, clock: BoardTime) -> object:
    machine = ModuleType("machine")
    machine.Pin = Pin  # type: ignore[attr-defined]
    cls = fw("board", monkeypatch, clock, machine=machine).Board
    b = cls.__new__(cls)  # the LED part only: no ADC, stdin or watchdog
    b._led, b._buzzer, b._led_on, b._state = Pin(), Pin(), -1, fwcodes.IDLE
    b._t0 = b._buzz_until = clock.ticks_ms()
    return b


def led_trace(monkeypatch: pytest.MonkeyPatch, clock: BoardTime) -> list[tuple[int, int]]:
    b = board_led(monkeypatch, clock)
    out = []
    for i in range(600):  # 6 s of 10 ms blocks: idle, a spasm at 2 s (a beep), a fault at 4 s
        b.led(fwcodes.IDLE if i < 200 else fwcodes.SPASM if i < 400 else fwcodes.FAULT)  # type: ignore[attr-defined]
        out.append((b._led.v, b._buzzer.v))  # type: ignore[attr-defined]
        clock.advance(10)
    return out


def test_led_and_beep_the_same_across_the_wrap(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = led_trace(monkeypatch, BoardTime(0))
    assert led_trace(monkeypatch, BoardTime(PERIOD - 2050)) == ref  # the wrap just after the onset's beep
    assert sum(bz for _, bz in ref) == 15  # one 150 ms beep


def test_no_endless_beep_six_days_after_the_last_onset(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = BoardTime()
    b = board_led(monkeypatch, clock)
    b.led(fwcodes.SPASM)  # type: ignore[attr-defined]
    b.led(fwcodes.IDLE)  # type: ignore[attr-defined]
    clock.advance(SIX_DAYS_MS)
    b.led(fwcodes.IDLE)  # type: ignore[attr-defined]
    assert b._buzzer.v == 0  # type: ignore[attr-defined]


def test_app_uptime_and_heartbeats_across_the_wrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def run(start: int, sub: str) -> tuple[int, int]:
        (tmp_path / sub).mkdir()
        app, board = make_app(tmp_path / sub, seconds=6.0, cfg_over={"status_s": 1})
        base = board.t_ms
        monkeypatch.setattr(board, "ticks_ms", lambda: (start + board.t_ms - base) % PERIOD)
        app.uptime, app.last_ticks = 0, board.ticks_ms()
        board.messages()
        run_for(app, board, 5.0)
        return app.uptime, sum(m["t"] == "status" for m in board.messages())

    ref = run(0, "a")
    assert run(PERIOD - 2500, "b") == ref and ref[0] >= 5000 and ref[1] == 5


class StepClock(BoardTime):
    """ticks_us moves 37 us per call, as a busy-wait loop's time passes on the board."""

    def ticks_us(self) -> int:
        self.us += 37
        return super().ticks_us()


class Adc:
    def __init__(self) -> None:
        self.n = 0

    def read_u16(self) -> int:
        self.n += 1
        return (self.n & 0xFFF) << 4


def sampling_trace(monkeypatch: pytest.MonkeyPatch, clock: BoardTime) -> list[tuple[int, int, int]]:
    from array import array

    cls = fw("board", monkeypatch, clock, machine=ModuleType("machine")).Board
    b = cls.__new__(cls)
    b.adcs, b.nch, b.period_us = [Adc(), Adc()], 2, 1000  # 1 kHz, 2 channels
    b.next_us, b.overruns, b.dropped, b.samples = clock.ticks_us(), 0, 0, 0
    bufs = [array("H", bytes(20)), array("H", bytes(20))]
    out = []
    for k in range(3000):  # 30 s of 10-sample blocks; the app is busy for 15 ms in one block of every 500
        b.read_block(bufs, 10)
        if k % 500 == 250:
            clock.advance(15)
        out.append((b.samples, b.overruns, b.dropped))
    return out


def test_sampling_pace_and_overruns_the_same_across_the_us_wrap(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = sampling_trace(monkeypatch, StepClock(0))
    start = (PERIOD - 12_000_000) // 1000  # ticks_us wraps (every ~17.9 min) 12 s in
    assert sampling_trace(monkeypatch, StepClock(start)) == ref
    assert ref[-1][1] == 6 and ref[-1][0] == 30000  # one overrun per stall, every block read


def test_safe_boot_window_across_the_wrap(monkeypatch: pytest.MonkeyPatch) -> None:
    for start in (0, PERIOD - 500):
        clock = BoardTime(start)
        machine = ModuleType("machine")
        machine.Pin = Pin  # type: ignore[attr-defined]
        board = fw("board", monkeypatch, clock, machine=machine)
        monkeypatch.setattr(Pin, "value", lambda self, v=None: 1)  # the BOOT button is not pressed
        assert board.safe_boot(1000) is False
        assert 1000 <= (clock.us // 1000) - start <= 1010  # waited its second, not 0 s or 6 days
