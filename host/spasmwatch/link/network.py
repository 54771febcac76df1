"""Boards over the network: `--port socket://HOST:PORT` through pyserial's URL handlers, with the board's token.

A board with net.tcp_port set serves the serial protocol on TCP (docs/wireless.md). pyserial's `socket://`
handler makes that connection look like a serial port to the rest of the host (Link, Client, monitor), so
only opening differs: this module connects, presents the token (`auth TOKEN`, from SPASMWATCH_TOKEN or a
`?token=` in the URL) and turns socket errors into one sentence saying what to check.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from spasmcore.errors import LinkError

TOKEN_ENV = "SPASMWATCH_TOKEN"
AUTH_TIMEOUT_S = 5.0
_REPLY = re.compile(rb'"t":"(ok|error)".*"cmd":"auth"(?:,"msg":"([^"]*)")?')


def is_url(spec: str | None) -> bool:
    """True for a pyserial URL (socket://, rfc2217://, ...) rather than a device path."""
    return bool(spec) and "://" in str(spec)


def split_token(url: str) -> tuple[str, str | None]:
    """(url without the token option, the token from ?token= or else from SPASMWATCH_TOKEN, or None)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    token = next((v for k, v in query if k == "token"), None)
    rest = urlencode([(k, v) for k, v in query if k != "token"])
    return urlunsplit(parts._replace(query=rest)), token or os.environ.get(TOKEN_ENV) or None


def where(url: str) -> str:
    """host:port of a URL, for messages (the token never appears in them)."""
    p = urlsplit(url)
    try:
        return f"{p.hostname}:{p.port}" if p.hostname else url.split("?")[0]
    except ValueError:  # a port that is not a number 0..65535
        return url.split("?")[0]


def explain(url: str, exc: BaseException) -> LinkError:
    """One actionable sentence for a failed network connection to a board."""
    text = str(exc)
    low = text.lower()
    at = where(url)
    if "refused" in low:
        return LinkError(f"nothing listens at {at} (connection refused): is the board on Wi-Fi with net.tcp_port "
                         "set to this port? (`spasmwatch config get` over USB shows the net settings)")
    if "timed out" in low or "timeout" in low or "unreachable" in low or "no route" in low:
        return LinkError(f"{at} does not answer: wrong address, or the board is off or out of Wi-Fi range")
    if "name or service" in low or "nodename" in low or "getaddrinfo" in low or "not known" in low:
        return LinkError(f"cannot resolve {at.split(':')[0]}: use the board's IP address (shown by your router), "
                         "or HOSTNAME.local where mDNS works")
    if "expected a string in the form" in low or "unknown option" in low:
        return LinkError(f"bad port URL {url.split('?')[0]}: use socket://HOST:PORT")
    return LinkError(f"cannot connect to {at}: {text}")


def token_needed(port: str, why: str) -> LinkError:
    """The board refused a command for want of the token (sent none, or it took no `auth`): say how to give it."""
    return LinkError(f"{where(port)} wants the board's token ({why}): give it as {TOKEN_ENV}=TOKEN in the "
                     "environment or as ?token=TOKEN in the URL (socket://HOST:PORT?token=TOKEN); the token is the "
                     "board's net.token (`spasmwatch config get` over USB shows it)")


def wants_token(msg: str) -> bool:
    """An `error` reply that means "authenticate first" (the firmware's tcpserve words it so)."""
    return "auth TOKEN" in msg or "needs the token" in msg


def _auth(ser: Any, token: str, url: str) -> None:
    """Send `auth TOKEN` and read up to its reply, one byte at a time so no later line is taken from the Link."""
    ser.write(f"auth {token}\n".encode())
    line = b""
    end = time.monotonic() + AUTH_TIMEOUT_S
    while time.monotonic() < end:
        b = ser.read(1)
        if not b:
            continue
        if b != b"\n":
            line += b
            continue
        m = _REPLY.search(line)
        line = b""
        if m is None:
            continue  # a board with net.read_open sends its stream before the reply
        if m.group(1) == b"ok":
            return
        why = (m.group(2) or b"refused").decode(errors="replace")
        raise LinkError(f"{where(url)} refused the token ({why}): set {TOKEN_ENV} to the board's net.token")
    raise LinkError(f"{where(url)}: no reply to the token: is it a spasmwatch board's TCP port?")


def open_url(url: str, timeout: float = 0.05) -> Any:
    """An open pyserial port for a URL (socket://HOST:PORT[?token=T]); with a token, already authorised."""
    import serial

    plain, token = split_token(url)
    parts = urlsplit(plain)
    try:
        ok = parts.scheme != "socket" or (bool(parts.hostname) and parts.port is not None and parts.port > 0)
    except ValueError:  # pyserial's own message for this is garbled
        ok = False
    if not ok:
        raise LinkError(f"bad port URL {plain.split('?')[0]}: use socket://HOST:PORT (a port 1..65535)")
    try:
        ser = serial.serial_for_url(plain, timeout=timeout, write_timeout=1.0)
    except (OSError, ValueError, serial.SerialException) as exc:
        raise explain(plain, exc) from None
    if token:
        try:
            _auth(ser, token, plain)
        except LinkError:
            ser.close()
            raise
        except (OSError, serial.SerialException) as exc:
            ser.close()
            raise explain(plain, exc) from None
    return ser
