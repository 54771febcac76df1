"""Dashboard API on six weeks of simulated events: counts, monitored time, bands, compare, notes, security."""

from __future__ import annotations

import hashlib
import json
import statistics
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from scipy.stats import mannwhitneyu

from spasmsim.weeks import Weeks, fill_store, simulate_weeks
from spasmwatch.dashboard.server import Dashboard, parse_listen
from spasmwatch.store import Store
from spasmwatch.store.notes import add_note, read_notes

FIRST = date(2025, 1, 6)
DAYS = 42


@pytest.fixture(scope="module")
def weeks() -> Weeks:
    return simulate_weeks(DAYS, first_day=FIRST, seed=3)


@pytest.fixture(scope="module")
def db(weeks: Weeks, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dash") / "events.sqlite3"
    with Store(path) as store:
        fill_store(weeks, store)
    for n in weeks.notes:
        add_note(path, n.text, n.kind, n.at)
    return path


@pytest.fixture(scope="module")
def server(db: Path) -> Iterator[Dashboard]:
    dash = Dashboard(db, "127.0.0.1:0")
    dash.start()
    yield dash
    dash.stop()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict | str, dict[str, str]]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            body = r.read().decode()
            return r.status, json.loads(body) if "json" in r.headers.get("content-type", "") else body, dict(r.headers)
    except urllib.error.HTTPError as exc:
        body = exc.read().decode()
        return exc.code, json.loads(body) if "json" in exc.headers.get("content-type", "") else body, dict(exc.headers)


def post(url: str, payload: object, ctype: str = "application/json", **headers: str) -> tuple[int, dict | str]:
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"content-type": ctype, **headers})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        body = exc.read().decode()
        return exc.code, json.loads(body) if "json" in exc.headers.get("content-type", "") else body


def day_start(d: date) -> float:
    return datetime(d.year, d.month, d.day).astimezone().timestamp()


def truth_day(w: Weeks, d: date, lo: float = float("-inf"), hi: float = float("inf")) -> dict[str, object]:
    """The figures of one day (cut to [lo, hi)) computed from the simulation itself, not through the store or the
    app."""
    a, b = max(lo, day_start(d)), min(hi, day_start(d + timedelta(days=1)))
    eps = [e for e in w.episodes if e.kind != "fault" and a <= e.onset_wall < b]
    monitored = sum(max(0.0, min(s.end, b) - max(s.start, a)) for s in w.sessions)
    clonus = [e.duration_s for e in eps if e.kind == "clonus"]
    return {"episodes": len(eps), "monitored_s": monitored, "kinds": {k: sum(e.kind == k for e in eps)
                                                                      for k in ("twitch", "tonic", "clonus")},
            "clonus": [sum(x < 3 for x in clonus), sum(3 <= x <= 10 for x in clonus), sum(x > 10 for x in clonus)],
            "faults": sum(1 for e in w.episodes if e.kind == "fault" and a <= e.onset_wall < b)}


def test_history_per_day_matches_the_simulation(server: Dashboard, weeks: Weeks) -> None:
    last = FIRST + timedelta(days=DAYS - 1)
    status, h, _ = get(f"{server.url}api/history?from={FIRST}&to={last}")
    assert status == 200 and isinstance(h, dict)
    assert [d["day"] for d in h["days"]] == [(FIRST + timedelta(days=i)).isoformat() for i in range(DAYS)]
    bands_seen = set()
    for row in h["days"]:
        t = truth_day(weeks, date.fromisoformat(row["day"]))
        assert row["episodes"] == t["episodes"] and row["by_kind"] == t["kinds"], row["day"]
        assert row["monitored_s"] == pytest.approx(t["monitored_s"], abs=0.01)
        assert row["clonus_classes"] == t["clonus"] and row["faults"] == t["faults"]
        mon = t["monitored_s"]
        assert isinstance(mon, float)
        if mon < 3600:
            assert row["band_level"] is None and row["rate_h"] is None  # a day of little wear gets no rate
        else:
            rate = t["episodes"] / (mon / 3600)  # type: ignore[operator]
            assert row["rate_h"] == pytest.approx(rate)
            want = 0 if t["episodes"] == 0 else 2 if rate < 1 else 3 if rate <= 10 else 4
            assert row["band_level"] == want
            bands_seen.add(want)
    assert len(bands_seen) >= 2  # the store exercises more than one band
    total = sum(1 for e in weeks.episodes if e.kind != "fault")
    assert h["totals"]["episodes"] == total == len([e for e in h["episodes"] if e["state"] == "closed"])
    assert sum(sum(v) for v in h["duration_hist"]["counts"].values()) == total
    assert [n["text"] for n in h["notes"]] == [n.text for n in weeks.notes]
    assert len(h["gaps"]) == len(weeks.gaps) and h["gaps"]  # the unplugged stretches are data gaps


def test_history_filters_by_channel_and_refuses_bad_input(server: Dashboard, weeks: Weeks) -> None:
    last = FIRST + timedelta(days=DAYS - 1)
    status, h, _ = get(f"{server.url}api/history?from={FIRST}&to={last}&channel=1&device={weeks.device_id}")
    assert status == 200 and isinstance(h, dict)
    assert h["totals"]["episodes"] == sum(1 for e in weeks.episodes if e.kind != "fault" and e.channel == 1)
    status, body, _ = get(f"{server.url}api/history?from=2025-13-01&to=2025-01-02")
    assert status == 400 and isinstance(body, dict) and "YYYY-MM-DD" in body["error"]
    status, body, _ = get(f"{server.url}api/history?from=2025-02-01&to=2025-01-02")
    assert status == 400 and "before it starts" in body["error"]  # type: ignore[index]


def test_compare_around_the_medication_note_matches_an_independent_computation(server: Dashboard,
                                                                                weeks: Weeks) -> None:
    status, c, _ = get(f"{server.url}api/compare")  # default: 14 x 24 h before and after the latest note
    assert status == 200 and isinstance(c, dict)
    at = weeks.notes[-1].at
    note_day = datetime.fromtimestamp(at).date()
    assert (c["a"]["first"], c["b"]["first"]) == ((note_day - timedelta(days=14)).isoformat(), note_day.isoformat())
    assert (c["a"]["start"], c["a"]["end"], c["b"]["start"], c["b"]["end"]) == (at - 14 * 86400, at, at,
                                                                              at + 14 * 86400)
    rates = {}
    for key, lo, hi in (("a", at - 14 * 86400, at), ("b", at, at + 14 * 86400)):
        first = datetime.fromtimestamp(lo).date()  # split at the note's time: its day is in both, in parts
        days = [truth_day(weeks, first + timedelta(days=i), lo, hi) for i in range(15)]
        eps = sum(d["episodes"] for d in days)  # type: ignore[misc]
        mon = sum(d["monitored_s"] for d in days)  # type: ignore[misc]
        assert c[key]["episodes"] == eps and c[key]["rate_h"] == pytest.approx(eps / (mon / 3600))
        rates[key] = [d["episodes"] / (d["monitored_s"] / 3600) for d in days  # type: ignore[operator]
                      if d["monitored_s"] >= 3600]  # type: ignore[operator]
        durs = [e.duration_s for e in weeks.episodes if e.kind != "fault" and lo <= e.onset_wall < hi]
        assert c[key]["median_duration_s"] == pytest.approx(statistics.median(durs))
    assert c["a"]["rate_h"] > c["b"]["rate_h"]  # the simulated medication halved the rate
    p = mannwhitneyu(rates["a"], rates["b"], alternative="two-sided").pvalue
    assert c["rate_test"]["p"] == pytest.approx(p) and c["rate_test"]["p"] < 0.05
    assert "Observational" in c["caveat"]


def test_notes_api_writes_only_notes_and_refuses_cross_site_posts(server: Dashboard, db: Path) -> None:
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    for path in ("api/info", f"api/history?from={FIRST}&to={FIRST + timedelta(days=30)}", "api/compare",
                 "api/notes", "api/live"):
        assert get(server.url + path)[0] == 200
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest  # reading never writes the database
    status, body = post(server.url + "api/notes", {"text": "botulinum toxin, left calf", "kind": "medication",
                                                   "at": "2025-02-03T10:00"})
    assert status == 201 and isinstance(body, dict) and body["kind"] == "medication"
    with Store(db) as store:
        stored = [n for n in read_notes(store.db) if n.text == "botulinum toxin, left calf"]
    assert len(stored) == 1 and stored[0].at == datetime(2025, 2, 3, 10, 0).astimezone().timestamp()
    assert post(server.url + "api/notes", {"text": "x"}, ctype="text/plain")[0] == 415  # a form post from a page
    assert post(server.url + "api/notes", {"text": "x"}, origin="http://evil.example")[0] == 403
    status, body = post(server.url + "api/notes", {"text": "  ", "kind": "other"})
    assert status == 400 and "needs some text" in body["error"]  # type: ignore[index]
    status, _, _ = get(server.url + "api/info", headers={"host": "evil.example:8765"})  # DNS rebinding
    assert status == 403


def test_off_localhost_every_request_needs_the_token(db: Path) -> None:
    dash = Dashboard(db, "0.0.0.0:0")
    dash.start()
    try:
        assert dash.token and f"?token={dash.token}" in dash.url
        base = f"http://127.0.0.1:{dash.port}/"
        for path in ("", "api/info", "static/common.js", "api/live/stream"):
            assert get(base + path)[0] == 401, path
        assert get(base + "api/info?token=wrong")[0] == 401
        status, _, headers = get(f"{base}?token={dash.token}")
        assert status == 200 and f"spasmwatch_token={dash.token}" in headers["set-cookie"]
        assert "HttpOnly" in headers["set-cookie"]
        assert get(base + "api/info", headers={"cookie": f"spasmwatch_token={dash.token}"})[0] == 200
        assert get(base + "api/info", headers={"authorization": f"Bearer {dash.token}"})[0] == 200
    finally:
        dash.stop()
    local = Dashboard(db, "127.0.0.1:0")
    assert local.token is None and "token" not in local.url  # this PC only: no token needed
    local.sock.close()


def test_pages_and_the_chart_library_are_served_from_the_package(server: Dashboard) -> None:
    status, page, headers = get(server.url)
    assert status == 200 and isinstance(page, str)
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "http://" not in page and "https://" not in page  # nothing referenced outside this server
    for asset in ("static/common.js", "static/pages.js", "static/live.js", "static/style.css",
                  "static/vendor/uPlot.iife.min.js",
                  "static/vendor/uPlot.min.css"):
        assert get(server.url + asset)[0] == 200, asset


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:8765") == ("127.0.0.1", 8765)
    assert parse_listen("[::1]:80") == ("::1", 80)
    assert parse_listen(":9000") == ("127.0.0.1", 9000)
    assert parse_listen("8080") == ("127.0.0.1", 8080)
    from spasmcore.errors import ConfigError

    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_listen("localhost:http")
