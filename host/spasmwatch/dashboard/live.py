"""The dashboard's live side: the monitor in a thread (storing every event as `monitor` does) feeding browsers.

The monitor runs unchanged with a Sink (events after they are stored, notices) and a MonitorState whose
`apply` also hands the envelope stream on; browsers get a snapshot (state, envelope of the last seconds, open
episodes, and the last events and counts read back from the store) and then server-sent events. A tab opened
again, or a stream that broke, starts over from a snapshot, so what the page shows is what the store holds.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from spasmcore.errors import FatalError
from spasmwatch.link import wire
from spasmwatch.store import FAULT, ReadOnlyStore
from spasmwatch.terminal.view import MonitorState

ENV_KEEP_S = 30.0  # envelope history a new tab gets
RECENT = 20
QUEUE_MAX = 2000  # items waiting for one slow browser; beyond that it is told to resync
HEARTBEAT_S = 15.0
RETRY_S = 1.0  # how often a dashboard without a board looks for one


class TeeState(MonitorState):
    """The monitor's state model; every message it applies is also offered to the hub (for `env`)."""

    hub: LiveHub

    def apply(self, msg: wire.Message, wall_time: float | None = None) -> None:
        with self.hub.lock:
            super().apply(msg, wall_time)
        self.hub.on_message(msg, time.time() if wall_time is None else wall_time)

    def connect(self, port: str, wall: float | None = None) -> None:
        with self.hub.lock:
            super().connect(port, wall)
        self.hub.publish({"type": "state"})

    def disconnect(self, reason: str = "", wall: float | None = None) -> None:
        with self.hub.lock:
            super().disconnect(reason, wall)
        self.hub.publish({"type": "state"})


class HubSink:
    """The monitor's Sink: stored events and notices go to the browsers."""

    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub

    def message(self, msg: wire.Message, wall: float) -> None:
        self.hub.publish({"type": "event", "t": wire.type_name(msg), "wall": wall})

    def notice(self, text: str) -> None:
        self.hub.notices.append(f"{datetime.now():%H:%M:%S} {text}")
        self.hub.publish({"type": "notice", "text": text})

    def refresh(self, state: MonitorState) -> None:
        pass


class LiveHub:
    """Runs the monitor on `port` into the store at `db`, and fans out what happens to subscribers."""

    def __init__(self, db: str | Path, port: str | None, *, poll_s: float = 0.5) -> None:
        self.db = Path(db).expanduser()
        self.port = port
        self.poll_s = poll_s
        self.lock = threading.RLock()
        self.state = TeeState()
        self.state.hub = self
        self.env: dict[int, deque[list[float | None]]] = {}
        self._env_last: dict[int, float] = {}
        self.notices: deque[str] = deque(maxlen=20)
        self.waiting: str | None = "looking for the board"
        self.subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict | None]]] = []
        self.stop_event = threading.Event()
        self.monitor: Any = None
        self.thread: threading.Thread | None = None
        self._ro: ReadOnlyStore | None = None
        self.error: str | None = None
        self.streams_ended = False

    # ---- the monitor thread ----------------------------------------------------------------------------

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="dashboard-monitor", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from spasmwatch.monitor import Monitor, open_client
        from spasmwatch.store import Store

        while not self.stop_event.is_set():
            try:
                client, hello = open_client(self.port)
            except FatalError as exc:  # no board yet (or not the firmware): say why, and look again
                self._waiting(str(exc))
                self.stop_event.wait(RETRY_S)
                continue
            self._waiting(None)
            try:
                with Store(self.db) as store:  # the monitor's own connection, written exactly as `monitor` does
                    mon = Monitor(store, self.port, sink=HubSink(self), stream_env=True, poll_s=self.poll_s,
                                  state=self.state)
                    self.monitor = mon
                    mon.attach(client, hello)
                    if self.stop_event.is_set():
                        mon.close("dashboard stopped")
                        return
                    mon.run()
            except FatalError as exc:
                self.error = str(exc)
                self._waiting(str(exc))
                self.stop_event.wait(RETRY_S)
            finally:
                self.monitor = None

    def _waiting(self, reason: str | None) -> None:
        if reason != self.waiting:
            self.waiting = reason
            self.publish({"type": "state"})

    def end_streams(self) -> None:
        """Let every browser's stream end now (the server is stopping: it must not wait for them)."""
        self.streams_ended = True
        self.publish(None)

    def close(self) -> None:
        self.end_streams()
        self.stop_event.set()
        mon = self.monitor
        if mon is not None:
            mon.stop()
        if self.thread is not None:
            self.thread.join(15)
        self.publish(None)
        if self._ro is not None:
            self._ro.close()

    # ---- messages in -------------------------------------------------------------------------------------

    def on_message(self, msg: wire.Message, wall: float) -> None:
        if not isinstance(msg, wire.Env) or not msg.values:
            return
        ch, values = msg.ch, list(msg.values)  # ADC counts already (wire.parse scaled them)
        # spread the batch between the previous batch's arrival and this one's: the device sent them evenly
        prev = self._env_last.get(ch, wall - 0.1)
        step = max(0.0, min(wall - prev, 1.0)) / len(values)
        self._env_last[ch] = wall
        thr = [msg.floor, msg.off, msg.on]
        points: list[list[float | None]] = [[wall - (len(values) - 1 - i) * step, v, *thr]
                                            for i, v in enumerate(values)]
        with self.lock:
            buf = self.env.setdefault(ch, deque())
            buf.extend(points)
            while buf and (buf[0][0] or 0.0) < wall - ENV_KEEP_S:
                buf.popleft()
        self.publish({"type": "env", "ch": ch, "points": points})

    def publish(self, item: dict | None) -> None:
        for loop, q in list(self.subscribers):
            try:
                loop.call_soon_threadsafe(_offer, q, item)
            except RuntimeError:  # that browser's event loop is gone
                self._drop(q)

    def _drop(self, q: asyncio.Queue[dict | None]) -> None:
        self.subscribers = [(lp, x) for lp, x in self.subscribers if x is not q]

    # ---- what a browser gets -----------------------------------------------------------------------------

    def _store(self) -> ReadOnlyStore | None:
        if self._ro is None and self.db.is_file():
            try:
                self._ro = ReadOnlyStore(self.db)
            except FatalError:
                return None
        return self._ro

    def snapshot(self) -> dict[str, object]:
        with self.lock:
            st = self.state
            label = st.device_id
            if st.device_name and st.device_name not in ("spasmwatch", st.device_id):
                label = f"{st.device_name} ({st.device_id})"
            now = time.time()
            state = {"connected": st.connected, "port": st.port or self.port, "device_id": st.device_id,
                     "device_label": label, "fw": st.fw, "boot": st.boot, "uptime_ms": st.uptime_ms,
                     "device_state": st.device_state, "rate": st.rate, "mode": st.mode,
                     "last_error": st.last_error, "waiting": self.waiting, "messages": st.link.messages,
                     "lost": st.link.lost, "reconnects": st.link.reconnects}
            names = dict(st.channel_names)
            channels = [{"ch": ch, "name": _ch_name(names, ch)} for ch in sorted(st.levels)]
            opened = [{"ch": ep.channel, "name": _ch_name(names, ep.channel), "at": now,
                       "elapsed_s": st.elapsed(ep, now)} for ep in st.open.values()]
            env = {str(ch): [list(p) for p in buf] for ch, buf in self.env.items()}
            device = st.device_id
        recent, counts = self._from_store(device, now)
        return {"state": state, "channels": channels, "open": opened, "env": env, "recent": recent,
                "counts": counts, "notices": list(self.notices)}

    def _from_store(self, device: str | None, now: float) -> tuple[list[dict], dict[str, Counter[str]]]:
        """The last events and this hour's and today's counts as stored (what a reopened tab resyncs to)."""
        empty: dict[str, Counter[str]] = {"hour": Counter(total=0), "today": Counter(total=0)}
        ro = self._store()
        if ro is None or device is None:
            return [], empty
        t = datetime.fromtimestamp(now).astimezone()
        day0 = t.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        hour0 = t.replace(minute=0, second=0, microsecond=0).timestamp()
        rows = ro.events(day0, None, device, states=("open", "closed"))
        counts = {"hour": Counter(total=0), "today": Counter(total=0)}
        for e in rows:
            if e.state != "closed" or e.kind == FAULT or e.kind is None:
                continue
            for key, start in (("today", day0), ("hour", hour0)):
                if (e.onset_wall or 0) >= start:
                    counts[key][e.kind] += 1
                    counts[key]["total"] += 1
        last = ro.recent(device, RECENT)
        recent = [{"t": e.onset_wall or e.received_at, "d": e.duration_s if e.state == "closed" else None,
                   "kind": e.kind, "ch": e.channel, "device": e.device_id, "peak_x": e.peak_x,
                   "detail": e.detail, "id": e.id} for e in reversed(last)]
        return recent, counts

    async def stream(self, request: Any) -> AsyncIterator[str]:
        """Server-sent events for one browser until it goes away or the dashboard stops."""
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[dict | None] = asyncio.Queue(QUEUE_MAX)
        self.subscribers.append((loop, q))
        try:
            yield "retry: 1000\n\n"
            while not self.stop_event.is_set() and not self.streams_ended:
                try:
                    item = await asyncio.wait_for(q.get(), HEARTBEAT_S)
                except asyncio.TimeoutError:
                    yield ": still here\n\n"
                    continue
                if item is None or await request.is_disconnected():
                    return
                yield f"data: {json.dumps(item, separators=(',', ':'))}\n\n"
        finally:
            self._drop(q)


def _offer(q: asyncio.Queue[dict | None], item: dict | None) -> None:
    try:
        q.put_nowait(item)
    except asyncio.QueueFull:  # a browser that stopped reading: it resyncs from a snapshot when it returns
        pass


def _ch_name(names: dict[int, str], ch: int) -> str:
    name = names.get(ch)
    return name if name and name != f"ch{ch}" else f"ch {ch}"
