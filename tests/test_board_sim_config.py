"""`config set` / `config reset` on board-sim (issue 22, item 15): a change the firmware applies across a restart
(machine.reset() from main.py) restarts the simulated board, which answers from its new boot, as `device` does.

Before, the interpreter's REPL (`-i`) caught that reset: the firmware stopped, config.json.pending stayed behind
and every later command found no firmware.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spasmsim.boardsim import BoardSim
from spasmwatch import cli

pytestmark = [pytest.mark.micropython, pytest.mark.slow]


@pytest.fixture
def board(tmp_path: Path, micropython_bin: str):  # noqa: ANN201
    with BoardSim(tmp_path / "flash", micropython=micropython_bin) as b:
        yield b


def test_config_set_and_reset_restart_the_board_sim_and_it_answers(board: BoardSim,
                                                                   capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["deploy", "--port", board.port]) == 0, capsys.readouterr().err
    capsys.readouterr()
    boots = board.boots
    assert cli.main(["config", "set", "status_s=30", "params.sensitivity=5", "--port", board.port]) == 0, \
        capsys.readouterr().err
    out = capsys.readouterr().out
    assert "saved: status_s=30, params.sensitivity=5" in out
    cfg = json.loads((board.flash / "config.json").read_text())
    assert cfg["status_s"] == 30 and cfg["params"]["sensitivity"] == 5
    assert not (board.flash / "config.json.pending").exists()
    assert cli.main(["config", "reset", "--all", "--port", board.port]) == 0, capsys.readouterr().err
    assert "saved:" in capsys.readouterr().out
    assert json.loads((board.flash / "config.json").read_text())["status_s"] != 30
    assert cli.main(["config", "get", "status_s", "--port", board.port]) == 0  # the firmware still runs
    assert not (board.flash / "config.json.pending").exists()
    assert not board.crashes and board.boots >= boots, bytes(board.log[-2000:]).decode(errors="replace")
