"""Serial port listing and the ESP32 guess, with serial.tools.list_ports.comports monkeypatched."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from spasmcore.errors import LinkError
from spasmwatch.cli import main
from spasmwatch.link import ports


def fake(device: str, vid: int | None = None, pid: int | None = None, description: str = "n/a",
         manufacturer: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(device=device, vid=vid, pid=pid, description=description, manufacturer=manufacturer)


@pytest.fixture
def comports(monkeypatch: pytest.MonkeyPatch):
    """Set the ports the fake comports() returns; devices do not exist, so they count as accessible."""
    found: list[SimpleNamespace] = []
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda *a, **k: list(found))
    return found


@pytest.mark.parametrize(
    ("vid", "pid", "score", "chip"),
    [
        (0x10C4, 0xEA60, ports.LIKELY, "CP210x"),
        (0x1A86, 0x7523, ports.LIKELY, "CH340"),
        (0x1A86, 0x55D4, ports.LIKELY, "CH9102"),
        (0x0403, 0x6001, ports.LIKELY, "FT232R"),
        (0x303A, 0x1001, ports.CERTAIN, "JTAG/serial"),
        (0x303A, 0x4001, ports.CERTAIN, "native USB"),
        (0x303A, 0x9999, ports.CERTAIN, "Espressif"),
        (0x2341, 0x0043, ports.UNLIKELY, "other USB"),  # an Arduino Uno
        (None, None, ports.NOT_USB, "built-in"),
    ],
)
def test_classify(vid, pid, score, chip) -> None:
    got_score, got_chip = ports.classify(vid, pid)
    assert got_score == score and chip in got_chip


def test_list_sorts_likely_first_and_guess_picks_the_board(comports) -> None:
    comports += [fake("/dev/ttyS0"), fake("/dev/ttyACM0", 0x2341, 0x0043, "Arduino Uno"),
                 fake("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102 USB to UART Bridge Controller", "Silicon Labs")]
    found = ports.list_ports()
    assert [p.device for p in found] == ["/dev/ttyUSB0", "/dev/ttyACM0", "/dev/ttyS0"]
    assert found[0].usb_id == "10c4:ea60" and found[0].verdict == "likely" and found[2].usb_id == "-"
    assert ports.guess_port() == "/dev/ttyUSB0"
    comports.append(fake("/dev/ttyACM1", 0x303A, 0x1001, "USB JTAG/serial debug unit"))
    assert ports.guess_port() == "/dev/ttyACM1"  # Espressif's own VID beats a bridge chip


def test_guess_fails_clearly(comports) -> None:
    with pytest.raises(LinkError, match="no ESP32 board found.*none.*data cable"):
        ports.guess_port()
    comports += [fake("/dev/ttyUSB0", 0x1A86, 0x7523), fake("/dev/ttyUSB1", 0x10C4, 0xEA60)]
    with pytest.raises(LinkError, match="several possible boards.*ttyUSB0.*ttyUSB1.*--port"):
        ports.guess_port()


def test_ports_command_output(comports, capsys) -> None:
    assert main(["ports"]) == 0
    out = capsys.readouterr().out
    assert "No serial ports found" in out and "cable" in out
    comports += [fake("/dev/ttyS0"), fake("/dev/ttyUSB0", 0x1A86, 0x55D4, "USB Single Serial")]
    assert main(["ports"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["PORT", "USB", "ID"]
    assert lines[1].startswith("*") and "/dev/ttyUSB0" in lines[1] and "1a86:55d4" in lines[1]
    assert "CH9102" in lines[1] and "likely" in lines[1]
    assert not lines[2].startswith("*") and "/dev/ttyS0" in lines[2]
    assert "--port auto would pick /dev/ttyUSB0" in out
    assert main(["ports", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(d["device"], d["board"]) for d in data] == [("/dev/ttyUSB0", "likely"), ("/dev/ttyS0", "no")]


def test_permission_is_reported(comports, capsys, monkeypatch, tmp_path) -> None:
    dev = tmp_path / "ttyUSB9"
    dev.write_text("")
    comports.append(fake(str(dev), 0x10C4, 0xEA60))
    monkeypatch.setattr(ports.os, "access", lambda path, mode: False)
    monkeypatch.setattr(ports.sys, "platform", "linux")
    assert main(["ports"]) == 0
    out = capsys.readouterr().out
    assert "likely (no permission)" in out and "dialout" in out
