"""Host side of the serial protocol: decode device lines, build command lines, the commands' help as text.

Runs on the host only: the board never needs it, so it stays off its heap.
"""

import json

try:  # CPython (host, tests) imports the firmware as the spasmfw package; the board imports it flat
    from . import cmdhelp, protocol
    from .protocol import MAX_LINE, ProtocolError, _dump, _hex4, _key_ok, crc16, parse_command, text_of
except ImportError:
    import cmdhelp
    import protocol
    from protocol import MAX_LINE, ProtocolError, _dump, _hex4, _key_ok, crc16, parse_command, text_of

COMMANDS = {k: cmdhelp.HELP[k].decode() for k in cmdhelp.HELP}  # name -> help line (host side)


def seal(text):
    """Line bytes with the v2 check: text (bytes, no newline) + b" *XXXX\n" (host-only: the board seals in
    protocol.encode_into, in place)."""
    return text + b" *" + _hex4(crc16(text)) + b"\n"


def decode(line):
    """Parse one device->host line (bytes or str, newline optional) into a dict with at least t and seq.

    A v2 line's ` *XXXX` check is verified and removed (ChecksumError if it fails); a v1 line has none.
    """
    line = text_of(line, "line")
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


def format_command(name, *args, check=False):
    """Host side: the line (bytes, newline-terminated) that parse_command turns back into (name, args).

    check=True appends the ` *XXXX` check (send it to v2 devices only: a v1 device refuses the extra word).
    """
    if name not in protocol.NAMES:
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
    text = " ".join(words).encode()
    data = seal(text) if check else text + b"\n"
    if len(data) > MAX_LINE:
        raise ProtocolError("command is %d bytes, over MAX_LINE %d" % (len(data), MAX_LINE))
    parse_command(data)  # refuse to send what the device would reject
    return data
