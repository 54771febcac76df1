"""`spasmwatch note`: mark a dose, a therapy or anything else in the event database (shown on the dashboard)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spasmcore.errors import InputError
from spasmwatch.store import Store, default_path, parse_when
from spasmwatch.store.notes import KINDS, Note, add_note, delete_note, edit_note, read_notes, show_at
from spasmwatch.terminal.ui import safe

DESCRIPTION = """\
Store a note in the event database: a medication (a new dose of baclofen, a botulinum injection), a therapy
(a stretching routine) or anything else worth seeing beside the spasms. The dashboard marks notes on every
chart, and compares the weeks before and after one.

Examples:
  spasmwatch note "baclofen 10 mg" --kind medication
  spasmwatch note "botulinum toxin, left calf" --kind medication --at 2025-03-10T09:30
  spasmwatch note "stretching, 20 min" --kind therapy --at 2h      # two hours ago
  spasmwatch note --list                                           # with each note's ID
  spasmwatch note --edit 3 --at 2025-03-10T08:00                   # change a note's date (or text, --kind)
  spasmwatch note --delete 3
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("note", help="add a note or intervention (e.g. a new dose) to the event database",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("text", nargs="?", help="what happened, e.g. \"baclofen 10 mg\"")
    p.add_argument("--at", metavar="WHEN", help="when: ISO-8601 (local time unless a zone is given), today, or a "
                   "time ago such as 2h or 1d (default: now)")
    p.add_argument("--kind", choices=KINDS, help="medication, therapy or other (default other)")
    p.add_argument("--device", metavar="ID", help="only about this device (default: about the person: shown with "
                   "every device)")
    p.add_argument("--db", metavar="FILE", help=f"event database (default {default_path()})")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--list", action="store_true", help="list the notes (with their IDs) instead of adding one")
    what.add_argument("--edit", type=int, metavar="ID", help="change note ID: its text (if given), --kind, --at")
    what.add_argument("--delete", type=int, metavar="ID", help="remove note ID")
    p.set_defaults(func=run)


def _line(n: Note) -> str:
    return safe(f"{n.id:>4}  {show_at(n.at)}  {n.kind:<10}  {n.text}" + (f"  [{n.device_id}]" if n.device_id else ""))


def run(args: argparse.Namespace) -> int:
    db = Path(args.db).expanduser() if args.db else default_path()
    if args.list:
        return _list(args, db)
    if args.delete is not None:
        if args.text or args.at or args.kind:
            raise InputError("--delete takes only the note's ID")
        print(f"deleted: {_line(delete_note(db, args.delete))}")
        return 0
    at = parse_when(args.at).timestamp() if args.at else None
    if args.edit is not None:
        if not (args.text or args.at or args.kind):
            raise InputError("--edit ID needs what to change: new text, --kind or --at")
        print(f"changed: {_line(edit_note(db, args.edit, args.text, args.kind, at))}")
        return 0
    if not args.text:
        raise InputError("what should the note say? e.g. spasmwatch note \"baclofen 10 mg\" --kind medication")
    if not db.is_file():
        Store(db).close()  # a note may come before the first monitoring (the board not there yet)
    note = add_note(db, args.text, args.kind or "other", at, device_id=args.device)
    print(safe(f"noted ({note.kind}) at {show_at(note.at)}: {note.text} in {db}"))
    return 0


def _list(args: argparse.Namespace, db: Path) -> int:
    if args.text:
        raise InputError("give a note's text or --list, not both")
    if not db.is_file():
        raise InputError(f"no event database at {db}")
    from spasmwatch.store import ReadOnlyStore

    with ReadOnlyStore(db) as ro:  # checks that it is an event database
        notes = read_notes(ro.db, device=args.device, invalid=True)
    for n in notes:
        print(_line(n))
    if not notes:
        print(f"no notes in {db}")
    return 0
