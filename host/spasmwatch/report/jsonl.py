"""JSON lines export: one JSON object per event and line (for jq, pandas.read_json(lines=True), log pipelines)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spasmcore.events import Event


def rows_to_jsonl(rows: Iterable[dict[str, Any]]) -> str:
    """Each row one compact JSON object on its own line; NaN/inf are refused (not valid JSON)."""
    return "".join(json.dumps(r, allow_nan=False, separators=(",", ":")) + "\n" for r in rows)


def events_to_jsonl(events: Iterable[Event], recording: str | None = None) -> str:
    """Replay events as JSON lines, each with the recording it came from when given."""
    return rows_to_jsonl(({"recording": recording, **e.as_row()} if recording else e.as_row()) for e in events)


def write_jsonl(path: str | Path, events: Iterable[Event], recording: str | None = None) -> None:
    Path(path).write_text(events_to_jsonl(events, recording))
