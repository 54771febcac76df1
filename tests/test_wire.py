"""The typed wire layer: each device line checked (CRC-16, protocol v2) and parsed once into frozen types;
anything wrong is a counted WireError, never another exception and never a message with other values."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spasmcore.crc16 import crc16, seal, split
from spasmfw import protocol
from spasmwatch.link import wire
from spasmwatch.link.clocks import Clocks

LINES = [
    ("hello", dict(proto=2, fw="0.3.0", id="a4cf12b0c3d8", name="left leg", boot=7, rate=1000,
                   channels=["left calf"], mode="raw", scale=16, config={"name": "left leg"},
                   machine="Generic ESP32S3 module with ESP32S3")),
    ("onset", dict(ch=0, eseq=41, onset_ms=134_490, detected_ms=134_540)),
    ("end", dict(ch=0, eseq=42, kind="tonic", onset_ms=134_490, offset_ms=138_990, detected_ms=139_490,
                 duration_ms=4500, peak=52_000, mean=21_000, floor=640)),
    ("fault", dict(ch=1, eseq=43, state="start", detail="flat", start_ms=200_000, end_ms=-1)),
    ("fault", dict(ch=1, eseq=44, state="end", detail="flat", start_ms=200_000, end_ms=230_000)),
    ("status", dict(uptime_ms=600_000, samples=600_000, overruns=0, dropped=0, heap_free=81_234, queue=0,
                    faults=0, state="idle", eseq=43, boot=7, lost=0, pops=1)),
    ("env", dict(ch=0, n=5000, values=[640, 700, 9000], floor=640, on=2240, off=1280)),
    ("raw", dict(ch=0, n=5000, values=[2048, 2051, 2040])),
    ("log", dict(ev="end", boot=6, ch=0, eseq=40, kind="clonus", onset_ms=1000, offset_ms=9000, detected_ms=9500,
                 duration_ms=8000, peak=40_000, mean=20_000, floor=600)),
    ("ok", dict(cmd="sync", data={"count": 1, "last": 41})),
    ("error", dict(cmd=None, msg="unknown command: foo (try help)")),
]


def line(t: str, fields: dict, seq: int = 5, v2: bool = True) -> bytes:
    """The line as the firmware writes it: protocol v1 JSON, or v2 with its ` *XXXX` check."""
    body = protocol.encode(t, seq, fields).rstrip(b"\n")
    if body.endswith(b"*", 0, len(body) - 4):  # the firmware's encode already seals (protocol v2)
        body, _ = split(body)
    return seal(body) if v2 else body


def test_crc16_is_ccitt_false_and_agrees_with_the_firmware() -> None:
    assert crc16(b"123456789") == 0x29B1 and crc16(b"") == 0xFFFF
    for data in (b"", b"ping", b'{"t":"ok","seq":8,"cmd":"ping"}', bytes(range(256))):
        assert crc16(data) == protocol.crc16(data)
    assert seal(b"ping") == b"ping *%04X" % crc16(b"ping")
    assert split(seal(b"{}")) == (b"{}", True) and split(b"{}") == (b"{}", None)
    assert split(b"{} *29B0")[1] is False


@pytest.mark.parametrize("v2", [False, True])
def test_every_message_type_parses_with_levels_in_counts(v2: bool) -> None:
    got = [wire.read_line(line(t, f, v2=v2), scale=16, proto=2 if v2 else 1)[1] for t, f in LINES]
    hello, onset, end, fstart, fend, status, env, raw, log, ok, error = got
    assert isinstance(hello, wire.Hello) and (hello.id, hello.boot, hello.channels, hello.proto) == (
        "a4cf12b0c3d8", 7, ("left calf",), 2)
    assert hello.machine == "Generic ESP32S3 module with ESP32S3"  # the chip (its pins: config.gpio)
    assert onset == wire.Onset(5, 0, 41, 134_490, 134_540)
    assert isinstance(end, wire.End) and (end.peak, end.mean, end.floor) == (3250.0, 1312.5, 40.0)
    assert end.peak_x == pytest.approx(81.25) and end.duration_s == 4.5 and end.kind == "tonic"
    assert isinstance(fstart, wire.Fault) and not fstart.ended and fstart.end_ms is None
    assert isinstance(fend, wire.Fault) and fend.ended and fend.duration_s == 30.0
    assert isinstance(status, wire.Status) and (status.eseq, status.boot, dict(status.counters)["pops"]) == (43, 7, 1)
    assert isinstance(env, wire.Env) and env.values == (40.0, 43.75, 562.5) and env.on == 140.0
    assert isinstance(raw, wire.Raw) and raw.values == (2048, 2051, 2040)
    assert isinstance(log, wire.Log) and log.boot == 6 and isinstance(log.record, wire.End)
    assert log.record.kind == "clonus" and log.record.peak_x == pytest.approx(40_000 / 600)
    assert isinstance(ok, wire.Ok) and ok.data == {"count": 1, "last": 41}
    assert isinstance(error, wire.Error) and error.cmd is None
    assert [wire.type_name(m) for m in got] == [t for t, _ in LINES]


def bad(t: str, **change: object) -> wire.WireError:
    fields = dict(next(f for name, f in LINES if name == t))
    fields.update(change)
    for k in [k for k, v in change.items() if v is KeyError]:
        del fields[k]
    with pytest.raises(wire.WireError) as exc:
        wire.read_line(json.dumps({"t": t, "seq": 3, **fields}).encode())
    return exc.value


def test_wrong_fields_are_protocol_errors_not_tracebacks() -> None:
    """The corruptions issue 11 found crashing the monitor or stored as truth, each refused with a reason."""
    assert "onset_ms" in str(bad("end", onset_ms=KeyError))  # a flipped byte in a key
    assert "ch" in str(bad("onset", ch=None))  # ch:null
    assert "start_ms" in str(bad("fault", start_ms="200000"))  # a string time
    assert "duration_ms" in str(bad("end", onset_ms=13_449))  # 134490 lost a digit: still valid JSON
    assert "kind" in str(bad("end", kind="twitchy"))  # the store never invents or takes an unknown kind
    assert "kind" in str(bad("end", kind=KeyError))
    assert "mean" in str(bad("end", mean=60_000))  # above its peak
    assert "detail" in str(bad("fault", detail="flatt"))
    assert "ch" in str(bad("onset", ch=99))
    assert "detected_ms" in str(bad("onset", detected_ms=100))  # before the onset
    assert "end_ms" in str(bad("fault", state="end", end_ms=5))
    assert "uptime_ms" in str(bad("status", uptime_ms=-1))
    assert "eseq" in str(bad("onset", eseq=True))  # JSON true is not a number
    assert bad("end", peak="x").kind == "invalid"


def test_checksums_and_protocol_versions() -> None:
    good = line("onset", LINES[1][1])
    assert isinstance(wire.read_line(good, proto=2)[1], wire.Onset)
    flipped = good.replace(b"134490", b"134491")
    with pytest.raises(wire.WireError) as exc:
        wire.read_line(flipped, proto=2)
    assert exc.value.kind == "checksum"
    with pytest.raises(wire.WireError) as exc:
        wire.read_line(split(good)[0], proto=2)  # the suffix lost: not trusted from a v2 device
    assert exc.value.kind == "unchecked"
    assert isinstance(wire.read_line(split(good)[0], proto=1)[1], wire.Onset)  # a v1 device sends none
    with pytest.raises(wire.WireError) as exc:
        wire.read_line(b"MicroPython v1.24 on 2024-10-30; ESP32", proto=2)
    assert exc.value.kind == "junk"
    assert isinstance(wire.read_line(b'{"t":"news","seq":4,"x":1}')[1], wire.Other)  # newer firmware: ignored
    v1_hello = line("hello", dict(LINES[0][1], proto=1), v2=False)  # re-flashed with v1 firmware: taken
    assert isinstance(hello := wire.read_line(v1_hello, proto=2)[1], wire.Hello) and hello.proto == 1
    with pytest.raises(wire.WireError):
        wire.read_line(split(line("hello", LINES[0][1]))[0], proto=2)  # a v2 hello that lost its check


def test_commands_to_a_v2_device_are_sealed_and_the_device_checks_them() -> None:
    plain = wire.command_line("config set", ("params.sensitivity", 5), proto=1)
    sealed = wire.command_line("config set", ("params.sensitivity", 5), proto=2)
    assert plain == b"config set params.sensitivity=5\n"
    assert sealed == seal(b"config set params.sensitivity=5") + b"\n"
    assert protocol.parse_command(sealed) == ("config set", (("params.sensitivity", 5),))
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_command(sealed.replace(b"=5", b"=6"))  # a flipped byte never changes the config


@settings(max_examples=400, deadline=None)
@given(which=st.integers(0, len(LINES) - 1), pos=st.integers(0, 10_000), byte=st.integers(0, 255),
       v2=st.booleans(), cut=st.booleans())
def test_a_damaged_line_is_refused_or_unchanged(which: int, pos: int, byte: int, v2: bool, cut: bool) -> None:
    """Any byte replaced (or the line cut there): only WireError ever comes out, and from a v2 device a damaged
    line never parses to anything but the original message."""
    t, fields = LINES[which]
    orig = line(t, fields, v2=v2)
    pos %= len(orig)
    damaged = orig[:pos] if cut else orig[:pos] + bytes([byte]) + orig[pos + 1:]
    want = wire.read_line(orig, proto=2 if v2 else 1)[1]
    try:
        got = wire.read_line(damaged, proto=2 if v2 else 1)[1]
    except wire.WireError:
        return
    if v2:
        assert got == want


@pytest.mark.parametrize("t, fields", [
    ("onset", dict(ch=0, eseq=41, onset_ms=2**53 - 1, detected_ms=2**53 - 1)),
    ("end", dict(ch=0, eseq=42, kind="tonic", onset_ms=1000, offset_ms=2**40, detected_ms=2**40, peak=1, mean=1,
                 floor=1)),
    ("fault", dict(ch=1, eseq=43, state="start", detail="flat", start_ms=2**39)),
    ("status", dict(uptime_ms=2**53, boot=7)),
    ("log", dict(ev="onset", boot=6, ch=0, eseq=40, onset_ms=2**38 + 1, detected_ms=2**38 + 1)),
])
def test_an_absurd_device_time_with_a_valid_check_is_refused_as_implausible(t: str, fields: dict) -> None:
    """onset_ms 2**53-1 (or status uptime_ms 2**53) moved the boot's start to year -283,400 (issue 22.3)."""
    with pytest.raises(wire.WireError) as err:
        wire.read_line(line(t, fields), proto=2)
    assert err.value.kind == "time" and "implausible" in str(err.value)
    ok = {k: (wire.MAX_UPTIME_MS if isinstance(v, int) and v > wire.MAX_UPTIME_MS else v) for k, v in fields.items()}
    wire.read_line(line(t, ok), proto=2)  # the bound itself is a time a board may report


def test_device_time_going_back_within_a_boot_is_refused() -> None:
    clocks = Clocks()
    hello = wire.read_line(line(*LINES[0]), proto=2)[1]
    status = lambda up, boot=7: wire.read_line(line("status", dict(uptime_ms=up, boot=boot)), proto=2)[1]  # noqa: E731
    clocks.check(hello)
    clocks.check(status(600_000))
    clocks.check(status(600_000))  # the same time twice is fine
    with pytest.raises(wire.WireError, match="went back") as err:
        clocks.check(status(5_000))
    assert err.value.kind == "time"
    clocks.check(status(5_000, boot=8))  # another boot has its own clock
    clocks.check(status(700_000))
    clocks.check(hello)  # a hello starts its boot afresh (a re-flashed board counts boots from 1 again)
    clocks.check(status(1_000))


def test_json_nested_thousands_deep_is_a_wire_error_not_a_recursion_error() -> None:
    """A line may hold 8 KB: 4,000 levels of [ ] overflowed the JSON decoder's stack (RecursionError)."""
    body = b'{"t":"ok","seq":1,"cmd":"x","data":' + b"[" * 4000 + b"]" * 4000 + b"}"
    with pytest.raises(wire.WireError, match="nested too deep") as err:
        wire.read_line(seal(body), proto=2)
    assert err.value.kind == "invalid"
