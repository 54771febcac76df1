"""spasmwatch serial protocol v2: checked JSON lines device->host, text commands host->device (docs/protocol.md)."""

# One module on purpose, over the 420-line limit: LineReader in a module of its own cost 224 B of heap after boot on
# the 32-bit ESP32 model (bench/firmware_heap.py, 1 channel), and the 64-bit port's 100 kB 2-channel virtual device
# (tests/test_virtual_device.py) then failed its first boot with its config (start.py fell back to the defaults).

import json
from array import array

try:  # CPython (host, tests) imports the firmware as the spasmfw package; the board imports it flat
    from . import codes
except ImportError:
    import codes

VERSION = 2  # v2: every device line ends with " *XXXX", the CRC-16 of the text before it; v1 lines had none
MAX_LINE = 256  # bytes per line, the check and newline included: commands, events, status, log, error
MAX_REPLY = 1024  # ok and hello lines may carry the whole config; raw/env lines are sized by the caller


class ProtocolError(ValueError):
    pass


class ChecksumError(ProtocolError):
    """A line whose ` *XXXX` check does not match its text: corrupted on the way, never acted on."""


def _crc_table():
    t = array("H", bytes(512))  # 256 entries (from zero bytes: no temporary list on a small heap)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else c << 1
        t[i] = c & 0xFFFF
    return t


_CRC = _crc_table()  # 512 bytes: a table lookup per byte is ~7x faster than the bitwise loop on the board


def crc16(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected, no final xor) of bytes; "123456789" -> 0x29B1."""
    t = _CRC
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ t[(crc >> 8) ^ b]
    return crc


def _hex4(c):
    return ("%04X" % c).encode()


def unseal(line):
    """(text, checked) for one line (bytes, no newline): the text before a ` *XXXX` check and True, or the
    line and False when it has no check (v1 device lines, commands typed by a person). ChecksumError when the
    check does not match the text."""
    n = len(line)
    if n < 6 or line[n - 6] != 32 or line[n - 5] != 42:  # " *"
        return line, False
    for c in line[n - 4:]:
        if not (48 <= c <= 57 or 65 <= c <= 70):  # 0-9 A-F: anything else is text, not a check
            return line, False
    text = line[:n - 6]
    if _hex4(crc16(text)) != bytes(line[n - 4:]):
        raise ChecksumError("checksum mismatch")
    return text, True


# Field order per message type: encode() writes t, seq, then these in this order, then any extra fields
# sorted, so a line is readable in a terminal and byte-identical under CPython and MicroPython.
FIELDS = {
    "hello": ("proto", "fw", "id", "name", "boot", "rate", "channels", "mode", "scale", "config"),
    "onset": ("ch", "eseq", "onset_ms", "detected_ms"),
    "end": ("ch", "eseq", "kind", "onset_ms", "offset_ms", "detected_ms", "duration_ms", "peak", "mean",
            "floor"),
    "fault": ("ch", "eseq", "state", "detail", "start_ms", "end_ms"),
    "status": ("uptime_ms", "samples", "overruns", "dropped", "heap_free", "queue", "faults", "state", "eseq",
               "boot", "lost", "pops"),
    "env": ("ch", "n", "values", "floor", "on", "off"),
    "raw": ("ch", "n", "values"),
    "log": ("ev", "boot", "ch", "eseq", "kind", "onset_ms", "offset_ms", "detected_ms", "duration_ms", "peak",
            "mean", "floor", "state", "detail", "start_ms", "end_ms"),
    "ok": ("cmd", "data"),
    "error": ("cmd", "msg"),
}
STREAMS = ("raw", "env")  # message types exempt from the length check
REPLIES = ("ok", "hello")  # message types allowed up to MAX_REPLY

# Names of the detector's integer codes on the wire (firmware/codes.py holds the one definition).
KINDS = codes.KIND_NAMES
FAULTS = codes.FAULT_NAMES
EV_ONSET, EV_END, EV_FAULT_START, EV_FAULT_END = codes.EV_ONSET, codes.EV_END, codes.EV_FAULT_START, codes.EV_FAULT_END

# Host -> device commands, one or two words (see parse_command for arg shapes; their help texts in cmdhelp.py).
NAMES = ("hello", "ping", "status", "help", "config get", "config set", "calibrate rest", "calibrate mvc",
         "calibrate show", "calibrate undo", "calibrate clear", "stream env", "stream raw", "sync",
         "log clear", "reboot")
CAL_MAX_S = 300
VALUE_DEPTH = 3  # nesting a config value needs at most: channels=[{"pin": 34, "name": "calf"}] is 2


def _dump(v):
    try:
        return json.dumps(v, separators=(",", ":"))
    except TypeError:
        pass
    try:
        return json.dumps(v)  # older MicroPython json.dumps has no separators argument
    except (TypeError, ValueError) as e:
        raise ProtocolError("value not JSON-serialisable: %r" % (e,)) from None


# The board builds every line in OUT, value by value: after boot a 100 kB heap is cut into pieces of a few hundred
# bytes, and joining, encoding and sealing a hello or config reply (~450 bytes, five copies) failed there (a
# MemoryError at the boot hello). Allocated when the config code first imports this module, on a whole heap.
OUT = bytearray(MAX_REPLY + 8)


def _put(buf, n, s):
    # s (str or bytes) into buf at n; the new end
    if type(s) is str:
        s = s.encode()
    m = n + len(s)
    if m > len(buf):
        raise ProtocolError("line over %d bytes" % len(buf))
    buf[n:m] = s
    return m


def _value(buf, n, head, v):
    # head (the separator and key before it) and one JSON value at n: a scalar in one piece, containers piece by
    # piece (a whole config as one string needs a large block again), lists 32 items at a time
    t = type(v)
    if t is dict:
        sep = "{"
        for k in v:
            n = _value(buf, n, head + sep + _dump(str(k)) + ":", v[k])
            head, sep = "", ","
        return _put(buf, n, head + "{}" if sep == "{" else "}")
    if t is list or t is tuple:
        sep = "["
        for i in range(0, len(v), 32):  # json's C code 32 items at a time: raw lines stay fast, blocks small
            n = _put(buf, n, head + sep + _dump(v[i:i + 32])[1:-1])
            head, sep = "", ","
        return _put(buf, n, head + "[]" if sep == "[" else "]")
    return _put(buf, n, head + (str(v) if t is int else _dump(v)))  # int: without json's machinery


def _field(buf, n, parts, head, v):
    # A scalar joins the pending parts; a container (a config, a list of samples) is put after them, in pieces
    t = type(v)
    if t is not dict and t is not list and t is not tuple:
        parts.append(head)
        parts.append(str(v) if t is int else _dump(v))
        return n
    n = _put(buf, n, "".join(parts))
    parts.clear()
    return _value(buf, n, head, v)


def encode_into(buf, t, seq, fields=None):
    """One device->host message built in buf (a bytearray, the board's OUT): a memoryview of
    b'{"t":...,"seq":N,...} *XXXX\\n' (XXXX: crc16 of the JSON, uppercase hex), valid until buf is used again.

    ProtocolError for an unknown type or a line over MAX_LINE (ok/hello: MAX_REPLY; raw/env: the buffer).
    """
    order = FIELDS.get(t)
    if order is None:
        raise ProtocolError("unknown message type: " + str(t))
    parts = ['{"t":"', t, '","seq":', str(int(seq))]  # scalars are joined (fast), containers go in pieces
    n = 0
    if fields:
        for k in order:
            if k in fields:
                n = _field(buf, n, parts, ',"' + k + '":', fields[k])
        extra = [k for k in fields if k not in order and k != "t" and k != "seq"]
        if extra:
            extra.sort()
            for k in extra:
                n = _field(buf, n, parts, "," + _dump(str(k)) + ":", fields[k])
    parts.append("}")
    n = _put(buf, n, "".join(parts))
    n = _put(buf, n, " *%04X\n" % crc16(memoryview(buf)[:n]))
    if n > MAX_LINE and t not in STREAMS:
        limit = MAX_REPLY if t in REPLIES else MAX_LINE
        if n > limit:
            raise ProtocolError("%s message is %d bytes, over the %d limit" % (t, n, limit))
    return memoryview(buf)[:n]


def encode(t, seq, fields=None):
    """encode_into a buffer of its own, as bytes (host tools and tests; the board sends from OUT)."""
    return bytes(encode_into(bytearray(MAX_REPLY + 8 + 6 * len(repr(fields))), t, seq, fields))


def event_fields(etype, ch, eseq, kind, rec):
    """(message type, fields) of a detector or log record, rec its codes.REC_FIELDS by name: an end has them all."""
    on = rec["onset_ms"]
    if etype == EV_ONSET:
        return "onset", {"ch": ch, "eseq": eseq, "onset_ms": on, "detected_ms": rec["detected_ms"]}
    if etype == EV_END:
        f = {"ch": ch, "eseq": eseq, "kind": KINDS.get(kind, str(kind)), "duration_ms": rec["offset_ms"] - on}
        for k in codes.REC_FIELDS:
            f[k] = rec[k]
        return "end", f
    return "fault", {"ch": ch, "eseq": eseq, "state": "end" if etype == EV_FAULT_END else "start", "start_ms": on,
                     "detail": FAULTS.get(kind, str(kind)), "end_ms": rec["offset_ms"] if etype == EV_FAULT_END else -1}


def _tokens(text):
    # Split on spaces outside quotes and brackets so `channels=[34, 35]` or `name="left calf"` stay whole.
    out = []
    cur = []
    depth = 0
    quote = False
    esc = False
    for c in text:
        if quote:
            cur.append(c)
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                quote = False
        elif c == '"':
            quote = True
            cur.append(c)
        elif c in "[{":
            depth += 1
            cur.append(c)
        elif c in "]}":
            depth -= 1
            cur.append(c)
        elif (c == " " or c == "\t") and depth <= 0:
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(c)
    if quote:
        raise ProtocolError("unterminated quote")
    if depth != 0:
        raise ProtocolError("unbalanced brackets")
    if cur:
        out.append("".join(cur))
    return out


def check_json(text, max_bytes, max_depth):
    """Refuse JSON text (str) that is too long or nested too deep before it is parsed (a parser's recursion and
    allocations on a small heap are the risk, not the result); ProtocolError names the limit."""
    if len(text) > max_bytes:
        raise ProtocolError("%d bytes of JSON, over the %d limit" % (len(text), max_bytes))
    depth = 0
    quote = esc = False
    for c in text:
        if quote:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                quote = False
        elif c == '"':
            quote = True
        elif c == "[" or c == "{":
            depth += 1
            if depth > max_depth:
                raise ProtocolError("JSON nested deeper than %d levels" % max_depth)
        elif c == "]" or c == "}":
            depth -= 1


def parse_value(text):
    """A config value typed by a person: JSON (numbers, true/false/null, "strings", lists) or a bare word."""
    low = text.lower()
    if low == "true" or low == "on":
        return True
    if low == "false" or low == "off":
        return False
    if low == "null" or low == "none":
        return None
    check_json(text, MAX_LINE, VALUE_DEPTH)
    try:
        return json.loads(text)
    except ValueError:
        pass
    c = text[0] if text else ""
    if c in '"[{':
        raise ProtocolError("bad value: " + text)
    return text  # bare word, e.g. name=left_calf


def _key_ok(key):
    if not key or key[0] == "." or key[-1] == ".":
        return False
    for c in key:
        if not (c.isalpha() or c.isdigit() or c == "_" or c == "."):
            return False
    return True


def _number(word, what):
    try:
        v = float(word)
    except ValueError:
        raise ProtocolError(what + " must be a number, got " + word) from None
    return v


def text_of(line, what):
    """One line (bytes or str) as text: its ` *XXXX` check verified (ChecksumError) and removed, then decoded."""
    if isinstance(line, str):
        line = line.encode()
    line, _ = unseal(bytes(line).strip())
    try:
        return line.decode()
    except UnicodeError:
        raise ProtocolError(what + " is not UTF-8") from None


def parse_command(line):
    """Parse a typed command line (bytes or str) into (name, args); ProtocolError naming the problem.

    Arg shapes: config set -> ((key, value), ...); calibrate rest|mvc -> (seconds,) float;
    stream env|raw -> (bool,); sync -> (int,); every other command -> ().
    A command may end with a ` *XXXX` check (crc16 of the text before it, as format_command writes it):
    ChecksumError when it does not match, so a flipped byte never runs; without one it is taken as typed.
    """
    words = _tokens(text_of(line, "command").strip())
    if not words:
        raise ProtocolError("empty command")
    first = words[0].lower()
    name = None
    if len(words) > 1 and (first + " " + words[1].lower()) in NAMES:
        name = first + " " + words[1].lower()
        rest = words[2:]
    elif first in NAMES:
        name = first
        rest = words[1:]
    else:
        for k in NAMES:
            if k.startswith(first + " "):
                raise ProtocolError("%s needs one of: %s" % (first, _subs(first)))
        raise ProtocolError("unknown command: %s (try help)" % words[0][:32])
    if name == "config set":
        if not rest:
            raise ProtocolError("config set needs KEY=VALUE")
        pairs = []
        for w in rest:
            i = w.find("=")
            if i <= 0:
                raise ProtocolError("config set: expected KEY=VALUE, got " + w[:32])
            key = w[:i]
            if not _key_ok(key):
                raise ProtocolError("config set: bad key " + key[:32])
            if i == len(w) - 1:
                raise ProtocolError("config set: no value for " + key)
            pairs.append((key, parse_value(w[i + 1:])))
        return name, tuple(pairs)
    if name == "calibrate rest" or name == "calibrate mvc":
        if len(rest) != 1:
            raise ProtocolError(name + " needs SECONDS")
        s = _number(rest[0], name + " SECONDS")
        if not (1 <= s <= CAL_MAX_S):
            raise ProtocolError("%s SECONDS must be 1..%d" % (name, CAL_MAX_S))
        return name, (s,)
    if name == "stream env" or name == "stream raw":
        if len(rest) != 1 or rest[0].lower() not in ("on", "off"):
            raise ProtocolError(name + " needs on or off")
        return name, (rest[0].lower() == "on",)
    if name == "sync":
        if len(rest) != 1:
            raise ProtocolError("sync needs SEQ (0 = all)")
        try:
            n = int(rest[0])
        except ValueError:
            raise ProtocolError("sync SEQ must be an integer >= 0, got " + rest[0][:32]) from None
        if n < 0:
            raise ProtocolError("sync SEQ must be an integer >= 0")
        return name, (n,)
    if rest:
        raise ProtocolError(name + " takes no arguments")
    return name, ()


def _subs(first):
    return ", ".join(sorted(k for k in NAMES if k.startswith(first + " ")))


_EMPTY = ()


class LineReader:
    """Assemble newline-terminated lines from serial chunks in a fixed buffer.

    lines() returns complete lines as bytes (no newline, \\r and surrounding blanks stripped, blank lines
    skipped, backspace applied) or ("error", message) tuples for over-long or non-text lines.
    """

    MAX_PENDING = 8

    def __init__(self, max_line=MAX_LINE):
        self._buf = bytearray(max_line)
        self._mv = memoryview(self._buf)
        self._cap = max_line - 1  # room for the text; the newline counts toward max_line
        self._n = 0
        self._skip = False
        self._out = []
        self._lost = False

    def feed(self, data):
        end = len(data)
        if not end:
            return
        if data.find(b"\n") < 0 and (self._skip or self._n + end > self._cap):
            self._skip = True  # fast path for a flood without newlines
            return
        src = memoryview(data)
        i = 0
        while i < end:
            j = data.find(b"\n", i)
            stop = end if j < 0 else j
            k = stop - i
            if not self._skip and k:
                if self._n + k > self._cap:
                    self._skip = True
                else:
                    # the whole chunk needs no memoryview slice: one allocation less per feed
                    self._mv[self._n:self._n + k] = data if k == end else src[i:stop]
                    self._n += k
            if j < 0:
                return
            if self._skip:
                self._push(("error", "line too long"))
                self._skip = False
            else:
                self._finish()
            self._n = 0
            i = j + 1

    def _push(self, item):
        if len(self._out) < self.MAX_PENDING:
            self._out.append(item)
        elif not self._lost:
            self._lost = True
            self._out[-1] = ("error", "too many lines at once, some dropped")

    def _finish(self):
        n = self._n
        b = self._buf
        while n and b[n - 1] in (13, 32, 9):  # trailing \r and blanks
            n -= 1
        start = 0
        while start < n and b[start] in (32, 9):
            start += 1
        if start >= n:
            return
        line = bytes(self._mv[start:n])
        if b"\x08" in line or b"\x7f" in line:
            line = _backspace(line)
            if not line.strip():
                return
        for c in line:
            if c < 32 and c != 9:
                self._push(("error", "control characters in line"))
                return
        try:
            line.decode()
        except UnicodeError:
            self._push(("error", "line is not UTF-8"))
            return
        self._push(line)

    def pending(self):
        """Bytes of an unfinished line held in the buffer."""
        return self._n

    def lines(self):
        if not self._out:
            return _EMPTY
        out = self._out
        self._out = []
        self._lost = False
        return out


def _backspace(line):
    # A person typing in a raw terminal sends BS/DEL: apply them instead of rejecting the line.
    out = bytearray(len(line))
    n = 0
    for c in line:
        if c == 8 or c == 127:
            if n:
                n -= 1
        else:
            out[n] = c
            n += 1
    return bytes(out[:n]).strip()
