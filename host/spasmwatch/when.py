"""Time as users write and read it: `--since` bounds, calendar days, ISO-8601 UTC text, unix seconds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

from spasmcore.errors import InputError


def to_wall(value: datetime | float | None) -> float | None:
    """Unix seconds from an aware datetime (naive = local time) or a number."""
    if value is None or isinstance(value, (int, float)):
        return value
    return value.timestamp()


def iso_utc(wall: float | None) -> str:
    """ISO-8601 UTC with millisecond precision, '' for unknown."""
    if wall is None:
        return ""
    text = datetime.fromtimestamp(wall, timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def day_bounds(day: str | datetime, tz: tzinfo | None = None) -> tuple[datetime, datetime]:
    """[start, end) of a calendar day in tz (default: local time, DST-aware)."""
    if isinstance(day, str):
        try:
            d = datetime.strptime(day, "%Y-%m-%d")
        except ValueError:
            raise InputError(f"bad day {day!r}: expected YYYY-MM-DD") from None
    else:
        d = day.replace(tzinfo=None)
    d = d.replace(hour=0, minute=0, second=0, microsecond=0)
    nxt = d + timedelta(days=1)
    if tz is None:
        return d.astimezone(), nxt.astimezone()  # naive -> local zone with the right DST offset for that date
    return d.replace(tzinfo=tz), nxt.replace(tzinfo=tz)


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """A user's time bound: ISO-8601 (naive = local time), YYYY-MM-DD (local midnight), now, today,
    yesterday, or a time ago: 30m / 24h / 7d / 2w (also written -24h)."""
    local = now is None
    now = now or datetime.now().astimezone()
    s = text.strip().lower()
    if s == "now":
        return now
    if s in ("today", "yesterday"):
        day = now.date() - timedelta(days=1 if s == "yesterday" else 0)
        if local:  # local midnight with that date's DST offset
            return day_bounds(day.isoformat())[0]
        return datetime(day.year, day.month, day.day, tzinfo=now.tzinfo)
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    # "24h" means the same as "-24h": argparse takes `--since -24h` for an option, `--since=-24h` works
    rel = s[1:] if s.startswith("-") else s
    if len(rel) > 1 and rel[-1] in units and (rel[0].isdigit() or rel[0] == "."):
        try:
            amount = float(rel[:-1])
        except ValueError:
            amount = -1.0
        if amount >= 0:
            try:
                return now - timedelta(seconds=amount * units[s[-1]])
            except OverflowError:  # 1e300d: no calendar goes back that far
                raise InputError(f"bad time {text!r}: that is before the calendar starts") from None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        return when if when.tzinfo is not None else when.astimezone()
    except (ValueError, OverflowError):  # OverflowError: year 1 moved into the local zone
        raise InputError(
            f"bad time {text!r}: use ISO-8601 (2025-01-31T14:00), a date (2025-01-31), now, today, "
            "yesterday, or a time ago like 30m, 24h, 7d"
        ) from None
