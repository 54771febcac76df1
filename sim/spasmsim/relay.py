"""Fault relay: a pty between a (virtual) device's port and a monitor that drops, duplicates, splits, corrupts,
stalls and cuts lines in both directions, seeded, counting each fault (issue 11's fault injection)."""

from __future__ import annotations

import errno
import os
import random
import select
import threading
import time
import tty
from collections import Counter, deque
from collections.abc import Callable
from types import TracebackType

FAULTS = ("drop", "duplicate", "split", "corrupt", "stall", "cut")
STALL_S = 0.4  # a stall holds a direction's bytes this long (well under the device's 5 s sim-clock stall bound)
CUT_S = 0.3  # a cut loses the rest of a line and everything else sent in this window
SPLIT_S = 0.03  # the second half of a split line comes this much later
MAX_QUEUED = 1 << 20  # bytes a direction may hold when its reader does not read; beyond that they are dropped

LineHook = Callable[[str, bytes], None]


class _Direction:
    """One way through the relay: whole lines in, faulted chunks out (in order, each with a release time)."""

    def __init__(self, name: str, src: int, dst: int, relay: FaultRelay) -> None:
        self.name, self.src, self.dst, self.relay = name, src, dst, relay
        self.partial = bytearray()
        self.out: deque[tuple[float, bytes]] = deque()
        self.queued = 0
        self.release = 0.0  # no chunk leaves before an earlier one: stalls delay everything after them
        self.cut_until = 0.0

    def feed(self, data: bytes, now: float) -> None:
        self.partial += data
        while True:
            i = self.partial.find(b"\n")
            if i < 0:
                return
            line = bytes(self.partial[:i + 1])
            del self.partial[:i + 1]
            if self.relay.on_line is not None:
                self.relay.on_line(self.name, line)
            self._fault(line, now)

    def _push(self, data: bytes, at: float) -> None:
        if self.queued + len(data) > MAX_QUEUED:
            self.relay.count("overflow", self.name)
            return
        self.release = max(self.release, at)
        self.out.append((self.release, data))
        self.queued += len(data)

    def _fault(self, line: bytes, now: float) -> None:
        r = self.relay
        if now < self.cut_until:
            r.count("cut_lost", self.name)
            return
        fault = "drop" if self.name == "up" and r.targeted(line) else r.pick()
        if fault is None:
            self._push(line, now)
            return
        r.count(fault, self.name)
        k = r.rnd.randrange(1, max(2, len(line)))  # a point inside the line
        if fault == "duplicate":
            self._push(line, now)
            self._push(line, now)
        elif fault == "split":
            self._push(line[:k], now)
            self._push(line[k:], now + SPLIT_S)
        elif fault == "corrupt":
            b = bytearray(line)
            j = r.rnd.randrange(len(b))
            b[j] ^= 1 << r.rnd.randrange(8)  # one flipped bit (it may hit the newline: two lines run together)
            self._push(bytes(b), now)
        elif fault == "stall":
            self._push(line, now + r.stall_s)
        elif fault == "cut":
            self._push(line[:k], now)  # the line's head gets through, the rest and what follows is lost
            self.cut_until = now + r.cut_s
        # "drop": nothing

    def flush(self, now: float) -> float | None:
        """Write every chunk that is due; returns when the next one is (None: nothing waits)."""
        while self.out:
            at, data = self.out[0]
            if at > now:
                return at
            try:
                n = os.write(self.dst, data)
            except BlockingIOError:
                return now + 0.01
            except OSError as exc:
                if exc.errno in (errno.EIO, errno.EBADF):
                    self.out.clear()
                    self.queued = 0
                    return None
                raise
            self.queued -= n
            if n < len(data):
                self.out[0] = (at, data[n:])
                return now + 0.01
            self.out.popleft()
        return None


class FaultRelay:
    """`FaultRelay(device_port, seed=1, rate=0.05)`: a new pty at `.port` for the monitor, relaying to the device.

    rate is the chance that a line (either way) meets a fault, chosen among `faults` uniformly; `heal()` turns
    faults off (the link becomes a plain pipe), `counts` holds faults by type and `by_dir` by (type, direction)
    ("up" = device to host, "down" = host to device). on_line(direction, line) sees every line before faults.
    """

    def __init__(self, device_port: str, seed: int = 1, rate: float = 0.05,
                 faults: tuple[str, ...] = FAULTS, stall_s: float = STALL_S, cut_s: float = CUT_S,
                 on_line: LineHook | None = None) -> None:
        bad = set(faults) - set(FAULTS)
        if bad:
            raise ValueError(f"unknown faults {sorted(bad)}; known: {', '.join(FAULTS)}")
        self.rnd = random.Random(seed)
        self.rate, self.faults, self.stall_s, self.cut_s = rate, faults, stall_s, cut_s
        self.on_line = on_line
        self.counts: Counter[str] = Counter()
        self.by_dir: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._drop_next: list[bytes] = []
        self._dev = os.open(device_port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self._dev)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # raw both ends: bytes pass untouched, as on a USB CDC port
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._dirs = [_Direction("up", self._dev, self._master, self),
                      _Direction("down", self._master, self._dev, self)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-relay", daemon=True)
        self._thread.start()

    def pick(self) -> str | None:
        if self.rate <= 0 or self.rnd.random() >= self.rate:
            return None
        return self.rnd.choice(self.faults)

    def count(self, fault: str, direction: str) -> None:
        with self._lock:
            self.counts[fault] += 1
            self.by_dir[fault, direction] += 1

    def drop_next(self, pattern: bytes) -> None:
        """Drop the next device line containing pattern (counted as a drop): e.g. the boot hello after a cut."""
        with self._lock:
            self._drop_next.append(pattern)

    def targeted(self, line: bytes) -> bool:
        with self._lock:
            for p in self._drop_next:
                if p in line:
                    self._drop_next.remove(p)
                    return True
        return False

    def heal(self) -> None:
        """No more faults from now on (lines already delayed still arrive late)."""
        self.rate = 0.0

    def injected(self) -> int:
        """Faults injected (lines lost inside a cut window are part of their cut, not counted again)."""
        return sum(n for k, n in self.counts.items() if k in FAULTS)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            due = [d.flush(now) for d in self._dirs]
            wait = min([t - now for t in due if t is not None] + [0.05])
            try:
                r, _, _ = select.select([d.src for d in self._dirs], [], [], max(wait, 0.0))
            except (OSError, ValueError):
                return
            now = time.monotonic()
            for d in self._dirs:
                if d.src in r:
                    try:
                        data = os.read(d.src, 4096)
                    except BlockingIOError:
                        continue
                    except OSError:  # the monitor's side is closed for a moment (EIO): nothing to relay
                        time.sleep(0.01)
                        continue
                    d.feed(data, now)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for fd in (self._dev, self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> FaultRelay:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
