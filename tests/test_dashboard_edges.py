"""Dashboard requests at the edges: bad input is one 4xx line (never a 500), the body size is bounded, the
token, Host, Origin and Content-Type checks read headers as the standards say, and Compare splits at a note's
exact time. Requests go straight into the ASGI app (tests/asgi_call.py), so headers arrive exactly as written."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from asgi_call import Reply, call

from spasmwatch.dashboard.app import create_app
from spasmwatch.dashboard.guard import MAX_BODY
from spasmwatch.store import Store
from spasmwatch.store.notes import add_note, read_notes

HOST = {"host": "127.0.0.1:8765"}
JSON = {**HOST, "content-type": "application/json"}
DAY = datetime(2025, 3, 4)


def at(hour: int, minute: int) -> float:
    return DAY.replace(hour=hour, minute=minute).astimezone().timestamp()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A day of one board: connected 08:00-20:00, tonic spasms at 11:58 and 12:00."""
    path = tmp_path / "events.sqlite3"
    with Store(path) as store, store.batch():
        store.note_hello("dev1", "b1", fw_version="t", uptime_ms=0, wall=at(8, 0))
        store.link_close(store.link_open("/dev/t", "dev1", at(8, 0)), at(20, 0), reason="unplugged")
        for seq, (h, m) in enumerate(((11, 58), (12, 0)), 1):
            onset_ms = int((at(h, m) - at(8, 0)) * 1000)
            store.add_end("dev1", "b1", 0, "tonic", onset_ms, onset_ms + 2000, seq=seq, peak=500, peak_x=5.0, floor=100,
                          received_at=at(h, m) + 2)
    return path


def notes_of(db: Path) -> list[tuple[float, str]]:
    with sqlite3.connect(db) as con:
        return [(n.at, n.text) for n in read_notes(con)]


def error_line(r: Reply) -> str:
    """The one-line error of a refused request (JSON {error} or plain text), never a traceback."""
    text = json.loads(r.body)["error"] if r.headers.get("content-type", "").startswith("application/json") \
        else r.text
    assert text and "\n" not in text and "Traceback" not in text, text
    return str(text)


@pytest.mark.parametrize("query", ["from=0001-01-01", "from=9999-12-30", "from=9999-12-31&to=9999-12-31",
                                   "from=2025-03-04&to=9999-12-31", "from=1969-12-31", "channel=" + "9" * 20,
                                   "channel=-1", "channel=%EF%BC%91", "channel=4"])
def test_bad_history_and_compare_queries_are_400(db: Path, query: str) -> None:
    app = create_app(db)
    # the same bad day or channel in Compare's "after" period
    after = query.replace("from=", "b_from=").replace("to=", "b_to=") if query.startswith("from=") else \
        f"b_from=2025-03-04&{query}"
    after += "" if "b_to=" in after else f"&b_to={after.split('b_from=')[1].split('&')[0]}"
    for path, q in (("/api/history", query), ("/api/compare", f"a_from=2025-03-01&a_to=2025-03-03&{after}")):
        r = call(app, "GET", path, q, HOST)
        assert r.status == 400, (path, q, r.status, r.text)
        assert "expected" in error_line(r)


@pytest.mark.parametrize("when", ["9999-12-31", 1e300, "0001-01-01", "Infinity", -1e12, "1969-12-31T12:00",
                                  "3000-01-01", True, [1]])
def test_out_of_range_note_times_are_400_and_store_nothing(db: Path, when: object) -> None:
    app = create_app(db)
    body = ('{"text": "x", "at": Infinity}' if when == "Infinity" else json.dumps({"text": "x", "at": when})).encode()
    r = call(app, "POST", "/api/notes", "", JSON, body)
    assert r.status == 400, (when, r.status, r.text)
    assert "a note's date" in error_line(r)
    assert notes_of(db) == []


def test_the_body_size_is_bounded(db: Path) -> None:
    app = create_app(db)
    big = json.dumps({"text": "x" * MAX_BODY}).encode()
    r = call(app, "POST", "/api/notes", "", {**JSON, "content-length": str(len(big))}, big)
    assert r.status == 413 and str(MAX_BODY) in error_line(r)
    # no Content-Length (chunked): the body is counted as it comes and refused once over the limit
    r = call(app, "POST", "/api/notes", "", JSON, chunks=[b"{\"text\": \"" + b"y" * 4096] * 5 + [b"\"}"])
    assert r.status == 413
    assert notes_of(db) == []
    ok = json.dumps({"text": "é" * 400}).encode()  # 400 characters escaped as \\u00e9: 2.4 kB, well inside
    assert call(app, "POST", "/api/notes", "", JSON, ok).status == 201


def test_json_nested_too_deep_is_400(db: Path) -> None:
    app = create_app(db)
    for deep in (b"[" * 8000 + b"]" * 8000, b'{"a":' * 2500 + b"1" + b"}" * 2500):
        r = call(app, "POST", "/api/notes", "", JSON, deep)
        assert r.status == 400 and error_line(r) == "the body is not JSON"
    assert notes_of(db) == []


def test_header_quirks_follow_the_standards(db: Path) -> None:
    app = create_app(db)
    note = b'{"text": "baclofen 5 mg", "kind": "medication"}'
    assert call(app, "POST", "/api/notes", "", {**HOST, "content-type": "Application/JSON; charset=UTF-8"},
                note).status == 201  # media types are case-insensitive
    assert call(app, "GET", "/api/info", "", {"host": "LOCALHOST:8765"}).status == 200  # so are host names
    assert call(app, "GET", "/api/info", "", {"host": "evil.example:8765"}).status == 403
    r = call(app, "POST", "/api/notes", "", {**JSON, "origin": "https://127.0.0.1:8765"}, note)
    assert r.status == 403 and "cross-origin" in error_line(r)  # another scheme is another origin
    assert call(app, "POST", "/api/notes", "", {**JSON, "origin": "null"}, note).status == 403
    assert call(app, "POST", "/api/notes", "", {**JSON, "origin": "http://127.0.0.1:8765"}, note).status == 201
    assert call(app, "POST", "/api/notes", "", {**JSON, "origin": "HTTP://127.0.0.1:8765"}, note).status == 201


def test_token_checks_take_any_given_form_and_any_text(db: Path) -> None:
    app = create_app(db, token="s3cret-token", listen_host="0.0.0.0")
    stale = {"cookie": "spasmwatch_token=an-old-one"}
    assert call(app, "GET", "/api/info", "", {**HOST, **stale, "authorization": "Bearer s3cret-token"}).status == 200
    assert call(app, "GET", "/api/info", "", {**HOST, **stale, "authorization": "bearer s3cret-token"}).status == 200
    assert call(app, "GET", "/api/info", "token=s3cret-token", {**HOST, **stale}).status == 200
    assert call(app, "GET", "/api/info", "", {**HOST, **stale}).status == 401
    for query, headers in (("token=%C3%A9t%C3%A9", HOST), ("", {**HOST, "authorization": "Bearer \xe9t\xe9"}),
                           ("", {**HOST, "cookie": "spasmwatch_token=\xe9"}), ("token=%FF%FE", HOST)):
        r = call(app, "GET", "/api/info", query, headers)
        assert r.status == 401 and "token required" in error_line(r)


def test_a_poisoned_store_still_gives_info_and_compare(db: Path) -> None:
    with sqlite3.connect(db) as con:  # rows written before times were checked: a lying clock, an absurd note
        con.execute("UPDATE events SET onset_wall = -8.9e12 WHERE id = 1")
    add_note(db, "ok", "other", at(9, 0))
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO notes (at, kind, text, device_id, created_at) VALUES (1e300, 'other', 'bad', "
                    "NULL, 0)")
    app = create_app(db)
    r = call(app, "GET", "/api/info", "", HOST)
    assert r.status == 200 and json.loads(r.body)["first_day"] is None
    r = call(app, "GET", "/api/compare", "", HOST)
    assert r.status == 200 and json.loads(r.body)["b"]["start"] == at(9, 0)  # around the latest real note


def test_compare_splits_at_the_notes_minute_not_its_day(db: Path) -> None:
    add_note(db, "baclofen 10 mg", "medication", at(11, 59))
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    r = call(create_app(db), "GET", "/api/compare", "", HOST)
    assert r.status == 200, r.text
    c = json.loads(r.body)
    assert (c["a"]["episodes"], c["b"]["episodes"]) == (1, 1)  # 11:58 before the 11:59 note, 12:00 after
    assert c["a"]["end"] == c["b"]["start"] == c["split"] == at(11, 59)
    q = "a_from=2025-03-03&a_to=2025-03-03&b_from=2025-03-04&b_to=2025-03-04"  # dates typed: whole days
    typed = json.loads(call(create_app(db), "GET", "/api/compare", q, HOST).body)
    assert typed["split"] is None and (typed["a"]["episodes"], typed["b"]["episodes"]) == (0, 2)
    assert c["a"]["monitored_s"] == at(11, 59) - at(8, 0) and c["b"]["monitored_s"] == at(20, 0) - at(11, 59)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_notes_are_edited_and_deleted_through_the_api(db: Path) -> None:
    app = create_app(db)
    note = add_note(db, "baclofen 5 mg", "medication", at(9, 0))
    path = f"/api/notes/{note.id}"
    r = call(app, "PATCH", path, "", JSON, b'{"text": "baclofen 10 mg", "at": "2025-03-04T09:30"}')
    assert r.status == 200 and json.loads(r.body)["text"] == "baclofen 10 mg"
    assert notes_of(db) == [(at(9, 30), "baclofen 10 mg")]
    for method, target, headers, body, status in (
            ("PATCH", path, JSON, b'{"at": "9999-12-31"}', 400),
            ("PATCH", path, {**HOST, "content-type": "text/plain"}, b'{"text": "x"}', 415),
            ("PATCH", path, JSON, b'{"kind": "dose"}', 400),
            ("PATCH", path, JSON, b'{"text": 5}', 400),
            ("DELETE", path, {**HOST, "origin": "http://evil.example"}, b"", 403),
            ("DELETE", "/api/notes/" + "9" * 20, HOST, b"", 400),
            ("DELETE", "/api/notes/abc", HOST, b"", 400),
            ("DELETE", "/api/notes/12345", HOST, b"", 400)):
        r = call(app, method, target, "", headers, body)
        assert r.status == status, (method, target, body, r.status, r.text)
        error_line(r)
        assert notes_of(db) == [(at(9, 30), "baclofen 10 mg")]  # a refused write changes nothing
    r = call(app, "DELETE", path, "", HOST)
    assert r.status == 200 and json.loads(r.body)["id"] == note.id
    assert notes_of(db) == []
    assert call(app, "DELETE", path, "", HOST).status == 400  # already gone: one line saying so


def test_the_notes_list_shows_a_note_no_page_can_place_so_it_can_be_fixed(db: Path) -> None:
    add_note(db, "ok", "other", at(9, 0))
    with sqlite3.connect(db) as con:  # stored by an older spasmwatch, before dates were checked
        con.execute("INSERT INTO notes (at, kind, text, device_id, created_at) VALUES (1e300, 'other', 'bad', "
                    "NULL, 0)")
    app = create_app(db)
    listed = json.loads(call(app, "GET", "/api/notes", "", HOST).body)
    assert [n["text"] for n in listed] == ["ok", "bad"]
    bad = listed[1]["id"]
    assert call(app, "PATCH", f"/api/notes/{bad}", "", JSON, b'{"at": "2025-03-04T10:00"}').status == 200
    assert notes_of(db) == [(at(9, 0), "ok"), (at(10, 0), "bad")]


def test_raw_bytes_in_the_query_and_a_trailing_slash_are_4xx(db: Path) -> None:
    app = create_app(db)
    for length in ("\xb2", "-1", "1e3"):  # "²" passes str.isdigit but not int()
        r = call(app, "POST", "/api/notes", "", {**JSON, "content-length": length}, b"{}")
        assert r.status == 400 and error_line(r) == "bad Content-Length"
    r = call(app, "GET", "/api/history", b"from=\x80\xff", HOST)
    assert r.status == 400 and error_line(r) == "the query string is not UTF-8"
    r = call(app, "GET", "/api/notes/", "", HOST)
    assert r.status == 404 and "location" not in r.headers  # no redirect built from the Host header


def test_a_large_body_over_a_real_socket_is_413(db: Path) -> None:
    import http.client

    from spasmwatch.dashboard.server import Dashboard

    dash = Dashboard(db, "127.0.0.1:0")
    dash.start()
    try:  # a 50 MB note announced: refused by its Content-Length, before a byte of it is read
        con = http.client.HTTPConnection("127.0.0.1", dash.port, timeout=60)
        con.putrequest("POST", "/api/notes")
        con.putheader("content-type", "application/json")
        con.putheader("content-length", str(50 * 1024 * 1024))
        con.endheaders()
        reply = con.getresponse()
        assert reply.status == 413 and f"at most {MAX_BODY} bytes" in reply.read().decode()
        con.close()
    finally:
        dash.stop()
    assert notes_of(db) == []


def test_a_chunked_flood_is_refused_in_bounded_memory(db: Path) -> None:
    import tracemalloc

    app = create_app(db)
    call(app, "GET", "/api/info", "", HOST)  # the app's own first-use allocations, outside the measurement
    flood = [b"x" * 65536] * 160  # 10 MB with no Content-Length: counted as it comes, dropped past the limit
    tracemalloc.start()
    try:
        r = call(app, "POST", "/api/notes", "", JSON, chunks=flood)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.status == 413
    assert peak < 4 * MAX_BODY + 1_000_000, peak  # the limit and some change, not the 10 MB


def test_a_head_request_reads_and_never_adds_a_note(db: Path) -> None:
    # HEAD is answered by the GET handler (Starlette adds it to every GET route): a body on it is no note.
    app = create_app(db)
    before = notes_of(db)
    r = call(app, "HEAD", "/api/notes", "", JSON, b'{"text": "not a note"}')
    assert r.status == 200 and notes_of(db) == before
