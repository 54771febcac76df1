"""`spasmwatch events`: export stored episodes and faults as CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import datetime, timezone, tzinfo
from pathlib import Path

from spasmcore.errors import InputError
from spasmcore.events import EVENT_COLUMNS, MORE_COLUMNS
from spasmwatch.report import jsonl
from spasmwatch.store import Store, StoredEvent, default_path, iso_utc, parse_when
from spasmwatch.terminal.ui import safe

# The replay events columns first (so `read_events` and `evaluate` accept the file; a field added to the firmware's
# end record among them), then provenance.
COLUMNS = [
    *EVENT_COLUMNS, "device_id", "boot_id", "seq", "state", "onset_wall", "offset_wall", "onset_local", "offset_local",
]


def parse_tz(name: str | None) -> tzinfo | None:
    """--tz: an IANA zone name (Europe/Berlin), UTC, or None for this machine's local time zone."""
    if name is None:
        return None
    if name.strip().upper() in ("UTC", "Z"):
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--tz {name}: unknown time zone (use a name like Europe/Berlin or America/New_York, "
                         "or UTC)") from None


def local_time(wall: float | None, tz: tzinfo | None = None) -> str:
    """Wall time in `tz` (None: this machine's zone) as `YYYY-MM-DD HH:MM:SS.mmm`, no zone suffix, so that
    spreadsheets read it as a date and time; '' for unknown."""
    if wall is None:
        return ""
    when = datetime.fromtimestamp(wall, timezone.utc).astimezone(tz)
    return when.replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds")


def row(ev: StoredEvent, tz: tzinfo | None = None) -> dict[str, object]:
    """One export record; *_s are device seconds since boot, *_wall ISO-8601 UTC, *_local the same instants
    in `tz` (None: local time) without a zone ('' when unknown). `kind` is empty for an episode still open
    (its kind is decided at its end; `state` says open)."""
    e = ev.to_event()
    return {
        "channel": ev.channel,
        "kind": ev.kind,
        "onset_s": round(e.onset_s, 3),
        "offset_s": round(e.offset_s, 3) if ev.offset_ms is not None else None,
        "detected_s": round(e.detected_s, 3),
        "duration_s": round(ev.duration_s, 3) if ev.duration_s is not None else None,
        "peak": _round(ev.peak, 2),
        "mean": _round(ev.mean, 2),
        "peak_x": _round(ev.peak_x, 3),
        "mean_x": _round(ev.mean_x, 3),
        "detail": ev.detail,
        **{c: e.as_row().get(c) for c in MORE_COLUMNS},
        "device_id": safe(ev.device_id),  # as the device named itself, control characters escaped
        "boot_id": ev.boot_id,
        "seq": ev.seq,
        "state": ev.state,
        "onset_wall": iso_utc(ev.onset_wall),
        "offset_wall": iso_utc(ev.offset_wall),
        "onset_local": local_time(ev.onset_wall, tz),
        "offset_local": local_time(ev.offset_wall, tz),
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def to_csv(events: list[StoredEvent], tz: tzinfo | None = None) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for ev in events:
        writer.writerow({k: ("" if v is None else v) for k, v in row(ev, tz).items()})
    return out.getvalue()


def to_json(events: list[StoredEvent], tz: tzinfo | None = None) -> str:
    records = [{k: (None if v == "" else v) for k, v in row(ev, tz).items()} for ev in events]
    return json.dumps(records, indent=1) + "\n"


def open_store(db: str | None) -> Store:
    """The database named by --db (or the default one); an error if it does not exist yet."""
    return Store(Path(db).expanduser() if db else default_path(), readonly=True)  # never written by reading


def check_device(store: Store, device: str | None) -> None:
    """An InputError naming the known devices when `device` is given but the database has never seen it."""
    if device is None:
        return
    known = sorted(str(d["device_id"]) for d in store.devices())
    if device not in known:
        raise InputError(f"no device {device!r} in {store.path} (devices: {', '.join(known) or 'none'})")


def run(args: argparse.Namespace) -> int:
    tz = parse_tz(args.tz)
    since = parse_when(args.since) if args.since else None
    until = parse_when(args.until) if args.until else None
    if since and until and since >= until:
        raise InputError(f"--since {args.since} is not before --until {args.until}")
    with open_store(args.db) as store:
        states = ("open", "closed") if args.include_open else ("closed",)
        events = store.events(since, until, args.device, states=states)
        if not events:
            check_device(store, args.device)
    text = to_json(events, tz) if args.format == "json" else to_csv(events, tz) if args.format == "csv" else (
        jsonl.rows_to_jsonl({k: (None if v == "" else v) for k, v in row(ev, tz).items()} for ev in events))
    if args.out and args.out != "-":
        try:
            Path(args.out).write_text(text)
        except OSError as exc:
            raise InputError(f"cannot write {args.out}: {exc.strerror}") from None
        print(f"{len(events)} event(s) written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "events",
        help="export stored episodes and faults (CSV or JSON)",
        description="Export episodes and faults from the event database. Times: ISO-8601 (naive = local "
        "time), YYYY-MM-DD, today, yesterday, or a time ago like 24h or 7d (or -24h). "
        "onset_s/offset_s are device seconds since boot; onset_wall/offset_wall are ISO-8601 UTC; "
        "onset_local/offset_local the same times in local time (or --tz), as YYYY-MM-DD HH:MM:SS.mmm for "
        "spreadsheets. kind is empty (state open) for an episode still in progress.",
    )
    p.add_argument("--db", metavar="FILE", help=f"event database (default {default_path()})")
    p.add_argument("--since", metavar="WHEN", help="only events with onset at or after WHEN")
    p.add_argument("--until", metavar="WHEN", help="only events with onset before WHEN")
    p.add_argument("--device", metavar="ID", help="only this device")
    p.add_argument("--format", choices=("csv", "json", "jsonl"), default="csv",
                   help="output format: csv (default), json, or jsonl (JSON lines: one event per line)")
    p.add_argument("--include-open", action="store_true", help="also export episodes still in progress")
    p.add_argument("--tz", metavar="ZONE", help="time zone of onset_local/offset_local, e.g. Europe/Berlin "
                   "or UTC (default: this machine's)")
    p.add_argument("--out", "-o", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=run)
