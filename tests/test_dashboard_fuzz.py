"""Fuzz the dashboard's requests (Hypothesis): any method, path, query string, headers and body get a 2xx or 4xx
answer, a refusal is one line of text (never a traceback, never a 500), and a refused write leaves the store as
it was; the events are never changed at all. A few hundred requests by default; 10^4 in the `slow` test."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import urllib.parse
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from asgi_call import call
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spasmwatch.dashboard.app import create_app
from spasmwatch.store import Store
from spasmwatch.store.notes import add_note

TOKEN = "fuzz-token-1234"
DAY = datetime(2025, 3, 4)
PATHS = ["/", "/api/info", "/api/history", "/api/compare", "/api/notes", "/api/live", "/api/notes/1",
         "/api/notes/2", "/static/common.js", "/static/../app.py", "/api/nothing"]
KEYS = ["from", "to", "channel", "device", "a_from", "a_to", "b_from", "b_to", "token"]
NOTE_KEYS = ["text", "kind", "at", "device"]


def at(hour: int) -> float:
    return DAY.replace(hour=hour).astimezone().timestamp()


def _days() -> st.SearchStrategy[str]:
    real = st.dates().map(lambda d: d.isoformat())  # year 1 to 9999: both ends of the calendar
    near = st.dates(min_value=DAY.date().replace(day=1), max_value=DAY.date().replace(day=28)).map(str)
    return st.one_of(real, near, st.text(max_size=12), st.sampled_from(["", "today", "2025-02-30", "0"]))


def _numbers() -> st.SearchStrategy[str]:
    return st.one_of(st.integers(-10**25, 10**25).map(str), st.floats().map(repr), st.text("0123456789", max_size=30),
                     st.text(max_size=8))


def _value(key: str) -> st.SearchStrategy[str]:
    if key.endswith(("from", "to")):
        return _days()
    if key == "channel":
        return _numbers()
    if key == "token":
        return st.one_of(st.just(TOKEN), st.text(max_size=20))
    return st.text(max_size=20)


queries = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), st.just(""), max_size=6).flatmap(
        lambda d: st.fixed_dictionaries({k: _value(k) for k in d})).map(urllib.parse.urlencode),
    st.binary(max_size=60),  # raw bytes: bad percent-escapes, non-UTF-8
)

scalars = st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats() | st.text(max_size=30)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=6), inner, max_size=4), max_leaves=12)
note_values = {"text": st.one_of(st.text(max_size=40), st.text(max_size=600), json_values),
               "kind": st.one_of(st.sampled_from(["medication", "therapy", "other", "Medication"]), json_values),
               "at": st.one_of(_days(), st.floats(), st.integers(-10**20, 10**20),
                               st.floats(min_value=at(0), max_value=at(23)),
                               st.sampled_from(["now", "2025-03-04T10:00", "1e300", "Infinity", "-24h"]), json_values),
               "device": st.one_of(st.text(max_size=10), json_values)}
bodies = st.one_of(
    st.fixed_dictionaries({}, optional=note_values).map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    st.integers(1, 20_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 40_000).map(lambda n: json.dumps({"text": "x" * n}).encode()),
)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40)  # latin-1, as HTTP carries
lengths = st.one_of(st.integers(0, 10**7).map(str), header_text,
                    st.sampled_from(["\xb2", "\xb9", "-1", " 12 ", "1e3", "0x10"]))  # "²": a digit to str.isdigit
headers = st.fixed_dictionaries({"host": st.sampled_from(["127.0.0.1:8765", "LOCALHOST:8765", "localhost",
                                                          "[::1]:8765", "evil.example", ""])},
                                optional={"content-type": st.one_of(st.sampled_from(
                                              ["application/json", "Application/JSON; charset=utf-8", "text/plain",
                                               "application/x-www-form-urlencoded"]), header_text),
                                          "origin": st.one_of(st.sampled_from(
                                              ["http://127.0.0.1:8765", "https://127.0.0.1:8765", "null"]),
                                              header_text),
                                          "cookie": st.one_of(st.just(f"spasmwatch_token={TOKEN}"), header_text),
                                          "authorization": st.one_of(st.just(f"Bearer {TOKEN}"), header_text),
                                          "content-length": lengths})
requests = st.tuples(st.sampled_from(["GET", "HEAD", "POST", "PATCH", "DELETE", "PUT"]),
                     st.one_of(st.sampled_from(PATHS), st.text(max_size=20).map(lambda s: "/api/notes/" + s)),
                     queries, headers, bodies, st.booleans())


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "events.sqlite3"
    with Store(path) as store, store.batch():
        store.note_hello("dev1", "b1", fw_version="t", uptime_ms=0, wall=at(8), channel_names=["left calf"])
        store.link_close(store.link_open("/dev/t", "dev1", at(8)), at(20), reason="unplugged")
        for seq, h in enumerate((9, 11, 13), 1):
            onset = int((at(h) - at(8)) * 1000)
            store.add_end("dev1", "b1", 0, "tonic", onset, onset + 2000, seq=seq, peak=500, peak_x=5.0, floor=100,
                          received_at=at(h) + 2)
    add_note(path, "baclofen 10 mg", "medication", at(12))
    return path


@pytest.fixture(scope="module")
def apps(db: Path) -> dict[bool, Any]:
    return {False: create_app(db), True: create_app(db, token=TOKEN, listen_host="0.0.0.0")}


def digest(db: Path, table: str) -> str:
    with sqlite3.connect(db) as con:
        rows = con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def one_request(db: Path, apps: dict[bool, Any], req: tuple) -> None:
    method, path, query, hdrs, body, tokened = req
    events, notes = digest(db, "events"), digest(db, "notes")
    hdrs = dict(hdrs)
    if "content-length" not in hdrs and method not in ("GET", "HEAD"):
        hdrs["content-length"] = str(len(body))
    r = call(apps[tokened], method, path, query, hdrs, body)
    assert 200 <= r.status < 500 and r.status not in range(300, 400), (r.status, r.text[:300], req)
    if r.status >= 400 and method != "HEAD":
        text = r.text
        if r.headers.get("content-type", "").startswith("application/json"):
            text = json.loads(r.body)["error"]
        assert text.strip() and "\n" not in text.strip() and "Traceback" not in text, (text[:300], req)
    assert digest(db, "events") == events  # the dashboard never writes an event
    if r.status >= 300 or method in ("GET", "HEAD"):
        assert digest(db, "notes") == notes, (r.status, req)  # a refused write (or a read) changes nothing


FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                  HealthCheck.data_too_large])


@settings(max_examples=300, **FUZZ)  # type: ignore[arg-type]
@given(req=requests)
def test_any_request_gets_a_clean_answer(db: Path, apps: dict[bool, Any], req: tuple) -> None:
    one_request(db, apps, req)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.fuzz10k
@settings(max_examples=10_000, **FUZZ)  # type: ignore[arg-type]
@given(req=requests)
def test_ten_thousand_requests_get_a_clean_answer(db: Path, apps: dict[bool, Any], req: tuple) -> None:
    one_request(db, apps, req)
