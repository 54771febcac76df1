"""`spasmwatch config get|set|reset|defaults`: read and change a board's configuration through the protocol."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from spasmcore.errors import ConfigError, FatalError, LinkError
from spasmwatch.commands.monitor import add_port_arg
from spasmwatch.terminal import ui

REBOOT_WAIT_S = 15.0

CONFIG_HELP = """\
Read or change the board's configuration (saved in its flash as config.json; see docs/protocol.md).

  spasmwatch config get                      every setting and detector parameter in effect, with the
                                             default beside each one that is changed
  spasmwatch config get --json               the config as the board stores it (only changed params)
  spasmwatch config get params.sensitivity       one value (dotted key), a default when not changed
  spasmwatch config set params.sensitivity=5 status_s=30
  spasmwatch config set name=left_calf channels=[34,35] mains_hz=60
  spasmwatch config reset params.sensitivity     back to the default (several KEYs, or --all)
  spasmwatch config defaults --mode env      the defaults, without a board

Values are JSON (numbers, true/false/null, "text", [lists]) or a bare word; on/off mean true/false;
params.X=null returns a detector parameter to its default. The board checks the whole new config and
names the key and its allowed range when something is wrong. Changing pins, rate, mode, LED/buzzer,
watchdog or log size restarts the board; this command waits for it to come back.
"""

def register(subparsers: Any) -> None:
    p = subparsers.add_parser("config", help="read or change the board's configuration",
                              description=CONFIG_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    g = sub.add_parser("get", help="print the config in effect, defaults beside changes (or one KEY)")
    add_port_arg(g)
    g.add_argument("key", nargs="?", metavar="KEY", help="dotted key, e.g. params.sensitivity or channels.0.pin")
    g.add_argument("--json", action="store_true", help="JSON: the stored config, or KEY's value")
    g.set_defaults(func=run_get)
    s = sub.add_parser("set", help="change KEY=VALUE pairs")
    add_port_arg(s)
    s.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    s.set_defaults(func=run_set)
    r = sub.add_parser("reset", help="return KEYs (or --all but id) to their defaults")
    add_port_arg(r)
    r.add_argument("keys", nargs="*", metavar="KEY", help="e.g. params.sensitivity, params (all detector "
                   "parameters), status_s, stream.env")
    r.add_argument("--all", action="store_true", help="every setting except the device id")
    r.set_defaults(func=run_reset)
    d = sub.add_parser("defaults", help="print the default config and detector parameters (no board needed)")
    d.add_argument("--mode", choices=["raw", "env"], default="raw", help="detector mode (default raw)")
    d.add_argument("--rate", type=int, metavar="HZ", help="sample rate (default the config's, 1000)")
    d.add_argument("--json", action="store_true", help="as JSON")
    d.set_defaults(func=run_defaults)


def connect(port_spec: str | None) -> Any:
    from spasmwatch.link.client import Client
    from spasmwatch.link.serial_link import Link, resolve_port

    client = Client(Link.open(resolve_port(port_spec)))
    try:
        client.hello(keep=False)
    except LinkError:
        client.close()
        raise
    return client


def _machine(client: Any) -> str:
    """The chip the connected board's hello names (config.gpio), "" when it names none."""
    return client.hello_info.machine if client.hello_info else ""


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
    from spasmwatch.sensitivity import words

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
        if key == "params.sensitivity":  # the one detector setting a user is meant to turn: say what it means
            mark = f"{mark or '#'} ({words(float(value))})"
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
        machine = _machine(client)
    finally:
        client.close()
    if args.key:
        value = lookup(effective(cfg) if args.key.split(".")[0] == "params" else cfg, args.key)
    elif args.json:
        value = cfg
    else:
        from spasmwatch.board.deploy_build import chip

        with chip(machine):  # "# default" as the board's chip has it
            print(ui.safe(describe(cfg, cfg.get("params") or {}), lines=True))  # names set on the board: escaped
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
        from spasmwatch.board.deploy_build import chip

        with chip(_machine(client)):  # the defaults of the board's chip
            pairs = reset_pairs(client.config_get(), args.keys, args.all)
    finally:
        client.close()
    if not pairs:
        print("already the defaults; nothing changed")
        return 0
    return _apply(args.port, pairs, "config reset")


def run_set(args: argparse.Namespace) -> int:
    return _apply(args.port, parse_pairs(args.pairs))


def _apply(port: str | None, pairs: list[tuple[str, object]], label: str = "config set") -> int:
    client = connect(port)
    try:
        # A board short of heap applies the change across a restart and answers from its new boot (after its
        # hello), so the reply may take a restart's time; hellos seen meanwhile are kept to tell.
        try:
            msg = client.request("config set", *pairs, timeout=REBOOT_WAIT_S, keep=True)
        except FatalError as e:  # `config reset` is sent as `config set`: its errors name the user's command
            if label == "config set":
                raise
            raise type(e)(str(e).replace("`config set`", f"`{label}`")) from None
        result = msg.get("data") if isinstance(msg.get("data"), dict) else {}
        seen = [i.msg for i in client.pending if i.msg is not None and i.msg.get("t") == "hello"]
        client.pending.clear()
        text = ", ".join(f"{k}={json.dumps(v)}" for k, v in pairs)
        if not result.get("reboot"):
            print(f"saved: {text}")
            _print_filter_notes(client.config_get())
            return 0
        print(f"saved: {text}; the board restarts to apply it...", flush=True)
        hello = seen[-1] if seen else client.wait_for(lambda m: m.get("t") == "hello", REBOOT_WAIT_S, keep=False)
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
    from spasmwatch.engine.detect import filter_notes

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
