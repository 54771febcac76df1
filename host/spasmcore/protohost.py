"""Host side of the serial protocol: decode device lines, build command lines, the commands' help as text.

The board never runs this (it is not deployed); it uses the firmware's own parser and limits, so what the host
writes is what the board accepts.
"""

from __future__ import annotations

import json
from typing import Any

from spasmcore.crc16 import seal as _seal
from spasmfw import cmdhelp, protocol
from spasmfw.protocol import MAX_LINE, ProtocolError, _dump, _key_ok, parse_command, text_of

COMMANDS = {k: v.decode() for k, v in cmdhelp.HELP.items()}  # command name -> its help line


def seal(text: bytes) -> bytes:
    """Line bytes with the v2 check: text (no newline) + b" *XXXX\\n" (the board seals in protocol.encode_into)."""
    return _seal(text) + b"\n"


def decode(line: bytes | str) -> dict[str, Any]:
    """Parse one device->host line (bytes or str, newline optional) into a dict with at least t and seq.

    A v2 line's ` *XXXX` check is verified and removed (ChecksumError if it fails); a v1 line has none.
    """
    text = text_of(line, "line")
    if not text.startswith("{"):
        raise ProtocolError("not a message line: " + text[:40])
    try:
        msg = json.loads(text)
    except ValueError:
        raise ProtocolError("bad JSON: " + text[:40]) from None
    if not isinstance(msg, dict):
        raise ProtocolError("message is not a JSON object")
    t = msg.get("t")
    seq = msg.get("seq")
    if not isinstance(t, str) or not t:
        raise ProtocolError("message has no type t")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ProtocolError("message has no valid seq")
    return msg


def _fmt_value(v: Any) -> str:
    return v if isinstance(v, str) and v and _bare_ok(v) else str(_dump(v))


def _bare_ok(s: str) -> bool:
    # A string can go unquoted if parse_value would give it back unchanged.
    if s.lower() in ("true", "false", "on", "off", "null", "none", "nan", "infinity"):
        return False  # (CPython's json, the firmware's parser there, reads a bare NaN or Infinity as a float)
    if s[0] in '"[{-+.0123456789':
        return False
    return not any(c in ' \t"[]{}=\\' or ord(c) < 33 or ord(c) > 126 for c in s)


def format_command(name: str, *args: Any, check: bool = False) -> bytes:
    """The line (bytes, newline-terminated) that the firmware's parse_command turns back into (name, args).

    check=True appends the ` *XXXX` check (send it to v2 devices only: a v1 device refuses the extra word).
    """
    if name not in protocol.NAMES:
        raise ProtocolError("unknown command: " + str(name))
    words = [name]
    if name == "config set":
        if not args:
            raise ProtocolError("config set needs KEY=VALUE")
        for key, value in args:
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
        words.append(str(_dump(args[0])))
    elif args:
        raise ProtocolError(name + " takes no arguments")
    text = " ".join(words).encode()
    data = seal(text) if check else text + b"\n"
    if len(data) > MAX_LINE:
        raise ProtocolError(f"command is {len(data)} bytes, over MAX_LINE {MAX_LINE}")
    parse_command(data)  # refuse to send what the device would reject
    return data
