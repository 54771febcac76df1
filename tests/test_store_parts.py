"""The store's parts: one query code for the writable and the read-only store, and what a live record costs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from spasmwatch.dashboard.app import device_info
from spasmwatch.link import wire
from spasmwatch.store import ReadOnlyStore, Store, StoreReadOnly

DEV = "dev1"


def filled(path: Path) -> None:
    with Store(path) as s:
        s.note_hello(DEV, "1", fw_version="0.1.0", uptime_ms=0, wall=1000.0, info="{'mode': 'raw'}",
                     name="left leg", channel_names=["left calf", "ch1"])
        for ch, onset in ((0, 1000), (1, 2000), (0, 3000)):
            s.add_end(DEV, "1", ch, "tonic", onset, onset + 500)


def test_the_read_only_store_answers_every_query_as_the_store_does(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite3"
    filled(path)
    with Store(path) as s, ReadOnlyStore(path) as ro:
        assert ro.devices() == s.devices() and ro.devices()[0]["info"] == "{'mode': 'raw'}"
        assert ro.events() == s.events() and len(s.events()) == 3
        assert [e.onset_ms for e in s.events(channel=0)] == [e.onset_ms for e in ro.events(channel=0)] == [1000, 3000]
        assert ro.recent(DEV, 2) == s.recent(DEV, 2) and [e.onset_ms for e in s.recent(DEV, 2)] == [2000, 3000]
        assert ro.links() == s.links() and ro.gaps() == s.gaps() and ro.notes() == s.notes() == []
        assert ro.first_last_wall(DEV) == s.first_last_wall(DEV) == (1001.0, 1003.0)


def test_the_dashboard_shows_the_sensitivity_the_device_greeted_with(tmp_path: Path) -> None:
    """The read-only store's devices carry the hello's config (`info`), as the store's do."""
    path = tmp_path / "e.sqlite3"
    filled(path)
    with ReadOnlyStore(path) as ro:
        (dev,) = device_info(ro.devices())
    assert dev["label"] == f"left leg ({DEV})" and dev["sensitivity"] is not None


def test_the_read_only_store_refuses_writes_and_serves_other_threads(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite3"
    filled(path)
    with ReadOnlyStore(path) as ro:
        with pytest.raises(StoreReadOnly, match="cannot be written"):
            ro.add_end(DEV, "1", 0, "clonus", 9000, 9500)
        got: list[int] = []
        worker = threading.Thread(target=lambda: got.append(len(ro.events())))
        worker.start()
        worker.join(timeout=30)
        assert got == [3]
    with Store(path) as s:
        assert len(s.events()) == 3


def test_a_new_live_record_is_one_transaction_of_six_statements(tmp_path: Path) -> None:
    """The boot bound, the record held (its row count says whether it is new), the boot's origin, the two
    look-ups of its row, the row written: no separate SELECT changes()."""
    with Store(tmp_path / "e.sqlite3") as s:
        s.note_hello(DEV, "1", uptime_ms=0, wall=1000.0)
        trace: list[str] = []
        s.db.set_trace_callback(trace.append)
        assert s.add_message(wire.Onset(seq=1, ch=0, eseq=1, onset_ms=5000, detected_ms=5100), DEV, "1", wall=1006.0)
        s.db.set_trace_callback(None)
    work = [t for t in trace if t.split()[0].upper() not in ("BEGIN", "COMMIT")]
    assert len(work) == 6 and sum(t.upper().startswith("COMMIT") for t in trace) == 1, trace
