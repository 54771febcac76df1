"""Serial transport to a board: open without resetting it, read lines, and say clearly why a port fails."""

from __future__ import annotations

import errno
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from spasmcore.errors import LinkError
from spasmwatch.link import network as transport
from spasmwatch.link.ports import guess_port, permission_hint

BAUD = 115200
MAX_LINE = 8192  # bytes; the protocol's longest lines (raw/env stream) stay under 4096
WRITE_TIMEOUT_S = 1.0


class LinkLost(LinkError):
    """The open port stopped working (board unplugged, reset over native USB, pty closed)."""


def resolve_port(spec: str | None) -> str:
    """--port value -> a device path: `auto` (or nothing) picks the one port that looks like an ESP32."""
    if spec is None or spec == "" or spec.lower() == "auto":
        return guess_port()
    return spec


def explain_open_error(port: str, exc: BaseException) -> LinkError:
    """One actionable sentence for an OS/pyserial error raised while opening `port`."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    low = text.lower()
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO) or "no such file" in low or "filenotfound" in low \
            or "cannot find the file" in low:
        return LinkError(f"no such port {port}: is the board plugged in? (see `spasmwatch ports`)")
    if "exclusively lock" in low or code in (errno.EBUSY, errno.EAGAIN) or "busy" in low:
        return LinkError(f"port {port} is busy: another program has it open (another `spasmwatch monitor`, "
                         "mpremote, Thonny, the Arduino IDE serial monitor, screen); close it and try again")
    if code in (errno.EACCES, errno.EPERM) or "permission denied" in low or "access is denied" in low:
        if sys.platform.startswith("win"):  # Windows: "access denied" = another program holds the COM port
            return LinkError(f"cannot open {port}: access denied; another program probably has it open "
                             "(Arduino IDE, Thonny, PuTTY); close it and try again")
        return LinkError(f"permission denied on {port}: {permission_hint()}")
    if code == errno.ENOTTY or "inappropriate ioctl" in low:
        return LinkError(f"{port} is not a serial port")
    return LinkError(f"cannot open {port}: {text}")


def open_serial(port: str, baudrate: int = BAUD, timeout: float = 0.05, exclusive: bool = True) -> Any:
    """An open pyserial port that has not reset the board; LinkError with the cause otherwise.

    An ESP32 DevKit resets when DTR/RTS toggle through its auto-reset circuit, so both are set low before
    the port is opened (pyserial then applies them at open instead of its default high). Some ports (a
    pty, some USB-CDC drivers) refuse these ioctls: that is ignored. `exclusive` takes an advisory lock
    (POSIX) so a second monitor on the same port is told the port is busy instead of stealing lines.
    """
    import serial

    if transport.is_url(port):  # socket://HOST:PORT: a board on Wi-Fi (docs/wireless.md)
        return transport.open_url(port, timeout=timeout)
    ser = serial.Serial()
    ser.port = port
    ser.baudrate = baudrate
    ser.timeout = timeout
    ser.write_timeout = WRITE_TIMEOUT_S
    if exclusive and os.name == "posix":
        ser.exclusive = True
    for line in ("dtr", "rts"):
        try:
            setattr(ser, line, False)
        except (OSError, ValueError, serial.SerialException):
            pass  # the line cannot be controlled here: nothing to reset through it either
    try:
        ser.open()
    except (OSError, ValueError, serial.SerialException) as exc:
        raise explain_open_error(port, exc) from None
    return ser


class Link:
    """An open serial port as a source of lines (bytes, newline stripped) and a sink of command bytes."""

    def __init__(self, ser: Any, port: str) -> None:
        self.ser = ser
        self.port = port
        self._part = bytearray()
        self._skip = False  # inside an over-long line: drop up to its newline
        self.dropped_lines = 0

    @classmethod
    def open(cls, port: str, **kw: Any) -> Link:
        return cls(open_serial(port, **kw), port)

    def read_lines(self, timeout: float = 0.05) -> list[bytes]:
        """Complete lines received within `timeout` (possibly none); LinkLost when the port is gone."""
        import serial

        try:
            self.ser.timeout = timeout
            data = self.ser.read(max(1, self.ser.in_waiting))
            if data and self.ser.in_waiting:
                data += self.ser.read(self.ser.in_waiting)
        except (OSError, serial.SerialException, TypeError, AttributeError) as exc:
            # TypeError/AttributeError: pyserial after the fd vanished under it (closed on another thread)
            raise LinkLost(f"lost {self.port}: {exc}") from None
        return self.feed(data)

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        start = 0
        while True:
            i = data.find(b"\n", start)
            if i < 0:
                if not self._skip:
                    self._part += data[start:]
                    if len(self._part) > MAX_LINE:
                        self._part.clear()
                        self._skip = True
                return out
            if self._skip:
                self._skip = False
                self.dropped_lines += 1
            else:
                self._part += data[start:i]
                line = bytes(self._part).strip()
                if line:
                    out.append(line)
            self._part.clear()
            start = i + 1

    def write(self, data: bytes) -> None:
        import serial

        try:
            self.ser.write(data)
        except serial.SerialTimeoutException:
            pass  # nobody drains the port (device stalled or gone): the silence check handles it
        except (OSError, serial.SerialException, TypeError, AttributeError) as exc:
            raise LinkLost(f"lost {self.port}: {exc}") from None

    def close(self) -> None:
        try:
            self.ser.close()
        except Exception:  # noqa: BLE001 - closing a vanished port must not hide the reason we close it
            pass


def wait_for_port(spec: str | None, stop: Callable[[], bool], poll_s: float = 0.5,
                  on_error: Callable[[str], None] | None = None) -> Link | None:
    """Poll until the port (a path, or `auto`) exists and opens; None if `stop()` turns true first.

    A port that exists but fails to open (permission not yet set by udev, busy) is retried; each new
    reason is given to `on_error` once.
    """
    last = ""
    while not stop():
        try:
            port = resolve_port(spec)
            if os.name != "posix" or transport.is_url(port) or os.path.exists(port):
                return Link.open(port)
            reason = f"waiting for {port} to come back"
        except LinkError as exc:
            reason = str(exc)
        if reason != last and on_error is not None:
            on_error(reason)
        last = reason
        time.sleep(poll_s)
    return None


def no_hello_error(port: str, junk: list[bytes]) -> LinkError:
    """Why a port that opened gave no `hello` reply, guessed from what it printed instead."""
    text = b"\n".join(junk[-20:]).decode(errors="replace")
    if ">>>" in text or "MicroPython" in text or "Traceback" in text or "raw REPL" in text:
        return LinkError(f"{port}: MicroPython answers but the spasmwatch firmware is not running (the board "
                         "is at the REPL or the app crashed); install it with `spasmwatch deploy --port "
                         f"{port}` or press the board's RESET (EN) button")
    if junk:
        return LinkError(f"{port}: the device answered with something that is not the spasmwatch protocol "
                         f"({junk[-1][:40]!r}); is it the right port, at {BAUD} baud?")
    return LinkError(f"{port}: no reply to `hello`: the board is not running the spasmwatch firmware "
                     "(install it with `spasmwatch deploy`), is still booting, or is held in reset or "
                     "bootloader mode")
