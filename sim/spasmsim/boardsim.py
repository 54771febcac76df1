"""A simulated ESP32 for `spasmwatch deploy`: the MicroPython unix port's own REPL behind a pseudo-terminal.

mpremote (and so `spasmwatch deploy`) drives it exactly as it drives a board: Ctrl-C, raw REPL (Ctrl-A),
raw-paste mode, Ctrl-D soft reset, `exec`, `fs cp/ls/rm`, `reset`. The unix port implements the raw REPL and
raw-paste mode itself; what it lacks, this launcher and firmware/unix/board_repl.py add, and each addition is what the
ESP32 port does:

- soft reset: the unix port *exits* on Ctrl-D (and sys.exit()); the launcher prints "MPY: soft reboot" and
  starts a fresh interpreter (a clean heap, as a soft reset gives) that runs boot.py and, after a Ctrl-D in
  the raw REPL, enters the raw REPL again (the ESP32 skips main.py then) or else also runs main.py;
- hard reset: the stand-in machine.reset() ends the interpreter with machine.HARD_RESET and the launcher boots
  again (boot.py, main.py), keeping the pty, like a USB-serial bridge across a reset;
- Ctrl-C: the ESP32's serial driver turns 0x03 into KeyboardInterrupt while code runs and passes it through
  to the REPL otherwise, whenever it arrives. The interpreter talks over pipes (a pty would flush pending
  input each time its REPL switches terminal modes, losing the Ctrl-A mpremote sends right after Ctrl-C);
  the launcher sends SIGINT when the interpreter has its SIGINT handler installed (it does while running
  code, Linux's /proc/PID/status tells) and passes the byte on otherwise. It looks and signals while the
  interpreter is stopped (SIGSTOP), so the handler cannot go between the look and the signal (SIGINT with
  no handler kills); and the interpreter starts with SIGINT ignored, so a host-side wrapper (the pip
  `micropython` is CPython running MicroPython in an extension) never installs a Python handler of its own
  that would take a Ctrl-C sent while it starts: as a KeyboardInterrupt that kills the board, or held until
  MicroPython exits, when it turns the next soft reset into a crash mpremote waits on forever;
- the flash is a host directory mounted at "/" (VfsPosix), the ESP32's built-in `machine`/`esp` are
  stand-ins (firmware/unix/rom_*.py); the ADC reads a resting sensor.

Linux only (ptys, /proc).
"""

from __future__ import annotations

import errno
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty
from pathlib import Path
from types import TracebackType

from spasmcore.boards import board as board_profile
from spasmcore.boards import heap_args
from spasmcore.errors import LinkError
from spasmcore.firmware import UNIX_DIR, interpreter_march
from spasmcore.tools import find_micropython, missing

from .device import X64_HEAP_FACTOR, read_chunks
from .heapsize import check_heap

QUICK_CRASH_S = 3.0  # a crash this soon after starting, QUICK_CRASHES times in a row, ends the boot loop
QUICK_CRASHES = 3
HARD_RESET = 76  # machine.HARD_RESET in firmware/unix/rom_machine.py
SOFT_RESET = 77
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
FRIENDLY_BANNER = b'Type "help()" for more information.'
STALL_S = 0.5  # output nobody reads for this long is dropped (a USB CDC port without a host does the same)
UID_FILE = ".board-sim-id"  # beside the flash dir, not in it
# the interpreter starts with SIGINT ignored (kept across exec): MicroPython sets its own handler while it runs
# code, and a CPython wrapper, finding SIGINT ignored at start, installs none (module docstring)
IGNORE_SIGINT = ["/bin/sh", "-c", "trap '' INT; exec \"$0\" \"$@\""]
FREEZE_S = 1.0  # how long to wait for a SIGSTOP to take (a loaded machine schedules the interpreter late)


def sigint_caught(pid: int) -> bool:
    """True when process pid has a SIGINT handler (MicroPython installs one while it runs code)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except OSError:
        pass
    return False


def stopped(pid: int) -> bool:
    """True when process pid is stopped (or gone): it cannot change its signal handlers."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] in "TtZX"
    except (OSError, IndexError):
        return True


def interrupt(pid: int) -> bool:
    """SIGINT to pid if it has a SIGINT handler, looked at and sent while pid is stopped (its handler cannot
    go in between: a SIGINT without one would kill it); False, nothing sent, when it has none."""
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        return False
    try:
        end = time.monotonic() + FREEZE_S
        while not stopped(pid) and time.monotonic() < end:
            time.sleep(0.001)
        caught = sigint_caught(pid)
        if caught:
            os.kill(pid, signal.SIGINT)  # pending while stopped, taken by that same handler when it continues
        return caught
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


class BoardSim:
    """`with BoardSim(flash_dir) as board: board.port` is a serial port with MicroPython's REPL on it."""

    def __init__(self, flash_dir: str | Path | None = None, heapsize: str | None = None,
                 micropython: str | None = None, board: str | None = None) -> None:
        heapsize = check_heap(heapsize)
        if not sys.platform.startswith("linux"):
            raise LinkError("the simulated board needs Linux (pseudo-terminals and /proc)")
        exe = find_micropython(micropython)
        if exe is None:
            raise LinkError(f"the simulated board needs the MicroPython unix port: {missing('micropython')}")
        self.micropython: str = exe
        self.board = board_profile(board)
        if heapsize is None and interpreter_march(exe) == "x64":  # as `device`: the board's heap as 64-bit objects
            heapsize = f"{int(self.board.budget * X64_HEAP_FACTOR) // 1024}k"
        self.heap_args, self.heap_env = heap_args(exe, self.board, heapsize)
        self._tmp = flash_dir is None
        self.flash = Path(tempfile.mkdtemp(prefix="spasmwatch-flash-") if flash_dir is None else flash_dir)
        self.flash.mkdir(parents=True, exist_ok=True)
        self.flash = self.flash.resolve()
        self.port = ""
        self.boots = 0
        self.soft_resets = 0
        self.hard_resets = 0
        self.ctrl_c = 0  # Ctrl-Cs taken from the port (as SIGINT or as the byte)
        self.crashes: list[int] = []  # exit codes that were neither a reset nor a Ctrl-D
        self.failed = ""  # why the board stopped booting (it crashed at start every time), "" while it runs
        self._quick = 0  # crashes in a row within QUICK_CRASH_S of starting
        self._spawned_at = 0.0
        self._master = self._slave = -1
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._raw = False  # the REPL mode last announced (raw REPL banner vs friendly banner)
        self._hide = b""  # after a raw-REPL soft reset: output held until the raw banner, friendly banner cut
        self._hiding = False
        self._tail = b""
        self.log = bytearray()  # everything the board printed (last 64 kB), for tests and error messages

    @property
    def uid(self) -> str:
        path = self.flash.parent / f"{UID_FILE}-{self.flash.name}"
        if not path.exists():
            path.write_text("5e" + secrets.token_hex(5))  # 6 bytes like an ESP32 MAC
        return path.read_text().strip()

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> str:
        """Power on (boot.py, main.py); returns the pty path."""
        if self._master < 0:
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)  # bytes pass as on a USB CDC port: no echo, no CR/LF translation
            os.set_blocking(self._master, False)
            self.port = os.ttyname(self._slave)
        self._stopping.clear()
        self._spawn(run_main=True)
        self._threads = [threading.Thread(target=self._pump_out, name="boardsim-out", daemon=True),
                         threading.Thread(target=self._pump_in, name="boardsim-in", daemon=True)]
        for t in self._threads:
            t.start()
        return self.port

    def _spawn(self, run_main: bool) -> None:
        # MICROPYINSPECT, not -i: the REPL after boot.py / main.py, unless they reset the board (board_repl.py)
        cmd = [*IGNORE_SIGINT, self.micropython, *self.heap_args, str(UNIX_DIR / "board_repl.py"),
               str(self.flash), str(UNIX_DIR), "1" if run_main else "0", self.uid]
        # own session: a Ctrl-C typed at the launcher's terminal must not reach the board
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, cwd=self.flash, bufsize=0, start_new_session=True,
                                      env={**os.environ, **self.heap_env, "MICROPYINSPECT": "1"})
        self.boots += 1
        self._spawned_at = time.monotonic()
        if not run_main:  # back into the raw REPL, where the soft reset came from
            self._hiding = True
            self._hide = b""
            assert self._proc.stdin is not None
            self._proc.stdin.write(b"\x01")

    def close(self) -> None:
        """Power off and remove the pty; a temporary flash dir is deleted."""
        self._stopping.set()
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        for t in self._threads:
            t.join(5)
        self._threads = []
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
        if self._tmp:
            shutil.rmtree(self.flash, ignore_errors=True)
            (self.flash.parent / f"{UID_FILE}-{self.flash.name}").unlink(missing_ok=True)

    def __enter__(self) -> BoardSim:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- output: interpreter -> pty ------------------------------------------------------------------------------
    def _emit(self, data: bytes) -> None:
        self.log = (self.log + data)[-65536:]
        deadline = time.monotonic() + STALL_S
        view = memoryview(data)
        while view and not self._stopping.is_set():
            try:
                view = view[os.write(self._master, view):]
                continue
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno == errno.EIO:
                    return
                raise
            if time.monotonic() > deadline:
                termios.tcflush(self._slave, termios.TCIFLUSH)  # nobody reads: forget the stale output
                deadline = time.monotonic() + STALL_S
            else:
                select.select([], [self._master], [], 0.02)

    def _filter(self, data: bytes) -> bytes:
        """Track the REPL mode; after a raw-REPL soft reset, cut the friendly banner the new interpreter prints."""
        scan = self._tail + data
        r, f = scan.rfind(RAW_BANNER), scan.rfind(FRIENDLY_BANNER)
        if r >= 0 or f >= 0:
            self._raw = r > f
        self._tail = scan[-64:]
        if not self._hiding:
            return data
        self._hide += data
        at = self._hide.find(RAW_BANNER)
        if at < 0:
            return b""
        start = self._hide.find(b"MicroPython ")
        held, self._hide, self._hiding = self._hide, b"", False
        return (held[:start] if 0 <= start < at else b"") + held[at:]

    def _pump_out(self) -> None:
        while not self._stopping.is_set():
            proc = self._proc
            assert proc is not None and proc.stdout is not None
            for data in read_chunks(proc.stdout.fileno()):
                self._emit(self._filter(data))
            code = proc.wait()
            proc.stdout.close()
            if self._stopping.is_set():
                return
            if self._hiding:  # died before its raw REPL came up: show what it said
                self._emit(self._hide)
                self._hiding = False
            run_main = True
            if code in (0, SOFT_RESET):  # Ctrl-D, sys.exit(), machine.soft_reset()
                self.soft_resets += 1
                self._emit(b"MPY: soft reboot\r\n")
                run_main = not self._raw
            elif code == HARD_RESET:
                self.hard_resets += 1
            elif self._crashed(code):
                return
            with self._lock:
                if proc.stdin:
                    try:
                        proc.stdin.close()
                    except OSError:
                        pass
                if self._stopping.is_set():
                    return
                self._spawn(run_main)

    def _crashed(self, code: int) -> bool:
        """Count a crash; True when the board crashed at start QUICK_CRASHES times in a row: it stops there
        (a heap too small for MicroPython, a broken interpreter), with `failed` saying why in one line."""
        self.crashes.append(code)
        quick = time.monotonic() - self._spawned_at < QUICK_CRASH_S
        self._quick = self._quick + 1 if quick else 0
        if self._quick >= QUICK_CRASHES:
            lines = [ln.strip() for ln in self.log.decode(errors="replace").splitlines() if ln.strip()]
            self.failed = (f"MicroPython exited with code {code} within {QUICK_CRASH_S:g} s of starting, "
                           f"{QUICK_CRASHES} times in a row: {lines[-1][:160] if lines else 'no output'}")
            return True
        if not quick:
            print(f"board-sim: MicroPython exited with code {code}; booting again", file=sys.stderr, flush=True)
        time.sleep(0.5)
        return False

    # -- input: pty -> interpreter -------------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        with self._lock:
            proc = self._proc
            try:
                if proc is not None and proc.stdin is not None and proc.poll() is None:
                    proc.stdin.write(data)
            except (BrokenPipeError, ValueError, OSError):
                pass  # resetting: input is lost, as on a board in reset

    def _interrupt(self) -> None:
        """One Ctrl-C: KeyboardInterrupt if code is running, else the byte for the REPL (cancel the line)."""
        proc = self._proc
        if proc is None or proc.poll() is not None or not interrupt(proc.pid):
            self._send(b"\x03")  # after the SIGCONT: a write to a full pipe must not wait on a stopped reader
        else:
            # a second SIGINT before the first is handled makes MicroPython exit(1): wait until the handler has
            # gone (the REPL is back) or the code went on running (it caught the KeyboardInterrupt)
            end = time.monotonic() + 1.0
            while time.monotonic() < end and proc.poll() is None and sigint_caught(proc.pid):
                time.sleep(0.01)
        self.ctrl_c += 1

    def _pump_in(self) -> None:
        while not self._stopping.is_set():
            r, _, _ = select.select([self._master], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(self._master, 4096)
            except (BlockingIOError, OSError):
                continue
            parts = data.split(b"\x03")
            for i, part in enumerate(parts):
                if part:
                    self._send(part)
                if i < len(parts) - 1:
                    self._interrupt()
