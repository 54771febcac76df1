"""Virtual device: the real firmware under the MicroPython unix port, fed a recording, served on a pseudo-terminal."""

from __future__ import annotations

import errno
import json
import os
import secrets
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

import numpy as np

from spasmcore.errors import ConfigError, FatalError, InputError, LinkError
from spasmcore.firmware import FIRMWARE_DIR, UNIX_DIR, compile_mpy, host_march
from spasmcore.tools import find_tool, missing
from spasmfw import config as fwconfig

DATA_FILE = "samples.bin"
REBOOT_EXIT = 75  # vboard exits with this code on `reboot`; the launcher starts a new boot
DEFAULT_HEAP = "100k"  # usable MicroPython heap on an ESP32 without PSRAM
NET_HEAP = "160k"  # with --tcp/--mqtt: the network side takes up to ~28 kB more (bench/net_heap.py, docs/wireless.md)
VIRTUAL_PINS = fwconfig.WIRED_PINS  # the ADC1 pins docs/firmware.md wires, one per channel
STALL_S = 0.2  # how long device output may wait for a reader before the oldest unread output is dropped
SIM_STALL_S = 5.0  # the same on the sim clock: a reader busy for a moment (a loaded machine) loses nothing
CLOCKS = ("wall", "sim")  # see vboard.py: wall drops samples on overruns like the ESP32, sim plays them late
# every firmware module but the ESP32's own board.py (vboard stands in) and the two run from source
FIRMWARE_MODULES = tuple(p.stem for p in sorted(FIRMWARE_DIR.glob("*.py"))
                         if p.stem not in ("__init__", "board", "boot", "main"))


def precompile(dest: Path) -> list[str]:
    """Compile the firmware (and vboard) with mpy-cross into dest, as a deployment to the ESP32 would.

    Importing .py source makes MicroPython compile it in RAM: the peak alone overflows a 100 kB heap. A
    module that does not compile (no mpy-cross, or @native code on an unsupported CPU) is imported from its
    source instead. Returns the modules compiled.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.mpy"):
        old.unlink()
    if find_tool("mpy-cross") is None:
        return []
    arch = host_march()
    done = []
    sources = [FIRMWARE_DIR / f"{m}.py" for m in FIRMWARE_MODULES] + [UNIX_DIR / "vboard.py",
                                                                      UNIX_DIR / "rom_network.py"]
    for src in sources:
        try:
            compile_mpy(src, dest / f"{src.stem}.mpy", arch)
        except FatalError:
            continue  # imported from source instead
        done.append(src.stem)
    return done


def _pins(n: int) -> list[int]:
    if n > len(VIRTUAL_PINS):
        raise ConfigError(f"the firmware supports at most {len(VIRTUAL_PINS)} channels, the recording has {n}")
    return list(VIRTUAL_PINS[:n])


def prepare_state(
    recording_path: str | Path,
    state_dir: Path,
    mode: str | None = None,
    rate_hz: float | None = None,
    channel: int | None = None,
    speed: float = 1.0,
    loop: bool = False,
    units: str | None = None,
    clock: str = "wall",
    overrun_at: tuple[int, int] | None = None,
) -> dict:
    """Convert the recording into STATE/samples.bin (interleaved uint16 counts), write STATE/vboard.json and
    make STATE/config.json match the recording (rate, mode, one pin per channel); returns the vboard settings.

    clock: "wall" (overruns drop samples, as on the ESP32) or "sim" (late samples are played late, never
    dropped). overrun_at=(N, M): once N samples were played, drop M samples as one overrun (for tests).
    """
    if clock not in CLOCKS:
        raise ConfigError(f"clock must be wall or sim, not {clock!r}")
    from spasmcore.frontend import to_counts
    from spasmcore.recording import read_recording
    from spasmfw import app as fwapp

    rec = read_recording(recording_path, rate_hz=rate_hz, units=units)
    mode = mode or rec.mode or "raw"
    if mode not in ("raw", "env"):
        raise ConfigError(f"mode must be raw or env, not {mode!r}")
    chans = list(range(len(rec.channels)))
    if channel is not None:
        if not 0 <= channel < len(chans):
            raise InputError(f"{recording_path}: no channel {channel} (it has {len(chans)})")
        chans = [channel]
    if rec.n_samples == 0:
        raise InputError(f"{recording_path}: no samples")
    counts = [to_counts(rec.channels[c], rec.units, mode, rec.rate_hz) for c in chans]
    data = np.stack(counts, axis=1).astype("<u2")
    state_dir.mkdir(parents=True, exist_ok=True)
    data.tofile(state_dir / DATA_FILE)
    rate = int(round(rec.rate_hz))  # the firmware samples at whole Hz; a fractional rate plays back slightly off

    vpath = state_dir / "vboard.json"
    old = json.loads(vpath.read_text()) if vpath.exists() else {}
    vcfg = {
        "data": DATA_FILE,
        "channels": len(chans),
        "rate_hz": rate,
        "speed": 0.0 if not np.isfinite(speed) else float(speed),
        "loop": bool(loop),
        "clock": clock,
        "overrun_at": list(overrun_at) if overrun_at else None,
        "unique_id": old.get("unique_id") or "virt" + secrets.token_hex(4),
        "recording": str(Path(recording_path).resolve()),
    }
    vpath.write_text(json.dumps(vcfg, indent=1))

    cpath = str(state_dir / fwapp.CONFIG_FILE)
    cfg, _err = fwconfig.load(cpath)
    cfg = dict(cfg)
    cfg.update({"rate_hz": rate, "mode": mode})
    if len(cfg["channels"]) != len(chans):
        cfg["channels"] = _pins(len(chans))
    if mode == "raw" and cfg["mains_hz"] * 2 >= rate:
        cfg["mains_hz"] = 0  # a notch above Nyquist is impossible; such a recording has no mains band
    try:
        fwconfig.validate(cfg)
    except ValueError as exc:
        raise ConfigError(f"recording not playable by the firmware: {exc}") from None
    fwconfig.save(cpath, cfg)
    return vcfg


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
        heapsize: str = DEFAULT_HEAP,
        micropython: str | None = None,
        units: str | None = None,
        clock: str = "wall",
        overrun_at: tuple[int, int] | None = None,
        link: str | Path | None = None,
        net: dict | None = None,
    ) -> None:
        if clock not in CLOCKS:
            raise ConfigError(f"clock must be wall or sim, not {clock!r}")
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
        if net and heapsize == DEFAULT_HEAP:
            heapsize = NET_HEAP  # the network modules do not fit beside the app in 100 kB on this 64-bit port
        self.stall_s = SIM_STALL_S if clock == "sim" else STALL_S
        self.heapsize = heapsize
        self._tmp = state_dir is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="spasmwatch-device-") if state_dir is None else state_dir)
        exe = micropython or find_tool("micropython")
        if exe is None:
            raise LinkError(f"the virtual device needs the MicroPython unix port: {missing('micropython')}")
        self.micropython: str = exe
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
        self.compiled: list[str] = []
        self.dropped_bytes = 0
        self._tail = bytearray()  # last device output, for error messages

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> str:
        """Boot the firmware (converting the recording on first start); returns the pty path."""
        if self._proc is not None and self._proc.poll() is None:
            return self.port
        if not self._prepared:
            prepare_state(self.recording_path, self.state_dir, self.mode, self.rate_hz, self.channel,
                          self.speed, self.loop, self.units, self.clock, self.overrun_at)
            if self.net is not None:
                from .netdevice import apply

                apply(self.state_dir, self.net)
            self.compiled = precompile(self.state_dir / "mpy")
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
            raise LinkError(f"virtual device did not start: {self.stderr_tail()}")
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
        cmd = [self.micropython, "-X", f"heapsize={self.heapsize}", str(UNIX_DIR / "vmain.py"),
               str(self.state_dir), str(self.state_dir / "mpy"), str(FIRMWARE_DIR)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                      cwd=self.state_dir, bufsize=0, start_new_session=True)
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
            print(f"virtual device exited with code {code}: {self.stderr_tail()}", file=sys.stderr, flush=True)

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
