"""spasmwatch serial protocol v1: JSON lines device->host, text commands host->device (docs/protocol.md)."""

import json

VERSION = 1
MAX_LINE = 256  # bytes per line, newline included: commands, events, status, log, error
MAX_REPLY = 1024  # ok and hello lines may carry the whole config; raw/env lines are sized by the caller


class ProtocolError(ValueError):
    pass


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

# Names of the detector's integer codes on the wire; they mirror detector.KIND_NAMES / FAULT_NAMES
# (a test checks they agree) so this module does not depend on the detector.
KINDS = {1: "twitch", 2: "tonic", 3: "clonus"}
FAULTS = {1: "flat", 2: "rail"}
EV_ONSET, EV_END, EV_FAULT_START, EV_FAULT_END = 1, 2, 3, 4

# Host -> device commands: name -> help line. Names of one or two words; see parse_command for arg shapes.
COMMANDS = {
    "hello": "hello: reply with the hello message (device, boot id, config)",
    "ping": "ping: reply ok (link check)",
    "status": "status: send a status message now",
    "help": "help: list the commands",
    "config get": "config get: reply with the current config",
    "config set": "config set KEY=VALUE [KEY=VALUE...]: change and save config, e.g. params.on_mult=5",
    "calibrate rest": "calibrate rest SECONDS: learn the resting floor over 1..300 s (muscle relaxed)",
    "calibrate mvc": "calibrate mvc SECONDS: record a maximal contraction over 1..300 s",
    "stream env": "stream env on|off: stream the decimated envelope",
    "stream raw": "stream raw on|off: stream raw samples",
    "sync": "sync SEQ: send every logged event with eseq > SEQ (0 = all), then ok",
    "log clear": "log clear: erase the event log (eseq keeps counting)",
    "reboot": "reboot: restart the device",
}
CAL_MAX_S = 300


def _dump(v):
    if type(v) is int:  # the common case, without json's stream machinery (less garbage on the board)
        return str(v)
    try:
        return json.dumps(v, separators=(",", ":"))
    except TypeError:
        pass
    try:
        return json.dumps(v)  # older MicroPython json.dumps has no separators argument
    except (TypeError, ValueError) as e:
        raise ProtocolError("value not JSON-serialisable: %r" % (e,)) from None


def encode(t, seq, fields=None):
    """One device->host message as b'{"t":...,"seq":N,...}\\n'.

    ProtocolError for an unknown type or a line over MAX_LINE (ok/hello: MAX_REPLY; raw/env: no limit).
    """
    order = FIELDS.get(t)
    if order is None:
        raise ProtocolError("unknown message type: " + str(t))
    parts = ['{"t":"', t, '","seq":', str(int(seq))]
    if fields:
        add = parts.append
        for k in order:
            if k in fields:
                add(',"')
                add(k)
                add('":')
                add(_dump(fields[k]))
        extra = [k for k in fields if k not in order and k != "t" and k != "seq"]
        if extra:
            extra.sort()
            for k in extra:
                parts.append(',' + _dump(str(k)) + ':' + _dump(fields[k]))
    parts.append("}\n")
    data = "".join(parts).encode()
    if len(data) > MAX_LINE and t not in STREAMS:
        limit = MAX_REPLY if t in REPLIES else MAX_LINE
        if len(data) > limit:
            raise ProtocolError("%s message is %d bytes, over the %d limit" % (t, len(data), limit))
    return data


def decode(line):
    """Parse one device->host line (bytes or str, newline optional) into a dict with at least t and seq."""
    if isinstance(line, (bytes, bytearray)):
        try:
            line = bytes(line).decode()
        except UnicodeError:
            raise ProtocolError("line is not UTF-8") from None
    line = line.strip()
    if not line.startswith("{"):
        raise ProtocolError("not a message line: " + line[:40])
    try:
        msg = json.loads(line)
    except ValueError:
        raise ProtocolError("bad JSON: " + line[:40]) from None
    if not isinstance(msg, dict):
        raise ProtocolError("message is not a JSON object")
    t = msg.get("t")
    seq = msg.get("seq")
    if not isinstance(t, str) or not t:
        raise ProtocolError("message has no type t")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ProtocolError("message has no valid seq")
    return msg


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


def parse_value(text):
    """A config value typed by a person: JSON (numbers, true/false/null, "strings", lists) or a bare word."""
    low = text.lower()
    if low == "true" or low == "on":
        return True
    if low == "false" or low == "off":
        return False
    if low == "null" or low == "none":
        return None
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


def parse_command(line):
    """Parse a typed command line (bytes or str) into (name, args); ProtocolError naming the problem.

    Arg shapes: config set -> ((key, value), ...); calibrate rest|mvc -> (seconds,) float;
    stream env|raw -> (bool,); sync -> (int,); every other command -> ().
    """
    if isinstance(line, (bytes, bytearray)):
        try:
            line = bytes(line).decode()
        except UnicodeError:
            raise ProtocolError("command is not UTF-8") from None
    words = _tokens(line.strip())
    if not words:
        raise ProtocolError("empty command")
    first = words[0].lower()
    name = None
    if len(words) > 1 and (first + " " + words[1].lower()) in COMMANDS:
        name = first + " " + words[1].lower()
        rest = words[2:]
    elif first in COMMANDS:
        name = first
        rest = words[1:]
    else:
        for k in COMMANDS:
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
    return ", ".join(sorted(k for k in COMMANDS if k.startswith(first + " ")))


def _fmt_value(v):
    if isinstance(v, str):
        if v and _bare_ok(v):
            return v
        return _dump(v)
    return _dump(v)


def _bare_ok(s):
    # A string can go unquoted if parse_value would give it back unchanged.
    if s.lower() in ("true", "false", "on", "off", "null", "none"):
        return False
    if s[0] in '"[{-+.0123456789':
        return False
    for c in s:
        if c in ' \t"[]{}=\\' or ord(c) < 33 or ord(c) > 126:
            return False
    return True


def format_command(name, *args):
    """Host side: the line (bytes, newline-terminated) that parse_command turns back into (name, args)."""
    if name not in COMMANDS:
        raise ProtocolError("unknown command: " + str(name))
    words = [name]
    if name == "config set":
        if not args:
            raise ProtocolError("config set needs KEY=VALUE")
        for kv in args:
            key, value = kv
            if not _key_ok(key):
                raise ProtocolError("config set: bad key " + str(key))
            words.append(key + "=" + _fmt_value(value))
    elif name in ("stream env", "stream raw"):
        if len(args) != 1:
            raise ProtocolError(name + " needs on or off")
        words.append("on" if args[0] else "off")
    elif name in ("calibrate rest", "calibrate mvc", "sync"):
        if len(args) != 1:
            raise ProtocolError(name + " needs one argument")
        words.append(_dump(args[0]))
    elif args:
        raise ProtocolError(name + " takes no arguments")
    data = (" ".join(words) + "\n").encode()
    if len(data) > MAX_LINE:
        raise ProtocolError("command is %d bytes, over MAX_LINE %d" % (len(data), MAX_LINE))
    parse_command(data)  # refuse to send what the device would reject
    return data


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
