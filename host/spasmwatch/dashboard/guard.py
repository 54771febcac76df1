"""The dashboard's gate (ASGI middleware): token, Host, Origin and body-size checks, and the security headers.

Off localhost every request needs the token printed at start (query `?token=`, a cookie, or `Authorization:
Bearer`); on localhost the Host header must name this machine (a web page elsewhere cannot reach the API by DNS
rebinding); a write from another origin is refused (no note can be planted by a page the user happens to
visit); a request body over MAX_BODY bytes is refused with 413 before the app sees it.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "spasmwatch_token"
# everything from this server, nothing from anywhere else: the page cannot load or send to another host
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
# the largest body the API takes: a note is at most 500 characters, which JSON-escaped (\uXXXX, 6 bytes each)
# with its other fields stays under 4 KiB; 16 KiB leaves room and keeps a flood out of memory and the store
MAX_BODY = 16 * 1024


def host_name(header: str) -> str:
    """The host part of a Host header, lower case (host names are): `LOCALHOST:8765` -> `localhost`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0]


def _same(given: str | None, want: bytes) -> bool:
    """A constant-time token comparison that takes any text (compare_digest refuses non-ASCII str)."""
    return bool(given) and hmac.compare_digest(str(given).encode("utf-8", "replace"), want)


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes `limit` bytes (the rest is never buffered)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        msg = await receive()
        if msg["type"] != "http.request":
            return b"".join(chunks)  # the client went away: the app sees what came
        body = msg.get("body", b"")
        size += len(body)
        if size > limit:
            return None
        chunks.append(body)
        if not msg.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """A `receive` that gives the app the body read already, then the connection's own messages."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


class Guard:
    """ASGI middleware: token, Host, Origin and size checks, and the security headers on every response."""

    def __init__(self, app: ASGIApp, token: str | None, hosts: set[str]) -> None:
        self.app, self.token = app, token
        self.hosts = {h.lower() for h in hosts}

    def token_ok(self, req: Request) -> bool:
        """Any one of the ways to give the token is enough (a stale cookie does not spoil a right Bearer)."""
        if self.token is None:
            return True
        auth = req.headers.get("authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        want = self.token.encode()
        return any(_same(g, want) for g in (req.query_params.get("token"), req.cookies.get(COOKIE), bearer))

    def problem(self, req: Request) -> tuple[int, str] | None:
        host = host_name(req.headers.get("host") or "")
        if self.token is None and host not in self.hosts:
            return 403, f"host {host!r} is not this machine: open http://127.0.0.1:PORT/"
        if not self.token_ok(req):
            return 401, "token required: open the address spasmwatch dashboard printed, with its ?token="
        if req.method not in ("GET", "HEAD"):
            origin = req.headers.get("origin")
            # scheme and host both: https://host is another origin than http://host (case does not matter)
            here = f"{req.url.scheme}://{(req.headers.get('host') or '').strip()}".lower()
            if origin is not None and origin.strip().lower() != here:
                return 403, "cross-origin request refused"
            length = req.headers.get("content-length", "0").strip()
            if not (length.isascii() and length.isdigit()):  # "²" is a digit to str.isdigit, not to int()
                return 400, "bad Content-Length"
            if int(length) > MAX_BODY:
                return 413, f"request body too large: at most {MAX_BODY} bytes"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        req = Request(scope)
        try:
            bytes(scope.get("query_string", b"")).decode("utf-8")  # Starlette would raise reading it
        except UnicodeDecodeError:
            bad: tuple[int, str] | None = (400, "the query string is not UTF-8")
        else:
            bad = self.problem(req)
        if bad is None and req.method not in ("GET", "HEAD"):
            body = await read_body(receive, MAX_BODY)  # chunked bodies give no Content-Length to check first
            if body is None:
                bad = 413, f"request body too large: at most {MAX_BODY} bytes"
            else:
                receive = replay(body, receive)
        if bad is not None:
            await self.headed(PlainTextResponse(bad[1], status_code=bad[0]), scope, receive, send, False)
            return
        set_cookie = self.token is not None and _same(req.query_params.get("token"), self.token.encode())
        await self.headed(self.app, scope, receive, send, set_cookie)

    async def headed(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, set_cookie: bool) -> None:
        """Run `app` with the security headers (and the token cookie when it came in the query) added."""
        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                h["content-security-policy"] = CSP
                h["x-content-type-options"] = "nosniff"
                h["referrer-policy"] = "no-referrer"
                h.setdefault("cache-control", "no-store")
                if set_cookie:
                    h.append("set-cookie", f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict")
            await send(message)

        await app(scope, receive, send_wrapped)
