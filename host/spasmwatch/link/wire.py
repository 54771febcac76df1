"""Typed device messages: every line is checked and parsed once, here, into frozen records (docs/host.md).

`read_line` verifies a line's checksum (protocol v2: `<json> *XXXX`), decodes the JSON and `parse` turns it
into one of the types below with every field checked for presence, type and range, envelope levels scaled to
ADC counts and strength (peak / floor) computed. Anything wrong raises `WireError` (a `ProtocolError`) naming
the problem; the client counts it and drops the line, so nothing half-valid reaches the monitor or the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any

from spasmcore import protohost
from spasmcore.crc16 import seal, split
from spasmfw import codes, protocol

KIND_NAMES = tuple(codes.KIND_NAMES.values())  # twitch, tonic, clonus: the detector's, one definition
FAULT_NAMES = tuple(codes.FAULT_NAMES.values())  # flat, rail
CHECKED_PROTO = 2  # from this protocol version on every device line carries a checksum
KNOWN_PROTO = 2  # the newest protocol this host understands
MAX_CH = 15  # ESP32 ADC1 has 8 inputs: a larger channel index is a corrupted line
MAX_MS = 2**53  # sequence numbers and boot ids: non-negative integers JSON keeps exact
# A device time (ms since boot) above this is refused as implausible: 2**38 ms is 8.7 years, longer than a
# board runs between resets. It keeps a boot's start (host clock - uptime) within 8.7 years of the host
# clock, so no line can move a boot, and every later event of it, to a date no calendar shows.
MAX_UPTIME_MS = 2**38
MAX_NUM = 2**40  # envelope levels (counts x scale) and counters


class WireError(protocol.ProtocolError):
    """A device line that is not a valid message: `kind` says how (checksum, unchecked, invalid, junk)."""

    def __init__(self, text: str, kind: str = "invalid") -> None:
        super().__init__(text)
        self.kind = kind


# ---- the messages ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    seq: int
    proto: int
    fw: str
    id: str
    name: str | None
    boot: int
    rate: int | None
    channels: tuple[str, ...]
    mode: str | None
    scale: int
    config: Any  # the board's whole config (a dict), kept as sent
    machine: str = ""  # sys.implementation._machine ("... with ESP32S3"): the chip, whose pins the config takes


@dataclass(frozen=True)
class Status:
    seq: int
    uptime_ms: int
    state: str | None
    eseq: int | None
    boot: int | None
    counters: tuple[tuple[str, int], ...]  # samples, overruns, dropped, heap_free, queue, faults, lost, pops


@dataclass(frozen=True)
class Onset:
    seq: int
    ch: int
    eseq: int
    onset_ms: int
    detected_ms: int
    boot: int | None = None  # the boot it happened in (live lines since v2.1; None from older firmware)

    @property
    def latest_ms(self) -> int:
        return self.detected_ms


@dataclass(frozen=True)
class End:
    """An episode's end: onset_ms to floor are spasmfw.codes.REC_FIELDS, parsed by their kinds (a field added there is
    one line here, with a default for lines of older firmware); the store keeps each in its own column."""

    seq: int
    ch: int
    eseq: int
    kind: str
    onset_ms: int
    offset_ms: int
    detected_ms: int
    peak: float  # envelope, ADC counts (the wire's counts x scale divided by hello's scale)
    mean: float
    floor: float
    peak_x: float | None  # peak / floor: the episode's strength in multiples of the noise floor
    mean_x: float | None
    boot: int | None = None

    @property
    def duration_s(self) -> float:
        return (self.offset_ms - self.onset_ms) / 1000

    @property
    def latest_ms(self) -> int:
        return max(self.offset_ms, self.detected_ms)


@dataclass(frozen=True)
class Fault:
    seq: int
    ch: int
    eseq: int
    detail: str
    start_ms: int
    end_ms: int | None  # None while the fault lasts (a `start`)
    boot: int | None = None

    @property
    def ended(self) -> bool:
        return self.end_ms is not None

    @property
    def duration_s(self) -> float:
        return 0.0 if self.end_ms is None else (self.end_ms - self.start_ms) / 1000

    @property
    def latest_ms(self) -> int:
        return self.start_ms if self.end_ms is None else self.end_ms


Record = Onset | End | Fault


@dataclass(frozen=True)
class Log:
    """A record replayed by `sync` from the board's flash log; it carries the boot it happened in."""

    seq: int
    boot: int
    record: Record


@dataclass(frozen=True)
class Env:
    seq: int
    ch: int
    n: int
    values: tuple[float, ...]  # ADC counts
    floor: float | None
    on: float | None
    off: float | None


@dataclass(frozen=True)
class Raw:
    seq: int
    ch: int
    n: int
    values: tuple[int, ...]  # ADC counts


@dataclass(frozen=True)
class Ok:
    seq: int
    cmd: str
    data: Any


@dataclass(frozen=True)
class Error:
    seq: int
    cmd: str | None
    msg: str


@dataclass(frozen=True)
class Other:
    """A message type this host does not know (a newer firmware's): ignored, as the protocol says."""

    seq: int
    t: str


Message = Hello | Status | Onset | End | Fault | Log | Env | Raw | Ok | Error | Other


# ---- field checks ----------------------------------------------------------------------------------------


def _int(d: dict, key: str, lo: int = 0, hi: int = MAX_MS) -> int:
    v = d.get(key)
    if type(v) is not int:
        raise WireError(f"{d.get('t')}: {key} missing or not an integer" if v is None or key not in d
                        else f"{d.get('t')}: {key}={v!r} is not an integer")
    if not lo <= v <= hi:
        raise WireError(f"{d.get('t')}: {key}={v} out of range {lo}..{hi}")
    return v


def _ms(d: dict, key: str) -> int:
    """A device time: ms since boot, 0..MAX_UPTIME_MS (kind "time" when it is an integer out of that range)."""
    v = d.get(key)
    if type(v) is int and v > MAX_UPTIME_MS:
        raise WireError(f"{d.get('t')}: {key}={v} is implausible (more than {MAX_UPTIME_MS} ms, 8.7 years, since "
                        "boot)", "time")
    return _int(d, key, 0, MAX_UPTIME_MS)


def _opt_int(d: dict, key: str, lo: int = 0, hi: int = MAX_NUM) -> int | None:
    return None if d.get(key) is None else _int(d, key, lo, hi)


def _num(d: dict, key: str) -> float:
    v = d.get(key)
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= MAX_NUM:
        raise WireError(f"{d.get('t')}: {key}={v!r} is not a level 0..{MAX_NUM}")
    return float(v)


def _str(d: dict, key: str, choices: tuple[str, ...] | None = None) -> str:
    v = d.get(key)
    if not isinstance(v, str):
        raise WireError(f"{d.get('t')}: {key} missing or not text")
    if choices is not None and v not in choices:
        raise WireError(f"{d.get('t')}: {key}={v!r} is not one of {', '.join(choices)}")
    return v


def _boot(d: dict) -> int | None:
    return _opt_int(d, "boot", 0, MAX_MS)


def _ratio(v: float, floor: float) -> float | None:
    return v / floor if floor > 0 else None


# ---- per type --------------------------------------------------------------------------------------------


def _hello(d: dict, scale: float) -> Hello:
    chans = d.get("channels")
    if chans is None:
        chans = []
    if not isinstance(chans, list) or not all(isinstance(c, str) for c in chans) or len(chans) > MAX_CH + 1:
        raise WireError("hello: channels is not a list of names")
    name = d.get("name")
    if name is not None and not isinstance(name, str):
        raise WireError("hello: name is not text")
    mode = d.get("mode") if isinstance(d.get("mode"), str) else None
    proto = d.get("proto", 1)
    if type(proto) is not int or proto < 1:
        raise WireError(f"hello: proto={proto!r} is not a version number")
    scale = _int(d, "scale", 1, 1 << 16) if "scale" in d else 16
    return Hello(d["seq"], proto, _str(d, "fw"), _str(d, "id"), name, _int(d, "boot"), _opt_int(d, "rate", 1, 100_000),
                 tuple(chans), mode, scale, d.get("config"), m if isinstance(m := d.get("machine"), str) else "")


_COUNTERS = ("samples", "overruns", "dropped", "heap_free", "queue", "faults", "lost", "pops")


def _status(d: dict, scale: float) -> Status:
    state = d.get("state")
    if state is not None and not isinstance(state, str):
        raise WireError("status: state is not text")
    counters = tuple((k, v) for k in _COUNTERS if (v := _opt_int(d, k)) is not None)
    return Status(d["seq"], _ms(d, "uptime_ms"), state, _opt_int(d, "eseq", 0, MAX_MS),
                  _opt_int(d, "boot", 0, MAX_MS), counters)


def _onset(d: dict, scale: float) -> Onset:
    onset, detected = _ms(d, "onset_ms"), _ms(d, "detected_ms")
    if detected < onset:
        raise WireError(f"{d['t']}: detected_ms {detected} before onset_ms {onset}")
    return Onset(d["seq"], _int(d, "ch", 0, MAX_CH), _int(d, "eseq"), onset, detected, _boot(d))


# An end's record fields as the firmware's table gives them: (name, how it travels); the ones End gives a default
# may be missing from a line (older firmware).
END_FIELDS = tuple(zip(codes.REC_FIELDS, codes.REC_KINDS, strict=True))
_END_OPTIONAL = {f.name for f in fields(End) if f.default is not MISSING}


def _record_field(d: dict, name: str, how: str, scale: float) -> float:
    if how == "t":
        return _ms(d, name)
    return _num(d, name) / scale if how == "l" else _int(d, name, -(2**31), 2**31 - 1)  # REC_KINDS: l, i


def _end(d: dict, scale: float) -> End:
    rec: dict[str, Any] = {name: _record_field(d, name, how, scale) for name, how in END_FIELDS
                           if name in d or name not in _END_OPTIONAL}
    onset, offset, detected = rec["onset_ms"], rec["offset_ms"], rec["detected_ms"]
    if offset < onset or detected < onset:
        raise WireError(f"{d['t']}: offset_ms {offset} / detected_ms {detected} before onset_ms {onset}")
    if "duration_ms" in d and _int(d, "duration_ms") != offset - onset:  # catches a digit lost in a time
        raise WireError(f"{d['t']}: duration_ms {d['duration_ms']} is not offset_ms - onset_ms")
    if rec["mean"] > rec["peak"]:
        raise WireError(f"{d['t']}: mean {rec['mean']:g} above peak {rec['peak']:g}")
    return End(seq=d["seq"], ch=_int(d, "ch", 0, MAX_CH), eseq=_int(d, "eseq"), kind=_str(d, "kind", KIND_NAMES),
               peak_x=_ratio(rec["peak"], rec["floor"]), mean_x=_ratio(rec["mean"], rec["floor"]), boot=_boot(d),
               **rec)


def _fault(d: dict, scale: float) -> Fault:
    state = _str(d, "state", ("start", "end"))
    start = _ms(d, "start_ms")
    end = None
    if state == "end":
        end = _ms(d, "end_ms")
        if end < start:
            raise WireError(f"{d['t']}: end_ms {end} before start_ms {start}")
    elif d.get("end_ms") is not None and type(d["end_ms"]) is not int:
        raise WireError(f"{d['t']}: end_ms is not an integer")
    return Fault(d["seq"], _int(d, "ch", 0, MAX_CH), _int(d, "eseq"), _str(d, "detail", FAULT_NAMES), start, end,
                 _boot(d))


_RECORDS: dict[str, Callable[[dict, float], Record]] = {"onset": _onset, "end": _end, "fault": _fault}


def _log(d: dict, scale: float) -> Log:
    ev = _str(d, "ev", tuple(_RECORDS))
    return Log(d["seq"], _int(d, "boot"), _RECORDS[ev](d, scale))


def _values(d: dict) -> list:
    values = d.get("values")
    if not isinstance(values, list) or not all(type(v) in (int, float) for v in values):
        raise WireError(f"{d['t']}: values is not a list of numbers")
    return values


def _env(d: dict, scale: float) -> Env:
    def level(key: str) -> float | None:
        return None if d.get(key) is None else _num(d, key) / scale

    return Env(d["seq"], _int(d, "ch", 0, MAX_CH), _int(d, "n"), tuple(v / scale for v in _values(d)),
               level("floor"), level("on"), level("off"))


def _raw(d: dict, scale: float) -> Raw:
    values = _values(d)
    if not all(type(v) is int for v in values):
        raise WireError("raw: values are not integers")
    return Raw(d["seq"], _int(d, "ch", 0, MAX_CH), _int(d, "n"), tuple(values))


def _ok(d: dict, scale: float) -> Ok:
    return Ok(d["seq"], _str(d, "cmd"), d.get("data"))


def _error(d: dict, scale: float) -> Error:
    cmd = d.get("cmd")
    if cmd is not None and not isinstance(cmd, str):
        raise WireError("error: cmd is not text")
    msg = d.get("msg")
    return Error(d["seq"], cmd, msg if isinstance(msg, str) else "error")


_PARSERS: dict[str, Callable[[dict, float], Message]] = {
    "hello": _hello, "status": _status, "onset": _onset, "end": _end, "fault": _fault, "log": _log,
    "env": _env, "raw": _raw, "ok": _ok, "error": _error,
}


TYPE_NAMES = {Hello: "hello", Status: "status", Onset: "onset", End: "end", Fault: "fault", Log: "log", Env: "env",
              Raw: "raw", Ok: "ok", Error: "error"}


def type_name(msg: Message) -> str:
    """The message's `t` on the wire."""
    return msg.t if isinstance(msg, Other) else TYPE_NAMES[type(msg)]


def parse(d: dict, scale: float = 16) -> Message:
    """A decoded message dict (t and seq checked by protohost.decode) as its type; WireError if invalid.
    `scale` is the envelope scale of the device's hello (levels become ADC counts)."""
    fn = _PARSERS.get(d["t"])
    if fn is None:
        return Other(d["seq"], d["t"])
    return fn(d, scale or 16)


def read_line(raw: bytes, scale: float = 16, proto: int = 1) -> tuple[dict, Message]:
    """Check, decode and parse one device line (without its newline): (the JSON dict, its message).

    A checksum that does not match is a corrupted line; a line without one from a device that announced
    protocol >= 2 lost its suffix (or was cut): both raise WireError, as does anything protohost.decode or
    parse refuses. `proto` is the protocol version of the device's last hello (1 until one is seen).
    """
    body, verdict = split(raw.rstrip(b"\r\n"))
    if verdict is False:
        raise WireError("checksum mismatch: " + raw[:40].decode(errors="replace"), "checksum")
    try:
        d = protohost.decode(body)
    except protocol.ProtocolError as exc:  # a garbled message line, or MicroPython's own output
        raise WireError(str(exc), "invalid" if body.lstrip().startswith(b"{") else "junk") from None
    except RecursionError:  # JSON nested thousands deep (a line may hold 8 KB): no message is
        raise WireError("JSON nested too deep", "invalid") from None
    if verdict is None and proto >= CHECKED_PROTO and not _downgrade(d):
        raise WireError("line without checksum from a protocol v2 device", "unchecked")
    return d, parse(d, scale)


def _downgrade(d: dict) -> bool:
    """A plain hello saying protocol 1: the board now runs older firmware (re-flashed); without taking it,
    every later line of that board would be refused as unchecked."""
    return d.get("t") == "hello" and d.get("proto", 1) in (None, 1)


def command_line(name: str, *args: object, proto: int = 1) -> bytes:
    """The command as the device expects it: protohost.format_command, sealed with ` *XXXX` for proto >= 2
    (the checksum covers the command text before ` *`)."""
    line = protohost.format_command(name, *args)
    if proto < CHECKED_PROTO:
        return line
    return seal(line.rstrip(b"\n")) + b"\n"
