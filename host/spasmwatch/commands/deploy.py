"""`spasmwatch deploy`: compile the firmware (mpy-cross), copy what changed (mpremote), reset, check hello."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from spasmcore.errors import LinkError
from spasmcore.firmware import mpy_cross_version
from spasmwatch.board.deploy_build import (  # noqa: F401  (re-exported: `spasmwatch.commands.deploy.X` keeps working)
    CONFIG_FILE,
    DEFAULT_MARCH,
    LIST_SCRIPT,
    MARCH,
    MARKER,
    NOT_DEPLOYED,
    SIM_MARCH,
    SOURCE_ONLY,
    BoardInfo,
    Plan,
    build,
    check_mpy,
    expected_version,
    load_config,
    make_plan,
    sha,
)
from spasmwatch.commands.monitor import add_port_arg

HELLO_WAIT_S = 20.0
MPREMOTE_TIMEOUT_S = 120.0

DESCRIPTION = """\
Install or update the spasmwatch firmware on an ESP32 that runs MicroPython (flash MicroPython first:
https://micropython.org/download/ESP32_GENERIC/).

1. compile firmware/*.py with mpy-cross for the board's CPU (-march=xtensawin on an ESP32: the detector's
   native/viper code needs it, and precompiled modules load without compiling in the board's small RAM);
   boot.py and main.py stay source, as MicroPython requires;
2. read the board's file list with sizes and SHA-256 hashes (one mpremote exec), check that its
   MicroPython reads this mpy-cross's .mpy version, and copy only the files whose hash differs
   (mpremote fs cp); a stale module.py that would shadow module.mpy is removed;
3. write config.json: --config FILE (checked first), or the defaults when the board has none; an existing
   config is kept;
4. read the file list again and check every copied file's hash (size on a board without hashlib);
5. reset the board and wait for its `hello` to report the firmware version of this spasmwatch.

Reading the files stops the running app (mpremote interrupts it to reach the REPL), so --dry-run also
resets the board at the end, but writes nothing.

No board? `spasmwatch board-sim` starts a simulated ESP32 (the MicroPython unix port's REPL on a pty) and
prints its port; deploy to it with --port: the same mpremote steps run, the files land in its --flash
directory, and the reset boots the deployed firmware, which answers `hello`. It runs on this PC's CPU, so
the modules are compiled for -march=x64 there instead of xtensawin (docs/firmware.md says what else differs).

Examples:
  spasmwatch deploy --port /dev/ttyUSB0 --dry-run
  spasmwatch deploy --port /dev/ttyUSB0 --config left_calf.json
  spasmwatch deploy --port /dev/pts/5
"""


class DeployTarget(Protocol):
    """What deploy needs from a board; MpremoteTarget drives a real one, tests use a fake."""

    port: str

    def list_files(self) -> BoardInfo: ...

    def put(self, files: dict[str, bytes]) -> None: ...

    def remove(self, names: list[str]) -> None: ...

    def reset(self) -> None: ...

    def wait_hello(self, timeout: float) -> dict | None: ...


def deploy(target: DeployTarget, local: dict[str, bytes], *, mpy: tuple[int, int], march: str,
           config: bytes | None = None, dry_run: bool = False, expect: str | None = None,
           say: Callable[[str], None] = print, hello_wait: float = HELLO_WAIT_S,
           info: BoardInfo | None = None) -> Plan:
    """Bring the board's files in line with `local`, reset it and check the firmware version it reports."""
    expect = expect or expected_version()
    if info is None:
        say(f"reading the files on {target.port}...")
        info = target.list_files()
    check_mpy(info, mpy, march)
    plan = make_plan(local, info, config)
    for name in sorted(plan.put):
        say(f"  {'would copy' if dry_run else 'copy'} {name} ({len(plan.put[name])} bytes)")
    for name in plan.remove:
        say(f"  {'would remove' if dry_run else 'remove'} {name} (it would shadow the compiled module)")
    note = plan.config.replace("config.json written", "config.json would be written") if dry_run else plan.config
    say(f"  {len(plan.unchanged)} file(s) unchanged; {note}")
    if dry_run:
        say("dry run: nothing written; resetting the board so its app runs again")
        target.reset()
        return plan
    if plan.remove:
        target.remove(plan.remove)
    if plan.put:
        target.put(plan.put)
        verify(target, plan)
        say(f"  {len(plan.put)} file(s) checked on the board")
    say("resetting the board...")
    target.reset()
    hello = target.wait_hello(hello_wait)
    if hello is None:
        raise LinkError(f"{target.port}: the board did not answer `hello` within {hello_wait:g} s of the "
                        "reset: the firmware may fail at boot; look at its output with "
                        f"`mpremote connect {target.port} repl` and press the board's RESET (EN) button")
    if str(hello.get("fw")) != expect:
        raise LinkError(f"{target.port}: the board reports firmware {hello.get('fw')}, expected {expect}: an "
                        "old copy is still being imported (a stale file in /lib?) or the copy failed")
    say(f"firmware {expect} running on {target.port}: device {hello.get('id')}, boot {hello.get('boot')}, "
        f"{len(plan.put)} file(s) copied, {len(plan.unchanged)} unchanged, {len(plan.remove)} removed")
    return plan


def verify(target: DeployTarget, plan: Plan) -> None:
    """Every copied file is on the board with the right hash (size without hashlib), every removed one gone."""
    files = target.list_files().files
    for name, data in sorted(plan.put.items()):
        have = files.get(name)
        if have is None:
            raise LinkError(f"{target.port}: {name} is not on the board after the copy")
        if have[0] != len(data) or (have[1] and have[1] != sha(data)):
            raise LinkError(f"{target.port}: {name} on the board ({have[0]} bytes) differs from the copy sent "
                            f"({len(data)} bytes): the flash may be full (`mpremote df`) or the link dropped "
                            "bytes; deploy again")
    left = [n for n in plan.remove if n in files]
    if left:
        raise LinkError(f"{target.port}: could not remove {', '.join(left)} from the board")


# ---- the real board, through mpremote ----------------------------------------------------------------------

def explain_mpremote(port: str, output: str) -> LinkError:
    low = output.lower()
    if "could not enter raw repl" in low:
        return LinkError(f"{port}: the board does not answer MicroPython's raw REPL: MicroPython is probably "
                         "not installed (flash it: https://micropython.org/download/ESP32_GENERIC/), or the "
                         "board is stuck; press its RESET (EN) button and try again")
    if "failed to access" in low or "in use" in low:
        return LinkError(f"cannot open {port}: it is busy (close `spasmwatch monitor`, Thonny, the Arduino "
                         "IDE or screen) or you lack permission to use it")
    if "no device found" in low:
        return LinkError(f"no such port {port}")
    last = [ln for ln in output.strip().splitlines() if ln.strip()][-1:] or ["(no output)"]
    return LinkError(f"mpremote failed on {port}: {last[0][:200]}")


def probe_raw_repl(port: str, timeout: float = 3.0) -> None:
    """Check, quickly, that MicroPython's raw REPL answers (mpremote may wait a long time when it does not).

    Sends `hello` (to recognise a device that speaks the protocol but has no REPL), Ctrl-C twice (stops the
    running app; the firmware leaves Ctrl-C enabled for this) and Ctrl-A, and expects the raw REPL banner;
    Ctrl-B then returns to the normal REPL for mpremote.
    """
    from spasmcore import protohost
    from spasmfw import protocol
    from spasmwatch.link.serial_link import Link

    link = Link.open(port)
    try:
        link.write(b"hello\r\n")  # the firmware answers in JSON; a bare REPL prints a NameError
        time.sleep(0.1)
        link.write(b"\r\x03\x03")
        time.sleep(0.2)
        link.write(b"\r\x01")
        seen = b""
        protocol_lines = 0
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            chunk = link.ser.read(max(1, link.ser.in_waiting))
            seen = (seen + chunk)[-4096:]
            if b"raw REPL; CTRL-B to exit" in seen:
                link.write(b"\x02")
                return
            for line in seen.split(b"\n")[:-1]:
                try:
                    protohost.decode(line)
                    protocol_lines += 1
                except protocol.ProtocolError:
                    pass
    finally:
        link.close()
    if protocol_lines:
        raise LinkError(f"{port}: the device speaks the spasmwatch protocol but does not stop for Ctrl-C, so "
                        "there is no MicroPython REPL to copy files through (a virtual device from "
                        "`spasmwatch device`/`demo` cannot be deployed to)")
    raise explain_mpremote(port, "could not enter raw repl")


class MpremoteTarget:
    """A board reached with the mpremote command line (one call per step; each stops the running app)."""

    def __init__(self, port: str, runner: Callable[..., Any] = subprocess.run) -> None:
        self.port = port
        self.runner = runner

    def _run(self, *args: str) -> str:
        cmd = [sys.executable, "-m", "mpremote", "connect", self.port, *args]
        try:
            res = self.runner(cmd, capture_output=True, text=True, timeout=MPREMOTE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise LinkError(f"mpremote took over {MPREMOTE_TIMEOUT_S:g} s on {self.port}") from None
        if res.returncode != 0:
            raise explain_mpremote(self.port, f"{res.stdout}\n{res.stderr}")
        return str(res.stdout)

    def list_files(self) -> BoardInfo:
        out = self._run("exec", LIST_SCRIPT)
        line = next((ln for ln in out.splitlines() if ln.startswith(MARKER)), None)
        if line is None:
            raise explain_mpremote(self.port, out)
        data = json.loads(line[len(MARKER):])
        files = {k: (int(v[0]), str(v[1])) for k, v in data["files"].items()}
        return BoardInfo(files, str(data.get("version")), data.get("mpy"), str(data.get("machine") or ""))

    def put(self, files: dict[str, bytes]) -> None:
        with tempfile.TemporaryDirectory(prefix="spasmwatch-deploy-") as tmp:
            paths = []
            for name, data in files.items():
                (Path(tmp) / name).write_bytes(data)
                paths.append(str(Path(tmp) / name))
            self._run("fs", "cp", "-f", *paths, ":")

    def remove(self, names: list[str]) -> None:
        self._run("fs", "rm", *[f":{n}" for n in names])

    def reset(self) -> None:
        self._run("reset")

    def wait_hello(self, timeout: float) -> dict | None:
        from spasmwatch.link.client import Client
        from spasmwatch.link.serial_link import Link

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                client = Client(Link.open(self.port))
            except LinkError:
                time.sleep(0.5)  # a native-USB board re-enumerates while it resets
                continue
            try:
                return client.hello(timeout=1.0, tries=1, keep=False)
            except LinkError:
                time.sleep(0.5)
            finally:
                client.close()
        return None


# ---- command -----------------------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("deploy", help="install or update the firmware on an ESP32 running MicroPython",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_port_arg(p)
    p.add_argument("--dry-run", action="store_true", help="show what would be copied, write nothing")
    p.add_argument("--config", metavar="FILE", help="config.json to install (checked before writing)")
    p.add_argument("--march", choices=sorted(set(MARCH.values()) | set(SIM_MARCH.values())),
                   help="CPU for native code (default: from the board, else xtensawin; x64 on board-sim)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spasmwatch.link.serial_link import open_serial, resolve_port

    port = resolve_port(args.port)
    open_serial(port).close()  # busy / permission / no such port, said precisely before mpremote runs
    target = MpremoteTarget(port)
    probe_raw_repl(port)
    mpy = mpy_cross_version()
    print(f"reading the files on {port}...", flush=True)
    info = target.list_files()
    config = load_config(args.config, info.machine) if args.config else None  # its pins: the board's chip
    march = args.march or (MARCH | SIM_MARCH).get((info.mpy or 0) >> 10, DEFAULT_MARCH)  # C3/C6 need no option
    with tempfile.TemporaryDirectory(prefix="spasmwatch-build-") as tmp:
        local = build(Path(tmp), march)
    deploy(target, local, mpy=mpy, march=march, config=config, dry_run=args.dry_run, info=info)
    return 0
