"""Serial link: no-reset open, actionable one-line errors, line framing, port polling, client commands."""

from __future__ import annotations

import errno
import threading
import time
from pathlib import Path

import pytest
import serial
from fake_serial import fake_serial_device

from spasmcore.errors import LinkError
from spasmwatch import cli
from spasmwatch.link import serial_link as link
from spasmwatch.link.client import Client, DeviceError
from spasmwatch.link.serial_link import Link, explain_open_error, no_hello_error, open_serial, wait_for_port


def one_line(text: str) -> str:
    text = text.strip()
    assert text and "\n" not in text and "Traceback" not in text, text
    return text


def test_nonexistent_port(tmp_path: Path) -> None:
    with pytest.raises(LinkError, match="no such port .*ttyGONE.*spasmwatch ports"):
        open_serial(str(tmp_path / "ttyGONE"))


@pytest.mark.parametrize("code, text, needle", [
    (errno.EACCES, "[Errno 13] Permission denied: '/dev/ttyUSB0'", "dialout"),
    (errno.EBUSY, "[Errno 16] Device or resource busy: '/dev/ttyUSB0'", "busy"),
    (errno.EAGAIN, "Could not exclusively lock port /dev/ttyUSB0: [Errno 11]", "busy"),
    (errno.ENOENT, "[Errno 2] No such file or directory: '/dev/ttyUSB0'", "no such port"),
    (errno.ENOTTY, "[Errno 25] Inappropriate ioctl for device", "not a serial port"),
    (errno.EIO, "[Errno 5] Input/output error", "cannot open /dev/ttyUSB0: "),
])
def test_open_errors_become_actionable_sentences(code: int, text: str, needle: str) -> None:
    exc = serial.SerialException(code, f"could not open port /dev/ttyUSB0: {text}")
    msg = str(explain_open_error("/dev/ttyUSB0", exc))
    assert needle in msg and "/dev/ttyUSB0" in one_line(msg)


def test_permission_denied_reaches_the_cli_as_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    def denied(self: serial.Serial) -> None:
        raise serial.SerialException(errno.EACCES, f"could not open port {self.port}: [Errno 13] denied")

    monkeypatch.setattr(serial.Serial, "open", denied)
    monkeypatch.setattr("sys.platform", "linux")
    db = str(tmp_path / "e.db")
    assert cli.main(["monitor", "--port", "/dev/ttyUSB0", "--seconds", "1", "--db", db]) == 2
    err = one_line(capsys.readouterr().err)
    assert err.startswith("spasmwatch monitor: error: permission denied on /dev/ttyUSB0")
    assert "sudo usermod -aG dialout $USER" in err


def test_monitor_on_a_missing_port_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["monitor", "--port", str(tmp_path / "ttyUSB9"), "--db", str(tmp_path / "e.db")]) == 2
    assert "no such port" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "e.db").exists()  # nothing created when the board cannot be reached


def test_dtr_and_rts_go_low_before_the_port_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ESP32 DevKit resets through DTR/RTS: both must be low when open() applies them."""
    log: list[tuple[str, object]] = []

    class Recorder:
        def __setattr__(self, name: str, value: object) -> None:
            if name == "rts":
                raise OSError(errno.EINVAL, "Invalid argument")  # a driver that refuses one line: tolerated
            log.append((name, value))
            object.__setattr__(self, name, value)

        def open(self) -> None:
            log.append(("open", None))

    monkeypatch.setattr(serial, "Serial", Recorder)
    ser = open_serial("/dev/ttyUSB0")
    assert ("dtr", False) in log and log[-1] == ("open", None)
    assert log.index(("dtr", False)) < log.index(("open", None))
    assert ser.port == "/dev/ttyUSB0" and ser.baudrate == link.BAUD


def test_a_pty_opens_and_a_second_opener_is_told_the_port_is_busy() -> None:
    port, close = fake_serial_device(lambda data: None)
    try:
        first = open_serial(port)  # pty: the modem-line ioctls fail, the port still opens
        with pytest.raises(LinkError, match="busy: another program has it open"):
            open_serial(port)
        first.close()
        open_serial(port).close()
    finally:
        close()


def test_line_framing() -> None:
    lk = Link(None, "x")
    assert lk.feed(b'{"a":1}\r\n{"b"') == [b'{"a":1}']
    assert lk.feed(b':2}\n\n  \n') == [b'{"b":2}']
    assert lk.feed(b"x" * (link.MAX_LINE + 10)) == []
    assert lk.feed(b"yy\nok\n") == [b"ok"] and lk.dropped_lines == 1  # the over-long line is dropped whole


def test_wait_for_port_polls_until_the_path_appears(tmp_path: Path) -> None:
    port, close = fake_serial_device(lambda data: None)
    path = tmp_path / "ttyUSB0"
    notes: list[str] = []
    threading.Timer(0.3, lambda: path.symlink_to(port)).start()
    try:
        t0 = time.monotonic()
        # gives up after 30 s (the path appears after 0.3 s; the headroom is for a loaded machine)
        lk = wait_for_port(str(path), lambda: time.monotonic() - t0 > 30, poll_s=0.05, on_error=notes.append)
        assert lk is not None and lk.port == str(path) and time.monotonic() - t0 >= 0.25
        lk.close()
        assert notes == [f"waiting for {path} to come back"]  # said once, not at every poll
        assert wait_for_port(str(tmp_path / "never"), lambda: True) is None
    finally:
        close()


def test_no_hello_explained_from_what_the_port_said() -> None:
    assert "firmware is not running" in str(no_hello_error("p", [b">>> ", b"MicroPython v1.24 on ESP32"]))
    assert "not the spasmwatch protocol" in str(no_hello_error("p", [b"\x00\xff"]))
    assert "no reply to `hello`" in str(no_hello_error("p", []))


def test_a_board_at_the_micropython_repl_is_recognised() -> None:
    repl = b"Traceback (most recent call last):\r\nNameError: hello\r\n>>> "
    port, close = fake_serial_device(lambda data: repl)
    try:
        client = Client(Link.open(port))
        with pytest.raises(LinkError, match="MicroPython answers but the spasmwatch firmware is not running"):
            client.hello(timeout=1.0)  # the fake REPL answers at once; 1 s per try leaves room for a busy machine
        client.close()
    finally:
        close()


@pytest.mark.micropython
@pytest.mark.timeout(60)
def test_config_and_calibrate_on_the_virtual_device(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from signals import emg

    from spasmcore.recording import write_recording
    from spasmsim.device import VirtualDevice

    write_recording(tmp_path / "r.csv", 1000, [emg(10, 1000, [(6, 9, 80)], seed=3)], units="counts")
    with VirtualDevice(tmp_path / "r.csv", speed=4, loop=True, state_dir=tmp_path / "board") as dev:
        p = dev.port
        assert cli.main(["config", "set", "--port", p, "params.sensitivity=4", "name=left_calf"]) == 0
        assert "saved: params.sensitivity=4" in capsys.readouterr().out
        assert cli.main(["config", "get", "--port", p, "params.sensitivity"]) == 0
        assert capsys.readouterr().out.strip() == "4"
        assert cli.main(["config", "set", "--port", p, "params.lp_hz=480"]) == 0  # too close to Nyquist: said
        assert "note: lp_hz=480 is off" in capsys.readouterr().out
        assert cli.main(["config", "set", "--port", p, "params.lp_hz=450"]) == 0
        assert "note:" not in capsys.readouterr().out
        assert cli.main(["config", "set", "--port", p, "params.sensitivity=0.001"]) == 2
        assert "sensitivity" in one_line(capsys.readouterr().err)
        assert cli.main(["config", "set", "--port", p, "log_kb=32"]) == 0  # restarts the board
        assert "board back up (boot " in capsys.readouterr().out  # (a heap-short board may restart earlier too)
        assert cli.main(["config", "get", "--port", p, "--json"]) == 0
        assert '"name": "left_calf"' in capsys.readouterr().out
        # (the board now refuses a rest with bursts and a weak contraction: tests/test_calibrate_cli.py)
        assert cli.main(["calibrate", "--port", p, "--show"]) == 0
        assert "ch0: floor " in capsys.readouterr().out
        client = Client(Link.open(p))
        client.hello()
        with pytest.raises(DeviceError, match="rate_hz"):
            client.config_set([("rate_hz", 5)])
        assert client.config_get()["params"] == {"sensitivity": 4, "lp_hz": 450}
        client.close()
