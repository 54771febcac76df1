"""The dashboard's web app (Starlette): static pages shipped in the package, a JSON API, and server-sent events.

The API reads the event database through ReadOnlyStore; the one write is a note (POST /api/notes). Off
localhost every request needs the token printed at start (query `?token=`, then a cookie); on localhost the
Host header must name this machine (a web page elsewhere cannot reach the API by DNS rebinding), and a POST
from another origin is refused (no note can be planted by a page the user happens to visit).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import math
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spasmcore.errors import InputError

from .. import notes as notes_mod
from ..report_data import DEFAULT_DEVICE_NAME
from ..store import parse_when
from . import stats
from .history import ReadOnlyStore

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "spasmwatch_token"
# everything from this server, nothing from anywhere else: the page cannot load or send to another host
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def host_name(header: str) -> str:
    """The host part of a Host header: `127.0.0.1:8765` -> `127.0.0.1`, `[::1]:8765` -> `[::1]`."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0]


class Guard:
    """ASGI middleware: token, Host and Origin checks, and the security headers on every response."""

    def __init__(self, app: ASGIApp, token: str | None, hosts: set[str]) -> None:
        self.app, self.token, self.hosts = app, token, hosts

    def problem(self, req: Request) -> tuple[int, str] | None:
        host = host_name(req.headers.get("host") or "")
        if self.token is None and host not in self.hosts:
            return 403, f"host {host!r} is not this machine: open http://127.0.0.1:PORT/"
        if self.token is not None:
            given = req.query_params.get("token") or req.cookies.get(COOKIE) or \
                req.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not given or not hmac.compare_digest(given, self.token):
                return 401, "token required: open the address spasmwatch dashboard printed, with its ?token="
        if req.method not in ("GET", "HEAD"):
            origin = req.headers.get("origin")
            if origin is not None and origin.split("://", 1)[-1] != req.headers.get("host"):
                return 403, "cross-origin request refused"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        req = Request(scope)
        bad = self.problem(req)
        if bad is not None:
            await PlainTextResponse(bad[1], status_code=bad[0])(scope, receive, send)
            return
        set_cookie = self.token is not None and req.query_params.get("token") == self.token

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

        await self.app(scope, receive, send_wrapped)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities (never valid JSON) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(_clean(data), status_code=status)


def err(text: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": text}, status_code=status)


def device_info(devices: list[dict[str, object]]) -> list[dict[str, object]]:
    """Devices with a label (config name and id) and their channel names, for the page's pickers."""
    out: list[dict[str, object]] = []
    for d in devices:
        dev = str(d["device_id"])
        name = d.get("name")
        label = f"{name} ({dev})" if isinstance(name, str) and name and name not in (DEFAULT_DEVICE_NAME, dev) else dev
        given = d.get("channel_names")
        names: list[str] = [str(n) for n in given] if isinstance(given, list) else []
        chans = [n if n and n != f"ch{i}" else f"ch {i}" for i, n in enumerate(names)]
        out.append({"id": dev, "label": label, "channels": chans})
    return out


def _local_day(wall: float | None) -> str | None:
    return None if wall is None else datetime.fromtimestamp(wall).astimezone().strftime("%Y-%m-%d")


def _ev(e: Any) -> dict[str, object]:
    return {"t": e.onset_wall, "d": e.duration_s, "kind": e.kind, "ch": e.channel, "device": e.device_id,
            "peak_x": e.peak_x, "detail": e.detail, "state": e.state}


class Api:
    """The JSON endpoints over one database."""

    def __init__(self, db: Path, live: Any = None) -> None:
        self.db = db
        self.ro = ReadOnlyStore(db)
        self.live = live

    def _filters(self, req: Request) -> tuple[str | None, int | None]:
        q = req.query_params
        device = q.get("device") or None
        ch = q.get("channel")
        if ch not in (None, ""):
            try:
                return device, int(str(ch))
            except ValueError:
                raise InputError(f"channel {ch!r}: expected a number") from None
        return device, None

    async def info(self, req: Request) -> Response:
        first, last = self.ro.first_last_wall()
        notes = self.ro.notes()
        return ok({"db": str(self.db), "devices": device_info(self.ro.devices()), "first_day": _local_day(first),
                   "last_day": _local_day(last), "today": _local_day(time.time()),
                   "latest_note": notes[-1].to_json() if notes else None, "live": self.live is not None,
                   "sensor_note": stats.SENSOR_NOTE, "caveat": stats.OBSERVATIONAL,
                   "bands": [b[1] for b in stats.BANDS], "clonus_classes": list(stats.CLONUS_CLASSES)})

    def history_data(self, first: str, last: str, device: str | None, channel: int | None) -> dict[str, object]:
        data = stats.load_range(self.ro, first, last, device, channel, now=time.time())
        days = stats.day_stats(data)
        return {
            "from": first, "to": last, "start": data.start, "end": data.end, "days": days,
            "totals": stats.period_figures(data, days),
            "episodes": [_ev(e) for e in data.episodes + data.open_episodes],
            "faults": [_ev(f) for f in data.faults],
            "gaps": [{"t": g.start_wall, "end": g.end_wall, "kind": g.kind, "detail": g.detail,
                      "device": g.device_id} for g in data.gaps],
            "spans": data.spans(),
            "notes": [n.to_json() for n in data.notes],
            "duration_hist": stats.histogram([(e.kind or "", e.duration_s or 0.0) for e in data.episodes],
                                             stats.DURATION_EDGES),
            "strength_hist": stats.histogram([(e.kind or "", e.peak_x) for e in data.episodes if e.peak_x],
                                             stats.STRENGTH_EDGES),
        }

    async def history(self, req: Request) -> Response:
        q = req.query_params
        today = _local_day(time.time()) or ""
        first, last = q.get("from") or today, q.get("to") or q.get("from") or today
        device, channel = self._filters(req)
        return ok(await asyncio.to_thread(self.history_data, first, last, device, channel))

    async def compare(self, req: Request) -> Response:
        q = req.query_params
        device, channel = self._filters(req)
        if not all(q.get(k) for k in ("a_from", "a_to", "b_from", "b_to")):
            default = stats.default_compare(self.ro, device)
            if default is None:
                return err("give a_from, a_to, b_from, b_to (YYYY-MM-DD), or add a note to compare around it")
            (af, at), (bf, bt) = default
        else:
            af, at, bf, bt = (str(q[k]) for k in ("a_from", "a_to", "b_from", "b_to"))
        res = await asyncio.to_thread(stats.compare, self.ro, (af, at), (bf, bt), device, channel, None,
                                      time.time())
        return ok(res)

    async def notes(self, req: Request) -> Response:
        if req.method == "GET":
            device, _ = self._filters(req)
            return ok([n.to_json() for n in self.ro.notes(device=device)])
        if req.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return err("send the note as application/json", 415)
        try:
            body = json.loads(await req.body())
        except ValueError:
            return err("the body is not JSON")
        if not isinstance(body, dict):
            return err("expected a JSON object {text, kind, at}")
        at = body.get("at")
        if isinstance(at, str) and at.strip():
            at = parse_when(at).timestamp()
        elif not isinstance(at, (int, float)) or isinstance(at, bool):
            at = None
        note = notes_mod.add_note(self.db, str(body.get("text") or ""), str(body.get("kind") or "other"), at,
                                  device_id=str(body["device"]) if body.get("device") else None)
        return ok(note.to_json(), 201)

    async def live_snapshot(self, req: Request) -> Response:
        if self.live is None:
            return ok({"enabled": False})
        return ok({"enabled": True, **self.live.snapshot()})

    async def live_stream(self, req: Request) -> Response:
        if self.live is None:
            return err("live view is off (dashboard --port none)", 404)
        return StreamingResponse(self.live.stream(req), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})


def _guarded(fn: Any) -> Any:
    """An endpoint whose bad input is one JSON error line, never a traceback."""
    async def wrapper(req: Request) -> Response:
        try:
            return await fn(req)
        except InputError as exc:
            return err(str(exc))

    return wrapper


def create_app(db: str | Path, *, token: str | None = None, listen_host: str = "127.0.0.1",
               live: Any = None) -> Starlette:
    """The dashboard app over the event database `db` (which must exist); `live` is a LiveHub or None."""
    api = Api(Path(db).expanduser().resolve(), live)

    async def index(req: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    routes = [
        Route("/", index),
        Route("/api/info", _guarded(api.info)),
        Route("/api/history", _guarded(api.history)),
        Route("/api/compare", _guarded(api.compare)),
        Route("/api/notes", _guarded(api.notes), methods=["GET", "POST"]),
        Route("/api/live", _guarded(api.live_snapshot)),
        Route("/api/live/stream", api.live_stream),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if live is not None:
            live.start()
        try:
            yield
        finally:
            if live is not None:
                live.close()
            api.ro.close()

    hosts = set(LOOPBACK_NAMES) | {listen_host}
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(Guard, token=token, hosts=hosts)])  # type: ignore[arg-type]
    app.state.api = api
    return app
