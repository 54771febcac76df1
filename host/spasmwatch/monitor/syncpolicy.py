"""When to send `sync N` and what the store may call synced: a pure policy, no port, no database, no clock.

The board logs every record with an eseq (1, 2, 3, ... per device, across boots) and `sync N` replays every
logged record with eseq > N, then `ok {count, last}`. The policy keeps `synced_to` (every eseq up to it is
stored, or known not to be on the board) and `held`, the stored eseqs above it. It asks from `synced_to`,
the lowest hole, whenever something may be missing: lines lost (a seq jump, a reconnection, a new boot), a
hole below a record or below the board's last eseq (`status`). It moves `synced_to` only

- over records that are stored (a contiguous run of held eseqs), or
- over the range (N, last] of a sync that came back complete: as many distinct eseqs in that range received
  since the sync was sent as the `ok` counts. Those are a subset of what the board sent, so equal counts mean
  none was lost, and an eseq of the range still missing is not on the board (rotated out, a `log clear`).

An `ok` that never comes is re-asked after `timeout` without records; a live onset raises nothing but
`held`, so it never moves the mark past a hole. Asking always from `synced_to`, which only grows, makes a
late `ok` of an earlier sync (asked from lower) harmless: its count covers at least what this one would.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SyncPolicy:
    synced_to: int = 0
    held: set[int] = field(default_factory=set)
    timeout: float = 15.0
    device_last: int = 0  # the highest eseq the board is known to have logged
    need: bool = True  # lines may have been lost: ask even without a visible hole
    asked: int | None = None  # N of the sync in flight
    active_at: float = 0.0  # when it was sent or last brought a record
    got: set[int] = field(default_factory=set)  # eseqs of log records stored since it was sent
    syncs: int = 0
    holes_crossed: bool = False  # synced_to moved over eseqs not held (a complete sync): worth persisting

    def __post_init__(self) -> None:
        self.held = {e for e in self.held if e > self.synced_to}
        self._advance()

    # ---- what happened ----

    def stored(self, eseq: int, *, replayed: bool = False, now: float = 0.0) -> None:
        """A record with this eseq is now in the store (live, or a `log` line of a sync when replayed)."""
        if eseq <= 0:
            return  # eseq 0: the board could not log it, so no sync can bring it
        if replayed:
            self.got.add(eseq)
            self.active_at = now
        self.device_last = max(self.device_last, eseq)
        if eseq > self.synced_to:
            self.held.add(eseq)
            self._advance()

    def lines_lost(self) -> None:
        """A seq jump, a reconnection or a new boot: records may have been missed, live or in a sync."""
        self.need = True

    def link_down(self) -> None:
        """The board went away: a sync in flight will not finish; ask again when it is back."""
        self.asked = None
        self.need = True

    def board_at(self, last: int) -> bool:
        """A `status` says the board's last eseq; True when it is below what is held: the board's log
        restarted (erased, re-flashed), so its new records reuse old numbers and everything is asked again."""
        if last < max(self.synced_to, self.top_held()):
            self.synced_to, self.device_last = 0, last
            self.held.clear()
            self.asked, self.need = None, True
            return True
        self.device_last = max(self.device_last, last)
        return False

    def sync_done(self, count: int, last: int) -> bool:
        """The `ok` closing a sync: True when it came back complete (and the mark moved to `last`)."""
        self.device_last = max(self.device_last, last)
        since, self.asked = self.asked, None
        if since is None:
            return False  # an ok we were not waiting for (a duplicate, or one re-asked meanwhile)
        got = sum(1 for e in self.got if since < e <= last)
        if got == count and since <= self.synced_to and last >= self.synced_to:
            covered = sum(1 for e in self.held if self.synced_to < e <= last)
            self.holes_crossed |= covered < last - self.synced_to
            self.synced_to = last
            self.held = {e for e in self.held if e > last}
            self._advance()
            return True
        self.need = True  # a record of it was lost on the way: ask again from the lowest hole
        return False

    # ---- what to do ----

    def due(self, now: float) -> int | None:
        """N for the `sync N` to send now, or None (nothing missing, or a sync still running)."""
        if self.asked is not None:
            if now - self.active_at <= self.timeout:
                return None
            self.asked, self.need = None, True  # its end was lost on the wire: ask again
        if self.need or max(self.device_last, self.top_held()) > self.synced_to:
            return self.synced_to
        return None

    def sent(self, since: int, now: float) -> None:
        self.asked, self.active_at, self.need = since, now, False
        self.got = set()
        self.syncs += 1

    @property
    def syncing(self) -> bool:
        return self.asked is not None

    def top_held(self) -> int:
        return max(self.held, default=self.synced_to)

    def _advance(self) -> None:
        while self.synced_to + 1 in self.held:
            self.synced_to += 1
            self.held.discard(self.synced_to)
