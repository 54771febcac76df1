"""What the monitor does with each typed message: one `match`, one transaction, the sync policy told."""

from __future__ import annotations

import time
from collections.abc import Callable

from spasmwatch.link import wire
from spasmwatch.link.client import Incoming
from spasmwatch.link.serial_link import LinkLost
from spasmwatch.monitor.hooks import HookRunner, payload, synced_payload
from spasmwatch.monitor.linksession import LinkSession
from spasmwatch.monitor.sinks import Sink
from spasmwatch.monitor.syncpolicy import SyncPolicy
from spasmwatch.store import Store, StoredEvent
from spasmwatch.terminal.view import MonitorState

SYNC_STALL_S = 15.0  # a sync whose records stop coming (its closing ok lost) is asked again
SHOWN_KEPT = 4096  # eseqs of live records shown, so that a repeated line is not shown twice


def _kind(rec: wire.Record) -> str:
    return rec.kind if isinstance(rec, wire.End) else "fault" if isinstance(rec, wire.Fault) else "onset"


def _onset_ms(rec: wire.Record) -> int:
    return rec.start_ms if isinstance(rec, wire.Fault) else rec.onset_ms


def _describe(ch: int, kind: str, onset_ms: int, duration_s: float | None) -> str:
    return f"ch{ch} {kind} at {onset_ms} ms" + (f", {duration_s:.2f} s" if duration_s else "")


def _same(rec: wire.Record, row: StoredEvent) -> bool:
    """The stored row says what the record says (a repeated line, not another record under its eseq)."""
    if row.channel != rec.ch or row.onset_ms != _onset_ms(rec):
        return False
    if isinstance(rec, wire.End):
        return row.kind == rec.kind and row.offset_ms == rec.offset_ms
    if isinstance(rec, wire.Fault):
        return row.kind == "fault" and row.detail == rec.detail and rec.end_ms in (None, row.offset_ms)
    return True


class Dispatch:
    """What the monitor does with each typed message from the board: the store, the view, the sink, the
    --on-event hooks and the sync policy; the device's identity and boot. The connection is `link`'s."""

    def __init__(self, store: Store, link: LinkSession, sink: Sink, state: MonitorState, *,
                 hooks: HookRunner | None = None, want_device: str | None = None, stream_env: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.link, self.sink, self.state, self.hooks = store, link, sink, state, hooks
        self.want_device = want_device  # --device: only this device id is accepted on the port
        self.stream_env = stream_env
        self.clock = clock
        self.device_id: str | None = None
        self.boot_id: str | None = None
        self.last_seq_no: int | None = None  # message seq of the current run
        self.policy = SyncPolicy()  # replaced by the device's own at its hello
        self.sync_new = 0  # rows the running sync added or completed
        self.counts = {"live": 0, "synced": 0, "syncs": 0, "reconnects": 0, "deferred": 0, "conflicts": 0}
        self.devices_seen: list[str] = []  # device ids that answered this session, in order
        self.refused: str | None = None  # the other device last refused (said once, not on every poll)
        self._saved_mark = 0
        self._shown: set[int] = set()  # eseqs of live records shown (each once, as stored)
        self._asked_boot: int | None = None  # the boot a live record came from while we knew another
        # --on-event runs for synced records above this eseq: the board's newest when the session's first sync
        # ended (None until then: what that sync brings is history, which may be months)
        self._hook_after: int | None = None

    def wrong_device(self, hello: wire.Hello) -> str:
        """Why this hello is not the device --device insists on, "" when it is (or nothing is insisted on)."""
        if self.want_device is None or hello.id == self.want_device:
            return ""
        return f"the board there is device {hello.id}, not {self.want_device} (--device)"

    def handle(self, inc: Incoming) -> None:
        """One line from the board (the monitor revived a silent link before, if it had to)."""
        msg = inc.message
        if msg is None:
            self.state.bad_line(inc.error or "undecodable line", inc.kind)
            return
        if isinstance(msg, wire.Hello):
            self.hello(msg, inc.wall)
            return
        hook = None
        with self.store.batch():  # one message, one transaction: its row, its gap, the sync mark
            self._track_seq(msg, inc.wall)
            if not isinstance(msg, wire.Onset | wire.End | wire.Fault):
                self.state.apply(msg, inc.wall)  # a live record is shown once stored (_live)
            match msg:
                case wire.Onset() | wire.End() | wire.Fault():
                    hook = self._live(msg, inc)
                case wire.Log():
                    hook = self._replayed(msg, inc)
                case wire.Status():
                    self._status(msg, inc.wall)
                case wire.Ok(cmd="sync"):
                    self._sync_done(msg)
                case wire.Error():
                    self.sink.message(msg, inc.wall)
            self._save_mark()
        if hook is not None and self.hooks is not None:
            self.hooks.submit(hook)  # after the commit: the command hears only of stored events
        self.maybe_sync()

    def _live(self, msg: wire.Record, inc: Incoming) -> dict | None:
        self.counts["live"] += 1
        if msg.boot is not None and self.boot_id is not None and str(msg.boot) != self.boot_id:
            self._missed_restart(msg.boot)
            return None
        if self.device_id is None:
            self._show(msg, inc.wall)
            return None
        changed = self.store.add_message(msg, self.device_id, self.boot_id, wall=inc.wall)
        self.policy.stored(msg.eseq)
        if not changed and not self._repeated(msg):
            return None  # a repeat already shown, or a conflict (counted; shown with what the store kept)
        self._show(msg, inc.wall)
        if not changed or inc.msg is None:
            return None
        return payload(inc.msg, msg, self.device_id, self.boot_id, inc.wall,
                       self.link.port)

    def _show(self, msg: wire.Record, wall: float) -> None:
        """The view and the sink get a live record once, as stored."""
        if len(self._shown) >= SHOWN_KEPT:
            self._shown.clear()
        self._shown.add(msg.eseq)
        self.state.apply(msg, wall)
        self.sink.message(msg, wall)

    def _repeated(self, msg: wire.Record) -> bool:
        """A live record the store already holds: True to show it (it came by sync first, as stored); a
        repeated line is not shown again; one with the same eseq and other content is a conflict, counted
        and shown with what the store kept (the first)."""
        if self.device_id is None or msg.eseq <= 0:
            return False
        kept = self.store.event_by_seq(self.device_id, msg.eseq)
        if kept is None or kept.boot_id != self.boot_id:
            return False
        if _same(msg, kept):
            return msg.eseq not in self._shown
        self.counts["conflicts"] += 1
        got = _describe(msg.ch, _kind(msg), _onset_ms(msg), msg.duration_s if not isinstance(msg, wire.Onset) else None)
        stored = _describe(kept.channel, kept.kind or "onset", kept.onset_ms, kept.duration_s)
        self.sink.notice(f"conflict: event record {msg.eseq} came again as {got}; the store keeps the first: "
                         f"{stored}")
        return False

    def _missed_restart(self, boot: int) -> None:
        """A live record of another boot: the board restarted and its hello was lost. Storing it under the
        boot we know would file it wrongly (and an end could overwrite that boot's row of the same onset), so it
        is left on the board's flash for the sync that follows the hello asked for here."""
        self.counts["deferred"] += 1
        if self.link.client is not None and self._asked_boot != boot:
            self._asked_boot = boot
            self.sink.notice(f"the device is in boot {boot}, not {self.boot_id} (its restart hello was lost): "
                             "asking it again; its records come back by sync")
            self.link.send("hello")
        self.policy.lines_lost()

    def _replayed(self, msg: wire.Log, inc: Incoming) -> dict | None:
        if self.device_id is None:
            return None
        changed = self.store.add_message(msg, self.device_id, self.boot_id, wall=inc.wall)
        self.sync_new += int(changed)
        self.policy.stored(msg.record.eseq, replayed=True, now=self.clock())
        # --on-event for what the live stream missed (once: a record already stored changes nothing)
        if not changed or inc.msg is None or self._hook_after is None or msg.record.eseq <= self._hook_after:
            return None
        return synced_payload(inc.msg, msg, self.device_id, inc.wall, self.link.port)

    def _track_seq(self, msg: wire.Message, wall: float) -> None:
        """A jump in the message seq means lost lines: note the gap; the policy asks again for what they held."""
        seq, last = msg.seq, self.last_seq_no
        if last is not None and seq <= last:
            return  # a message held while waiting for a reply, already older than the newest seen
        if last is not None and seq > last + 1 and self.device_id is not None:
            self.store.add_gap("seq", wall, wall, device_id=self.device_id, boot_id=self.boot_id,
                               first_seq=last + 1, last_seq=seq - 1, detail=f"{seq - last - 1} message(s) lost")
            self.policy.lines_lost()
        self.last_seq_no = seq

    def _status(self, msg: wire.Status, wall: float) -> None:
        if self.device_id is None or self.link.client is None:
            return
        self.store.add_message(msg, self.device_id, self.boot_id, wall=wall)
        if msg.boot is not None and str(msg.boot) != self.boot_id:
            self.link.send("hello")  # a restart whose hello we missed: its reply resets everything
            return
        if msg.eseq is None:
            return
        held = max(self.policy.synced_to, self.policy.top_held())
        if self.policy.board_at(msg.eseq):
            self.sink.notice(f"the device's event log restarts at {msg.eseq} (store has {held}): its flash "
                             "was erased or re-flashed; syncing its whole log")
            self.store.set_sync_mark(self.device_id, 0, reset=True)
            self._saved_mark = 0

    def _sync_done(self, msg: wire.Ok) -> None:
        data = msg.data if isinstance(msg.data, dict) else {}
        count, last = data.get("count"), data.get("last")
        ok = type(count) is int and type(last) is int and count >= 0 and last >= 0
        self.policy.sync_done(count if ok else -1, last if ok else 0)  # type: ignore[arg-type]
        if ok and self._hook_after is None:
            self._hook_after = last
        self.counts["synced"] += self.sync_new
        if self.sync_new:
            self.sink.notice(f"sync: {self.sync_new} event record(s) the monitor had missed are now stored")
        self.sync_new = 0
        if self.device_id is not None and self.boot_id is not None:
            self.store.abandon_open(self.device_id, self.boot_id)  # the end of these will never come

    def _save_mark(self) -> None:
        """Persist synced_to when a complete sync moved it over holes: a run of held records needs no write
        (`records` has them, and the policy loaded from the store runs over them again)."""
        if self.device_id is not None and self.policy.holes_crossed and self.policy.synced_to > self._saved_mark:
            self.store.set_sync_mark(self.device_id, self.policy.synced_to)
            self._saved_mark = self.policy.synced_to
            self.policy.holes_crossed = False

    def maybe_sync(self) -> None:
        """Send the `sync N` the policy asks for, if any (one at a time; N = the lowest hole)."""
        if self.link.client is None or not self.link.connected or self.device_id is None:
            return
        now = self.clock()
        since = self.policy.due(now)
        if since is None:
            return
        self.policy.sent(since, now)
        self.sync_new = 0
        self.counts["syncs"] += 1
        self.link.send("sync", since)

    def _load_policy(self, dev: str) -> None:
        synced, held = self.store.sync_mark(dev)
        self.policy = SyncPolicy(synced, held, timeout=SYNC_STALL_S)
        self._saved_mark = self.policy.synced_to

    # ---- device identity and boots -----------------------------------------------------------------------

    def hello(self, msg: wire.Hello, wall: float, fresh_link: bool = False) -> None:
        """The board's greeting: which device and boot this is, its session and gaps, and what to ask it."""
        dev, boot = msg.id, str(msg.boot)
        wrong = self.wrong_device(msg)
        if wrong:  # a board that came back on the same open port is another one: not ours to store
            self.sink.notice(f"{wrong}; waiting for {self.want_device}")
            self.refused = dev
            raise LinkLost(f"device {dev} answered instead of {self.want_device}")  # step() lets go of the port
        new_boot = dev != self.device_id or boot != self.boot_id
        old = (self.device_id, self.boot_id)
        if dev not in self.devices_seen:
            self.devices_seen.append(dev)
        if self.device_id is not None and dev != self.device_id:
            self.sink.notice(f"warning: a different device answered on {self.link.port}: {dev} (was {old[0]}); "
                             f"its events are stored apart (use --device {old[0]} to accept only that one)")
            self.link.other_device(old, dev, wall, fresh_link, self.link.port)
        if msg.proto > wire.KNOWN_PROTO:
            self.sink.notice(f"warning: the device speaks protocol v{msg.proto}, this spasmwatch knows v"
                             f"{wire.KNOWN_PROTO}: update spasmwatch")
        with self.store.batch():
            self.state.apply(msg, wall)
            self.store.add_message(msg, None, None, wall=wall)
            if dev != self.device_id:
                self._load_policy(dev)
                self._hook_after = None
            self.device_id, self.boot_id = dev, boot
            self.last_seq_no = msg.seq
            self.link.hello(old, (dev, boot), wall, self.clock(), fresh_link)
        self.refused = None
        if new_boot or fresh_link:
            self.sink.message(msg, wall)
            if self.stream_env:
                self.link.send("stream env", True)  # not saved on the device: ask again after every boot
            self.policy.lines_lost()  # what happened while we were away or the board restarted: ask
        self.maybe_sync()
