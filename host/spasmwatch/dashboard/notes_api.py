"""The dashboard's one write: a note's JSON body checked field by field, and its time bounded, before the store.

Every refusal is an InputError (one line, 400): a body that is not a small JSON object, a field of the wrong
type, or a time that notes.check_at refuses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from spasmcore.errors import InputError
from spasmwatch.store.notes import check_at
from spasmwatch.when import parse_when


class Unsupported(InputError):
    """A write whose body is not JSON by its Content-Type (415)."""


def note_number(text: str) -> int:
    """A note id from a URL path: digits, small enough for SQLite."""
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise InputError(f"note {text[:40]!r}: expected a note number (see GET /api/notes)")
    return int(text)


@dataclass(frozen=True)
class NoteFields:
    """The fields a request gave (None: not given)."""

    text: str | None
    kind: str | None
    at: float | None
    device: str | None


def json_object(body: bytes) -> dict[str, object]:
    """The body as a JSON object; nesting too deep for the parser is refused like any other bad JSON."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: `[[[[...` deeper than the decoder goes
        raise InputError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object {text, kind, at}")
    return data


def note_time(value: object) -> float | None:
    """Unix seconds from a number or a time text (ISO-8601, a date, now, ...), checked by notes.check_at; None
    when not given (the note is about now)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            return check_at(parse_when(value).timestamp())
        except (InputError, ValueError, OverflowError, OSError) as exc:  # 0001-01-01 parses, has no local time
            if isinstance(exc, InputError) and "a note's date" in str(exc):
                raise
            raise InputError(f"a note's date {value[:40]!r}: expected ISO-8601 (2025-01-31T14:00), a date or "
                             "unix seconds") from None
    return check_at(value)


def _text(body: dict[str, object], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"note {key}: expected a string")
    return value


def note_fields(body: bytes) -> NoteFields:
    """The checked fields of a note request's body (text and kind are checked by notes.check on storing)."""
    data = json_object(body)
    return NoteFields(_text(data, "text"), _text(data, "kind"), note_time(data.get("at")),
                      _text(data, "device") or None)

