"""The monitor: connect, store every event once, re-sync what is missing, reconnect; no terminal needed.

session (the connection) < dispatch (each typed message: store, view, sinks, hooks) with syncpolicy (pure:
when to `sync` and what is synced), sinks (plain lines, the live screen) and hooks (`--on-event`).
"""

from __future__ import annotations

from .dispatch import SYNC_STALL_S
from .hooks import HookRunner
from .session import DEAD_S, PROBE_S, Monitor, open_client
from .sinks import LiveSink, NullSink, PlainSink, Sink
from .syncpolicy import SyncPolicy

__all__ = ["DEAD_S", "PROBE_S", "SYNC_STALL_S", "HookRunner", "LiveSink", "Monitor", "NullSink", "PlainSink",
           "Sink", "SyncPolicy", "open_client"]
