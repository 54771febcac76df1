"""`spasmwatch monitor`: watch a board live, store every episode and fault, reconnect and re-sync."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from spasmcore.errors import ConfigError, LinkError
from spasmwatch.store import Store, default_path

DESCRIPTION = """\
Connect to a spasmwatch board over USB serial (without resetting it), show a live view of the muscle
(envelope against the detection thresholds), the episode in progress, the last events and the counts of
this hour and today, and store every episode and sensor fault in the event database, one row each (written
at its onset, completed at its end).

If the board goes away (unplugged, reset, silent), the monitor says so, waits for it to come back on the
same port and then asks it for the events it logged meanwhile (`sync`), so the database ends with every
event exactly once. A monitor started again later on the same database catches up the same way.

The monitor follows a port path, and any board can be plugged in there. If a different device answers
after a reconnection, it says so and stores that device's events under its own id (they are never mixed
with the first one's). --device ID accepts only that device: another board on the port is refused (at the
start, an error; later, the monitor keeps waiting for ID).

When stdout is not a terminal (a pipe, a log file, a service), one plain line is printed per event instead.

--on-event CMD runs the shell command CMD for every live event (onset, end, fault), with the event as one
JSON object on its stdin (fields of the protocol message plus event, device, boot, received_at, port;
peak_x for an end). Commands run one at a time in the background and are killed after 30 s. Events
recovered by a sync after a disconnection do not run it.

Examples:
  spasmwatch monitor
  spasmwatch monitor --port /dev/ttyUSB0 --db ~/spasms.sqlite3
  spasmwatch monitor --port /dev/ttyUSB0 --device a4cf12b0c3d8
  spasmwatch monitor --on-event 'notify-send spasm "$(jq -r .event)"'
  spasmwatch monitor --seconds 3600 > today.log
"""


def add_port_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", default="auto", metavar="PORT",
                   help="serial port of the board, or auto (default: the one port that looks like an ESP32)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("monitor", help="watch a board live and store its events",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_port_arg(p)
    p.add_argument("--db", metavar="FILE", help=f"event database (default {default_path()})")
    p.add_argument("--on-event", metavar="CMD", help="shell command run per event, event JSON on stdin")
    p.add_argument("--seconds", type=float, metavar="N", help="stop after N seconds (default: until Ctrl-C)")
    p.add_argument("--plain", action="store_true", help="plain event lines even on a terminal")
    p.add_argument("--device", metavar="ID",
                   help="accept only the device with this id (as `hello`, `spasmwatch events` show it)")
    p.set_defaults(func=run)


def summary(store: Store, device: str | None, counts: dict[str, int], seen: list[str] | None = None) -> str:
    text = _summary(store, device, counts)
    others = [d for d in seen or [] if d != device]
    for other in others:  # a different board answered on the port during the session: its own totals
        text += "\n" + _summary(store, other, {})
    return text


def _summary(store: Store, device: str | None, counts: dict[str, int]) -> str:
    rows = store.events(device=device) if device else []
    closed = sum(1 for r in rows if r.kind != "fault" and r.state == "closed")
    going = sum(1 for r in rows if r.state == "open")
    faults = sum(1 for r in rows if r.kind == "fault")
    extra = f", {counts['synced']} recovered by sync" if counts.get("synced") else ""
    if counts.get("conflicts"):
        extra += f", {counts['conflicts']} conflicting repeat(s) of a stored record ignored"
    now = f" (+{going} still in progress)" if going else ""
    session = f" ({counts.get('live', 0)} live event message(s) this session{extra})" if counts else ""
    return (f"{closed} episode(s){now} and {faults} fault(s) stored for device {device or '?'} in "
            f"{store.path}{session}")


def monitor_port(port: str | None, db: Path, *, seconds: float | None = None, on_event: str | None = None,
                 plain: bool = False, out: Any = None, device: str | None = None) -> int:
    """Run a monitor session (shared by `monitor` and `demo`); returns the exit code."""
    from spasmwatch.monitor import LiveSink, Monitor, PlainSink, open_client

    live = not plain and out is None and sys.stdout.isatty()
    # a bad port, a board without the firmware or not the --device: one clear error, before any screen or
    # database
    client, hello = open_client(port)
    if device is not None and hello.id != device:
        client.close()
        raise LinkError(f"{client.port}: the board there is device {hello.id}, not {device} (--device)")
    with Store(db) as store:
        sink = LiveSink() if live else PlainSink(out)
        mon = Monitor(store, port, sink=sink, on_event=on_event, stream_env=live, device=device)
        mon.attach(client, hello)
        try:
            if isinstance(sink, LiveSink):
                with sink:
                    mon.run(seconds)
            else:
                mon.run(seconds)
        except KeyboardInterrupt:
            mon.close("stopped by the user")
        text = summary(store, mon.device_id, mon.counts, mon.devices_seen)
        if mon.rejected:  # never stored: say how many lines the link corrupted
            text += (f"\n{mon.rejected} corrupted line(s) dropped (bad checksum, invalid field or implausible "
                     "time); what they held was asked for again with sync")
    print(text, file=sys.stderr if not live else sys.stdout, flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.seconds is not None and args.seconds <= 0:
        raise ConfigError("--seconds must be > 0")
    db = Path(args.db).expanduser() if args.db else default_path()
    return monitor_port(args.port, db, seconds=args.seconds, on_event=args.on_event, plain=args.plain,
                        device=args.device)
