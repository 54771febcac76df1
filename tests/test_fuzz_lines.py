"""Device lines with a valid check and adversarial content, fuzzed through the host (issue 22, "build and prove").

Hypothesis builds message lines the way a faulty or hostile board could send them: real message types with
their real field names, each field missing, of the wrong type, at an edge (negative, 2**38, 2**53, 2**70,
NaN, Infinity), text with control and bidi characters, containers nested thousands deep; every line sealed
with a correct CRC-16, so only the content can give it away. Each one must be one WireError (counted, dropped)
or a message whose every field is in range, never another exception; through a monitor and its store, a
refused line leaves the store as it was and whatever is stored reads back (events export, wall times).
A few hundred examples by default; `-m slow` runs 10**4 per property.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spasmcore.crc16 import seal
from spasmfw import protocol
from spasmwatch.commands.events import row
from spasmwatch.link import wire
from spasmwatch.link.client import Client
from spasmwatch.monitor import Monitor, NullSink
from spasmwatch.store import Store

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TYPES = ("hello", "status", "onset", "end", "fault", "log", "env", "raw", "ok", "error", "newer")
FIELDS = {t: tuple(protocol.FIELDS.get(t, ())) for t in TYPES}  # the firmware's own field names per type
EXTRA = ("boot", "ev", "proto", "scale", "id", "fw", "kind", "state", "detail", "msg", "cmd", "values", "n",
         "channels", "name", "config", "duration_ms", "end_ms", "start_ms", "uptime_ms", "eseq", "ch")
EDGE_INTS = (0, 1, -1, 15, 16, 2**16, 2**30, 2**31, 2**38, 2**38 + 1, 2**40, 2**53 - 1, 2**53, 2**63, 2**70)
NASTY = "\x1b[2J\x07\u202e\x00\r\n\ud7ff\u2066é"

scalars = (st.none() | st.booleans() | st.sampled_from(EDGE_INTS) | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(NASTY), max_size=40)
           | st.sampled_from(("twitch", "tonic", "clonus", "flat", "rail", "start", "end", "onset", "fault")))
values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c,
                                                                                     max_size=4), max_leaves=12)


_MS = st.one_of(*[st.integers(0, 10**7)] * 4, st.sampled_from((wire.MAX_UPTIME_MS, wire.MAX_UPTIME_MS + 1, 2**53 - 1)))
PLAUSIBLE = {
    "ch": st.integers(0, 3), "eseq": st.integers(0, 40), "boot": st.sampled_from((3, 3, 3, 4)),
    "onset_ms": _MS, "offset_ms": _MS, "detected_ms": _MS, "start_ms": _MS, "end_ms": _MS, "uptime_ms": _MS,
    "kind": st.sampled_from(("twitch", "tonic", "clonus")), "detail": st.sampled_from(
        ("flat", "rail")), "state": st.sampled_from(("start", "end", "idle")), "ev": st.sampled_from(
        ("onset", "end", "fault")), "peak": st.integers(0, 10**6), "mean": st.integers(0, 10**5),
    "floor": st.integers(0, 10**4), "msg": st.text(max_size=30) | st.sampled_from(NASTY), "n": st.integers(0, 99),
}
DEEP = "\x00deep\x00"  # stands for a value nested thousands deep, written as text (json.dumps would overflow)


@st.composite
def deep(draw: st.DrawFn) -> str:
    """A value nested far deeper than any message: the decoder must refuse it, not overflow its stack."""
    n = draw(st.integers(100, 4_000))  # a line may hold 8 KB: up to 4,000 levels of [ ]
    return "[" * n + json.dumps(draw(st.integers())) + "]" * n if draw(st.booleans()) else \
        '{"k":' * n + "0" + "}" * n


def _names(t: str) -> tuple[str, ...]:
    return tuple(FIELDS.get(t, ())) or EXTRA


@st.composite
def messages(draw: st.DrawFn) -> dict:
    t = draw(st.sampled_from(TYPES))
    d: dict = {"t": t, "seq": draw(st.integers(0, 2**40))}
    names = _names(t)
    for name in names:  # mostly a plausible message with a few fields gone wrong, so that some are stored
        if name in PLAUSIBLE and draw(st.integers(0, 19)) < 19:
            d[name] = draw(PLAUSIBLE[name])
    for name in draw(st.lists(st.sampled_from(names + EXTRA), max_size=3, unique=True)):
        d[name] = draw(values)
    if draw(st.integers(0, 30)) == 0:
        d[draw(st.sampled_from(_names(t)))] = DEEP
    return d


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    body = json.dumps(draw(messages()), separators=(",", ":"), allow_nan=True, ensure_ascii=draw(st.booleans()))
    if json.dumps(DEEP) in body:
        body = body.replace(json.dumps(DEEP), draw(deep()), 1)
    return seal(body.encode("utf-8", "surrogatepass"))


def _check(msg: wire.Message) -> None:
    """What a parsed message promises: device times in 0..MAX_UPTIME_MS, finite levels, text as text."""
    times = [getattr(msg, k) for k in ("onset_ms", "offset_ms", "detected_ms", "start_ms", "uptime_ms")
             if getattr(msg, k, None) is not None]
    if isinstance(msg, wire.Fault) and msg.end_ms is not None:
        times.append(msg.end_ms)
    assert all(type(v) is int and 0 <= v <= wire.MAX_UPTIME_MS for v in times), msg
    for k in ("peak", "mean", "floor", "peak_x", "mean_x"):
        v = getattr(msg, k, None)
        assert v is None or (isinstance(v, float) and math.isfinite(v)), msg
    if isinstance(msg, wire.Log):
        _check(msg.record)


def parse_one(raw: bytes) -> None:
    try:
        _, msg = wire.read_line(raw, 16, 2)
    except wire.WireError as exc:
        assert str(exc) and "\n" not in str(exc) and exc.kind in ("checksum", "unchecked", "invalid", "junk", "time")
        return
    _check(msg)


@FAST
@given(lines())
def test_a_checked_line_is_a_valid_message_or_one_wire_error(raw: bytes) -> None:
    parse_one(raw)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.fuzz10k
@SLOW
@given(lines())
def test_a_checked_line_is_a_valid_message_or_one_wire_error_slow(raw: bytes) -> None:
    parse_one(raw)


# ---- through the monitor and the store -------------------------------------------------------------------


class QuietBoard:
    """A link whose board answers `hello` and nothing else: every store change comes from the fuzzed lines."""

    port = "/dev/ttyFUZZ"

    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.replies: list[bytes] = []  # its hello replies, read in a step of their own (see Rig.feed)

    def read_lines(self, timeout: float = 0.05) -> list[bytes]:
        out, self.out = self.out, []
        return out

    def write(self, data: bytes) -> None:
        if protocol.parse_command(data)[0] == "hello":
            self.replies.append(protocol.encode("hello", 0, {"proto": 2, "fw": "0.3.0", "id": "fuzz", "boot": 3,
                                                         "rate": 1000, "channels": ["ch0"], "scale": 16})
                            .rstrip(b"\n"))

    def close(self) -> None:
        pass


TABLES = ("events", "boots", "devices", "records", "sync_marks", "gaps")


def snapshot(store: Store) -> list:
    return [sorted(store.db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES]


class Rig:
    """One monitor on a QuietBoard with its store, shared by the examples (as one long hostile session)."""

    def __init__(self, path: Path) -> None:
        self.board = QuietBoard()
        self.store = Store(path)
        client = Client(self.board)  # type: ignore[arg-type]  # a Link's read_lines/write/close/port
        client.send("hello")
        self.board.out, self.board.replies = self.board.replies, []
        client.hello(timeout=1.0)
        assert client.hello_info is not None
        self.mon = Monitor(self.store, self.board.port, sink=NullSink(), probe_s=1e9, dead_s=1e9)
        self.mon.attach(client, client.hello_info)

    def feed(self, raws: list[bytes]) -> None:
        client = self.mon.client
        assert client is not None
        now = time.time()
        for raw in raws:
            if self.board.replies:  # the monitor asked `hello` (a boot it did not know): its answer first
                self.board.out, self.board.replies = self.board.replies, []
                self.mon.step(0)
            before, dropped = snapshot(self.store), sum(client.rejected.values())
            self.board.out.append(raw)
            self.mon.step(0)
            if sum(client.rejected.values()) > dropped:
                after = snapshot(self.store)
                assert after == before, (raw[:200], [(t, set(a) ^ set(b)) for t, a, b in zip(TABLES, before, after,
                                                                                          strict=True) if a != b])
        for ev in self.store.events(states=("open", "closed", "abandoned")):
            out = row(ev)  # what `events` writes: it crashed on a boot moved to year -283,400
            for wall in (ev.onset_wall, ev.offset_wall):
                assert wall is None or abs(wall - now) < 9 * 365.25 * 86400, out


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with tempfile.TemporaryDirectory() as tmp:
        r = Rig(Path(tmp) / "fuzz.sqlite3")
        yield r
        r.store.close()


@FAST
@given(raws=st.lists(lines(), min_size=1, max_size=6))
def test_a_refused_line_leaves_the_store_as_it_was_and_what_is_stored_reads_back(rig: Rig,
                                                                                   raws: list[bytes]) -> None:
    rig.feed(raws)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.fuzz10k
@SLOW
@given(raws=st.lists(lines(), min_size=1, max_size=6))
def test_a_refused_line_leaves_the_store_as_it_was_slow(rig: Rig, raws: list[bytes]) -> None:
    rig.feed(raws)


def test_the_fuzzed_lines_are_not_all_refused(tmp_path: Path) -> None:
    """The lines reach the store too, not only the first check (a fuzzer that is always refused proves little):
    100 fixed examples on a fresh store store some episodes and refuse some lines."""
    r = Rig(tmp_path / "e.sqlite3")

    @settings(max_examples=100, deadline=None, derandomize=True, database=None)
    @given(raws=st.lists(lines(), min_size=1, max_size=6))
    def run(raws: list[bytes]) -> None:
        r.feed(raws)

    run()
    assert r.mon.client is not None and sum(r.mon.client.rejected.values()) > 0
    assert r.store.events(states=("open", "closed", "abandoned"))
    r.store.close()
