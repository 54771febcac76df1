"""`spasmwatch calibrate` against the virtual device: checked results, confirm before keeping, --show/--clear/--undo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from signals import emg

from spasmcore.recording import write_recording
from spasmwatch import cli
from spasmwatch.commands.calibrate import show

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(120)]


def test_show_formats_each_channel() -> None:
    lines = show({"floor": [40, 32], "mvc": [4000, 0], "saved": {"floor": [40, 30], "mvc": [4000, 0]},
                  "running": True}, ["calf", "ch1"], 16)
    assert lines[0] == "calf: floor 2.5 counts (saved: 2.5), maximal contraction 250.0 = 100x the floor"
    assert lines[1] == "ch1: floor 2.0 counts (saved: 1.9), maximal contraction not calibrated"
    assert lines[2] == "a calibration is running on the board"
    assert show({"floor": [40], "mvc": [0], "saved": None}, ["ch0"], 16)[0].startswith("ch0: floor 2.5 counts "
                                                                                        "(saved: none)")


def test_calibrate_on_the_virtual_device(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from spasmsim.device import VirtualDevice

    # A muscle at rest all along: rest calibrations pass, a "maximal contraction" is refused.
    write_recording(tmp_path / "r.csv", 1000, [emg(20, 1000, [], rest_rms=8, seed=3)], units="counts")
    state = tmp_path / "board"
    with VirtualDevice(tmp_path / "r.csv", speed=4, loop=True, state_dir=state) as dev:
        p = dev.port
        assert cli.main(["calibrate", "--port", p, "--show"]) == 0
        assert "ch0: floor " in capsys.readouterr().out and not (state / "calib.json").exists()

        assert cli.main(["calibrate", "--port", p, "--rest", "2"]) == 1  # piped: nobody confirms, not kept
        out = capsys.readouterr().out
        assert "resting floor (ADC counts): ch0" in out and "not kept" in out and "--yes" in out
        assert not (state / "calib.json").exists()

        assert cli.main(["calibrate", "--port", p, "--rest", "2", "--yes"]) == 0
        out = capsys.readouterr().out
        assert "Relax the muscle" in out and "resting floor (ADC counts): ch0" in out and "saved on the board" in out
        saved = json.loads((state / "calib.json").read_text())
        assert saved["floor"][0] > 0

        assert cli.main(["calibrate", "--port", p, "--mvc", "1", "--yes"]) == 1
        out = capsys.readouterr().out
        assert "mvc calibration refused by the board: ch0: contraction" in out and "needs 5x" in out
        assert json.loads((state / "calib.json").read_text()) == saved  # a refused result changes nothing

        assert cli.main(["calibrate", "--port", p, "--show"]) == 0
        assert f"(saved: {saved['floor'][0] / 16:.1f})" in capsys.readouterr().out

        assert cli.main(["calibrate", "--port", p, "--clear", "--yes"]) == 0
        assert "learns the resting floor" in capsys.readouterr().out and not (state / "calib.json").exists()
        assert cli.main(["calibrate", "--port", p, "--undo", "--yes"]) == 0
        assert "the earlier calibration is back: ch0 floor" in capsys.readouterr().out
        assert json.loads((state / "calib.json").read_text()) == saved
        assert cli.main(["calibrate", "--port", p, "--clear"]) == 1  # piped, no --yes: nothing changed
        assert "nothing changed" in capsys.readouterr().out and (state / "calib.json").exists()
