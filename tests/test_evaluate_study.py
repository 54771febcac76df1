"""`spasmwatch evaluate FOLDER`: every recording with its truth, replayed as a batch, pooled as channels pool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spasmwatch.cli import main


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("study")
    (d / "a").mkdir()
    for name, scenario, seed in (("a/r1.csv", "tonic_moderate", 1), ("r2.csv", "clonus_mixed", 2)):
        assert main(["-q", "simulate", str(d / name), "--scenario", scenario, "--minutes", "1",
                     "--seed", str(seed)]) == 0
    assert main(["-q", "simulate", str(d / "untruthed.csv"), "--scenario", "rest_artifacts", "--minutes", "1"]) == 0
    (d / "untruthed.truth.csv").unlink()  # a recording without truth is not scored
    return d


def _json(capsys, *argv: str) -> dict:
    assert main(["evaluate", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_folder_pools_what_single_runs_give(study: Path, capsys) -> None:
    whole = _json(capsys, str(study), "--jobs", "1")
    singles = [_json(capsys, str(study / n), str(study / n.replace(".csv", ".truth.csv"))) for n in ("a/r1.csv",
                                                                                                      "r2.csv")]
    assert [r["recording"] for r in whole["recordings"]] == [str(study / "a/r1.csv"), str(study / "r2.csv")]
    for key in ("truth_spasms", "truth_detected", "episodes", "false_alarms", "duration_s", "merged", "split"):
        assert whole["pooled"][key] == sum(s[key] for s in singles), key
        assert [r[key] for r in whole["recordings"]] == [s[key] for s in singles], key
    assert whole["pooled"]["truth_spasms"] > 0
    assert whole["pooled"]["longest_episode_s"] == max(s["longest_episode_s"] for s in singles)


def test_folder_without_truth_and_mixed_arguments_are_errors(tmp_path: Path, study: Path, capsys) -> None:
    (tmp_path / "x.csv").write_text("# rate_hz=1000\n1\n2\n")
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "no recording with its X.truth.csv" in capsys.readouterr().err
    assert main(["evaluate", str(study), str(study / "r2.truth.csv")]) == 2
    assert "truth files are found beside the recordings" in capsys.readouterr().err
    assert main(["evaluate", str(study / "r2.csv")]) == 2  # read as TRUTH alone
    assert "give RECORDING, or --events EVENTS.csv with --duration S" in capsys.readouterr().err
