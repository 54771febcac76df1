"""`spasmwatch note`: mark a dose, a therapy or anything else in the event database (shown on the dashboard)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from spasmcore.errors import InputError

from ..notes import KINDS, add_note
from ..store import Store, default_path, parse_when

DESCRIPTION = """\
Store a note in the event database: a medication (a new dose of baclofen, a botulinum injection), a therapy
(a stretching routine) or anything else worth seeing beside the spasms. The dashboard marks notes on every
chart, and compares the weeks before and after one.

Examples:
  spasmwatch note "baclofen 10 mg" --kind medication
  spasmwatch note "botulinum toxin, left calf" --kind medication --at 2025-03-10T09:30
  spasmwatch note "stretching, 20 min" --kind therapy --at 2h      # two hours ago
  spasmwatch note --list
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("note", help="add a note or intervention (e.g. a new dose) to the event database",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("text", nargs="?", help="what happened, e.g. \"baclofen 10 mg\"")
    p.add_argument("--at", metavar="WHEN", help="when: ISO-8601 (local time unless a zone is given), today, or a "
                   "time ago such as 2h or 1d (default: now)")
    p.add_argument("--kind", choices=KINDS, default="other", help="medication, therapy or other (default other)")
    p.add_argument("--device", metavar="ID", help="only about this device (default: about the person: shown with "
                   "every device)")
    p.add_argument("--db", metavar="FILE", help=f"event database (default {default_path()})")
    p.add_argument("--list", action="store_true", help="list the notes instead of adding one")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    db = Path(args.db).expanduser() if args.db else default_path()
    if args.list:
        if args.text:
            raise InputError("give a note's text or --list, not both")
        if not db.is_file():
            raise InputError(f"no event database at {db}")
        from ..dashboard.history import ReadOnlyStore

        with ReadOnlyStore(db) as ro:
            notes = ro.notes(device=args.device)
        for n in notes:
            print(f"{datetime.fromtimestamp(n.at).astimezone():%Y-%m-%d %H:%M}  {n.kind:<10}  {n.text}"
                  + (f"  [{n.device_id}]" if n.device_id else ""))
        if not notes:
            print(f"no notes in {db}")
        return 0
    if not args.text:
        raise InputError("what should the note say? e.g. spasmwatch note \"baclofen 10 mg\" --kind medication")
    at = parse_when(args.at).timestamp() if args.at else None
    if not db.is_file():
        Store(db).close()  # a note may come before the first monitoring (the board not there yet)
    note = add_note(db, args.text, args.kind, at, device_id=args.device)
    print(f"noted ({note.kind}) at {datetime.fromtimestamp(note.at).astimezone():%Y-%m-%d %H:%M}: {note.text} "
          f"in {db}")
    return 0
