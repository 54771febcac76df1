"""Accuracy regression guard: `spasmwatch simulate` + `spasmwatch evaluate` on short scenarios, with floors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spasmwatch.cli import main

# (scenario, minutes, seed): short runs of the suite in docs/accuracy.md, other seeds than the bench's
CASES = [("rest_artifacts", 4, 11), ("clonus_mixed", 4, 12), ("cramps_jerks", 5, 13), ("everyday_mixed", 5, 14),
         ("ecg_leadoff", 4, 15)]


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = {}
    capsys_free = tmp_path_factory.mktemp("acc")
    for name, minutes, seed in CASES:
        rec = capsys_free / f"{name}.csv"
        assert main(["simulate", str(rec), "--scenario", name, "--minutes", str(minutes), "--seed", str(seed)]) == 0
        report = capsys_free / f"{name}.json"
        truth = Path(str(rec).replace(".csv", ".truth.csv"))
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["evaluate", str(rec), str(truth), "--json"]) == 0
        report.write_text(buf.getvalue())
        out[name] = json.loads(buf.getvalue())
    return out


def test_sensitivity_and_precision_floors(scores: dict[str, dict]) -> None:
    detected = sum(s["truth_detected"] for s in scores.values())
    spasms = sum(s["truth_spasms"] for s in scores.values())
    assert spasms >= 20
    assert detected / spasms >= 0.95, {k: s["sensitivity"] for k, s in scores.items()}
    for name, s in scores.items():
        assert s["precision"] is None or s["precision"] >= 0.9, name


def test_false_alarm_floor(scores: dict[str, dict]) -> None:
    false_alarms = sum(s["false_alarms"] for s in scores.values())
    rest_h = sum(s["rest_s"] for s in scores.values()) / 3600
    assert false_alarms / rest_h <= 5, f"{false_alarms} false alarms in {rest_h:.2f} h of rest"


def test_onset_latency_and_kinds(scores: dict[str, dict]) -> None:
    for name, s in scores.items():
        if s["truth_spasms"]:
            assert s["onset_abs_median_ms"] <= 60, name
            assert s["latency_median_ms"] <= 250, name
    assert scores["clonus_mixed"]["kind_accuracy_by_truth"]["clonus"] >= 0.8
    assert scores["cramps_jerks"]["kind_accuracy_by_truth"]["jerk"] >= 0.8
    assert scores["ecg_leadoff"]["faults_found"] == scores["ecg_leadoff"]["truth_faults"] > 0
