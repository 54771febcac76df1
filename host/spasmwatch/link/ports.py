"""Serial ports on this computer and a guess of which one is an ESP32 board (by USB VID:PID)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from spasmcore.errors import LinkError

ESPRESSIF_VID = 0x303A
# USB-serial bridge chips found on ESP32 boards. A bridge is only "likely" an ESP32: the same chips sit on
# Arduinos and USB-TTL cables, while Espressif's own VID (native USB on S2/S3/C3/C6) is certain.
BRIDGES = {
    (0x10C4, 0xEA60): "Silicon Labs CP210x",
    (0x10C4, 0xEA70): "Silicon Labs CP2105",
    (0x1A86, 0x7523): "WCH CH340",
    (0x1A86, 0x5523): "WCH CH341",
    (0x1A86, 0x55D4): "WCH CH9102",
    (0x1A86, 0x55D3): "WCH CH343",
    (0x0403, 0x6001): "FTDI FT232R",
    (0x0403, 0x6010): "FTDI FT2232 (ESP-Prog)",
    (0x0403, 0x6014): "FTDI FT232H",
    (0x0403, 0x6015): "FTDI FT231X",
}
ESPRESSIF = {
    0x1001: "Espressif USB JTAG/serial (S3/C3/C6)",
    0x4001: "Espressif native USB CDC (MicroPython, S2/S3)",
    0x0002: "Espressif ESP32-S2 ROM bootloader",
    0x1002: "Espressif USB bridge",
}
CERTAIN, LIKELY, UNLIKELY, NOT_USB = 3, 2, 1, 0
VERDICT = {CERTAIN: "ESP32", LIKELY: "likely", UNLIKELY: "no", NOT_USB: "no"}


@dataclass(frozen=True)
class Port:
    """One serial port with our guess."""

    device: str
    description: str
    vid: int | None
    pid: int | None
    chip: str
    score: int  # CERTAIN / LIKELY / UNLIKELY / NOT_USB
    accessible: bool  # this user may open it

    @property
    def usb_id(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}" if self.vid is not None and self.pid is not None else "-"

    @property
    def verdict(self) -> str:
        return VERDICT[self.score]


def classify(vid: int | None, pid: int | None) -> tuple[int, str]:
    if vid is None:
        return NOT_USB, "built-in or virtual port"
    if vid == ESPRESSIF_VID:
        return CERTAIN, ESPRESSIF.get(pid or 0, "Espressif USB")
    if pid is not None and (vid, pid) in BRIDGES:
        return LIKELY, BRIDGES[(vid, pid)]
    return UNLIKELY, "other USB device"


def _accessible(device: str) -> bool:
    if sys.platform.startswith("win") or not os.path.exists(device):
        return True  # Windows has no device files; COM access errors show up on open
    return os.access(device, os.R_OK | os.W_OK)


def list_ports() -> list[Port]:
    """All serial ports, most likely ESP32 first."""
    from serial.tools import list_ports as lp

    out = []
    for info in lp.comports():
        score, chip = classify(info.vid, info.pid)
        desc = info.description if info.description and info.description != "n/a" else ""
        if info.manufacturer and info.manufacturer not in desc:
            desc = f"{desc} ({info.manufacturer})" if desc else info.manufacturer
        out.append(Port(info.device, desc, info.vid, info.pid, chip, score, _accessible(info.device)))
    return sorted(out, key=lambda p: (-p.score, p.device))


def permission_hint() -> str:
    if sys.platform.startswith("linux"):
        return ("add yourself to the serial group, then log out and in: sudo usermod -aG dialout $USER "
                "(group uucp on Arch)")
    return "check that no other program (Arduino IDE, Thonny, screen) holds the port"


def no_ports_hint() -> str:
    """What to check when no board shows up, for this operating system."""
    common = "Plug the board in with a USB data cable (many cables only charge) and try another USB port."
    if sys.platform.startswith("linux"):
        return (f"{common} Run `dmesg | tail` right after plugging in: a line like 'cp210x ... ttyUSB0' or "
                "'ch341 ... ttyUSB0' or 'cdc_acm ... ttyACM0' should appear; if it does but you cannot open it, "
                + permission_hint() + ".")
    if sys.platform == "darwin":
        return (f"{common} Boards appear as /dev/cu.usbserial-* or /dev/cu.usbmodem*; CH340/CH9102 boards on "
                "older macOS need the WCH driver, CP210x boards the Silicon Labs VCP driver.")
    if sys.platform.startswith("win"):
        return (f"{common} Look under Device Manager > Ports (COM & LPT); install the CP210x or CH340 driver "
                "if the board shows under Other devices.")
    return common


def guess_port(ports: list[Port] | None = None) -> str:
    """The one port that is most likely an ESP32 board (for --port auto); LinkError if none or ambiguous."""
    ports = list_ports() if ports is None else ports
    boards = [p for p in ports if p.score >= LIKELY]
    if not boards:
        seen = ", ".join(p.device for p in ports) or "none"
        raise LinkError(f"no ESP32 board found (serial ports: {seen}). {no_ports_hint()}")
    best = max(p.score for p in boards)
    top = [p for p in boards if p.score == best]
    if len(top) > 1:
        names = ", ".join(f"{p.device} ({p.chip})" for p in top)
        raise LinkError(f"several possible boards: {names}; choose one with --port")
    return top[0].device


def format_table(ports: list[Port]) -> str:
    """Plain aligned text (works in pipes and logs); a * marks likely boards."""
    rows = [("", "PORT", "USB ID", "BOARD?", "CHIP", "DESCRIPTION")]
    for p in ports:
        mark = "*" if p.score >= LIKELY else ""
        verdict = p.verdict + ("" if p.accessible else " (no permission)")
        rows.append((mark, p.device, p.usb_id, verdict, p.chip, p.description))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]
    return "\n".join(line.rstrip() for line in lines)
