"""The monitor: connect, store every event once, re-sync what is missing, reconnect; no terminal needed.

session (the connection) < dispatch (each typed message: store, view, sinks, hooks) with syncpolicy (pure:
when to `sync` and what is synced), sinks (plain lines, the live screen) and hooks (`--on-event`).
"""

from __future__ import annotations

from spasmwatch.monitor.dispatch import SYNC_STALL_S
from spasmwatch.monitor.hooks import HookRunner
from spasmwatch.monitor.session import DEAD_S, PROBE_S, Monitor, open_client
from spasmwatch.monitor.sinks import LiveSink, NullSink, PlainSink, Sink
from spasmwatch.monitor.syncpolicy import SyncPolicy

__all__ = ["DEAD_S", "PROBE_S", "SYNC_STALL_S", "HookRunner", "LiveSink", "Monitor", "NullSink", "PlainSink",
           "Sink", "SyncPolicy", "open_client"]
