"""Virtual device: the real firmware under the MicroPython unix port, fed a recording, served on a pseudo-terminal."""

from __future__ import annotations

import errno
import os
import select
import shutil
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from spasmcore.boards import board as board_profile
from spasmcore.boards import heap_args
from spasmcore.errors import ConfigError, LinkError
from spasmcore.firmware import FIRMWARE_DIR, UNIX_DIR, interpreter_march
from spasmcore.tools import find_micropython, missing

from .devstate import (  # noqa: F401  (re-exported: `from spasmsim.device import prepare_state` keeps working)
    CLOCKS,
    DATA_FILE,
    FIRMWARE_MODULES,
    VIRTUAL_PINS,
    precompile,
    prepare_state,
)
from .heapsize import check_heap

REBOOT_EXIT = 75  # vboard exits with this code on `reboot`; the launcher starts a new boot
DEFAULT_HEAP = "100k"  # usable MicroPython heap on an ESP32 without PSRAM (spasmcore.boards: "esp32")
# with --tcp/--mqtt on a 64-bit interpreter: the network side takes ~28 kB more there than on the board's 32-bit
# heap (bench/net_heap.py), so the 64-bit model gets more than the board's budget; 32-bit ones get the profile's
NET_HEAP_64 = "160k"
# The board's heap as a 64-bit interpreter holds the same objects: ~1.4x its budget (bench/firmware_heap.py: 59 kB
# used after boot on the 32-bit model, 82 kB on the 64-bit port). At the bare 100 kB that port is a stricter board
# than any ESP32 (a `config set` ran out of heap at boot); memory budgets are measured on a 32-bit interpreter.
X64_HEAP_FACTOR = 1.4
STALL_S = 0.2  # how long device output may wait for a reader before the oldest unread output is dropped
SIM_STALL_S = 5.0  # the same on the sim clock: a reader busy for a moment (a loaded machine) loses nothing


def _check_link(path: Path) -> None:
    """A --link path we may (re)place: a symlink (perhaps left by an earlier, killed device) or nothing."""
    if os.path.lexists(path) and not path.is_symlink():
        raise ConfigError(f"--link {path}: a file that is not a symlink is already there; not replacing it")
    if not path.parent.is_dir():
        raise ConfigError(f"--link {path}: no such directory {path.parent}")


def _make_link(path: Path, target: str) -> None:
    """Point `path` at the pty, replacing an earlier link in one step (a monitor never sees a half state)."""
    _check_link(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"--link {path}: cannot make the link: {exc.strerror}") from None


def _remove_link(path: Path, target: str) -> None:
    """Remove the link when the port goes away, unless another device has taken it over meanwhile."""
    try:
        if path.is_symlink() and os.readlink(path) == target:
            path.unlink()
    except OSError:
        pass



def read_chunks(fd: int) -> Iterator[bytes]:
    """What a child process writes to fd, chunk by chunk, until it closes its end (EOF or an error)."""
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            return
        if not data:
            return
        yield data

class VirtualDevice:
    """The firmware running on a recording behind a pty; `with VirtualDevice(path) as dev: serial.Serial(dev.port)`.

    The pty lives as long as this object (like a USB-serial bridge, it survives device reboots); start() after
    stop()/kill() boots again with the same state dir (flash log, config, boot counter).

    clock="wall" behaves like the ESP32 when this machine is too busy to keep pace: samples are dropped and
    counted as overruns, and output nobody reads for STALL_S is dropped. clock="sim" (for tests that must not
    depend on machine speed) plays late samples late instead, so the board sees every sample whatever the
    load, and waits up to SIM_STALL_S for a reader. overrun_at=(N, M) injects one overrun of M samples.

    link=PATH makes PATH a symlink to the pty while it exists (replacing an earlier link there), so a monitor
    given PATH finds the device again after it is restarted with a new pty; close() removes it.
    """

    def __init__(
        self,
        recording_path: str | Path,
        speed: float = 1.0,
        state_dir: str | Path | None = None,
        loop: bool = False,
        mode: str | None = None,
        rate_hz: float | None = None,
        channel: int | None = None,
        heapsize: str | None = None,
        micropython: str | None = None,
        board: str | None = None,
        units: str | None = None,
        clock: str = "wall",
        overrun_at: tuple[int, int] | None = None,
        link: str | Path | None = None,
        net: dict | None = None,
    ) -> None:
        if clock not in CLOCKS:
            raise ConfigError(f"clock must be wall or sim, not {clock!r}")
        heapsize = check_heap(heapsize)
        self.link = None if link is None else Path(link).expanduser().absolute()
        if self.link is not None:
            _check_link(self.link)
        self.recording_path = Path(recording_path)
        self.speed = speed
        self.loop = loop
        self.mode = mode
        self.rate_hz = rate_hz
        self.channel = channel
        self.units = units
        self.clock = clock
        self.overrun_at = overrun_at
        self.net = net  # the board's `net` config (spasmsim.netdevice.net_config): TCP / MQTT over the host's sockets
        self.stall_s = SIM_STALL_S if clock == "sim" else STALL_S
        self.board = board_profile(board)
        exe = find_micropython(micropython)
        if exe is None:
            raise LinkError(f"the virtual device needs the MicroPython unix port: {missing('micropython')}")
        self.micropython: str = exe
        if heapsize is None and interpreter_march(exe) == "x64":
            heapsize = NET_HEAP_64 if net else f"{int(self.board.budget * X64_HEAP_FACTOR) // 1024}k"
        self.heap_args, self.heap_env = heap_args(exe, self.board, heapsize)
        self.heapsize = heapsize
        self._tmp = state_dir is None
        # absolute: MicroPython runs with the state dir as its cwd, so a relative path would point below it
        self.state_dir = Path(tempfile.mkdtemp(prefix="spasmwatch-device-") if state_dir is None
                              else state_dir).expanduser().absolute()
        self.port = ""
        self.boots = 0
        self.exit_code: int | None = None
        self._master = -1
        self._slave = -1
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self._prepared = False
        self._started = False
        self.vboard: dict = {}  # what prepare_state wrote: channels played into the ADC, rate, ...
        self.hello: dict | None = None  # the firmware's first hello: the channels it really samples
        self.boot_errors: list[str] = []  # `error` lines before that hello (e.g. a config that did not fit)
        self._boot_out = b""
        self.compiled: list[str] = []
        self.dropped_bytes = 0
        self._tail = bytearray()  # last device output, for error messages

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> str:
        """Boot the firmware (converting the recording on first start); returns the pty path."""
        if self._proc is not None and self._proc.poll() is None:
            return self.port
        if not self._prepared:
            self.vboard = prepare_state(self.recording_path, self.state_dir, self.mode, self.rate_hz, self.channel,
                          self.speed, self.loop, self.units, self.clock, self.overrun_at)
            if self.net is not None:
                from .netdevice import apply

                apply(self.state_dir, self.net)
            self.compiled = precompile(self.state_dir / "mpy", interpreter_march(self.micropython))
            self._prepared = True
        if self._master < 0:
            self._open_pty()
        self._stopping.clear()
        self._spawn()
        self._threads = [
            threading.Thread(target=self._pump_out, name="vdev-out", daemon=True),
            threading.Thread(target=self._pump_in, name="vdev-in", daemon=True),
        ]
        for t in self._threads:
            t.start()
        if not self._ready.wait(timeout) or self.exit_code is not None:
            self.kill()
            raise LinkError(f"virtual device did not start: {self.why_stopped()}")
        self._started = True
        return self.port

    def _open_pty(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation: bytes pass as on a USB CDC port
        attrs = termios.tcgetattr(self._slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        if self.link is not None:
            _make_link(self.link, self.port)

    def _spawn(self) -> None:
        self._ready.clear()
        self.exit_code = None
        err = open(self.state_dir / "stderr.log", "ab")
        cmd = [self.micropython, *self.heap_args, str(UNIX_DIR / "vmain.py"),
               str(self.state_dir), str(self.state_dir / "mpy"), str(FIRMWARE_DIR)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                      cwd=self.state_dir, bufsize=0, start_new_session=True,
                                      env={**os.environ, **self.heap_env})
        # own session: a Ctrl-C typed at the launcher's terminal must not reach the firmware (stop() ends it)
        err.close()
        self.boots += 1

    def stop(self, timeout: float = 5.0) -> None:
        """Power off: close the device's stdin (it exits at its next poll), then terminate if it lingers."""
        self._stopping.set()
        proc = self._proc
        if proc is not None:
            try:
                if proc.stdin:
                    proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(2)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._join()

    def kill(self) -> None:
        """SIGKILL the MicroPython process, as a power cut would stop a board mid-write."""
        self._stopping.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self._join()

    def close(self) -> None:
        """Stop the device and close the pty (the port path disappears); removes a temporary state dir."""
        self.stop()
        if self.link is not None and self.port:
            _remove_link(self.link, self.port)
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
        if self._tmp:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def _join(self) -> None:
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(5)
        self._threads = []
        if self._proc is not None:
            self.exit_code = self._proc.returncode
            for f in (self._proc.stdin, self._proc.stdout):
                try:
                    if f:
                        f.close()
                except OSError:
                    pass
            self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stderr_tail(self, n: int = 1000) -> str:
        """The end of the device's error output, else of its serial output (where tracebacks go)."""
        try:
            text = (self.state_dir / "stderr.log").read_bytes()[-n:]
        except OSError:
            text = b""
        text = text or bytes(self._tail[-n:])
        return text.decode(errors="replace").strip() or "(no output)"

    def _watch_boot(self, data: bytes) -> None:
        """Keep the first hello (and the errors before it) from the device's output, which still goes to the pty."""
        from spasmcore import protohost
        from spasmfw import protocol

        *lines, self._boot_out = (self._boot_out + data).split(b"\n")
        self._boot_out = self._boot_out[-4096:]
        for line in lines:
            try:
                msg = protohost.decode(line)
            except (protocol.ProtocolError, ValueError):
                continue
            if msg.get("t") == "error" and len(self.boot_errors) < 5:
                self.boot_errors.append(str(msg.get("msg"))[:200])
            elif msg.get("t") == "hello" and self.hello is None:
                self.hello = msg

    def channels_note(self) -> str | None:
        """None when the firmware samples every channel played into its ADC, else one line saying which do."""
        if self.hello is None:
            return None
        have, played = list(self.hello.get("channels") or []), int(self.vboard.get("channels", 0))
        if len(have) >= played:
            return None
        why = next((e for e in self.boot_errors if "heap" in e), None)
        heap = f"--heap {self.heapsize}" if self.heapsize else f"the {self.board.name} profile's heap"
        hint = (f"{played} channels need more than {heap} (try --heap 200k or --board esp32s3)" if why
                else (self.boot_errors or ["see its error lines"])[0])
        return (f"only {', '.join(have) or 'no channel'} of the recording's {played} channels play: the firmware "
                f"fell back to its default config; {hint}; --channel N plays one chosen channel")

    def why_stopped(self) -> str:
        """One line: the last line the device printed (a traceback's exception), and what to do on a MemoryError."""
        lines = [ln.strip() for ln in self.stderr_tail().splitlines() if ln.strip()]
        last = lines[-1][:200] if lines else "(no output)"
        if "MemoryError" not in last:
            return last
        heap = f"--heap {self.heapsize}" if self.heapsize else f"the {self.board.name} profile's heap"
        return f"{last} ({heap} is too small for the firmware: try a larger --heap, e.g. 100k)"

    def __enter__(self) -> VirtualDevice:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- byte pumps --------------------------------------------------------------------------------------------
    def _write_pty(self, data: bytes) -> None:
        """Give device output to whoever reads the pty; if nobody does, drop the oldest (USB CDC, no host)."""
        deadline = time.monotonic() + self.stall_s
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._master, view)
                view = view[n:]
                continue
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno == errno.EIO:
                    self.dropped_bytes += len(view)
                    return
                raise
            if time.monotonic() > deadline:
                termios.tcflush(self._slave, termios.TCIFLUSH)  # nobody reads: forget the stale output
                deadline = time.monotonic() + self.stall_s
            else:
                select.select([], [self._master], [], 0.02)

    def _pump_out(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for data in read_chunks(proc.stdout.fileno()):
            self._ready.set()
            if self.hello is None:
                self._watch_boot(data)
            self._tail = (self._tail + data)[-2000:]
            self._write_pty(data)
        code = proc.wait()
        if code == REBOOT_EXIT and not self._stopping.is_set():
            with self._lock:  # `reboot`: power-cycle into a new boot, keeping the pty and state dir
                if proc.stdin:
                    proc.stdin.close()
                self._spawn()
                t = threading.Thread(target=self._pump_out, name="vdev-out", daemon=True)
                self._threads.append(t)
                t.start()
        elif not self._stopping.is_set():
            self.exit_code = code
            self._ready.set()  # unblock start(): it reports the failure
            if self._started:  # else start() raises with the same line
                print(f"virtual device exited with code {code}: {self.why_stopped()}", file=sys.stderr, flush=True)

    def _pump_in(self) -> None:
        while not self._stopping.is_set():
            r, _, _ = select.select([self._master], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(self._master, 4096)
            except (BlockingIOError, OSError):
                continue
            with self._lock:
                proc = self._proc
                try:
                    if proc is not None and proc.stdin is not None and proc.poll() is None:
                        proc.stdin.write(data)
                except (BrokenPipeError, ValueError, OSError):
                    pass  # device rebooting or down: input is lost, as on a board in reset
