"""`spasmwatch demo`: the monitor on a virtual board playing simulated spasms, no hardware needed."""

from __future__ import annotations

import argparse
import math
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any

from spasmcore.errors import ConfigError

SCENARIO = "clonus_mixed"  # clonus trains and tonic spasms; with this seed the first one starts at 7 s
SEED = 5
MINUTES = 3.0
DEFAULT_SECONDS = 30.0
DEFAULT_SPEED = 5.0
HISTORY_DEVICE = "sim0history"  # the simulated six weeks beside the virtual board in `demo --dashboard`

DESCRIPTION = f"""\
See what spasmwatch does without a board: a virtual board (the real firmware under the MicroPython unix
port, on a pseudo-terminal) plays a {MINUTES:g}-minute simulated recording ({SCENARIO}: clonus trains and
tonic spasms at 1 kHz, generated on the spot) at --speed times real time, and `spasmwatch monitor` watches it,
storing every episode in a fresh event database. After --seconds (or Ctrl-C) it tells you where the events
went and how to turn them into a report. Its files (about 1.4 MB in a temporary directory) are removed at
the end unless --keep or --dir.

Without a terminal (a pipe, CI) it prints one line per event instead of the live view.

--dashboard shows it in the browser dashboard instead (spasmwatch dashboard, on this PC only), until Ctrl-C or
--seconds. So that History and Compare have something to show, the demo's database also gets six weeks of
simulated history of a second, simulated device (HISTORY_DEVICE), with a medication note halfway.
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="watch simulated spasms on a virtual board (no hardware needed)",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, metavar="N",
                   help=f"stop after N seconds (default {DEFAULT_SECONDS:g}; with --dashboard: at Ctrl-C)")
    p.add_argument("--speed", type=float, default=DEFAULT_SPEED, metavar="X",
                   help=f"playback speed of the recording (default {DEFAULT_SPEED:g}: spasms within seconds)")
    p.add_argument("--dir", metavar="DIR", help="put the recording, virtual flash and events here and keep them "
                   "(default: a new temporary directory, removed at the end unless --keep)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (the event database, the "
                   "recording and the virtual board's flash) and say where it is")
    p.add_argument("--plain", action="store_true", help="plain event lines even on a terminal")
    p.add_argument("--mqtt", metavar="URL", help="the virtual board also publishes to this MQTT broker "
                   "(mqtt://HOST:PORT), with Home Assistant discovery")
    p.add_argument("--dashboard", action="store_true", help="open the browser dashboard on the virtual board "
                   "(with six weeks of simulated history to look at)")
    p.set_defaults(func=run)


def make_recording(path: Path) -> Path:
    """The demo recording, generated deterministically (a few hundred ms) instead of shipping a file."""
    from spasmcore.recording import write_recording
    from spasmsim.generate import generate

    sim = generate(SCENARIO, seed=SEED, minutes=MINUTES)
    write_recording(path, sim.rate_hz, sim.channels, units="counts", mode=sim.mode)
    return path


def add_history(db: Path) -> int:
    """Six weeks of simulated events of another device, and its notes, for the dashboard's History."""
    from spasmsim.weeks import fill_store, simulate_weeks
    from spasmwatch.store import Store
    from spasmwatch.store.notes import add_note

    weeks = simulate_weeks(42, seed=SEED, device_id=HISTORY_DEVICE)
    with Store(db) as store:
        fill_store(weeks, store)
    for n in weeks.notes:
        add_note(db, n.text, n.kind, n.at)
    return len(weeks.episodes)


def run(args: argparse.Namespace) -> int:
    from spasmsim.device import VirtualDevice
    from spasmsim.netdevice import net_config
    from spasmwatch.commands.dashboard import serve
    from spasmwatch.commands.monitor import monitor_port

    if args.seconds is None and not args.dashboard:
        args.seconds = DEFAULT_SECONDS
    if args.seconds is not None and (not args.seconds > 0 or math.isinf(args.seconds)):
        raise ConfigError("--seconds must be a positive number")
    if not 0 < args.speed <= 50 or math.isnan(args.speed):
        raise ConfigError("--speed must be in 0..50 (0 excluded)")
    keep = args.keep or bool(args.dir)  # a directory the user named is never removed
    where = Path(args.dir).expanduser() if args.dir else Path(tempfile.mkdtemp(prefix="spasmwatch-demo-"))
    try:
        where.mkdir(parents=True, exist_ok=True)
        db = where / "events.sqlite3"
        rec = make_recording(where / "demo_recording.csv")
        net = net_config(mqtt=args.mqtt) if args.mqtt else None
        dev = VirtualDevice(rec, speed=args.speed, state_dir=where / "board", loop=True, net=net)
        try:
            port = dev.start()
            until = f"for {args.seconds:g} s" if args.seconds else "until Ctrl-C"
            print(f"demo: a virtual board on {port} plays {MINUTES:g} min of simulated {SCENARIO} EMG at "
                  f"x{args.speed:g} speed; monitoring {until} (Ctrl-C stops)", flush=True)
            if net:
                print(f"demo: the board also publishes its episodes to {args.mqtt} under spasmwatch/ (Home "
                      "Assistant discovery on)", flush=True)
            if args.dashboard:
                n = add_history(db)
                print(f"demo: History and Compare also show {n} simulated events of six weeks from device "
                      f"{HISTORY_DEVICE} (not the virtual board)", flush=True)
                serve(db, port, "127.0.0.1:0", open_browser=True, seconds=args.seconds)
            else:
                monitor_port(port, db, seconds=args.seconds, plain=args.plain)
        finally:
            dev.close()
    finally:
        if not keep:  # also after an error or Ctrl-C: the demo leaves nothing behind unless asked to
            shutil.rmtree(where, ignore_errors=True)
    speed_note = (f"(the virtual board's clock runs x{args.speed:g}: the wall-clock times of these events are only "
                  "approximate)")
    if not keep:
        print(f"\nThe demo's files ({where}) are removed. To keep the events and try the next steps on them:\n"
              f"  spasmwatch demo --keep   (then `spasmwatch report --db ...` and `spasmwatch events --db ...`)\n"
              f"  watch a board:  spasmwatch monitor   (or try `spasmwatch device --example`)", flush=True)
        return 0
    q = shlex.quote(str(db))
    print(f"\nThe demo's files are kept in {where}: events.sqlite3 (the events), {rec.name} (the recording), "
          f"board/ (the virtual board's flash); delete the folder when done.\n"
          f"The events are in {db}\n"
          f"  make a report:  spasmwatch report --db {q} --out report.html\n"
          f"  list them:      spasmwatch events --db {q}\n"
          f"  watch a board:  spasmwatch monitor   (or try `spasmwatch device --example`)\n"
          f"{speed_note}",
          flush=True)
    return 0
