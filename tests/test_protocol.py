"""Tests of the serial protocol codec (firmware/protocol.py) under CPython and the MicroPython unix port."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mpy_runner import run_both

from spasmcore import protohost
from spasmfw import detector
from spasmfw import protocol as p

EXAMPLES = {
    "hello": {"proto": 1, "fw": "0.1.0", "id": "a4cf12b0c3d8", "boot": 7, "rate": 1000, "channels": ["calf"],
              "mode": "raw", "scale": 16, "config": "spasmwatch"},
    "onset": {"ch": 0, "eseq": 41, "onset_ms": 123400, "detected_ms": 123450},
    "end": {"ch": 0, "eseq": 42, "kind": "tonic", "onset_ms": 123400, "offset_ms": 127900, "detected_ms": 128400,
            "duration_ms": 4500, "peak": 52000, "mean": 21000, "floor": 640},
    "fault": {"ch": 1, "eseq": 43, "state": "start", "detail": "flat", "start_ms": 200000, "end_ms": -1},
    "status": {"uptime_ms": 600000, "samples": 600000, "overruns": 0, "dropped": 0, "heap_free": 81234,
               "queue": 0, "faults": 0, "state": "idle", "eseq": 43, "boot": 7},
    "env": {"ch": 0, "n": 5000, "values": [640, 700, 9000, 12000, 800], "floor": 640, "on": 2240, "off": 1280},
    "raw": {"ch": 0, "n": 5000, "values": [2048, 2051, 2040, 2100]},
    "log": {"ev": "end", "boot": 6, "ch": 0, "eseq": 40, "kind": "clonus", "onset_ms": 1000, "offset_ms": 9000,
            "detected_ms": 9500, "duration_ms": 8000, "peak": 40000, "mean": 20000, "floor": 600},
    "ok": {"cmd": "ping"},
    "error": {"cmd": None, "msg": "unknown command: foo (try help)"},
}


def test_every_type_has_an_example_that_roundtrips() -> None:
    assert set(EXAMPLES) == set(p.FIELDS)
    for seq, (t, fields) in enumerate(EXAMPLES.items()):
        line = p.encode(t, seq, fields)
        assert line.endswith(b"\n") and line.count(b"\n") == 1 and b"\r" not in line
        assert len(line) <= p.MAX_LINE
        assert line.startswith(b'{"t":"%s","seq":%d' % (t.encode(), seq))
        msg = protohost.decode(line)
        assert msg == {"t": t, "seq": seq, **fields}


def test_field_order_is_fixed_then_extras_sorted() -> None:
    line = p.encode("onset", 3, {"zz": 1, "detected_ms": 5, "aa": 2, "ch": 0, "onset_ms": 4, "eseq": 9})
    body = b'{"t":"onset","seq":3,"ch":0,"eseq":9,"onset_ms":4,"detected_ms":5,"aa":2,"zz":1}'
    assert line == body + b" *%04X\n" % p.crc16(body)


def test_encode_refuses_unknown_type_and_overlong_events() -> None:
    with pytest.raises(p.ProtocolError, match="unknown message type"):
        p.encode("nope", 0, {})
    with pytest.raises(p.ProtocolError, match="bytes"):
        p.encode("error", 0, {"cmd": None, "msg": "x" * 300})
    with pytest.raises(p.ProtocolError, match="not JSON"):
        p.encode("error", 0, {"msg": ValueError("x")})
    # the caller sizes raw/env lines; ok/hello may carry the config up to MAX_REPLY
    assert len(p.encode("raw", 0, {"ch": 0, "n": 0, "values": [4095] * 200})) > p.MAX_LINE
    assert len(p.encode("ok", 0, {"cmd": "config get", "data": {"name": "x" * 600}})) > p.MAX_LINE
    with pytest.raises(p.ProtocolError):
        p.encode("ok", 0, {"cmd": "config get", "data": "x" * p.MAX_REPLY})


@pytest.mark.parametrize("line", [b"", b"garbage", b"{bad json", b"[1,2]", b'{"seq":1}', b'{"t":"ok"}',
                                  b'{"t":"ok","seq":-1}', b'{"t":"ok","seq":true}', b'{"t":"","seq":1}',
                                  b'{"t":"ok","seq":"1"}', b"\xff\xfe{}", "plain text"])
def test_decode_rejects_garbage(line: bytes | str) -> None:
    with pytest.raises(p.ProtocolError):
        protohost.decode(line)


def test_decode_accepts_crlf_and_str() -> None:
    assert protohost.decode(' {"t":"ok","seq":2,"cmd":"ping"}\r\n')["cmd"] == "ping"


COMMAND_EXAMPLES = {
    "hello": ("hello", ()),
    "ping": ("PING", ()),
    "status": ("status", ()),
    "help": ("help", ()),
    "config get": ("config  get", ()),
    "config set": ('config set params.sensitivity=5 stream.env=true name="left calf" channels=[34, 35] mode=env',
                   (("params.sensitivity", 5), ("stream.env", True), ("name", "left calf"), ("channels", [34, 35]),
                    ("mode", "env"))),
    "calibrate rest": ("calibrate rest 10", (10.0,)),
    "calibrate mvc": ("calibrate mvc 3.5", (3.5,)),
    "calibrate show": ("calibrate show", ()),
    "calibrate undo": ("CALIBRATE undo", ()),
    "calibrate clear": ("calibrate clear", ()),
    "stream env": ("stream env on", (True,)),
    "stream raw": ("stream raw OFF", (False,)),
    "sync": ("sync 42", (42,)),
    "log clear": ("log clear", ()),
    "reboot": ("reboot", ()),
}


def test_every_command_parses_and_formats_back() -> None:
    assert set(COMMAND_EXAMPLES) == set(protohost.COMMANDS) == set(p.NAMES)  # a help text for every command
    for name, (line, args) in COMMAND_EXAMPLES.items():
        assert p.parse_command(line) == (name, args)
        assert p.parse_command(line.encode() + b"\r\n") == (name, args)
        wire = protohost.format_command(name, *args)
        assert wire.endswith(b"\n")
        assert p.parse_command(wire) == (name, args)
        checked = protohost.format_command(name, *args, check=True)
        assert checked == wire[:-1] + b" *%04X\n" % p.crc16(wire[:-1])
        assert p.parse_command(checked) == (name, args)


def test_help_lines_name_their_command_and_fit_a_line() -> None:
    for name, text in protohost.COMMANDS.items():
        assert text.startswith(name)
        assert len(p.encode("ok", 99999, {"cmd": "help", "data": text})) <= p.MAX_LINE


@pytest.mark.parametrize("line,match", [
    ("", "empty"),
    ("foo", "unknown command: foo"),
    ("config", "config get, config set"),
    ("config frob", "config get, config set"),
    ("config set", "KEY=VALUE"),
    ("config set rate_hz", "KEY=VALUE"),
    ("config set =5", "KEY=VALUE"),
    ("config set rate_hz=", "no value"),
    ("config set a-b=1", "bad key"),
    ("config set name=\"open", "quote"),
    ("config set ch=[1,2", "bracket"),
    ("config set x=[1,,2]", "bad value"),
    ("calibrate rest", "SECONDS"),
    ("calibrate rest ten", "number"),
    ("calibrate mvc 0", "1..300"),
    ("calibrate rest 1000", "1..300"),
    ("stream env maybe", "on or off"),
    ("stream raw", "on or off"),
    ("sync", "SEQ"),
    ("sync -1", ">= 0"),
    ("sync x", "integer"),
    ("ping now", "no arguments"),
    (b"ping\xff", "UTF-8"),
])
def test_parse_command_errors_name_the_problem(line: str | bytes, match: str) -> None:
    with pytest.raises(p.ProtocolError, match=match):
        p.parse_command(line)


def test_format_command_refuses_what_the_device_would_reject() -> None:
    with pytest.raises(p.ProtocolError):
        protohost.format_command("frob")
    with pytest.raises(p.ProtocolError):
        protohost.format_command("sync", -3)
    with pytest.raises(p.ProtocolError):
        protohost.format_command("ping", 1)
    with pytest.raises(p.ProtocolError):
        protohost.format_command("config set", ("bad key", 1))
    with pytest.raises(p.ProtocolError):
        protohost.format_command("config set", ("name", "x" * 300))


KEYS = st.from_regex(r"[a-z_][a-z0-9_]{0,8}(\.[a-z0-9_]{1,8}){0,2}", fullmatch=True)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**9, 10**9)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1, max_size=12),
    lambda inner: st.lists(inner, max_size=4), max_leaves=6)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=4))
def test_config_set_roundtrips_any_value(pairs: list[tuple[str, object]]) -> None:
    try:
        wire = protohost.format_command("config set", *pairs)
    except p.ProtocolError as e:
        assert "MAX_LINE" in str(e)
        return
    name, args = p.parse_command(wire)
    assert name == "config set"
    assert args == tuple(pairs)


def _read_all(chunks: list[bytes], max_line: int = 32, pending: int | None = None) -> list[object]:
    r = p.LineReader(max_line)
    if pending:
        r.MAX_PENDING = pending  # type: ignore[misc]
    out: list[object] = []
    for c in chunks:
        r.feed(c)
        out.extend(r.lines())
    assert len(r._buf) == max_line  # fixed buffer, never grown
    return out


def test_line_reader_assembles_lines_across_chunks() -> None:
    got = _read_all([b"pi", b"ng\r", b"\nstat", b"us\n\n   \r\nhel", b"lo\n", b"sync 1"])
    assert got == [b"ping", b"status", b"hello"]  # blank lines skipped, unfinished "sync 1" held back


def test_line_reader_overlong_line_reports_once_then_recovers() -> None:
    got = _read_all([b"x" * 20, b"y" * 40, b"z" * 5 + b"\nping\n" + b"w" * 31 + b"\n" + b"v" * 32 + b"\n"])
    assert got == [("error", "line too long"), b"ping", b"w" * 31, ("error", "line too long")]


def test_line_reader_reports_binary_and_applies_backspace() -> None:
    got = _read_all([b"\xff\xfe\n", b"\x1b[A\n", b"pong\x7f\x7f\x7f\x7fping\n", b"caf\xc3\xa9\n"])
    assert got == [("error", "line is not UTF-8"), ("error", "control characters in line"), b"ping",
                   "café".encode()]


def test_line_reader_caps_pending_lines() -> None:
    got = _read_all([b"ping\n" * 50])
    assert len(got) == p.LineReader.MAX_PENDING
    assert got[-1][0] == "error"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(1, 40), max_size=20))
def test_line_reader_result_does_not_depend_on_chunking(data: bytes, cuts: list[int]) -> None:
    chunks = []
    rest = data
    for c in cuts:
        chunks.append(rest[:c])
        rest = rest[c:]
    chunks.append(rest)
    whole = _read_all([data], 64, pending=1000)
    assert _read_all(chunks, 64, pending=1000) == whole
    for item in whole:
        assert (isinstance(item, bytes) and 0 < len(item) < 64 and b"\n" not in item) or item[0] == "error"


def test_names_match_the_detector() -> None:
    assert p.KINDS == detector.KIND_NAMES
    assert p.FAULTS == detector.FAULT_NAMES
    assert (p.EV_ONSET, p.EV_END, p.EV_FAULT_START, p.EV_FAULT_END) == (
        detector.EV_ONSET, detector.EV_END, detector.EV_FAULT_START, detector.EV_FAULT_END)


SCENARIO = r"""
import json
import protocol as p
out = {}
out["enc"] = [p.encode(t, i, f).decode() for i, (t, f) in enumerate(EXAMPLES)]
cmds = []
for line in LINES:
    try:
        cmds.append(list(p.parse_command(line)))
    except p.ProtocolError as e:
        cmds.append(["ProtocolError", str(e)])
out["cmds"] = cmds
r = p.LineReader(24)
items = []
for chunk in CHUNKS:
    r.feed(chunk)
    for it in r.lines():
        items.append(it.decode() if isinstance(it, bytes) else list(it))
out["lines"] = items
try:
    p.encode("end", 0, {"msg": "x" * 300})
    out["long"] = "accepted"
except p.ProtocolError:
    out["long"] = "ProtocolError"
print(json.dumps(out))
"""


@pytest.mark.micropython
def test_same_results_under_micropython_and_cpython(micropython_bin: str) -> None:
    lines = [line for line, _ in COMMAND_EXAMPLES.values()] + ["frob", "sync -1", "config set a=1abc b=[1, [2, 3]]"]
    # the host's command lines (spasmcore.protohost) go through the board's parser as well
    lines += [protohost.format_command(n, *a, check=True).decode() for n, (_, a) in COMMAND_EXAMPLES.items()]
    chunks = [b"pi", b"ng\r\n", b"x" * 30, b"\nstatus\n\xff\n", b"ab\x7fc\n"]
    code = f"EXAMPLES = {list(EXAMPLES.items())!r}\nLINES = {lines!r}\nCHUNKS = {chunks!r}\n"
    code += SCENARIO
    cp, mp = run_both(code)
    assert mp == cp
    assert cp["long"] == "ProtocolError"
    assert cp["lines"] == ["ping", ["error", "line too long"], "status", ["error", "line is not UTF-8"], "ac"]
    n = len(COMMAND_EXAMPLES)
    want = [[name, json.loads(json.dumps(a))] for name, (_, a) in COMMAND_EXAMPLES.items()]
    assert [list(c) for c in cp["cmds"][:n]] == want == [list(c) for c in cp["cmds"][-n:]]
    assert cp["cmds"][n + 2] == ["config set", [["a", "1abc"], ["b", [1, [2, 3]]]]]
    assert [json.loads(line.rsplit(" *", 1)[0]) for line in cp["enc"]] == [protohost.decode(x) for x in cp["enc"]]


# ---------------------------------------------------------------------------------------------- v2 checksums


def test_crc16_is_ccitt_false() -> None:
    assert p.crc16(b"123456789") == 0x29B1  # the catalogue check value of CRC-16/CCITT-FALSE
    assert p.crc16(b"") == 0xFFFF
    import binascii
    for data in (b"a", b'{"t":"ok","seq":1}', bytes(range(256))):
        assert p.crc16(data) == binascii.crc_hqx(data, 0xFFFF)  # the same CRC, from the standard library


def test_every_device_line_carries_its_check_and_decode_verifies_it() -> None:
    line = p.encode("ok", 7, {"cmd": "ping"})
    text, check = line[:-1].rsplit(b" *", 1)
    assert check == b"%04X" % p.crc16(text) and text.startswith(b"{") and line.endswith(b"\n")
    assert protohost.decode(line) == {"t": "ok", "seq": 7, "cmd": "ping"}
    assert protohost.decode(text) == {"t": "ok", "seq": 7, "cmd": "ping"}  # a v1 line (no check) is still understood
    for i in range(len(text)):  # any single flipped bit in the text is caught
        bad = bytearray(line)
        bad[i] ^= 1 << (i % 8)
        with pytest.raises(p.ChecksumError):
            protohost.decode(bytes(bad))


@pytest.mark.parametrize("line, ok", [
    (b"ping *%04X" % p.crc16(b"ping"), True),
    (b"ping *%04X" % (p.crc16(b"ping") ^ 1), False),
    (b"pinh *%04X" % p.crc16(b"ping"), False),
    (b"ping", True),  # typed by a person: no check
    (b"ping *zz12", None),  # not a check: an extra word
])
def test_commands_with_a_check_run_only_when_it_matches(line: bytes, ok: bool | None) -> None:
    if ok:
        assert p.parse_command(line) == ("ping", ())
    elif ok is False:
        with pytest.raises(p.ChecksumError, match="checksum"):
            p.parse_command(line)
    else:
        with pytest.raises(p.ProtocolError, match="no arguments"):
            p.parse_command(line)


def test_config_values_nested_too_deep_are_refused_before_parsing() -> None:
    assert p.parse_value('[{"pin": 34, "name": "calf"}]') == [{"pin": 34, "name": "calf"}]
    with pytest.raises(p.ProtocolError, match="nested deeper than 3"):
        p.parse_value("[[[[1]]]]")
    assert p.parse_value('"[[[[x"') == "[[[[x"  # brackets inside a string do not count
