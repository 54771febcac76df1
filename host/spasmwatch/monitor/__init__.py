"""The monitor: connect, store every event once, re-sync what is missing, reconnect; no terminal needed.

session (`Monitor`: the loop, its timers, reconnection) drives linksession (`LinkSession`: the open client and
its `links` row and gaps in the store) and dispatch (`Dispatch`: each typed message to the store, view, sinks and
hooks), with syncpolicy (pure: when to `sync` and what is synced), sinks (plain lines, the live screen) and hooks
(`--on-event`).
"""

from __future__ import annotations

from spasmwatch.monitor.dispatch import SYNC_STALL_S, Dispatch
from spasmwatch.monitor.hooks import HookRunner
from spasmwatch.monitor.linksession import LinkSession
from spasmwatch.monitor.session import DEAD_S, PROBE_S, Monitor, open_client
from spasmwatch.monitor.sinks import LiveSink, NullSink, PlainSink, Sink
from spasmwatch.monitor.syncpolicy import SyncPolicy

__all__ = ["DEAD_S", "PROBE_S", "SYNC_STALL_S", "Dispatch", "HookRunner", "LinkSession", "LiveSink", "Monitor",
           "NullSink", "PlainSink", "Sink", "SyncPolicy", "open_client"]
