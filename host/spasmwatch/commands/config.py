"""`spasmwatch config get|set` and `spasmwatch calibrate`: change and tune a board through the protocol."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ..errors import ConfigError, LinkError
from .monitor import add_port_arg

REST_S = 10.0
MVC_S = 5.0
REBOOT_WAIT_S = 15.0

CONFIG_HELP = """\
Read or change the board's configuration (saved in its flash as config.json; see docs/protocol.md).

  spasmwatch config get                      the whole config as JSON
  spasmwatch config get params.on_mult       one value (dotted key)
  spasmwatch config set params.on_mult=5 status_s=30
  spasmwatch config set name=left_calf channels=[34,35] mains_hz=60

Values are JSON (numbers, true/false/null, "text", [lists]) or a bare word; on/off mean true/false;
params.X=null returns a detector parameter to its default. The board checks the whole new config and
names the key and its allowed range when something is wrong. Changing pins, rate, mode, LED/buzzer,
watchdog or log size restarts the board; this command waits for it to come back.
"""

CAL_HELP = """\
Guided calibration of the detector on the muscle as it is worn:

  rest  the resting noise floor, learned while the muscle is fully relaxed (default 10 s);
        every threshold is a multiple of it
  mvc   a maximal voluntary contraction (default 5 s), for the strength scale of episodes

With neither option both run, rest first. The terminal says what to do and shows a progress bar; the
board saves the result (calib.json) and uses it at every start while the detector settings stay the same.
"""

STEPS = {
    "rest": ("Relax the muscle completely: limb supported, no movement, no talking, for {s:g} s.",
             "floor"),
    "mvc": ("Contract the muscle as hard as you can and hold it for {s:g} s (stop at once if it hurts).",
            "mvc"),
}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("config", help="read or change the board's configuration",
                              description=CONFIG_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    g = sub.add_parser("get", help="print the config (or one KEY)")
    add_port_arg(g)
    g.add_argument("key", nargs="?", metavar="KEY", help="dotted key, e.g. params.on_mult or channels.0.pin")
    g.set_defaults(func=run_get)
    s = sub.add_parser("set", help="change KEY=VALUE pairs")
    add_port_arg(s)
    s.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    s.set_defaults(func=run_set)

    c = subparsers.add_parser("calibrate", help="guided rest / maximal-contraction calibration",
                              description=CAL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_port_arg(c)
    c.add_argument("--rest", type=float, metavar="SECONDS", help=f"rest calibration (default {REST_S:g} s)")
    c.add_argument("--mvc", type=float, metavar="SECONDS", help=f"maximal contraction (default {MVC_S:g} s)")
    c.add_argument("--yes", "-y", action="store_true", help="start each step without waiting for Enter")
    c.set_defaults(func=run_calibrate)


def connect(port_spec: str | None) -> Any:
    from ..client import Client
    from ..link import Link, resolve_port

    client = Client(Link.open(resolve_port(port_spec)))
    try:
        client.hello(keep=False)
    except LinkError:
        client.close()
        raise
    return client


def lookup(cfg: Any, key: str) -> Any:
    node = cfg
    for part in key.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise ConfigError(f"no config key {key!r} (keys: {', '.join(sorted(cfg))})")
    return node


def parse_pairs(items: list[str]) -> list[tuple[str, object]]:
    from spasmfw import protocol

    pairs = []
    for item in items:
        key, eq, text = item.partition("=")
        if not eq or not key or not text:
            raise ConfigError(f"expected KEY=VALUE, got {item!r}")
        try:
            pairs.append((key.strip(), protocol.parse_value(text)))
        except protocol.ProtocolError as exc:
            raise ConfigError(f"{key}: {exc}") from None
    return pairs


def run_get(args: argparse.Namespace) -> int:
    client = connect(args.port)
    try:
        cfg = client.config_get()
    finally:
        client.close()
    value = lookup(cfg, args.key) if args.key else cfg
    print(json.dumps(value, indent=1) if isinstance(value, (dict, list)) else json.dumps(value))
    return 0


def run_set(args: argparse.Namespace) -> int:
    pairs = parse_pairs(args.pairs)
    client = connect(args.port)
    try:
        result = client.config_set(pairs)
        text = ", ".join(f"{k}={json.dumps(v)}" for k, v in pairs)
        if not result.get("reboot"):
            print(f"saved: {text}")
            _print_filter_notes(client.config_get())
            return 0
        print(f"saved: {text}; the board restarts to apply it...", flush=True)
        hello = client.wait_for(lambda m: m.get("t") == "hello", REBOOT_WAIT_S, keep=False)
        if hello is None:  # a native-USB board drops off the bus while it restarts: reopen the port
            client.close()
            client = _reopen(args.port)
            hello = client.hello_msg
        print(f"board back up (boot {hello.get('boot') if hello else '?'})")
        _print_filter_notes(client.config_get())
        return 0
    finally:
        client.close()


def _print_filter_notes(cfg: dict) -> None:
    """Say what the detector changes of the filters at the configured rate (issue 8: never silently)."""
    from spasmfw import config as fwconfig

    from ..detect import filter_notes

    try:
        notes = filter_notes(fwconfig.detector_params(cfg), cfg["mode"], cfg["rate_hz"])
    except (KeyError, TypeError, ConfigError):  # an older board's config: nothing to say
        return
    for note in notes:
        print(f"note: {note}")


def _reopen(port_spec: str | None) -> Any:
    end = time.monotonic() + REBOOT_WAIT_S
    while True:
        try:
            return connect(port_spec)
        except LinkError:
            if time.monotonic() > end:
                raise
            time.sleep(0.5)


def _ready(step: str, seconds: float, interactive: bool, console: Any) -> None:
    console.print(f"[bold]{step} calibration[/bold]: {STEPS[step][0].format(s=seconds)}")
    if interactive:
        console.input("Press Enter when ready (Ctrl-C to cancel) ")


def run_calibrate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    steps = []
    if args.rest is not None or args.mvc is None:
        steps.append(("rest", REST_S if args.rest is None else args.rest))
    if args.mvc is not None or args.rest is None:
        steps.append(("mvc", MVC_S if args.mvc is None else args.mvc))
    for name, seconds in steps:
        if not 1 <= seconds <= 300:
            raise ConfigError(f"--{name} must be 1..300 seconds")
    console = Console()
    interactive = not args.yes and sys.stdin.isatty() and console.is_terminal
    client = connect(args.port)
    scale = float(client.hello_msg.get("scale") or 16)
    names = client.hello_msg.get("channels") or ["ch0"]
    results: dict[str, list[float]] = {}
    try:
        for step, seconds in steps:
            _ready(step, seconds, interactive, console)
            with Progress(TextColumn(f"{step}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                          TimeRemainingColumn(), console=console, transient=True,
                          disable=not console.is_terminal) as prog:
                task = prog.add_task(step, total=1.0)
                done = client.calibrate(step, seconds, tick=lambda f, t=task: prog.update(t, completed=f))
            values = [float(v) / scale for v in done.get(STEPS[step][1]) or []]
            results[step] = values
            shown = ", ".join(f"{n} {v:.1f}" for n, v in zip(names, values, strict=False))
            label = "resting floor" if step == "rest" else "maximal contraction envelope"
            console.print(f"{label} (ADC counts): {shown}")
    finally:
        client.close()
    if "rest" in results and "mvc" in results:
        for n, f, m in zip(names, results["rest"], results["mvc"], strict=False):
            ratio = m / f if f else float("inf")
            hint = "" if ratio >= 10 else "  (low: check electrode placement and skin contact)"
            console.print(f"{n}: contraction is {ratio:.0f}x the resting floor{hint}")
    console.print("saved on the board; it is used from now on")
    return 0
