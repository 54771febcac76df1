"""The device's command parser fuzzed under the MicroPython unix port: every line answered, nothing crashes.

Hypothesis builds command lines (real commands with odd arguments, checked and mis-checked suffixes, random
bytes, over-long lines); one unix-port process with the real app on a fake board handles them all, a loop pass
after each, and reports per line what came back. A bounded number of examples keeps CI fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from mpy_runner import run

from spasmfw import protocol

pytestmark = pytest.mark.micropython

RUNNER = r"""
import sys, json, gc
from binascii import unhexlify
import app, config
STATE = sys.argv[1]
LINES = json.loads(open(sys.argv[2]).read())

class B:
    storage_dir = STATE
    unique_id = "fuzz"
    overruns = dropped = 0
    def __init__(self):
        self.t = 0
        self.out = []
        self.resets = 0
    def read_block(self, bufs, n):
        for b in bufs:
            for i in range(n):
                b[i] = 2048 + (i * 7919 + self.t) % 9 - 4
        self.t += n
        return n
    def ticks_ms(self):
        return self.t
    def poll_input(self):
        return None
    def write(self, data):
        self.out.append(bytes(data))  # a view of protocol.OUT, valid only during the call
    def led(self, s):
        pass
    def feed_watchdog(self):
        pass
    def reset(self):
        self.resets += 1
    def mem_free(self):
        return gc.mem_free()

b = B()
a = app.App(b, config.validate({"channels": [36], "status_s": 0}))
res = []
for text in LINES:
    b.out = []
    a.reader.feed(unhexlify(text) + b"\n")
    for line in a.reader.lines():
        a.handle(line)
    a.step()
    kinds = []
    for data in b.out:
        body, ok = data.rstrip(b"\n").rsplit(b" *", 1)
        m = json.loads(body)
        kinds.append([m["t"], m.get("cmd"), (m.get("msg") or "")[:60]])
    res.append(kinds)
print(json.dumps({"res": res, "resets": b.resets, "samples": a.samples}))
"""

WORDS = list(protocol.NAMES) + ["config", "calibrate", "stream", "log", "CONFIG SET", "sync -1", "help me"]
ARGS = st.one_of(
    st.sampled_from(["", "0", "-1", "1e400", "nan", "10", "300", "301", "on", "off", "maybe", "x" * 40, "[", "]",
                     '"', '"a b"', "params.sensitivity=5", "params.sensitivity=banana", "rate_hz=5", "channels=[36,39]",
                     "channels=[[[[[1]]]]]", "name=" + "n" * 60, "a=", "=1", "stream.env=on", "params.nope=1",
                     "mode=env", "status_s=0", "log_kb=7", "led_pin=34", "params=null", "x.y.z=1"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)


def check(text: str, flip: int = 0) -> str:
    """The ` *XXXX` suffix of `text` (flip: bits to spoil it with)."""
    return f" *{protocol.crc16(text.encode()) ^ flip:04X}"


@st.composite
def lines(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:  # random bytes (latin-1 so every byte value can appear; newlines left out: one line each)
        raw = draw(st.binary(max_size=80)).replace(b"\n", b"").replace(b"\x03", b"")
        return raw.decode("latin-1")
    if kind == 1:  # over-long
        return "x" * draw(st.integers(250, 400))
    text = draw(st.sampled_from(WORDS)) + " " + " ".join(draw(st.lists(ARGS, max_size=3)))
    text = text.strip()
    if kind == 2 and text:  # a correct check: must run exactly as without it
        return text + check(text)
    if kind == 3 and text:  # a wrong check: must be refused, never run
        return text + check(text, 0x0101)
    return text


# destructive or slow commands are left out: each would end the run (reboot) or start long work
SKIP = ("reboot", "calibrate rest", "calibrate mvc", "log clear")


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
          phases=[Phase.generate])  # no shrinking: each example is a whole unix-port run
@given(st.lists(lines(), min_size=40, max_size=60))
def test_every_line_is_answered_and_nothing_crashes(tmp_path_factory: pytest.TempPathFactory, batch: list) -> None:
    batch = [t for t in batch if not t.lower().lstrip().startswith(SKIP)]
    tmp = tmp_path_factory.mktemp("fuzz")
    (tmp / "lines.json").write_text(json.dumps([t.encode("latin-1").hex() for t in batch]))
    out = json.loads(run(RUNNER, "micropython", heap="200K", timeout=120,
                         args=(str(tmp), str(tmp / "lines.json"))).strip().splitlines()[-1])
    for text, kinds in zip(batch, out["res"], strict=True):
        blank = not text.replace("\x08", "").replace("\x7f", "").strip(" \t\r")
        if blank:
            continue
        assert kinds, f"no reply to {text!r}"
        assert not any(k[0] == "error" and k[2].startswith("internal error") for k in kinds), (text, kinds)
        if text.endswith(check(text[:-6], 0x0101)) and len(text) < 250:
            if all(ord(c) < 127 for c in text):
                assert kinds == [["error", None, "checksum mismatch"]], (text, kinds)
    assert out["samples"] > 0


def test_checked_commands_run_like_unchecked_ones(tmp_path: Path) -> None:
    batch = ["ping", "ping" + check("ping"), "config get" + check("config get"), "ping" + check("ping", 1),
             "config set status_s=5 *0000"]
    (tmp_path / "lines.json").write_text(json.dumps([t.encode().hex() for t in batch]))
    out = json.loads(run(RUNNER, "micropython", heap="200K", timeout=120,
                         args=(str(tmp_path), str(tmp_path / "lines.json"))).strip().splitlines()[-1])
    r = out["res"]
    assert r[0] == r[1] == [["ok", "ping", ""]]
    assert r[2][0][:2] == ["ok", "config get"]
    assert r[3] == [["error", None, "checksum mismatch"]]
    assert r[4] == [["error", None, "checksum mismatch"]]  # a flipped byte never changes the config
    assert not (tmp_path / "config.json").exists()
