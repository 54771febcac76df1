"""`spasmwatch report`: one day of stored episodes as a self-contained HTML page."""

from __future__ import annotations

import argparse
import time
from datetime import timezone
from pathlib import Path

from spasmcore.errors import InputError

from ..report import latest_day, load_day, render_html, today
from ..store import day_bounds, default_path
from .events import check_device, open_store


def run(args: argparse.Namespace) -> int:
    tz = timezone.utc if args.utc else None
    day = args.day or today(tz)
    day_bounds(day, tz)  # validates YYYY-MM-DD before touching the database
    with open_store(args.db) as store:
        check_device(store, args.device)  # a --device the database never saw: one line naming the known ones
        data = load_day(store, day, args.device, tz, now=time.time())
        last = latest_day(store, args.device, tz) if data.empty else None
    page = render_html(data, source=str(args.db or default_path()))
    out = Path(args.out)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from None
    if data.empty:
        hint = f" (latest events are on {last}: try --day {last})" if last and last != day else ""
        print(f"no episodes or faults on {day}{hint}; wrote an empty report to {out}")
    else:
        print(f"{len(data.episodes)} episode(s), {len(data.faults)} fault(s) on {day}: wrote {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write a one-day HTML report (charts and a summary table)",
        description="Write a self-contained HTML page for one day: timeline, episodes per hour, duration and "
        "strength distributions, faults and data gaps, and a summary table.",
    )
    p.add_argument("--db", metavar="FILE", help=f"event database (default {default_path()})")
    p.add_argument("--day", metavar="YYYY-MM-DD", help="calendar day to report (default today)")
    p.add_argument("--device", metavar="ID", help="only this device")
    p.add_argument("--utc", action="store_true", help="use UTC days and clock times instead of local time")
    p.add_argument("--out", "-o", metavar="FILE", default="report.html",
                   help="output file (default report.html)")
    p.set_defaults(func=run)
