"""`spasmwatch events` export and `spasmwatch report` HTML on a simulated day of stored episodes."""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import random
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from spasmcore.events import read_events
from spasmwatch.cli import main
from spasmwatch.store import Store

DAY = "2025-03-10"
DAY0 = datetime(2025, 3, 10, tzinfo=timezone.utc).timestamp()
BOOT_WALL = DAY0 + 7 * 3600  # the device booted at 07:00 UTC
DURATION = {"twitch": (0.1, 0.5), "tonic": (2.0, 60.0), "clonus": (3.0, 20.0)}


def fill_day(path: Path, n: int = 60, seed: int = 7) -> list[tuple[float, str, float]]:
    """~n random episodes between 07:00 and 23:00 UTC, 3 faults, two link sessions and two gaps."""
    rng = random.Random(seed)
    made = []
    with Store(path) as st:
        st.note_hello("dev1", "1", fw_version="0.1.0", uptime_ms=0, wall=BOOT_WALL)
        link = st.link_open("/dev/ttyUSB0", "dev1", wall=BOOT_WALL)
        st.link_close(link, wall=DAY0 + 12 * 3600, reason="unplugged")
        st.add_gap("disconnect", DAY0 + 12 * 3600, DAY0 + 12.5 * 3600, device_id="dev1", boot_id="1")
        link = st.link_open("/dev/ttyUSB0", "dev1", wall=DAY0 + 12.5 * 3600)
        st.link_seen(link, wall=DAY0 + 23 * 3600)
        st.add_gap("seq", DAY0 + 15 * 3600, DAY0 + 15 * 3600 + 2, device_id="dev1", boot_id="1",
                   first_seq=500, last_seq=503, detail="4 messages lost")
        with st.batch():
            for seq in range(1, n + 1):
                wall = BOOT_WALL + rng.uniform(0, 16 * 3600 - 120)
                kind = rng.choice(["twitch", "twitch", "tonic", "clonus"])
                dur = rng.uniform(*DURATION[kind])
                on = int((wall - BOOT_WALL) * 1000)
                st.add_end("dev1", "1", rng.choice([0, 1]), kind, on, on + int(dur * 1000), seq=seq,
                           detected_ms=on + 150, peak=rng.uniform(200, 2000), mean=rng.uniform(100, 500),
                           peak_x=rng.uniform(3, 40), mean_x=rng.uniform(2, 10), floor=40.0)
                made.append((on / 1000 + BOOT_WALL, kind, int(dur * 1000) / 1000))
            for i in range(3):
                on = int(rng.uniform(0, 15 * 3600) * 1000)
                st.add_fault("dev1", "1", 0, "flat", on, on + 30_000, seq=n + 1 + i)
            st.add_onset("dev1", "1", 1, 16 * 3600 * 1000 - 5000, seq=n + 10)  # still open at the end
    return made


@pytest.fixture(scope="module")
def day_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[float, str, float]]]:
    path = tmp_path_factory.mktemp("day") / "events.sqlite3"
    return path, fill_day(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- events --------------------------------------------------------------------------------------------


def test_events_csv_columns_and_replay_compatibility(day_db, capsys, tmp_path: Path) -> None:
    path, made = day_db
    code, out, _ = run(capsys, "events", "--db", str(path))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    for col in ("channel", "kind", "onset_s", "offset_s", "detected_s", "duration_s", "peak", "mean",
                "device_id", "boot_id", "seq", "onset_wall", "offset_wall"):
        assert col in rows[0], col
    assert len(rows) == len(made) + 3  # episodes + faults; the open episode is left out
    assert sum(r["kind"] == "fault" for r in rows) == 3
    first = min(made)
    assert rows[0]["onset_wall"] == datetime.fromtimestamp(first[0], timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    assert float(rows[0]["duration_s"]) == pytest.approx(first[2], abs=1e-3)
    assert rows[0]["device_id"] == "dev1" and rows[0]["boot_id"] == "1"
    (tmp_path / "ev.csv").write_text(out)
    events = read_events(tmp_path / "ev.csv")  # the same reader replay/evaluate use
    assert [e.kind for e in events] == [r["kind"] for r in rows]


def test_events_time_filters_and_json(day_db, capsys) -> None:
    path, made = day_db
    code, out, _ = run(capsys, "events", "--db", str(path), "--since", "2025-03-10T12:00:00Z",
                       "--until", "2025-03-10T18:00Z", "--format", "json")
    assert code == 0
    got = json.loads(out)
    lo, hi = DAY0 + 12 * 3600, DAY0 + 18 * 3600
    expected = sorted(k for t, k, _ in made if lo <= t < hi)
    assert sorted(e["kind"] for e in got if e["kind"] != "fault") == expected
    assert all("2025-03-10T12" <= e["onset_wall"] < "2025-03-10T18" for e in got)
    code, out, _ = run(capsys, "events", "--db", str(path), "--include-open", "--format", "json")
    assert sum(e["state"] == "open" for e in json.loads(out)) == 1
    for ago in ("--since=-1h", "--since=2h"):  # the day is long past: header only
        code, out, _ = run(capsys, "events", "--db", str(path), ago)
        assert code == 0 and out.count("\n") == 1


def test_events_errors(day_db, capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "events", "--db", str(tmp_path / "nope.sqlite3"))
    assert code == 2 and "no event database" in err and "Traceback" not in err
    assert not (tmp_path / "nope.sqlite3").exists()  # reading never creates a database
    code, _, err = run(capsys, "events", "--db", str(day_db[0]), "--since", "last tuesday")
    assert code == 2 and "bad time" in err
    code, _, err = run(capsys, "events", "--db", str(day_db[0]), "--since", "2025-03-11", "--until", "2025-03-10")
    assert code == 2 and "not before" in err


# ---- report --------------------------------------------------------------------------------------------


def _pngs(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_report_day_has_charts_and_summary(day_db, capsys, tmp_path: Path) -> None:
    import matplotlib.image as mpimg

    path, made = day_db
    out_file = tmp_path / "report.html"
    code, out, _ = run(capsys, "report", "--db", str(path), "--day", DAY, "--utc", "--out", str(out_file))
    assert code == 0 and f"{len(made)} episode(s), 3 fault(s)" in out
    page = out_file.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and not re.search(r'src="(?!data:)', page)  # self-contained
    images = _pngs(page)
    assert len(images) >= 4
    for i, png in enumerate(images):
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = mpimg.imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] >= 200 and pixels.shape[1] >= 450, pixels.shape
        assert pixels[..., :3].std() > 0.05, f"image {i} looks blank"
        (tmp_path / f"chart{i}.png").write_bytes(png)
    text = re.sub(r"<[^>]+>", " ", page)
    counts = {k: sum(1 for _, kind, _ in made if kind == k) for k in ("twitch", "tonic", "clonus")}
    assert re.search(rf"Spasm episodes\s+{len(made)}\b", text)
    for kind, n in counts.items():
        assert re.search(rf"{kind}\s+{n}\b", text), kind
    longest = max(made, key=lambda m: m[2])
    at = datetime.fromtimestamp(longest[0], timezone.utc).strftime("%H:%M:%S")
    assert re.search(rf"Longest episode\s+[^<]*{longest[1]} at {at}", text)
    assert "Sensor faults" in text and "data gap: disconnect" in text and "seq 500–503" in text
    assert re.search(r"Data coverage\s+15 h 30 min monitored \(65%\)", text)
    assert "Episodes without an end 1" in re.sub(r"\s+", " ", text)


def test_report_empty_day_says_so(day_db, capsys, tmp_path: Path) -> None:
    out_file = tmp_path / "empty.html"
    code, out, _ = run(capsys, "report", "--db", str(day_db[0]), "--day", "2025-03-12", "--utc",
                       "--out", str(out_file))
    assert code == 0
    assert "no episodes or faults on 2025-03-12" in out and "--day 2025-03-10" in out
    page = out_file.read_text()
    assert "No spasm episodes or sensor faults were recorded on 2025-03-12" in page
    assert _pngs(page) == []


def test_report_errors(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "report", "--db", str(tmp_path / "missing.sqlite3"), "--out", str(tmp_path / "r"))
    assert code == 2 and "no event database" in err
    db = tmp_path / "e.sqlite3"
    Store(db).close()
    code, _, err = run(capsys, "report", "--db", str(db), "--day", "10/03/2025", "--out", str(tmp_path / "r"))
    assert code == 2 and "YYYY-MM-DD" in err
    code, out, _ = run(capsys, "report", "--db", str(db), "--out", str(tmp_path / "today.html"))
    assert code == 0 and "no episodes" in out  # a brand-new database: today is empty, not a crash


def test_report_unknown_device_is_a_one_line_error(day_db, capsys, tmp_path: Path) -> None:
    out_file = tmp_path / "nope.html"
    code, out, err = run(capsys, "report", "--db", str(day_db[0]), "--day", DAY, "--device", "nope",
                         "--out", str(out_file))
    assert code == 2 and out == ""
    err = err.strip()
    assert "\n" not in err and "no device 'nope'" in err and "(devices: dev1)" in err
    assert not out_file.exists()  # no empty report for a device that does not exist
    code, out, _ = run(capsys, "report", "--db", str(day_db[0]), "--day", DAY, "--utc", "--device", "dev1",
                       "--out", str(out_file))
    assert code == 0 and "episode(s)" in out and out_file.exists()


# ---- readability (issue 12.10) -------------------------------------------------------------------------


def small_day(path: Path, durations: list[float], *, link_s: float | None = 8 * 3600, names: bool = False,
              kinds: tuple[str, ...] = ("tonic",)) -> None:
    """A few episodes of the given durations from 08:00 UTC, channels 0/1, one link session of link_s."""
    with Store(path) as st:
        st.note_hello("dev1", "1", fw_version="0.1.0", uptime_ms=0, wall=DAY0 + 8 * 3600,
                      name="left leg" if names else "spasmwatch",
                      channel_names=["left calf", "right calf"] if names else ["ch0", "ch1"])
        if link_s is not None:
            link = st.link_open("/dev/ttyUSB0", "dev1", wall=DAY0 + 8 * 3600)
            st.link_close(link, wall=DAY0 + 8 * 3600 + link_s)
        for i, dur in enumerate(durations):
            on = 1000 + i * 7000
            st.add_end("dev1", "1", i % 2, kinds[i % len(kinds)], on, on + int(dur * 1000), seq=i + 1,
                       peak=400.0, mean=200.0, peak_x=10.0 + i, mean_x=5.0, floor=40.0)


def day(path: Path):  # noqa: ANN201
    from spasmwatch.report.data import load_day

    with Store(path) as st:
        return load_day(st, DAY, tz=timezone.utc, now=DAY0 + 30 * 3600)


def drawn(fig):  # noqa: ANN001, ANN201
    fig.canvas.draw()
    return fig.axes[0]


def test_duration_axis_reads_as_seconds_not_powers_of_ten(tmp_path: Path) -> None:
    from spasmwatch.report.charts import fig_hist

    for durations in ([3.0, 3.5, 4.2, 5.0, 6.0], [0.12, 0.3, 4.0, 25.0, 70.0]):  # within a decade; wide
        path = tmp_path / f"d{len(durations)}{durations[0]}.sqlite3"
        small_day(path, durations, kinds=("tonic", "twitch"))
        ax = drawn(fig_hist(day(path), lambda e: e.duration_s, "t", "duration", log=True))
        labels = [t.get_text() for t in ax.get_xticklabels(which="both") if t.get_text()]
        assert len(labels) >= 2, labels
        assert all(re.fullmatch(r"\d+(\.\d+)? (s|min|h)", t) for t in labels), labels  # no 3×10⁰
        lo, hi = ax.get_xlim()
        assert all(lo <= v <= hi for v in ax.get_xticks())


def test_count_axes_have_whole_numbers_only(tmp_path: Path) -> None:
    from spasmwatch.report.charts import fig_hist, fig_per_hour

    path = tmp_path / "e.sqlite3"
    small_day(path, [2.0, 5.0])  # one or two episodes a bar: matplotlib's default ticks are 0, 0.5, 1 ...
    data = day(path)
    for fig in (fig_per_hour(data), fig_hist(data, lambda e: e.duration_s, "t", "d", log=True),
                fig_hist(data, lambda e: e.peak_x, "t", "s", log=False)):
        ax = drawn(fig)
        ticks = [v for v in ax.get_yticks() if ax.get_ylim()[0] <= v <= ax.get_ylim()[1]]
        assert len(ticks) >= 2 and all(float(v).is_integer() for v in ticks), ticks


def test_legends_never_cover_a_bar(day_db, tmp_path: Path) -> None:
    from spasmwatch.report.charts import fig_hist, fig_per_hour

    path = tmp_path / "e.sqlite3"
    small_day(path, [0.2, 0.3, 4.0, 4.5, 5.0, 30.0], kinds=("twitch", "tonic", "clonus"))
    for data in (day(path), day(day_db[0])):
        for fig in (fig_per_hour(data), fig_hist(data, lambda e: e.duration_s, "t", "d", log=True),
                    fig_hist(data, lambda e: e.peak_x, "t", "s", log=False)):
            ax = drawn(fig)
            box = ax.get_legend().get_window_extent()
            bars = [p.get_window_extent() for p in ax.patches if p.get_height() > 0]
            assert bars and not any(box.overlaps(b) for b in bars)


def test_kind_colours_are_far_apart() -> None:
    import colorsys

    from matplotlib.colors import to_rgb

    from spasmcore import kinds

    hls = {k.name: colorsys.rgb_to_hls(*to_rgb(k.color)) for k in kinds.episodes()}
    pairs = list(itertools.combinations(hls, 2))
    assert len(pairs) >= 3
    for a, b in pairs:
        hue = abs(hls[a][0] - hls[b][0]) * 360
        assert min(hue, 360 - hue) >= 60, (a, b)  # twitch and tonic once were 15° apart: both orange


def test_device_and_channel_names_from_the_config_are_shown(tmp_path: Path) -> None:
    from spasmwatch.report.charts import fig_timeline
    from spasmwatch.report.day import render_html

    named, plain = tmp_path / "named.sqlite3", tmp_path / "plain.sqlite3"
    small_day(named, [2.0, 3.0, 4.0], names=True)
    small_day(plain, [2.0, 3.0, 4.0])
    page = render_html(day(named))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "Device(s): left leg (dev1) (firmware 0.1.0)" in text
    assert re.search(r"Longest episode 4\.0 s tonic at 08:00:15 \(left calf, 12\.0× rest\)", text)
    assert "right calf" in text and "channel 0" not in text
    labels = [t.get_text() for t in drawn(fig_timeline(day(named))).get_yticklabels()]
    assert labels == ["left calf", "right calf"]
    labels = [t.get_text() for t in drawn(fig_timeline(day(plain))).get_yticklabels()]
    assert labels == ["ch 0", "ch 1"]  # the defaults (ch0, name spasmwatch) are not names a user gave
    assert "Device(s): dev1 (firmware 0.1.0)" in re.sub(r"<[^>]+>", " ", render_html(day(plain)))


def test_two_devices_on_one_day_get_their_own_timeline_rows(tmp_path: Path) -> None:
    from spasmwatch.report.charts import fig_timeline

    path = tmp_path / "e.sqlite3"
    small_day(path, [2.0, 3.0], names=True)
    with Store(path) as st:
        st.note_hello("dev2", "1", uptime_ms=0, wall=DAY0 + 9 * 3600, name="right leg", channel_names=["calf"])
        st.add_end("dev2", "1", 0, "clonus", 1000, 5000, seq=1)
    labels = [t.get_text() for t in drawn(fig_timeline(day(path))).get_yticklabels()]
    assert labels == ["left leg (dev1): left calf", "left leg (dev1): right calf", "right leg (dev2): calf"]


def test_too_little_monitored_time_gives_no_per_hour_rate(tmp_path: Path) -> None:
    from spasmwatch.report.data import summary

    short, enough = tmp_path / "short.sqlite3", tmp_path / "enough.sqlite3"
    small_day(short, [1.0] * 6, link_s=30)
    small_day(enough, [1.0] * 6, link_s=2 * 3600)
    rate = dict(summary(day(short)))["Spasms per hour"]
    assert rate.startswith("too little monitored time (30.0 s") and "per monitored hour" not in rate
    assert dict(summary(day(enough)))["Spasms per hour"] == "3.0 per monitored hour"


# ---- report --from/--to: several weeks for a clinic visit -------------------------------------------------


def test_range_report_for_a_clinic_visit(tmp_path: Path, capsys) -> None:
    from datetime import date, timedelta

    from spasmsim.weeks import fill_store, simulate_weeks
    from spasmwatch.store.notes import add_note

    first = date(2025, 1, 6)
    w = simulate_weeks(28, first_day=first, seed=4, change_day=14)
    db = tmp_path / "weeks.sqlite3"
    with Store(db) as st:
        fill_store(w, st)
    for n in w.notes:
        add_note(db, n.text, n.kind, n.at)
    before = db.read_bytes()
    out = tmp_path / "visit.html"
    last = first + timedelta(days=27)
    assert main(["report", "--db", str(db), "--from", str(first), "--to", str(last), "--out", str(out)]) == 0
    eps = [e for e in w.episodes if e.kind != "fault"]
    assert f"{len(eps)} episode(s)" in capsys.readouterr().out
    page = out.read_text()
    assert db.read_bytes() == before  # read-only: the report never writes the database
    assert "<script" not in page and "http://" not in page and "https://" not in page  # self-contained
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == 3
    rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>", page)
    assert rows == [(first + timedelta(days=i)).isoformat() for i in range(28)]  # one row per day
    assert f"<td>Spasm episodes</td><td>{len(eps)}</td>" in page
    assert "not a validated clinical score" in page and "Penn-Spasm-Frequency-Scale-style" in page
    assert "SCATS-style" in page and "baclofen 10 mg" in page
    # before/after the medication note (day 14, 09:00), split at its time: the rates from the simulation
    (note,) = [n for n in w.notes if n.kind == "medication"]
    assert f"Before and after “baclofen 10 mg three times a day” ({datetime.fromtimestamp(note.at):%Y-%m-%d %H:%M})" \
        in page
    assert "Observational" in page
    start = datetime(first.year, first.month, first.day).astimezone().timestamp()
    stop = datetime(last.year, last.month, last.day).astimezone().timestamp() + 86400 * 2  # past DST: any end
    for t0, t1 in ((start, note.at), (note.at, stop)):
        n = sum(1 for e in eps if t0 <= e.onset_wall < t1)
        mon = sum(max(0.0, min(s.end, t1) - max(s.start, t0)) for s in w.sessions)
        assert f"<td>{n / (mon / 3600):.2f}</td>" in page


def test_range_report_errors(day_db, capsys, tmp_path: Path) -> None:
    path, _ = day_db
    out = tmp_path / "r.html"
    assert main(["report", "--db", str(path), "--from", "2025-03-10", "--day", "2025-03-10", "--out", str(out)]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["report", "--db", str(path), "--from", "2025-03-12", "--to", "2025-03-10", "--out", str(out)]) == 2
    assert "before it starts" in capsys.readouterr().err
    assert main(["report", "--db", str(path), "--from", "2025-3-x", "--out", str(out)]) == 2
    assert main(["report", "--db", str(path), "--from", DAY, "--to", DAY, "--device", "nope", "--out",
                 str(out)]) == 2
    assert "dev1" in capsys.readouterr().err and not out.exists()
    assert main(["report", "--db", str(tmp_path / "none.sqlite3"), "--from", DAY, "--out", str(out)]) == 2
    assert main(["report", "--db", str(path), "--from", DAY, "--to", DAY, "--utc", "--out", str(out)]) == 0
    assert "<td>Spasm episodes</td><td>60</td>" in out.read_text()  # the known day, as a range of one


def test_before_and_after_a_note_split_at_its_time_not_its_day(tmp_path: Path) -> None:
    """Episodes at 11:58 counted as after a note made at 11:59 the same day (issue 22.18)."""
    from spasmwatch.dashboard import stats
    from spasmwatch.report.range import compare_at, render_range
    from spasmwatch.store import ReadOnlyStore
    from spasmwatch.store.notes import add_note

    day = datetime(2025, 3, 4)
    at = lambda h, m: datetime(2025, 3, 4, h, m).astimezone().timestamp()  # noqa: E731
    db = tmp_path / "e.sqlite3"
    with Store(db) as st:
        st.note_hello("dev", "1", fw_version="1", uptime_ms=0, wall=at(8, 0))
        link = st.link_open("/dev/ttyX", "dev", wall=at(8, 0))
        st.link_close(link, wall=at(16, 0))
        for seq, (h, m) in enumerate(((11, 58), (11, 58), (12, 30)), 1):
            st.add_end("dev", "1", 0, "tonic", seq * 1000, seq * 1000 + 2000, seq=seq, onset_wall=at(h, m),
                       offset_wall=at(h, m) + 2)
    add_note(db, "baclofen 10 mg", "medication", at(11, 59))
    with ReadOnlyStore(db) as ro:
        data = stats.load_range(ro, f"{day:%Y-%m-%d}", f"{day:%Y-%m-%d}")
        res = compare_at(data, at(11, 59))
        page, _ = render_range(ro, f"{day:%Y-%m-%d}", f"{day:%Y-%m-%d}")
    a, b = res["a"], res["b"]
    assert isinstance(a, dict) and isinstance(b, dict)
    assert (a["episodes"], b["episodes"]) == (2, 1)
    assert a["monitored_s"] == pytest.approx(at(11, 59) - at(8, 0))
    assert b["monitored_s"] == pytest.approx(at(16, 0) - at(11, 59))
    assert "Before and after “baclofen 10 mg” (2025-03-04 11:59)" in page
    assert f"<td>{2 / ((at(11, 59) - at(8, 0)) / 3600):.2f}</td>" in page
