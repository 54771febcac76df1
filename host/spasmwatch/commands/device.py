"""`spasmwatch device`: run the real firmware on a recording under the MicroPython unix port, on a serial pty."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

from spasmcore.errors import ConfigError, InputError

DESCRIPTION = """\
Start a virtual spasmwatch board: the firmware files from firmware/ (app, detector, protocol, event log,
config: the same files that go on the ESP32) run under the MicroPython unix port with the board's heap (100 kB;
140 kB on a 64-bit port, whose objects are larger), and a virtual board plays RECORDING into the ADC. The
board's USB serial port is a pseudo-terminal whose path is printed (`device ready on /dev/pts/N`): open it
with `spasmwatch monitor`, pyserial, screen or picocom like a real port, type `help` for the commands. Each
start gets a new pty path; --link PATH also makes PATH a symlink to it (replacing an earlier link there,
removed on exit), so `spasmwatch monitor --port PATH` finds the board again when it is restarted, as it would
find a real board that is unplugged and plugged in again.

The flash (event log, config, boot counter) lives in --state-dir; keep the same directory to keep the
log across runs (each start is a new boot). Without --state-dir a temporary directory is used and removed
on exit (a relative DIR is taken from the current directory).

Every channel of the recording plays (one ADC pin each, up to 4) when the firmware fits them in its heap;
if it does not, the firmware falls back to its default config (one channel) and the device says which
channels play (`warning: only ch0 of the recording's 4 channels play ...`: give --heap 200k or --board
esp32s3, or choose one with --channel N).

The recording plays at real time (--speed 1); --speed 10 plays ten times faster, --speed 0 as fast as the
firmware can go. After the last sample the board idles (still answering commands) unless
--loop repeats the recording. Ctrl-C stops it.

When this computer is too busy to keep pace, the board behaves like an ESP32 that fell behind: it skips
the samples that were due and counts an overrun (`status` shows overruns and dropped samples). With
--clock sim it plays them late instead: no sample is lost, the board's own clock just runs behind the
wall clock (what the tests use, so they do not depend on the machine's speed).

Examples:
  spasmwatch device --example
  spasmwatch device session.csv --speed 5 --state-dir ./board1
  spasmwatch device --example --loop --link /tmp/ttyVIRT0   # then: spasmwatch monitor --port /tmp/ttyVIRT0
  spasmwatch device myo/1.txt --rate 200 --channel 0 --mode raw
"""

EXAMPLE = "example_raw.csv"


def add_board_options(p: argparse.ArgumentParser) -> None:
    """--heap, --board and --micropython: the simulated board's heap model and interpreter (device, board-sim)."""
    p.add_argument("--heap", metavar="SIZE", help="MicroPython heap, overriding the board profile's (e.g. 100k; "
                   "the initial heap with a growing-heap interpreter)")
    p.add_argument("--board", metavar="PROFILE", help="board profile: its heap model and budget (esp32: no PSRAM, "
                   "the default; esp32s3: with PSRAM; docs/firmware.md, Board profiles)")
    p.add_argument("--micropython", metavar="PATH", help="the MicroPython unix-port binary to run (default: "
                   "$SPASMWATCH_MICROPYTHON, else the installed one), e.g. the 32-bit one")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "device",
        help="run the firmware on a recording as a virtual board on a serial pty",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("recording", nargs="?", metavar="RECORDING", help="recording file (formats as for replay)")
    p.add_argument("--example", action="store_true", help=f"play the bundled example ({EXAMPLE})")
    p.add_argument("--speed", type=float, default=1.0, metavar="X",
                   help="playback speed: 1 = real time (default), 0 or inf = as fast as possible")
    p.add_argument("--loop", action="store_true", help="repeat the recording forever")
    p.add_argument("--state-dir", metavar="DIR", help="flash of the virtual board (default: a temporary dir)")
    p.add_argument("--mode", choices=["raw", "env"], help="sensor output wired: raw or env (default: the file's)")
    p.add_argument("--rate", type=float, metavar="HZ", help="sample rate of the recording, overriding the file's")
    p.add_argument("--units", choices=["counts", "uV", "mV", "V", "au"], help="sample units, overriding the file's")
    p.add_argument("--channel", type=int, metavar="N", help="play only this channel of the recording (0-based)")
    p.add_argument("--clock", choices=["wall", "sim"], default="wall",
                   help="wall: drop samples on overruns like the ESP32 (default); sim: play late, drop nothing")
    p.add_argument("--link", metavar="PATH",
                   help="also make PATH a symlink to the pty, a stable port name across restarts")
    add_board_options(p)
    p.add_argument("--tcp", metavar="127.0.0.1:PORT", help="also serve the protocol on this TCP port, as a board on "
                   "Wi-Fi does (connect with --port socket://127.0.0.1:PORT)")
    p.add_argument("--token", metavar="TOKEN", help="the board's net.token for --tcp (default: a new random one, "
                   "printed)")
    p.add_argument("--read-open", action="store_true", help="with --tcp: read-only commands need no token")
    p.add_argument("--mqtt", metavar="URL", help="publish events to this MQTT broker, e.g. mqtt://127.0.0.1:1883")
    p.set_defaults(func=run)


def _filter_notes(state_dir: str | Path) -> list[str]:
    """The detector's notes (clamped or switched-off filters) for the config the firmware boots with."""
    from spasmfw import app as fwapp
    from spasmfw import config as fwconfig
    from spasmwatch.engine.detect import filter_notes

    cfg, _err = fwconfig.load(str(Path(state_dir) / fwapp.CONFIG_FILE))
    return filter_notes(fwconfig.detector_params(cfg), cfg["mode"], cfg["rate_hz"])


def _channels_line(dev: Any, wait_s: float = 10.0) -> str:
    """Which channels the firmware samples, from its boot hello: all of the recording's, or a warning ("" when
    the device stopped first: its own line says why)."""
    end = time.monotonic() + wait_s
    while dev.hello is None and dev.exit_code is None and time.monotonic() < end:
        time.sleep(0.05)
    if dev.exit_code is not None:
        return ""
    if dev.hello is None:
        return "channels: the firmware has not said hello yet"
    note = dev.channels_note()
    if note is not None:
        return f"warning: {note}"
    names = list(dev.hello.get("channels") or [])
    return f"channels: {len(names)} play ({', '.join(names)})"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from spasmsim.device import VirtualDevice
    from spasmsim.netdevice import net_config

    if args.example == bool(args.recording):
        raise InputError("give a RECORDING or --example (not both)")
    if args.speed < 0 or math.isnan(args.speed):
        raise ConfigError(f"--speed must be >= 0, not {args.speed:g}")
    path = args.recording
    if args.example:
        path = str(resources.files("spasmwatch") / "examples" / EXAMPLE)
    net = net_config(args.tcp, args.mqtt, args.token, args.read_open)
    dev = VirtualDevice(path, speed=args.speed, state_dir=args.state_dir, loop=args.loop, mode=args.mode,
                        rate_hz=args.rate, channel=args.channel, heapsize=args.heap, micropython=args.micropython,
                        board=args.board, units=args.units,
                        clock=args.clock, link=args.link, net=net or None)
    # SIGTERM (e.g. from a supervisor) stops as cleanly as Ctrl-C; SIGINT is set explicitly because a shell
    # starts background jobs with it ignored, and `kill -INT` must still stop the device
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        dev.start()
        speed = "as fast as possible" if args.speed == 0 or math.isinf(args.speed) else f"x{args.speed:g}"
        kept = "" if args.state_dir else " (temporary, removed on exit)"
        if net.get("mqtt"):
            print(f"mqtt: publishing to {net['mqtt']} under {net['mqtt_prefix']}/", file=sys.stderr, flush=True)
        if dev.link is not None:
            print(f"link: {dev.link} -> {dev.port} (removed on exit)", file=sys.stderr, flush=True)
        for note in _filter_notes(dev.state_dir):
            print(f"note: {note}", file=sys.stderr, flush=True)
        said = _channels_line(dev)
        if said:
            print(said, file=sys.stderr, flush=True)
        print(f"state dir: {dev.state_dir}{kept}; playing {path} {speed}{', looped' if args.loop else ''}",
              file=sys.stderr, flush=True)
        # "ready" last: a script that acts on it (a Ctrl-C, say) finds every line above already written
        print(f"device ready on {dev.port}", flush=True)
        if net.get("tcp_port"):
            print(f"tcp: socket://127.0.0.1:{net['tcp_port']} token {net['token']} (export SPASMWATCH_TOKEN="
                  f"{net['token']})", flush=True)
        while True:
            time.sleep(0.2)
            if dev.exit_code is not None:
                print(f"device stopped (exit code {dev.exit_code})", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        print("stopping device", file=sys.stderr)
        return 0
    finally:
        dev.close()
