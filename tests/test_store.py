"""Event store: schema, WAL, open->closed completion, idempotent re-sync, last_seq, crash safety, queries."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spasmcore.errors import InputError
from spasmwatch.link import wire
from spasmwatch.store import SCHEMA_VERSION, Store, day_bounds, default_path, iso_utc, parse_when

DEV, BOOT = "a1b2c3", "boot1"
T0 = datetime(2025, 3, 10, 8, 0, tzinfo=timezone.utc).timestamp()  # wall time of device ms 0


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "sub" / "dir" / "events.sqlite3")
    s.note_hello(DEV, BOOT, fw_version="0.1.0", uptime_ms=0, wall=T0)
    yield s
    s.close()


def end(s: Store, seq: int | None, onset_ms: int, dur_ms: int = 2000, kind: str = "tonic", ch: int = 0,
        boot: str = BOOT, **kw) -> bool:
    return s.add_end(DEV, boot, ch, kind, onset_ms, onset_ms + dur_ms, seq=seq, detected_ms=onset_ms + 100,
                     peak=800.0, mean=300.0, peak_x=kw.pop("peak_x", 10.0), mean_x=4.0, floor=80.0, **kw)


def test_schema_version_wal_and_parent_dirs(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "ev.sqlite3"
    with Store(path) as s:
        assert s.journal_mode() == "wal"
    assert path.is_file()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"events", "devices", "boots", "links", "gaps"} <= tables
    cols = {r[1] for r in raw.execute("PRAGMA table_info(events)")}
    assert {"device_id", "boot_id", "seq", "channel", "kind", "state", "onset_ms", "offset_ms", "detected_ms",
            "onset_wall", "offset_wall", "duration_s", "peak", "mean", "peak_x", "mean_x", "floor",
            "received_at"} <= cols
    raw.close()
    with Store(path) as s:  # reopening keeps the data and does not re-create the schema
        s.note_hello(DEV, BOOT, wall=T0)
    with Store(path) as s:
        assert [d["device_id"] for d in s.devices()] == [DEV]


def test_rejects_foreign_or_newer_database(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite3"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE x (a)")
    con.commit()
    con.close()
    with pytest.raises(InputError, match="not a spasmwatch"):
        Store(other)
    newer = tmp_path / "newer.sqlite3"
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(InputError, match="newer"):
        Store(newer)
    (tmp_path / "junk.sqlite3").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(InputError):
        Store(tmp_path / "junk.sqlite3")
    with pytest.raises(InputError, match="no event database"):
        Store(tmp_path / "missing.sqlite3", must_exist=True)


def test_onset_then_end_completes_one_row(store: Store) -> None:
    assert store.add_onset(DEV, BOOT, 0, 5000, seq=7, detected_ms=5150, received_at=T0 + 5.2)
    (row,) = store.events()
    assert (row.state, row.kind, row.seq, row.offset_ms) == ("open", None, 7, None)
    assert row.onset_wall == pytest.approx(T0 + 5.0)  # from the boot origin noted by hello
    assert end(store, 7, 5000, 3000)
    (row,) = store.events()
    # detected_ms stays the onset's: when the episode was detected, as `replay --events` means detected_s
    assert (row.state, row.kind, row.seq, row.offset_ms, row.detected_ms) == ("closed", "tonic", 7, 8000, 5150)
    assert row.duration_s == pytest.approx(3.0)
    assert row.offset_wall == pytest.approx(T0 + 8.0)
    assert row.peak_x == 10.0 and row.floor == 80.0


def test_onset_without_eseq_is_matched_by_channel_and_onset_time(store: Store) -> None:
    store.add_onset(DEV, BOOT, 1, 9000)
    store.add_onset(DEV, BOOT, 0, 9000)  # same time, other channel: a separate episode
    assert end(store, 12, 9000, ch=1, kind="clonus")
    rows = store.events()
    assert len(rows) == 2
    closed = [r for r in rows if r.state == "closed"]
    assert [(r.channel, r.seq, r.kind) for r in closed] == [(1, 12, "clonus")]


def test_onset_and_end_records_with_their_own_eseq_make_one_row(store: Store) -> None:
    store.add_onset(DEV, BOOT, 0, 4000, seq=5)  # the firmware logs the onset as record 5 ...
    assert end(store, 6, 4000)  # ... and the end as record 6
    (row,) = store.events()
    assert (row.state, row.seq) == ("closed", 6)
    assert not store.add_onset(DEV, BOOT, 0, 4000, seq=5)  # `sync` replays record 5 later
    assert not end(store, 6, 4000)
    assert len(store.events()) == 1


def test_resync_never_duplicates_nor_overwrites(store: Store) -> None:
    for i in range(5):
        assert end(store, i + 1, 1000 * (i + 1), peak_x=10.0 + i)
    # a full re-sync replays every log record, with different values, and an onset arrives late
    for i in range(5):
        assert not end(store, i + 1, 1000 * (i + 1), peak_x=99.0, kind="twitch")
    assert not store.add_onset(DEV, BOOT, 0, 3000, seq=3)
    assert not store.add_onset(DEV, BOOT, 0, 3000)
    rows = store.events()
    assert len(rows) == 5
    assert [r.peak_x for r in rows] == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert {r.kind for r in rows} == {"tonic"}
    # same seq in another boot is another event (the unique key includes the boot)
    store.note_hello(DEV, "boot2", uptime_ms=0, wall=T0 + 3600)
    assert end(store, 1, 1000, boot="boot2")
    assert len(store.events()) == 6


def test_faults_open_and_close(store: Store) -> None:
    assert store.add_fault(DEV, BOOT, 0, "flat", 20000, seq=30)
    store.add_onset(DEV, BOOT, 0, 20000)  # an episode with the same onset is not the fault
    assert store.add_fault(DEV, BOOT, 0, "flat", 20000, 50000, seq=30)
    assert not store.add_fault(DEV, BOOT, 0, "flat", 20000, 50000, seq=30)
    faults = [r for r in store.events() if r.is_fault]
    assert [(f.state, f.detail, f.duration_s) for f in faults] == [("closed", "flat", 30.0)]
    assert len(store.events()) == 2


def test_last_seq_across_boots(store: Store) -> None:
    assert store.last_seq(DEV) == 0  # `sync 0` = everything
    end(store, 3, 1000)
    end(store, 4, 2000)
    store.note_hello(DEV, "boot2", uptime_ms=0, wall=T0 + 60)
    end(store, 5, 500, boot="boot2")
    assert store.last_seq(DEV) == 5
    store.add_onset(DEV, "boot2", 0, 900, seq=6)  # its end will be logged with a higher eseq
    assert store.last_seq(DEV) == 6
    assert store.last_seq("other-device") == 0
    assert store.abandon_open(DEV, "boot3") == 1
    assert [r.state for r in store.events(states=("abandoned",))] == ["abandoned"]


def test_batch_is_one_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError):
        with store.batch():
            end(store, 1, 1000)
            end(store, 2, 2000)
            raise RuntimeError("link died mid-batch")
    assert store.events() == []
    with store.batch():
        end(store, 1, 1000)
        with store.batch():  # nested: joins the outer transaction
            end(store, 2, 2000)
    assert len(store.events()) == 2


def test_queries_filter_by_time_and_device(store: Store) -> None:
    for i in range(10):  # one tonic every 30 min from 08:00 UTC
        end(store, i, i * 1_800_000)
    store.note_hello("other", "b", uptime_ms=0, wall=T0)
    store.add_end("other", "b", 0, "twitch", 0, 200, seq=0)
    since = datetime(2025, 3, 10, 9, 0, tzinfo=timezone.utc)
    until = since + timedelta(hours=2)
    got = store.events(since, until, DEV)
    assert [round((r.onset_wall - T0) / 3600, 1) for r in got] == [1.0, 1.5, 2.0, 2.5]
    assert len(store.events(device="other")) == 1
    by_hour = store.counts("hour", device=DEV, tz=timezone.utc)
    assert [sum(c.values()) for c in by_hour.values()] == [2, 2, 2, 2, 2]
    assert next(iter(by_hour)) == datetime(2025, 3, 10, 8, tzinfo=timezone.utc)
    by_day = store.counts("day", tz=timezone.utc)
    assert by_day == {datetime(2025, 3, 10, tzinfo=timezone.utc): {"tonic": 10, "twitch": 1}}


def test_links_and_gaps(store: Store) -> None:
    link = store.link_open("/dev/ttyUSB0", DEV, wall=T0)
    store.link_seen(link, wall=T0 + 100)
    store.link_seen(link, wall=T0 + 50)  # never moves back
    (lk,) = store.links()
    assert lk.end == T0 + 100 and lk.disconnected_at is None
    store.link_close(link, wall=T0 + 120, reason="unplugged")
    (lk,) = store.links()
    assert (lk.end, lk.reason) == (T0 + 120, "unplugged")
    store.add_gap("seq", T0 + 10, T0 + 11, device_id=DEV, first_seq=40, last_seq=44)
    (gap,) = store.gaps(T0, T0 + 3600, DEV)
    assert (gap.kind, gap.first_seq, gap.last_seq) == ("seq", 40, 44)
    assert store.gaps(T0 + 20) == []


_WRITER = textwrap.dedent(
    """
    import sys, time
    from spasmwatch.store import Store
    s = Store(sys.argv[1])
    with s.batch():
        for i in range(50):
            s.add_end("dev", "b", 0, "tonic", i * 1000, i * 1000 + 500, seq=i, onset_wall=1000.0 + i)
    print("committed", flush=True)
    with s.batch():  # a second batch still open when the process dies
        s.add_end("dev", "b", 0, "tonic", 999000, 999500, seq=999, onset_wall=5000.0)
        print("pending", flush=True)
        time.sleep(60)
    """
)


def test_killed_writer_loses_nothing_committed(tmp_path: Path) -> None:
    db = tmp_path / "killed.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "committed"
        assert proc.stdout.readline().strip() == "pending"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    with Store(db) as s:
        rows = s.events()
        assert [r.seq for r in rows] == list(range(50))
        assert s.last_seq("dev") == 49


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_delivery_order_gives_one_row_per_episode(tmp_path: Path, data: st.DataObject) -> None:
    """Like the firmware: episode i logs its onset as eseq 2i+1 and its end as 2i+2. Live onsets (maybe
    without eseq), live ends and `sync` replays of both records arrive in any order and multiplicity."""
    n = data.draw(st.integers(1, 6))
    msgs = []
    completed = set()
    for i in range(n):
        ends = data.draw(st.integers(0, 3))
        onsets = data.draw(st.integers(0 if ends else 1, 3))  # every episode is seen at least once
        msgs += [("onset", i, data.draw(st.sampled_from([None, 2 * i + 1]))) for _ in range(onsets)]
        msgs += [("end", i, 2 * i + 2)] * ends
        if ends:
            completed.add(i)
    msgs = data.draw(st.permutations(msgs))
    with tempfile.TemporaryDirectory(dir=tmp_path) as tmp, Store(Path(tmp) / "prop.sqlite3") as s:
        for what, i, seq in msgs:
            if what == "onset":
                s.add_onset("d", "b", i % 2, 1000 * i, seq=seq)
            else:
                s.add_end("d", "b", i % 2, "clonus", 1000 * i, 1000 * i + 700, seq=seq)
        rows = s.events()
        top = s.last_seq("d")
    assert sorted(r.onset_ms for r in rows) == [1000 * i for i in range(n)]
    assert {r.onset_ms // 1000 for r in rows if r.state == "closed"} == completed
    for r in rows:
        i = r.onset_ms // 1000
        assert r.seq == (2 * i + 2 if r.state == "closed" else r.seq)
        assert r.seq in (None, 2 * i + 1, 2 * i + 2)
    assert top == max([r.seq or 0 for r in rows])


def test_time_helpers() -> None:
    now = datetime(2025, 3, 10, 15, 30, tzinfo=timezone.utc)
    assert parse_when("-24h", now) == now - timedelta(hours=24)
    assert parse_when("-7d", now) == now - timedelta(days=7)
    assert parse_when("-30m", now) == now - timedelta(minutes=30)
    assert parse_when("24h", now) == parse_when("-24h", now)
    assert parse_when("now", now) == now
    assert parse_when("today", now) == datetime(2025, 3, 10, tzinfo=timezone.utc)
    assert parse_when("yesterday", now) == datetime(2025, 3, 9, tzinfo=timezone.utc)
    assert parse_when("2025-03-01T12:00:00Z") == datetime(2025, 3, 1, 12, tzinfo=timezone.utc)
    assert parse_when("2025-03-01").tzinfo is not None  # naive input means local time
    for bad in ("yesterdayish", "-xh", "h", "-h", "31/12/2024", ""):
        with pytest.raises(InputError):
            parse_when(bad, now)
    start, stop = day_bounds("2025-03-10", timezone.utc)
    assert stop - start == timedelta(days=1) and start.hour == 0
    with pytest.raises(InputError):
        day_bounds("2025-13-01")
    assert iso_utc(T0) == "2025-03-10T08:00:00.000Z" and iso_utc(None) == ""
    assert default_path().parts[-2:] == ("spasmwatch", "events.sqlite3")


def _wire(t: str, seq: int, **fields: object):
    """A message as the firmware would send it, through the real protocol codec and the host's typed parse."""
    from spasmfw import protocol
    from spasmwatch.link import wire

    return wire.read_line(protocol.encode(t, seq, fields))[1]


def test_add_message_stores_a_live_session_and_ignores_its_replay(tmp_path: Path) -> None:
    with Store(tmp_path / "live.sqlite3") as s:
        hello = _wire("hello", 1, proto=1, fw="0.2.0", id="dev9", boot=4, rate=1000, channels=["calf"],
                      mode="raw", scale=16, config="default")
        assert s.add_message(hello, None, None, wall=T0)
        assert s.add_message(_wire("status", 2, uptime_ms=60_000, boot=4, eseq=0), "dev9", "4", wall=T0 + 0.05)
        live = [
            _wire("onset", 3, ch=0, eseq=1, onset_ms=70_000, detected_ms=70_150),
            _wire("end", 4, ch=0, eseq=2, kind="tonic", onset_ms=70_000, offset_ms=75_500, detected_ms=70_150,
                  duration_ms=5500, peak=16 * 900, mean=16 * 300, floor=16 * 60),
            _wire("fault", 5, ch=0, eseq=3, state="start", detail="flat", start_ms=80_000, end_ms=-1),
            _wire("fault", 6, ch=0, eseq=4, state="end", detail="flat", start_ms=80_000, end_ms=95_000),
            _wire("env", 7, ch=0, n=1, values=[960], floor=960, on=4800, off=2880),
        ]
        stored = [s.add_message(m, "dev9", "4", wall=T0 + 30) for m in live]
        assert stored == [True, True, True, True, False]
        replay = [
            wire.Log(10 + i, 4, m)  # type: ignore[arg-type]  # the records above, replayed by `sync`
            for i, m in enumerate(live[:4])
        ]
        assert [s.add_message(m, "dev9", "4", wall=T0 + 40) for m in replay] == [False] * 4
        rows = s.events()
        assert s.last_seq("dev9") == 4
        assert [(d["device_id"], d["fw_version"]) for d in s.devices()] == [("dev9", "0.2.0")]
    ep, fault = rows
    assert (ep.kind, ep.state, ep.seq, ep.duration_s) == ("tonic", "closed", 2, 5.5)
    assert (ep.peak, ep.mean, ep.floor) == (900.0, 300.0, 60.0)  # ADC counts, not counts x 16
    assert ep.peak_x == pytest.approx(15.0) and ep.mean_x == pytest.approx(5.0)
    assert ep.onset_wall == pytest.approx(T0 + 10.0, abs=0.1)  # boot origin from status uptime
    assert (fault.kind, fault.detail, fault.state, fault.seq, fault.duration_s) == ("fault", "flat", "closed", 4,
                                                                                     15.0)


def test_add_message_replays_an_unseen_boot_without_wall_time(store: Store) -> None:
    rec = _wire("log", 1, ev="end", boot=77, ch=1, eseq=40, kind="clonus", onset_ms=1000, offset_ms=4000,
                detected_ms=1100, duration_ms=3000, peak=1600, mean=800, floor=160)
    assert store.add_message(rec, DEV, BOOT, wall=T0)
    (row,) = store.events()
    assert (row.boot_id, row.kind, row.onset_wall) == ("77", "clonus", None)
    assert store.events(since=T0 - 10**6) == []  # unknown wall time: only in unbounded queries
    assert not store.add_message(_wire("ok", 2, cmd="ping"), DEV, BOOT)


def test_boot_origin_keeps_the_earliest_estimate(store: Store) -> None:
    store.note_uptime(DEV, "b2", 10_000, T0 + 10.2)  # a record's own time: a loose bound
    assert store.boot_wall(DEV, "b2") == pytest.approx(T0 + 0.2)
    store.note_uptime(DEV, "b2", 10_000, T0 + 10.05)  # a status: tighter
    assert store.boot_wall(DEV, "b2") == pytest.approx(T0 + 0.05)
    store.note_uptime(DEV, "b2", 20_000, T0 + 45.0)  # a backlog read after the host was suspended: ignored
    assert store.boot_wall(DEV, "b2") == pytest.approx(T0 + 0.05)
    store.note_uptime(DEV, "b2", None, T0 + 90_000)
    assert store.boot_wall(DEV, "b2") == pytest.approx(T0 + 0.05)
    store.add_onset(DEV, "b2", 0, 30_000)
    assert store.events()[0].onset_wall == pytest.approx(T0 + 30.05)


def test_device_and_channel_names_from_hello(tmp_path: Path) -> None:
    """The names a user gives in the config (device `name`, each channel's muscle) are kept, latest wins."""
    with Store(tmp_path / "e.sqlite3") as s:
        hello = _wire("hello", 0, proto=1, fw="0.2.0", id="dev9", name="left leg", boot=4, rate=1000,
                      channels=["left calf", "left hamstring"], mode="raw", scale=16, config={"name": "left leg"})
        assert s.add_message(hello, None, None, wall=T0)
        (d,) = s.devices()
        assert d["name"] == "left leg" and d["channel_names"] == ["left calf", "left hamstring"]
        s.add_message(replace(hello, name="right leg", channels=("right calf",)), None, None, wall=T0 + 9)
        s.note_hello("dev9", "5", wall=T0 + 20)  # a greeting without names keeps them
        (d,) = s.devices()
        assert d["name"] == "right leg" and d["channel_names"] == ["right calf"]
        s.note_hello("old", "1", wall=T0)
        assert {x["device_id"]: (x["name"], x["channel_names"]) for x in s.devices()}["old"] == (None, [])


def test_a_version_1_database_is_migrated_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite3"
    with Store(path) as s:
        s.note_hello(DEV, BOOT, fw_version="0.1.0", uptime_ms=0, wall=T0)
        s.add_end(DEV, BOOT, 0, "tonic", 1000, 3000, seq=2)
    raw = sqlite3.connect(path)  # as spasmwatch with schema 1 left it: devices without the name columns
    raw.execute("ALTER TABLE devices DROP COLUMN name")
    raw.execute("ALTER TABLE devices DROP COLUMN channel_names")
    raw.execute("PRAGMA user_version=1")
    raw.commit()
    raw.close()
    with Store(path) as s:
        assert [(d["device_id"], d["fw_version"], d["name"]) for d in s.devices()] == [(DEV, "0.1.0", None)]
        assert [(e.kind, e.seq) for e in s.events()] == [("tonic", 2)]
        s.note_hello(DEV, BOOT, wall=T0 + 5, name="left leg", channel_names=["left calf"])
        assert s.devices()[0]["channel_names"] == ["left calf"]
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    raw.close()
