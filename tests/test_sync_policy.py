"""The monitor's sync policy under an adversarial link: lines dropped, duplicated, reordered, oks lost,
commands lost, the board's log rotating, and live records arriving during syncs. Never a skipped record."""

from __future__ import annotations

import random

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from spasmwatch.monitor.syncpolicy import SyncPolicy

TIMEOUT = 15.0
FATES = ("deliver", "drop", "duplicate", "reorder")


class Board:
    """The firmware's side as docs/protocol.md says: a log of eseqs, `sync N` replayed lazily (records logged
    meanwhile included, a new sync cancels the running one), every line numbered by a message seq."""

    def __init__(self) -> None:
        self.log: list[int] = []  # eseqs on flash, oldest first
        self.eseq = 0
        self.seq = 0
        self.sync_at: int | None = None  # position of the running sync
        self.sync_count = 0

    def line(self, *item: object) -> tuple:
        self.seq += 1
        return (self.seq, *item)

    def record(self) -> tuple:
        self.eseq += 1
        self.log.append(self.eseq)
        return self.line("live", self.eseq)

    def sync(self, since: int) -> None:
        self.sync_at, self.sync_count = since, 0

    def sync_step(self) -> tuple | None:
        if self.sync_at is None:
            return None
        nxt = [e for e in self.log if e > self.sync_at]
        if nxt:
            self.sync_at = nxt[0]
            self.sync_count += 1
            return self.line("log", nxt[0])
        self.sync_at = None
        return self.line("ok", self.sync_count, self.eseq)


class SyncUnderFaults(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.board = Board()
        self.policy = SyncPolicy(timeout=TIMEOUT)
        self.stored: set[int] = set()
        self.wire: list[tuple] = []  # lines in flight, board -> host
        self.now = 0.0
        self.last_seq = 0

    # ---- the board and the link ----

    @rule(records=st.integers(0, 3), marker=st.booleans(), rotate=st.booleans(), status=st.booleans(),
          replay=st.integers(0, 4))
    def board(self, records: int, marker: bool, rotate: bool, status: bool, replay: int) -> None:
        """The board logs records (sent live), maybe a `log clear` marker (an eseq never replayed), drops its
        oldest record when the log is full, sends a status, and sends up to `replay` lines of a running sync."""
        for _ in range(records):
            self.wire.append(self.board.record())
        if marker:
            self.board.eseq += 1
        if rotate and len(self.board.log) > 3:
            self.board.log.pop(0)
        if status:
            self.wire.append(self.board.line("status", self.board.eseq))
        for _ in range(replay):
            line = self.board.sync_step()
            if line is not None:
                self.wire.append(line)

    @rule(seed=st.integers(0, 2**32), n=st.integers(1, 8))
    def link(self, seed: int, n: int) -> None:
        """The next n lines at the head of the wire meet their fates: delivered, dropped, duplicated, swapped.
        (Fates drawn from a seed: hypothesis' own draws lean to the first choice, a link without faults.)"""
        rnd = random.Random(seed)
        for fate in rnd.choices(FATES, weights=(55, 20, 15, 10), k=n):
            if not self.wire:
                return
            if fate == "deliver":
                self.receive(self.wire.pop(0))
            elif fate == "drop":
                self.wire.pop(0)
            elif fate == "duplicate":
                self.wire.insert(0, self.wire[0])
            elif len(self.wire) > 1:  # reorder: the next two lines swap
                self.wire[0], self.wire[1] = self.wire[1], self.wire[0]

    # ---- the host ----

    @rule(dt=st.sampled_from([0.1, 1.0, TIMEOUT + 1]), command_lost=st.booleans())
    def host_tick(self, dt: float, command_lost: bool) -> None:
        self.now += dt
        since = self.policy.due(self.now)
        if since is not None:
            self.policy.sent(since, self.now)
            if not command_lost:
                self.board.sync(since)

    def receive(self, line: tuple) -> None:
        seq, what, *rest = line
        if seq > self.last_seq + 1:
            self.policy.lines_lost()
        self.last_seq = max(self.last_seq, seq)
        if what in ("live", "log"):
            self.stored.add(rest[0])  # the store drops duplicates; then the policy hears of it
            self.policy.stored(rest[0], replayed=what == "log", now=self.now)
        elif what == "ok":
            self.policy.sync_done(rest[0], rest[1])
        elif what == "status":
            self.policy.board_at(rest[0])

    # ---- what must hold ----

    @invariant()
    def nothing_on_the_board_is_skipped(self) -> None:
        skipped = [e for e in self.board.log if e <= self.policy.synced_to and e not in self.stored]
        assert not skipped, (skipped, self.policy)

    @invariant()
    def held_is_stored(self) -> None:
        assert self.policy.held <= self.stored

    def teardown(self) -> None:
        """With a clean link from now on, the host ends up holding every record the board has, and idle."""
        for _ in range(50):
            self.now += TIMEOUT + 1
            self.wire.append(self.board.line("status", self.board.eseq))  # every status_s seconds
            since = self.policy.due(self.now)
            if since is not None:
                self.policy.sent(since, self.now)
                self.board.sync(since)
            while (line := self.board.sync_step()) is not None or self.wire:
                if line is not None:
                    self.wire.append(line)
                self.receive(self.wire.pop(0))
            if self.policy.due(self.now) is None and not self.policy.syncing:
                break
        assert set(self.board.log) <= self.stored
        assert self.policy.synced_to == self.board.eseq and not self.policy.held


SyncUnderFaults.TestCase.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)
test_sync_under_faults = SyncUnderFaults.TestCase


def test_live_records_move_the_mark_only_over_what_is_held() -> None:
    p = SyncPolicy(synced_to=4, held={5, 6})
    assert p.synced_to == 6 and p.due(0.0) == 6  # `need`: a new link asks once
    p.sent(6, 0.0)
    p.stored(8)  # 7 was lost on the wire
    assert p.synced_to == 6 and p.held == {8}
    assert p.sync_done(count=2, last=8) is False  # only 8 came back as a log record: incomplete
    assert p.due(1.0) == 6
    p.sent(6, 1.0)
    p.stored(7, replayed=True, now=1.1)
    p.stored(8, replayed=True, now=1.1)
    assert p.sync_done(count=2, last=9) and p.synced_to == 9  # eseq 9: a marker, not on the board
    assert p.due(2.0) is None


def test_a_lost_ok_is_asked_again_after_the_timeout() -> None:
    p = SyncPolicy(timeout=15.0)
    p.sent(p.due(0.0) or 0, 0.0)
    p.stored(1, replayed=True, now=1.0)
    assert p.due(15.0) is None and p.syncing  # records came 1 s in: still waiting
    assert p.due(16.5) == 1  # held 1, the ok lost: ask from after it
    p.sent(1, 16.5)
    assert p.sync_done(count=0, last=1) and p.due(17.0) is None


def test_a_board_whose_log_restarted_is_synced_from_zero() -> None:
    p = SyncPolicy(synced_to=40, held={42})
    p.need = False
    assert p.board_at(3) and (p.synced_to, p.held, p.due(0.0)) == (0, set(), 0)
