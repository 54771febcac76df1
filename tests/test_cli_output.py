"""What commands print besides their result (issue 12.7, 12.11): -q/-v everywhere, progress bars only on a
terminal, replay --json, and argparse errors that name the subcommand."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from spasmcore.recording import write_recording
from spasmwatch import cli
from spasmwatch.terminal import ui


@pytest.fixture(autouse=True)
def _reset_level():
    yield
    ui.set_level(False, 0)


def labelled(tmp_path: Path) -> Path:
    """Two channels, the second a cue-label column: replay notes it on stderr."""
    rng = np.random.default_rng(1)
    emg = (2048 + rng.normal(0, 10, 5000)).astype(int)
    cue = np.repeat([0, 1, 0, 2, 0], 1000)
    path = tmp_path / "cue.csv"
    write_recording(path, 1000, [emg, cue])
    return path


def test_quiet_hides_notes_keeps_result_and_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = labelled(tmp_path)
    assert cli.main(["replay", str(path)]) == 0
    assert "note: channel(s) 1 look like a cue/label column" in capsys.readouterr().err
    for argv in (["replay", str(path), "-q"], ["-q", "replay", str(path)], ["replay", "--quiet", str(path)]):
        assert cli.main(argv) == 0
        out, err = capsys.readouterr()
        assert err == "" and "cue.csv: 5.0 s, 2 channels" in out
    cut = tmp_path / "cut.csv"
    cut.write_text(path.read_text() + "20")
    assert cli.main(["replay", "-q", str(cut)]) == 0
    assert "warning: " in capsys.readouterr().err  # warnings survive -q


def test_verbose_says_how_the_file_was_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.csv"
    path.write_text("time_ms,emg\n" + "".join(f"{2 * i},{2048 + i % 7}\n" for i in range(500)))
    assert cli.main(["replay", str(path), "-v"]) == 0
    err = capsys.readouterr().err
    assert "500 samples x 1 channel(s) (emg)" in err and "rate 500 Hz from time column 'time_ms'" in err
    assert cli.main(["replay", str(path)]) == 0
    assert "samples x" not in capsys.readouterr().err


def test_verbosity_is_accepted_by_every_command() -> None:
    parser = cli.build_parser()
    for name, sub in cli._subcommands(parser).items():
        leaves = list(cli._subcommands(sub).values()) or [sub]
        for leaf in leaves:
            options = {o for a in leaf._actions for o in a.option_strings}
            assert {"-q", "--quiet", "-v", "--verbose"} <= options, name


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    fake = Tty()
    monkeypatch.setattr("sys.stderr", fake)
    monkeypatch.setenv("TERM", "xterm")
    with ui.progress("replaying x", total=10) as bar:
        bar.step(10)
    assert "replaying x" in fake.getvalue()
    ui.set_level(True, 0)
    fake.truncate(0)
    with ui.progress("replaying y", total=10) as bar:
        bar.step(10)
    assert "replaying y" not in fake.getvalue()  # -q
    ui.set_level(False, 0)
    piped = io.StringIO()
    monkeypatch.setattr("sys.stderr", piped)
    with ui.progress("replaying z", total=10) as bar:
        bar.step(10)
    assert piped.getvalue() == ""  # piped: nothing


def test_replay_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["replay", "--example", "--json", "--events", str(tmp_path / "e.csv")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["episodes"] == 3 and data["faults"] == 0 and data["rate_hz"] == 1000
    assert sorted(data["by_kind"]) == ["clonus", "tonic", "twitch"]
    assert [e["kind"] for e in data["events"]] == ["tonic", "twitch", "clonus"]
    assert (tmp_path / "e.csv").read_text().count("\n") == 4
    assert cli.main(["replay", "--example", "--json", "--events", "-"]) == 2
    assert "both write to stdout" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "prefix"),
    [
        (["replay", "--example", "--bogus"], "spasmwatch replay: error: unrecognized arguments: --bogus"),
        (["config", "get", "--nope"], "spasmwatch config get: error: unrecognized arguments: --nope"),
        (["events", "extra", "words"], "spasmwatch events: error: unrecognized arguments: extra words"),
    ],
)
def test_unknown_option_names_the_subcommand(argv: list[str], prefix: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == prefix
