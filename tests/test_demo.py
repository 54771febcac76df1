"""spasmwatch demo runs headless on the virtual board and leaves the simulated spasms in its event store."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from spasmsim.generate import generate
from spasmwatch import cli
from spasmwatch.commands import demo
from spasmwatch.store import Store


def stop_at_two_episodes(monkeypatch: pytest.MonkeyPatch, where: Path) -> None:
    """The demo's monitor stops (Monitor.stop, as Ctrl-C would) once its database holds two closed episodes,
    instead of playing out --seconds."""
    import sqlite3
    import threading
    import time

    from spasmcore.errors import FatalError
    from spasmwatch.monitor import Monitor
    from spasmwatch.store import ReadOnlyStore

    run = Monitor.run

    def watch(mon: Monitor) -> None:
        end = time.monotonic() + 60
        while time.monotonic() < end and not mon.stop_event.is_set():
            for db in where.glob("spasmwatch-demo-*/events.sqlite3"):
                try:
                    with ReadOnlyStore(db) as store:
                        if sum(r.kind != "fault" for r in store.events(states=("closed",))) >= 2:
                            mon.stop()
                            return
                except (sqlite3.Error, FatalError):  # the monitor is still creating it
                    pass
            time.sleep(0.1)

    def run_until_two(self: Monitor, seconds: float | None = None) -> None:
        threading.Thread(target=watch, args=(self,), daemon=True).start()
        run(self, seconds)

    monkeypatch.setattr(Monitor, "run", run_until_two)


@pytest.mark.slow
@pytest.mark.micropython
@pytest.mark.timeout(60)
def test_demo_headless_stores_the_simulated_spasms(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the demo's temporary directory goes there
    stop_at_two_episodes(monkeypatch, tmp_path)  # (`demo --seconds` ending by itself: tests/test_tools.py)
    assert cli.main(["demo", "--seconds", "40", "--speed", "12", "--keep"]) == 0
    out = capsys.readouterr()
    (where,) = tmp_path.glob("spasmwatch-demo-*")  # --keep: kept, and the output says where
    db = where / "events.sqlite3"
    assert f"The demo's files are kept in {where}: events.sqlite3" in out.out
    assert (where / "demo_recording.csv").is_file() and (where / "board").is_dir()
    assert f"spasmwatch report --db {db} --out report.html" in out.out
    assert f"spasmwatch events --db {db}" in out.out
    with Store(db) as store:
        rows = store.events(states=("closed",))
        assert len(store.links()) == 1 and store.links()[0].disconnected_at is not None
    sim = generate(demo.SCENARIO, seed=demo.SEED, minutes=demo.MINUTES)
    truth = [t for t in sim.truth if t.kind != "fault"]
    played_s = 40 * 12
    assert len(rows) >= 2
    for r in rows:  # every stored episode is one of the simulated spasms (device time = recording time)
        assert r.offset_ms is not None and r.duration_s is not None  # closed rows
        onset, offset = r.onset_ms / 1000, r.offset_ms / 1000
        assert any(t.onset_s - 1 < offset and onset < t.offset_s + 1 for t in truth), (r, truth)
        assert r.kind in ("twitch", "tonic", "clonus") and r.duration_s > 0
    first = truth[0]
    assert first.offset_s < played_s and any(abs(r.onset_ms / 1000 - first.onset_s) < 1.5 for r in rows)
    assert out.out.count(" end ch0 ") == len(rows)  # headless: one plain line per finished episode

    assert cli.main(["events", "--db", str(db)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == len(rows) + 1


def test_demo_rejects_a_bad_duration(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--seconds", "0"]) == 2
    assert "--seconds" in capsys.readouterr().err


@pytest.mark.micropython
@pytest.mark.timeout(60)
def test_demo_removes_its_files_unless_kept(tmp_path: Path, capsys: pytest.CaptureFixture,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert cli.main(["demo", "--seconds", "0.5", "--speed", "12"]) == 0  # no episode needed: only the files
    out = capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []  # the recording, virtual flash and database are gone
    assert "are removed" in out and "spasmwatch demo --keep" in out
    assert "The events are in" not in out  # no pointing at a database that is gone
    named = tmp_path / "mine"
    assert cli.main(["demo", "--seconds", "0.5", "--speed", "12", "--dir", str(named)]) == 0
    assert (named / "events.sqlite3").is_file()  # a directory the user named is kept
    assert f"kept in {named}" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.micropython
@pytest.mark.timeout(120)
def test_demo_dashboard_serves_the_virtual_board_and_simulated_weeks(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import threading
    import time
    import urllib.request
    import webbrowser

    from spasmwatch.dashboard.server import Dashboard

    seen: dict[str, object] = {}
    served: list[Dashboard] = []
    serve = Dashboard.serve
    monkeypatch.setattr(Dashboard, "serve", lambda self: (served.append(self), serve(self))[1])

    def browse(url: str) -> bool:  # instead of a browser: read the live view until an episode is in it
        def poll() -> None:
            end = time.monotonic() + 60
            try:
                while time.monotonic() < end:
                    try:
                        live = json.load(urllib.request.urlopen(url + "api/live", timeout=30))
                        if live["recent"]:
                            seen["live"] = live
                            seen["info"] = json.load(urllib.request.urlopen(url + "api/info", timeout=30))
                            return
                    except OSError:
                        pass
                    time.sleep(0.2)
            finally:  # seen (or given up): stop as --seconds (and Ctrl-C) do, instead of waiting them out
                served[0].request_stop()

        seen["url"] = url
        threading.Thread(target=poll, daemon=True).start()
        return True

    monkeypatch.setattr(webbrowser, "open", browse)
    assert cli.main(["demo", "--dashboard", "--seconds", "90", "--speed", "12", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert str(seen["url"]).startswith("http://127.0.0.1:") and f"dashboard on {seen['url']}" in out
    live, info = seen["live"], seen["info"]
    assert isinstance(live, dict) and isinstance(info, dict)
    assert live["state"]["connected"] and live["recent"][0]["device"] == live["state"]["device_id"]
    assert {d["id"] for d in info["devices"]} == {live["state"]["device_id"], demo.HISTORY_DEVICE}
    assert info["latest_note"]["kind"] == "medication"
    with Store(tmp_path / "events.sqlite3") as store:  # the monitor stored the board's events as usual
        assert store.events(device=live["state"]["device_id"])
        assert len(store.events(device=demo.HISTORY_DEVICE)) > 500


@pytest.mark.timeout(60)
def test_the_dashboard_stops_after_seconds(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`demo --dashboard --seconds N` ends by itself: serve's timer stops the server as Ctrl-C would."""
    import time

    from spasmwatch.commands.dashboard import serve

    db = tmp_path / "events.sqlite3"
    Store(db).close()
    start = time.monotonic()
    assert serve(db, None, "127.0.0.1:0", seconds=0.5) == 0
    assert 0.5 <= time.monotonic() - start < 60
    assert "spasmwatch dashboard on http://127.0.0.1:" in capsys.readouterr().out
