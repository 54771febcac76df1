"""`spasmwatch config get|set` and `spasmwatch calibrate`: change and tune a board through the protocol."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from spasmcore.errors import ConfigError, LinkError

from .. import ui
from .monitor import add_port_arg

REST_S = 10.0
MVC_S = 5.0
REBOOT_WAIT_S = 15.0

CONFIG_HELP = """\
Read or change the board's configuration (saved in its flash as config.json; see docs/protocol.md).

  spasmwatch config get                      every setting and detector parameter in effect, with the
                                             default beside each one that is changed
  spasmwatch config get --json               the config as the board stores it (only changed params)
  spasmwatch config get params.on_mult       one value (dotted key), a default when not changed
  spasmwatch config set params.on_mult=5 status_s=30
  spasmwatch config set name=left_calf channels=[34,35] mains_hz=60
  spasmwatch config reset params.on_mult     back to the default (several KEYs, or --all)
  spasmwatch config defaults --mode env      the defaults, without a board

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
    g = sub.add_parser("get", help="print the config in effect, defaults beside changes (or one KEY)")
    add_port_arg(g)
    g.add_argument("key", nargs="?", metavar="KEY", help="dotted key, e.g. params.on_mult or channels.0.pin")
    g.add_argument("--json", action="store_true", help="JSON: the stored config, or KEY's value")
    g.set_defaults(func=run_get)
    s = sub.add_parser("set", help="change KEY=VALUE pairs")
    add_port_arg(s)
    s.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    s.set_defaults(func=run_set)
    r = sub.add_parser("reset", help="return KEYs (or --all but id) to their defaults")
    add_port_arg(r)
    r.add_argument("keys", nargs="*", metavar="KEY", help="e.g. params.on_mult, params (all detector "
                   "parameters), status_s, stream.env")
    r.add_argument("--all", action="store_true", help="every setting except the device id")
    r.set_defaults(func=run_reset)
    d = sub.add_parser("defaults", help="print the default config and detector parameters (no board needed)")
    d.add_argument("--mode", choices=["raw", "env"], default="raw", help="detector mode (default raw)")
    d.add_argument("--rate", type=int, metavar="HZ", help="sample rate (default the config's, 1000)")
    d.add_argument("--json", action="store_true", help="as JSON")
    d.set_defaults(func=run_defaults)

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
            where = key.rpartition(".")[0]
            keys = sorted(node) if isinstance(node, dict) and where else sorted(cfg)
            raise ConfigError(f"no config key {key!r} ({where + '.' if where else ''}keys: {', '.join(keys)})")
    return node


def effective(cfg: dict) -> dict:
    """The config with `params` holding every detector parameter in effect (defaults for those not set)."""
    from spasmfw import config as fwconfig
    from spasmfw import detector

    try:
        params = detector.validate(fwconfig.detector_params(cfg), cfg.get("mode", "raw"), cfg.get("rate_hz", 1000))
    except (ValueError, KeyError) as exc:  # a board whose firmware knows other parameters than this host's
        raise ConfigError(f"cannot work out the detector parameters of this config: {exc}") from None
    params.pop("mains_hz", None)  # a top-level setting
    return {**cfg, "params": params}


def _flat(value: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value and prefix in ("", "stream", "params"):
        out = []
        for k in (sorted(value) if prefix else value):
            out += _flat(value[k], f"{prefix}.{k}" if prefix else k)
        return out
    return [(prefix, value)]


def describe(cfg: dict, overrides: dict | None = None) -> str:
    """KEY = VALUE lines, every detector parameter included; `# default X` beside what differs from the default.

    overrides: the params the board stores (a parameter set to its default value is still marked as set)."""
    from spasmfw import config as fwconfig

    defaults = effective({**fwconfig.defaults(), "mode": cfg["mode"], "rate_hz": cfg["rate_hz"]})
    default_of = dict(_flat(defaults, ""))
    rows = []
    order = list(fwconfig.DEFAULTS)  # the board's JSON comes in no particular order (MicroPython dicts)
    shown = effective(cfg)
    shown = {k: shown[k] for k in sorted(shown, key=lambda k: order.index(k) if k in order else len(order))}
    for key, value in _flat(shown, ""):
        text = json.dumps(value)
        mark = ""
        is_param = key.startswith("params.")
        changed = (key.split(".", 1)[1] in (overrides or {})) if is_param else value != default_of.get(key, value)
        if key != "id" and changed:
            mark = f"# default {json.dumps(default_of.get(key))}"
        rows.append((key, text, mark))
    width = max(len(k) for k, _, _ in rows)
    vwidth = min(30, max(len(v) for _, v, _ in rows))
    return "\n".join(f"{k.ljust(width)} = {v.ljust(vwidth)}  {m}".rstrip() for k, v, m in rows)


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


def _fw_note(client: Any) -> None:
    from spasmfw.app import FW_VERSION

    fw = client.hello_msg.get("fw") if client.hello_msg else None
    if fw and fw != FW_VERSION:
        ui.note(f"the board runs firmware {fw}, this host has {FW_VERSION}: defaults shown are the host's")


def run_get(args: argparse.Namespace) -> int:
    client = connect(args.port)
    try:
        cfg = client.config_get()
        _fw_note(client)
    finally:
        client.close()
    if args.key:
        value = lookup(effective(cfg) if args.key.split(".")[0] == "params" else cfg, args.key)
    elif args.json:
        value = cfg
    else:
        print(describe(cfg, cfg.get("params") or {}))
        return 0
    print(json.dumps(value, indent=1) if isinstance(value, (dict, list)) else json.dumps(value))
    return 0


def run_defaults(args: argparse.Namespace) -> int:
    from spasmfw import config as fwconfig

    cfg = {**fwconfig.DEFAULTS, "mode": args.mode}
    if args.rate is not None:
        cfg["rate_hz"] = args.rate
    try:
        cfg = fwconfig.validate(cfg)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if args.json:
        print(json.dumps(effective(cfg), indent=1))
    else:
        print(describe(cfg))
    return 0


def reset_pairs(cfg: dict, keys: list[str], everything: bool) -> list[tuple[str, object]]:
    """The KEY=VALUE pairs that return `keys` (or every key but id) to the defaults; only what differs."""
    from spasmfw import config as fwconfig

    if everything:
        keys = [k for k in fwconfig.DEFAULTS if k != "id"]
    pairs: list[tuple[str, object]] = []
    for key in keys:
        parts = key.split(".")
        if parts[0] not in fwconfig.DEFAULTS:
            raise ConfigError(f"no config key {key!r} (keys: {', '.join(sorted(fwconfig.DEFAULTS))})")
        if parts[0] == "params":
            if len(parts) > 2:
                raise ConfigError(f"no config key {key!r}")
            stored = cfg.get("params") or {}
            if len(parts) == 2 and parts[1] not in effective(cfg)["params"]:
                raise ConfigError(f"no detector parameter {parts[1]!r} (spasmwatch config defaults lists them)")
            if (len(parts) == 1 and stored) or (len(parts) == 2 and parts[1] in stored):
                pairs.append((key, None))  # params=null / params.X=null: the firmware's own defaults
            continue
        default = lookup(fwconfig.DEFAULTS, key)
        if lookup(cfg, key) != default:
            pairs.append((key, default))
    order = {"channels": 0, "mode": 1, "rate_hz": 2}  # channels before the rate: rate x channels is limited
    return sorted(pairs, key=lambda kv: order.get(kv[0].split(".")[0], 3))


def run_reset(args: argparse.Namespace) -> int:
    if bool(args.keys) == bool(args.all):
        raise ConfigError("give the KEYs to reset, or --all")
    client = connect(args.port)
    try:
        pairs = reset_pairs(client.config_get(), args.keys, args.all)
    finally:
        client.close()
    if not pairs:
        print("already the defaults; nothing changed")
        return 0
    return _apply(args.port, pairs)


def run_set(args: argparse.Namespace) -> int:
    return _apply(args.port, parse_pairs(args.pairs))


def _apply(port: str | None, pairs: list[tuple[str, object]]) -> int:
    client = connect(port)
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
            client = _reopen(port)
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
