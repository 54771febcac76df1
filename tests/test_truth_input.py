"""Truth and events CSVs that are not text (issue 22, item 13): one line of error, exit 2, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spasmcore.errors import InputError
from spasmcore.events import read_events, read_truth
from spasmwatch import cli
from spasmwatch.commands.replay import example_path


@pytest.mark.parametrize("body", [bytes(range(256)) * 4, b"\xf9\xfa" * 100, b"channel,onset_s\x00,offset_s,kind\n"])
def test_binary_truth_file_is_one_error(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "BINARY"
    path.write_bytes(body)
    for read in (read_truth, read_events):
        with pytest.raises(InputError, match="not a UTF-8 text CSV") as exc:
            read(path)
        assert "\n" not in str(exc.value)


def test_evaluate_with_a_binary_truth_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "BINARY"
    path.write_bytes(os.urandom(64) + b"\xff")
    assert cli.main(["evaluate", str(example_path()), str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a UTF-8 text CSV" in err and "Traceback" not in err


def test_oversized_csv_field_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('channel,onset_s,offset_s,kind\n0,1,2,"' + "x" * 200_000 + '"\n')
    with pytest.raises(InputError, match="not a CSV file we can read"):
        read_truth(path)
