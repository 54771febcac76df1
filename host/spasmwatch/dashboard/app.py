"""The dashboard's web app (Starlette): static pages shipped in the package, a JSON API, and server-sent events.

The API reads the event database through ReadOnlyStore; the one write is a note (POST /api/notes). Every
request passes the Guard first (guard.py: token, Host, Origin, body size).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from spasmcore import kinds
from spasmcore.errors import InputError
from spasmfw.config import MAX_CHANNELS
from spasmwatch.dashboard import stats
from spasmwatch.dashboard.guard import LOOPBACK_NAMES, Guard
from spasmwatch.dashboard.notes_api import Unsupported, note_fields, note_number
from spasmwatch.report.data import DEFAULT_DEVICE_NAME
from spasmwatch.sensitivity import from_info, words
from spasmwatch.store import ReadOnlyStore
from spasmwatch.store import notes as notes_mod

STATIC = Path(__file__).resolve().parent / "static"


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
        sens = from_info(d.get("info"))
        out.append({"id": dev, "label": label, "channels": chans,
                    "sensitivity": None if sens is None else words(sens[0]) + ("" if sens[1] else " (default)")})
    return out


def _local_day(wall: float | None) -> str | None:
    """The local day of a time; None for none, and for a time no calendar holds (a row from a lying clock)."""
    try:
        return None if wall is None else datetime.fromtimestamp(wall).astimezone().strftime("%Y-%m-%d")
    except (ValueError, OverflowError, OSError):
        return None


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
        if ch in (None, ""):
            return device, None
        text = str(ch).strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 3 and int(text) < MAX_CHANNELS):
            raise InputError(f"channel {text[:40]!r}: expected a channel number 0 to {MAX_CHANNELS - 1}")
        return device, int(text)

    async def info(self, req: Request) -> Response:
        first, last = self.ro.first_last_wall()
        notes = self.ro.notes()
        return ok({"db": str(self.db), "devices": device_info(self.ro.devices()), "first_day": _local_day(first),
                   "last_day": _local_day(last), "today": _local_day(time.time()),
                   "latest_note": notes[-1].to_json() if notes else None, "live": self.live is not None,
                   "sensor_note": stats.SENSOR_NOTE, "caveat": stats.OBSERVATIONAL,
                   "bands": [b[1] for b in stats.BANDS], "clonus_classes": list(stats.CLONUS_CLASSES),
                   "day_heads": list(stats.DAY_HEADS), "clinical_note": stats.CLINICAL_NOTE, **kinds.as_json()})

    async def kinds_table(self, req: Request) -> Response:
        """The spasm kinds table (spasmcore.kinds): names, labels, colours and order, for the page."""
        return ok(kinds.as_json())

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
        clips: tuple[stats.Clip, stats.Clip] = ((None, None), (None, None))
        if not all(q.get(k) for k in ("a_from", "a_to", "b_from", "b_to")):
            default = stats.default_compare(self.ro, device)
            if default is None:
                return err("give a_from, a_to, b_from, b_to (YYYY-MM-DD), or add a note to compare around it")
            (af, at), (bf, bt), clips = default  # split at the note's time, not its day
        else:
            af, at, bf, bt = (str(q[k]) for k in ("a_from", "a_to", "b_from", "b_to"))
        res = await asyncio.to_thread(stats.compare, self.ro, (af, at), (bf, bt), device, channel, None,
                                      time.time(), clips)
        res["split"] = clips[0][1]  # the note's time both periods meet at (None: whole days as asked)
        return ok(res)

    async def notes(self, req: Request) -> Response:
        if req.method in ("GET", "HEAD"):  # every note (with a date no page can show too: so it can be fixed)
            device, _ = self._filters(req)
            return ok([n.to_json() for n in self.ro.notes(device=device, invalid=True)])
        given = note_fields(await json_body(req))
        note = notes_mod.add_note(self.db, given.text or "", given.kind or "other", given.at, device_id=given.device)
        return ok(note.to_json(), 201)

    async def note_one(self, req: Request) -> Response:
        """PATCH /api/notes/ID {text?, kind?, at?} changes what is given; DELETE /api/notes/ID removes it."""
        note_id = note_number(str(req.path_params["note_id"]))
        if req.method == "DELETE":
            return ok(notes_mod.delete_note(self.db, note_id).to_json())
        given = note_fields(await json_body(req))
        return ok(notes_mod.edit_note(self.db, note_id, given.text, given.kind, given.at).to_json())

    async def live_snapshot(self, req: Request) -> Response:
        if self.live is None:
            return ok({"enabled": False})
        return ok({"enabled": True, **self.live.snapshot()})

    async def live_stream(self, req: Request) -> Response:
        if self.live is None:
            return err("live view is off (dashboard --port none)", 404)
        return StreamingResponse(self.live.stream(req), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})


async def json_body(req: Request) -> bytes:
    """The body of a write, which must be JSON (a form a page posts cross-site is not: 415)."""
    ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()  # media types ignore case
    if ctype != "application/json":
        raise Unsupported("send the note as application/json")
    return await req.body()


def _guarded(fn: Any) -> Any:
    """An endpoint whose bad input is one JSON error line, never a traceback."""
    async def wrapper(req: Request) -> Response:
        try:
            return await fn(req)
        except Unsupported as exc:
            return err(str(exc), 415)
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
        Route("/api/kinds", _guarded(api.kinds_table)),
        Route("/api/history", _guarded(api.history)),
        Route("/api/compare", _guarded(api.compare)),
        Route("/api/notes", _guarded(api.notes), methods=["GET", "POST"]),
        Route("/api/notes/{note_id}", _guarded(api.note_one), methods=["PATCH", "DELETE"]),
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
    app.router.redirect_slashes = False  # `/api/notes/` is a 404, not a redirect built from the Host header
    app.state.api = api
    return app
