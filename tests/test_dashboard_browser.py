"""The dashboard in a real browser: Debian's headless Chromium driven by Selenium (nothing downloaded at run time).

History counts for a known store, a note added in the page (in the store, and as a marker), the compare view
against figures computed here, every resource local, and the live page against the virtual board (an episode
within seconds, unplug and replug, a reopened tab). Screenshots go to test-artifacts/ and must not be blank.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from signals import emg

from spasmcore.recording import write_recording
from spasmsim.weeks import Weeks, fill_store, simulate_weeks
from spasmwatch.dashboard.server import Dashboard
from spasmwatch.store import Store
from spasmwatch.store.notes import add_note, read_notes

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
FIRST, DAYS = date(2025, 1, 6), 42
KINDS = ("twitch", "tonic", "clonus")

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    if os.environ.get("CI") == "true":  # CI installs them (.ci/run): never pass there without a browser
        pytest.fail(f"{CHROMIUM} / {CHROMEDRIVER} missing on CI", pytrace=False)
    pytest.skip(f"headless Chromium not installed ({CHROMIUM}, {CHROMEDRIVER}): apt-get install chromium "
                "chromium-driver", allow_module_level=True)

from selenium import webdriver  # noqa: E402 - after the skip: the test extra has it, the browser may be absent
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch a browser or a driver
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--window-size=1280,1800", "--disable-background-networking", "--disable-component-update"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def weeks() -> Weeks:
    return simulate_weeks(DAYS, first_day=FIRST, seed=3)


@pytest.fixture(scope="module")
def history_server(weeks: Weeks, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    db = tmp_path_factory.mktemp("browser") / "events.sqlite3"
    with Store(db) as store:
        fill_store(weeks, store)
    for n in weeks.notes:
        add_note(db, n.text, n.kind, n.at)
    dash = Dashboard(db, "127.0.0.1:0")
    dash.start()
    yield dash
    dash.stop()


def wait(cond: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll cond() until truthy; the bound is many times an idle machine's (CI is a loaded 2-core machine)."""
    end = time.monotonic() + timeout
    while True:
        try:
            value = cond()
        except Exception:  # an element not there yet, or replaced while read
            value = None
        if value:
            return value
        assert time.monotonic() < end, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.1)


def screenshot(driver: Any, name: str) -> Path:
    """Save a PNG under test-artifacts/ and check it shows something (many colours, not one flat fill)."""
    from PIL import Image, ImageStat

    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    driver.save_screenshot(str(path))
    with Image.open(path) as img:
        rgb = img.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        spread = ImageStat.Stat(rgb.convert("L")).stddev[0]
    assert len(colours) > 50 and spread > 10, f"{path} looks blank ({len(colours)} colours, stddev {spread:.1f})"
    return path


def card(driver: Any, section: str, key: str) -> str:
    """A summary card's value, read in one script (the page may redraw it at any moment)."""
    return str(driver.execute_script(f"const e = document.querySelector(\"#{section} [data-key='{key}'] .v\");"
                                     "return e ? e.textContent : null"))


def show_range(driver: Any, first: str, last: str) -> dict:
    driver.execute_script("document.getElementById('h-period').value = 'custom';"
                          "document.getElementById('h-to-wrap').hidden = false;"
                          f"document.getElementById('h-date').value = '{first}';"
                          f"document.getElementById('h-to').value = '{last}'; window.lastHistory = null;"
                          "loadHistory();")
    # (a load started before, e.g. by the tab opening, may finish later: wait for this range's)
    return wait(lambda: driver.execute_script(f"const h = window.lastHistory; return h && h.from === '{first}' && "
                                              f"h.to === '{last}' && document.querySelector('#h-rate canvas') && h"),
                "the history to load")


def test_history_page_shows_the_counts_of_a_known_store(browser: Any, history_server: Dashboard,
                                                        weeks: Weeks) -> None:
    browser.get(history_server.url + "#history")
    wait(lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready"), "the page to start")
    last = (FIRST + timedelta(days=DAYS - 1)).isoformat()
    show_range(browser, FIRST.isoformat(), last)
    eps = [e for e in weeks.episodes if e.kind != "fault"]
    wait(lambda: card(browser, "h-summary", "episodes") == str(len(eps)), "the episode count")
    for k in KINDS:
        assert card(browser, "h-summary", f"kind-{k}") == str(sum(e.kind == k for e in eps))
    assert card(browser, "h-summary", "faults") == str(sum(e.kind == "fault" for e in weeks.episodes))
    rows = browser.find_elements(By.CSS_SELECTOR, "#h-clinical tr")
    assert len(rows) == DAYS + 1  # a header and one row per day
    # the markers of the two notes on every chart with a time axis
    for chart in ("h-rate", "h-timeline"):
        assert len(browser.find_elements(By.CSS_SELECTOR, f"#{chart} .note-marker")) == len(weeks.notes), chart
    origin = history_server.url.split("?")[0].rstrip("/")
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(r.startswith(origin + "/") for r in resources), resources  # nothing from outside
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]  # no CSP refusals, no errors
    screenshot(browser, "history")


def test_a_note_added_in_the_page_is_stored_and_marked(browser: Any, history_server: Dashboard) -> None:
    browser.get(history_server.url + "#notes")
    text = f"baclofen 15 mg ({time.time():.0f})"
    box = wait(lambda: browser.find_element(By.ID, "n-text"), "the notes form")
    box.send_keys(text)
    browser.find_element(By.ID, "n-kind").send_keys("medication")
    browser.find_element(By.ID, "n-add").click()
    wait(lambda: "added" in browser.find_element(By.ID, "n-msg").text, "the note to be added")
    with sqlite3.connect(history_server.db) as con:
        stored = [n for n in read_notes(con) if n.text == text]
    assert len(stored) == 1 and stored[0].kind == "medication" and abs(stored[0].at - time.time()) < 120
    browser.get(history_server.url + "#history")
    today = datetime.now().date()
    show_range(browser, (today - timedelta(days=2)).isoformat(), today.isoformat())
    marks = wait(lambda: [m for m in browser.find_elements(By.CSS_SELECTOR, "#h-rate .note-marker")
                          if m.get_attribute("data-note") == str(stored[0].id)], "the note's marker")
    assert text in marks[0].get_attribute("title")


def test_compare_view_shows_the_figures_computed_here(browser: Any, history_server: Dashboard,
                                                      weeks: Weeks) -> None:
    from scipy.stats import mannwhitneyu

    note_day = datetime.fromtimestamp(weeks.notes[-1].at).date()
    browser.get(history_server.url + "#compare")
    # the tab first compares around the latest note; typing dates before that answer arrives would be overwritten
    wait(lambda: browser.execute_script("return window.lastCompare"), "the first comparison")
    periods = {"a": (note_day - timedelta(days=14), note_day - timedelta(days=1)),
               "b": (note_day, note_day + timedelta(days=13))}
    for key, (a, b) in periods.items():  # the same periods typed in, then Compare
        browser.execute_script(f"document.getElementById('c-{key}-from').value = '{a}';"
                               f"document.getElementById('c-{key}-to').value = '{b}';")
    browser.execute_script("window.lastCompare = null;")
    browser.find_element(By.ID, "c-go").click()
    a0 = periods["a"][0].isoformat()
    wait(lambda: browser.execute_script(f"const r = window.lastCompare; return r && r.a.first === '{a0}'"),
         "the comparison")
    rates, cells = {}, []
    for key, (a, b) in periods.items():
        day_rates, n, mon = [], 0, 0.0
        for i in range((b - a).days + 1):
            d = a + timedelta(days=i)  # each day from its own local midnight
            d0 = datetime(d.year, d.month, d.day).astimezone().timestamp()
            d1 = datetime.combine(d + timedelta(days=1), datetime.min.time()).astimezone().timestamp()
            k = sum(1 for e in weeks.episodes if e.kind != "fault" and d0 <= e.onset_wall < d1)
            m = sum(max(0.0, min(s.end, d1) - max(s.start, d0)) for s in weeks.sessions)
            n, mon = n + k, mon + m
            if m >= 3600:
                day_rates.append(k / (m / 3600))
        rates[key] = day_rates
        cells.append((str(n), f"{n / (mon / 3600):.2f}"))
    row = lambda key: browser.execute_script(  # noqa: E731
        f"return [...document.querySelectorAll(\"#c-table tr[data-key='{key}'] td\")].map(td => td.textContent)")
    assert row("episodes")[1:] == [cells[0][0], cells[1][0]]
    assert row("rate")[1:] == [cells[0][1], cells[1][1]]
    p = mannwhitneyu(rates["a"], rates["b"], alternative="two-sided").pvalue
    shown_p = re.search(r"per day: .*?p = ([0-9.e+-]+)\.", browser.find_element(By.ID, "c-test").text)
    assert shown_p and float(shown_p.group(1)) == pytest.approx(p, rel=0.05)  # shown to 2 significant digits
    assert "Observational" in browser.find_element(By.ID, "c-caveat").text
    screenshot(browser, "compare")


# ---- live ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twitches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "twitches.csv"
    bursts = [(1.0 + 2.0 * k, 1.3 + 2.0 * k, 150.0) for k in range(14)]  # a twitch every 2 s
    write_recording(path, 1000, [emg(30, 1000, bursts, seed=11)], units="counts", mode="raw")
    return path


def shown_ids(driver: Any) -> list[int]:
    # in one script: the list is redrawn whenever something happens, elements found earlier go stale
    return [int(i) for i in driver.execute_script(
        "return [...document.querySelectorAll('#live-events li.live-event')].map(li => li.dataset.id)")]


@pytest.mark.micropython
@pytest.mark.timeout(240)
def test_live_page_follows_the_virtual_board_through_unplug_and_a_reopened_tab(browser: Any, twitches: Path,
                                                                                tmp_path: Path) -> None:
    from spasmsim.device import VirtualDevice
    from spasmwatch.dashboard.live import LiveHub

    link = tmp_path / "ttyUSB0"
    state = tmp_path / "board"
    db = tmp_path / "events.sqlite3"
    Store(db).close()
    dev = VirtualDevice(twitches, speed=2, state_dir=state, loop=True, link=link)
    dev.start()
    hub = LiveHub(db, str(link), poll_s=0.1)
    dash = Dashboard(db, "127.0.0.1:0", live=hub)
    devices = [dev]
    try:
        dash.start()
        browser.get(dash.url + "#live")
        wait(lambda: "up" in browser.find_element(By.ID, "conn").get_attribute("class"), "the board connected")
        with sqlite3.connect(db) as con:
            before = con.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        new = wait(lambda: [i for i in shown_ids(browser) if i > before], "a new episode on the page")
        seen = time.time()
        with sqlite3.connect(db) as con:
            (received,) = con.execute("SELECT received_at FROM events WHERE id=?", (min(new),)).fetchone()
        # the page shows it within a few seconds of the monitor storing what the board reported
        assert seen - received < 5.0, f"episode shown {seen - received:.1f} s after the board reported it"
        print(f"episode {min(new)} shown {seen - received:.2f} s after the monitor stored it")
        wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#live-events li[data-kind='twitch']"), "a twitch")
        wait(lambda: browser.execute_script("return (LIVE.env['0'] || []).length") > 20, "the envelope")
        screenshot(browser, "live")

        dev.close()  # unplugged: the pty and its link go away
        wait(lambda: "down" in browser.find_element(By.ID, "conn").get_attribute("class"), "the page to see it")
        with sqlite3.connect(db) as con:
            last = con.execute("SELECT max(id) FROM events").fetchone()[0]
        dev2 = VirtualDevice(twitches, speed=2, state_dir=state, loop=True, link=link)  # plugged back in
        devices.append(dev2)
        dev2.start()
        wait(lambda: "up" in browser.find_element(By.ID, "conn").get_attribute("class"), "the board back")
        wait(lambda: [i for i in shown_ids(browser) if i > last], "an episode after the replug")

        browser.refresh()  # a reopened tab starts from the store: its last events and counts are the store's

        def store_last() -> tuple[list[int], int]:
            # "today" is since local midnight, as the page counts it (a run across midnight must not differ)
            day0 = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
            with sqlite3.connect(db) as con:
                ids = [r[0] for r in con.execute("SELECT id FROM events WHERE state IN ('open', 'closed') "
                                                 "ORDER BY onset_wall DESC, id DESC LIMIT 20")]
                closed = con.execute("SELECT count(*) FROM events WHERE state='closed' AND kind!='fault' "
                                     "AND onset_wall >= ?", (day0,))
                return ids, closed.fetchone()[0]

        # compared in one poll, as a new episode may be stored at any moment
        wait(lambda: shown_ids(browser) == store_last()[0], "the page's last events to be the store's")
        wait(lambda: card(browser, "live-counts", "today") == str(store_last()[1]), "today's count = the store's")
        assert len(shown_ids(browser)) >= 2  # one before the unplug, one after
    finally:
        dash.stop()
        for d in devices:
            d.close()
        shutil.rmtree(state, ignore_errors=True)


def test_a_kind_added_to_the_table_shows_in_the_page(browser: Any, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The page writes out no kind: a row added to spasmcore.kinds (and its code) is a summary card and a legend
    swatch in its colour, with nothing changed in the static files."""
    from spasmcore import kinds
    from spasmfw import codes

    mixed = kinds.Kind("mixed", "mixed (tonic + clonus)", "#4d9221", "green", 4, "mixed", "tonic",
                       "tonic with superimposed clonus")
    monkeypatch.setattr(kinds, "KINDS", (*kinds.episodes(), mixed, *[k for k in kinds.KINDS if k.code is None]))
    monkeypatch.setitem(codes.KIND_NAMES, 4, "mixed")
    db = tmp_path / "events.sqlite3"
    noon = datetime(2025, 3, 10, 12).timestamp()
    with Store(db) as st:
        st.note_hello("dev1", "1", uptime_ms=0, wall=noon, channel_names=["calf"])
        st.add_end("dev1", "1", 0, "mixed", 1000, 5000, seq=1, peak=400.0, mean=200.0, peak_x=10.0, mean_x=5.0,
                   floor=40.0)
    dash = Dashboard(db, "127.0.0.1:0")
    dash.start()
    try:
        browser.get(dash.url + "#history")
        wait(lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready"), "the page to start")
        show_range(browser, "2025-03-10", "2025-03-10")
        wait(lambda: card(browser, "h-summary", "kind-mixed") == "1", "the new kind's card")
        swatch = browser.find_element(By.CSS_SELECTOR, "#h-legend [data-kind='mixed']")
        assert swatch.text == "mixed (tonic + clonus)"
        colour = browser.execute_script("return getComputedStyle(arguments[0].querySelector('i')).backgroundColor",
                                        swatch)
        assert colour == "rgb(77, 146, 33)"
        assert [k["name"] for k in browser.execute_script("return INFO.kinds")][3] == "mixed"
    finally:
        dash.stop()
