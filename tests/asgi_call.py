"""One HTTP request straight into an ASGI app (no socket, no server): raw headers and body, as a client sends them.

Used where thousands of requests must be quick (the dashboard fuzz) or where a header must reach the app exactly
as written (urllib rewrites Host and Content-Length).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def call(app: Any, method: str = "GET", path: str = "/", query: str | bytes = b"",
         headers: dict[str, str] | list[tuple[str, str]] | None = None, body: bytes = b"",
         chunks: list[bytes] | None = None) -> Reply:
    """The app's reply to one request; `chunks` sends the body in pieces (as chunked transfer does)."""
    given = list((headers if headers is not None else {"host": "127.0.0.1:8765"}).items()
                 if isinstance(headers, dict) or headers is None else headers)
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in given]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode("utf-8"), "root_path": "", "headers": raw,
             "query_string": query if isinstance(query, bytes) else query.encode("utf-8"),
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8765)}
    pieces = list(chunks) if chunks is not None else [body]
    out: dict[str, Any] = {"status": 0, "headers": {}, "body": b""}

    async def receive() -> dict[str, Any]:
        if pieces:
            piece = pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(pieces)}
        await asyncio.Event().wait()  # nothing more: as a client that keeps the connection open
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode("latin-1"): v.decode("latin-1") for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return Reply(out["status"], out["headers"], out["body"])
