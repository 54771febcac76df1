"""`spasmwatch report`: one day of stored episodes as a self-contained HTML page."""

from __future__ import annotations

import argparse
import time
from datetime import timezone
from pathlib import Path

from spasmcore.errors import InputError
from spasmwatch.commands.events import check_device, open_store
from spasmwatch.report.data import latest_day, load_day, today
from spasmwatch.report.day import render_html
from spasmwatch.store import day_bounds, default_path


def run_range(args: argparse.Namespace, tz: timezone | None) -> int:
    """--from/--to: the printable multi-day report, the database opened read-only."""
    from spasmwatch.report.range import render_range
    from spasmwatch.store import ReadOnlyStore

    if args.day:
        raise InputError("give --day, or --from/--to, not both")
    first = args.first or args.last
    last = args.last or today(tz)
    day_bounds(first, tz), day_bounds(last, tz)  # one clear error for a bad date, before reading anything
    db = Path(args.db).expanduser() if args.db else default_path()
    with ReadOnlyStore(db) as ro:
        known = [str(d["device_id"]) for d in ro.devices()]
        if args.device is not None and args.device not in known:
            raise InputError(f"no device {args.device!r} in {db} (it has: {', '.join(known) or 'none'})")
        page, data = render_range(ro, first, last, args.device, tz, now=time.time(), source=str(db))
    out = Path(args.out)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from None
    print(f"{len(data.episodes)} episode(s), {len(data.faults)} fault(s), {len(data.notes)} note(s) from {first} to "
          f"{last}: wrote {out}")
    return 0


def run(args: argparse.Namespace) -> int:
    tz = timezone.utc if args.utc else None
    if args.first or args.last:
        return run_range(args, tz)
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
        help="write an HTML report of one day, or of --from/--to days for a clinic visit",
        description="Write a self-contained HTML page for one day: timeline, episodes per hour, duration and "
        "strength distributions, faults and data gaps, and a summary table. With --from/--to: a printable "
        "report over those days (spasms per monitored hour per day, clinical-style bands, notes, and before/"
        "after the latest note), for a clinic visit.",
    )
    p.add_argument("--db", metavar="FILE", help=f"event database (default {default_path()})")
    p.add_argument("--day", metavar="YYYY-MM-DD", help="calendar day to report (default today)")
    p.add_argument("--from", dest="first", metavar="YYYY-MM-DD", help="first day of a multi-day report")
    p.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="last day of a multi-day report (default today)")
    p.add_argument("--device", metavar="ID", help="only this device")
    p.add_argument("--utc", action="store_true", help="use UTC days and clock times instead of local time")
    p.add_argument("--out", "-o", metavar="FILE", default="report.html",
                   help="output file (default report.html)")
    p.set_defaults(func=run)
