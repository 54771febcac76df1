"""The dashboard's pages at the edges, in headless Chromium at 1280 px: long muscle names are not cut off the
timeline, the Live tab says "loading" until its first snapshot (and why nothing comes when it is off), and a
note is edited and deleted from the Notes tab."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from test_dashboard_browser import browser, wait  # noqa: F401 - the module's browser fixture (skips without it)

from spasmwatch.dashboard.live import LiveHub
from spasmwatch.dashboard.server import Dashboard
from spasmwatch.store import Store
from spasmwatch.store.notes import add_note, read_notes

DAY = datetime(2025, 3, 4)
LONG = ["left gastrocnemius, medial head", "right tibialis anterior (lower third)"]


def at(hour: int, minute: int = 0) -> float:
    return DAY.replace(hour=hour, minute=minute).astimezone().timestamp()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two boards with long channel names, an episode on each channel, and a note."""
    path = tmp_path_factory.mktemp("edges") / "events.sqlite3"
    with Store(path) as store, store.batch():
        for d, dev in enumerate(("sim0history", "bedside-board-2")):
            store.note_hello(dev, "b1", fw_version="t", uptime_ms=0, wall=at(8), name=dev, channel_names=LONG)
            store.link_close(store.link_open(f"/dev/t{d}", dev, at(8)), at(20), reason="unplugged")
            for ch in (0, 1):
                onset_ms = int((at(10 + ch + 2 * d) - at(8)) * 1000)
                store.add_end(dev, "b1", ch, "tonic", onset_ms, onset_ms + 3000, seq=ch + 1, peak=500, peak_x=5.0,
                              floor=100, received_at=at(10 + ch + 2 * d) + 3)
    add_note(path, "baclofen 10 mg", "medication", at(9))
    return path


@pytest.fixture(scope="module")
def server(db: Path) -> Iterator[Dashboard]:
    dash = Dashboard(db, "127.0.0.1:0")
    dash.start()
    yield dash
    dash.stop()


def test_timeline_row_labels_fit_at_1280_px(browser: Any, server: Dashboard) -> None:  # noqa: F811
    browser.set_window_size(1280, 1800)
    browser.get(server.url + "#history")
    wait(lambda: browser.execute_script("return document.body.dataset.ready"), "the page to start")
    browser.execute_script("document.getElementById('h-period').value = 'day';"
                           f"document.getElementById('h-date').value = '{DAY.date()}'; window.lastHistory = null;"
                           "loadHistory();")
    wait(lambda: browser.execute_script("const h = window.lastHistory; return h && h.episodes.length === 4 && "
                                        "document.querySelector('#h-timeline canvas')"), "the day's timeline")
    # each row label's width in the axis font, against the room the axis has (its size less ticks and gap)
    fit = browser.execute_script("""
        const u = charts['h-timeline'], ax = u.axes[1];
        const labels = ax.values(u, [0, 1, 2, 3]);
        u.ctx.font = ax.font[0];
        const widest = Math.max(...labels.map((s) => u.ctx.measureText(s).width / (window.devicePixelRatio || 1)));
        return {labels, widest, room: ax._size - ax.ticks.size - ax.gap, width: u.width};""")
    assert len(set(fit["labels"])) == 4 and all(LONG[0] in s or LONG[1] in s for s in fit["labels"]), fit
    assert fit["widest"] <= fit["room"], fit  # a label wider than its room is cut at the canvas edge


class SlowHub(LiveHub):
    """A live hub whose first snapshot waits until the test lets it go (a board slow to answer)."""

    def __init__(self, db: Path) -> None:
        super().__init__(db, "/nonexistent/ttyUSB9", poll_s=0.1)
        self.go = threading.Event()

    def snapshot(self) -> dict[str, object]:
        self.go.wait(60)
        return super().snapshot()

    def end_streams(self) -> None:
        self.go.set()
        super().end_streams()


def loading_texts(driver: Any) -> list[str]:
    return list(driver.execute_script(
        "return [...document.querySelectorAll('#tab-live [data-loading]')].map((e) => e.textContent)"))


def test_live_sections_say_loading_until_the_first_snapshot(browser: Any, db: Path) -> None:  # noqa: F811
    hub = SlowHub(db)
    dash = Dashboard(db, "127.0.0.1:0", live=hub)
    try:
        dash.start()
        browser.get(dash.url + "#live")
        wait(lambda: browser.execute_script("return document.body.dataset.ready"), "the page to start")
        shown = loading_texts(browser)
        assert len(shown) == 5 and all("loading" in t or "waiting" in t for t in shown), shown
        hub.go.set()
        wait(lambda: "not connected" in browser.find_element("id", "live-state").text, "the first snapshot")
        assert [t for t in loading_texts(browser) if "loading" in t] == []  # only the envelope still waits
    finally:
        hub.go.set()
        dash.stop()


def test_live_off_replaces_loading_with_the_reason(browser: Any, server: Dashboard) -> None:  # noqa: F811
    browser.get(server.url + "#live")
    wait(lambda: loading_texts(browser) and set(loading_texts(browser)) == {"live view off"}, "the reason")


def test_a_note_is_edited_then_deleted_in_the_page(browser: Any, server: Dashboard, db: Path) -> None:  # noqa: F811
    note = add_note(db, "tizanidine 2 mg", "medication", at(18))
    browser.get(server.url + "#notes")
    row = f"#n-list tr[data-note='{note.id}']"
    wait(lambda: browser.find_elements("css selector", row), "the note in the list")
    browser.find_element("css selector", f"{row} button.n-edit").click()
    box = browser.find_element("id", "n-text")
    assert box.get_attribute("value") == "tizanidine 2 mg"
    box.clear()
    box.send_keys("tizanidine 4 mg")
    browser.find_element("id", "n-add").click()
    wait(lambda: "saved" in browser.find_element("id", "n-msg").text, "the edit to be saved")

    def stored() -> list[tuple[int, str, float]]:
        with sqlite3.connect(db) as con:
            return [(n.id, n.text, n.at) for n in read_notes(con) if n.id == note.id]

    assert stored() == [(note.id, "tizanidine 4 mg", at(18))]  # text changed, time kept (minute precision)
    # the list is drawn again after the save: the button to click is the new list's
    wait(lambda: "tizanidine 4 mg" in browser.find_element("css selector", row).text, "the list with the edit")
    delete = browser.find_element("css selector", f"{row} button.n-delete")
    delete.click()
    assert stored() and "really" in delete.text  # one click only arms it
    delete.click()
    wait(lambda: "deleted" in browser.find_element("id", "n-msg").text, "the delete")
    assert stored() == []
    wait(lambda: not browser.find_elements("css selector", row), "the note gone from the list")


def test_compare_around_a_note_says_it_splits_at_its_time(browser: Any, server: Dashboard) -> None:  # noqa: F811
    browser.get(server.url + "#compare")
    r = wait(lambda: browser.execute_script("return window.lastCompare"), "the comparison around the note")
    assert r["split"] == at(9) and r["a"]["episodes"] == 0 and r["b"]["episodes"] == 4
    assert "split at the note's time" in browser.find_element("id", "c-title").text
    typed = [browser.find_element("id", f"c-{k}").get_attribute("value") for k in ("a-from", "a-to", "b-from", "b-to")]
    assert typed == ["2025-02-18", "2025-03-03", "2025-03-04", "2025-03-17"]  # whole days, no day in both
