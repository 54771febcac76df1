"""`spasmwatch dashboard`: the browser dashboard (live, history, compare, notes) served on this PC."""

from __future__ import annotations

import argparse
import sys
import threading
import webbrowser
from pathlib import Path
from typing import Any

from spasmwatch.store import Store, default_path

DESCRIPTION = """\
Serve a dashboard for your browser on this PC: the live view of a board (when one is attached), the history
of the event database by day, week or month, notes and interventions (a new dose, a therapy) marked on every
chart, a comparison of two periods (e.g. 14 days before and after a note), and clinical-style summaries.

Everything stays on this machine: the pages and their chart library come from the spasmwatch package, the page
never loads anything from elsewhere, and nothing is sent anywhere. The database is only read, except for the
notes you add (and the events of the attached board, stored as `spasmwatch monitor` stores them).

It listens on 127.0.0.1 (this PC only). --listen 0.0.0.0:8765 lets a phone on your home network open it; it
then prints a token, and every request must carry it (open the printed address once; the browser keeps it).

Examples:
  spasmwatch dashboard --open                      # board on the usual port, or none yet
  spasmwatch dashboard --port none --db ~/spasms.sqlite3
  spasmwatch dashboard --listen 0.0.0.0:8765       # for a caregiver's phone (token required)
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("dashboard", help="open the browser dashboard: live view, history, compare, notes",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", metavar="FILE", help=f"event database (default {default_path()})")
    p.add_argument("--port", default="auto", metavar="PORT|auto|none",
                   help="the board's serial port for the live view; auto (default) finds it and waits for one; "
                        "none: history only")
    p.add_argument("--listen", default="127.0.0.1:8765", metavar="HOST:PORT",
                   help="address to serve on (default 127.0.0.1:8765; port 0 = any free port; any address "
                        "other than this PC's requires the printed token)")
    p.add_argument("--open", action="store_true", help="open the dashboard in the web browser")
    p.set_defaults(func=run)


def serve(db: Path, port: str | None, listen: str, open_browser: bool = False, *, out: Any = None,
          seconds: float | None = None) -> int:
    """Run the dashboard in the foreground until Ctrl-C (shared by `dashboard` and `demo --dashboard`)."""
    from spasmwatch.dashboard.live import LiveHub
    from spasmwatch.dashboard.server import Dashboard

    out = out or sys.stdout
    if port is not None and not db.is_file():
        Store(db).close()  # the live monitor will store events here, as `monitor` would create it
    live = LiveHub(db, port) if port is not None else None
    dash = Dashboard(db, listen, live=live)
    print(f"spasmwatch dashboard on {dash.url}  (database {db}; "
          f"{'live view on ' + port if port else 'no live view'}; Ctrl-C stops)", file=out, flush=True)
    if dash.token:
        print(f"  listening on {dash.host}: from another device open http://<this PC's address>:{dash.port}/"
              f"?token={dash.token}\n  keep the token to yourself: it opens your spasm log", file=out, flush=True)
    if open_browser:
        webbrowser.open(dash.url)
    if seconds is not None:  # (demo --seconds, tests) a stop as Ctrl-C would do it
        timer = threading.Timer(seconds, dash.request_stop)
        timer.daemon = True
        timer.start()
    try:
        dash.serve()
    finally:
        dash.sock.close()
    return 0


def run(args: argparse.Namespace) -> int:
    db = Path(args.db).expanduser() if args.db else default_path()
    port = None if str(args.port).lower() == "none" else args.port
    return serve(db, port, args.listen, args.open)
