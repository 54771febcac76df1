"""Text from a device or a file reaches the terminal escaped, and a wrong path is one line (issue 22, 6 and 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spasmwatch import cli


def test_board_sim_flash_that_is_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`board-sim --flash A_FILE` was a FileExistsError traceback (and a path under a file NotADirectoryError)."""
    a_file = tmp_path / "A_FILE"
    a_file.write_text("kept\n")
    for flash in (a_file, a_file / "sub"):
        assert cli.main(["board-sim", "--flash", str(flash)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "is a file" in err and "Traceback" not in err
    assert a_file.read_text() == "kept\n"
