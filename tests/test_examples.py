"""Every example in the --help texts and in the README is run (or, where it needs a board, parsed and its keys
and values checked against the firmware's own config code), so a documented command cannot rot (issue 12)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from spasmcore.recording import write_recording
from spasmfw import config as fwconfig
from spasmwatch import cli
from spasmwatch.commands import config as config_cmd

ROOT = Path(__file__).resolve().parents[1]
BOARD = {"monitor", "record", "calibrate", "deploy", "demo", "device", "ports", "selftest",  # a board, a pty, long
         "dashboard", "note"}  # serves until Ctrl-C; writes the user's own event database


def help_examples() -> list[str]:
    """Lines of every (sub)command's description that start with `spasmwatch `; `&&` chains kept together."""
    found: list[str] = []

    names = set(cli._subcommands(cli.build_parser()))

    def walk(parser) -> None:
        for line in f"{parser.description or ''}\n{parser.epilog or ''}".splitlines():
            text = line.strip()
            indent = len(line) - len(line.lstrip())
            # an example line: at most two spaces in, naming a command (not prose that starts with the word)
            if text.startswith("spasmwatch ") and indent <= 2 and text.split()[1] in names:
                found.append(re.split(r"\s{3,}", text)[0])  # config's help has a description column
        for child in cli._subcommands(parser).values():
            walk(child)

    walk(cli.build_parser())
    return list(dict.fromkeys(found))


def readme_examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            parts = [p.strip() for p in line.split("&&")]
            chain = [p for p in parts if p.startswith("spasmwatch ")]
            if chain:
                out.append(" && ".join(chain))
    return out


def inputs(tmp: Path) -> None:
    """Stand-ins for the files the examples name (a session, a Myo text export with its label column, an
    envelope CSV with a time column)."""
    from signals import emg

    write_recording(tmp / "session.csv", 1000, [emg(12, 1000, [(5, 8, 80)], seed=1)], units="counts")
    (tmp / "myo").mkdir()
    rng = np.random.default_rng(2)
    rows = rng.integers(-20, 20, (2000, 8))
    cue = np.repeat([0, 1, 0, 2], 500)
    lines = (" ".join(map(str, r)) + f" {c}\n" for r, c in zip(rows, cue, strict=True))
    (tmp / "myo" / "1.txt").write_text("".join(lines))
    env = 0.05 + np.abs(rng.normal(0, 0.01, 3000))
    env[1200:1800] += 0.6
    (tmp / "tum.csv").write_text("time,emg\n" + "".join(f"{i / 100:.2f},{v:.4f}\n" for i, v in enumerate(env)))
    import edfio  # an EDF night (uV, as clinical systems write it) and a small study folder

    night = (emg(30, 1000, [(10, 14, 70)], seed=3) - 2048) * 4.0
    edfio.Edf([edfio.EdfSignal(night, 1000, label="EMG calf", physical_dimension="uV")]).write(tmp / "night.edf")
    (tmp / "study" / "p1").mkdir(parents=True)
    for k in range(2):
        write_recording(tmp / "study" / "p1" / f"n{k}.csv", 1000, [emg(10, 1000, [(4, 6, 80)], seed=k)], units="counts")


def check_offline(argv: list[str], args) -> None:
    """Examples that talk to a board: parse them, and check config keys and values with the firmware's code."""
    defaults = fwconfig.defaults("dev")
    if args.command == "config" and args.action == "set":
        fwconfig.set_values(defaults, config_cmd.parse_pairs(args.pairs))  # raises on a bad key or value
    elif args.command == "config" and args.action == "get" and args.key:
        config_cmd.lookup(config_cmd.effective(defaults), args.key)
    elif args.command == "config" and args.action == "reset":
        changed = fwconfig.set_values(defaults, [("params.sensitivity", 6)])
        assert config_cmd.reset_pairs(changed, args.keys, args.all) or args.keys
    for item in getattr(args, "param", []) or []:
        name = item.partition("=")[0]
        assert name in fwconfig.detector.PARAMS, f"{' '.join(argv)}: no detector parameter {name!r}"


EXAMPLES = [("help", e) for e in help_examples()] + [("README", e) for e in readme_examples()]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for all examples, run in order: an example may use what an earlier one wrote, as a user would."""
    tmp = tmp_path_factory.mktemp("examples")
    inputs(tmp)
    return tmp


@pytest.mark.slow
@pytest.mark.parametrize(("where", "example"), EXAMPLES, ids=[e for _, e in EXAMPLES])
def test_example(where: str, example: str, workdir: Path, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(workdir)
    for command in example.split(" && "):
        argv = shlex.split(command)[1:]
        if ">" in argv:
            argv = argv[: argv.index(">")]
        argv = [str(Path(a).expanduser()) if a.startswith("~") else a for a in argv]
        parser = cli.build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{where} example does not parse: {command}\n{capsys.readouterr().err}")
        needs_board = args.command in BOARD or (args.command == "config" and args.action != "defaults")
        if needs_board:
            check_offline(argv, args)
            continue
        code = cli.main(argv)
        captured = capsys.readouterr()
        assert code == 0, f"{where} example failed: {command}\n{captured.err}"
        assert "warning:" not in captured.err, captured.err


def test_examples_were_found() -> None:
    commands = {shlex.split(c)[1] for _, e in EXAMPLES for c in e.split(" && ")}
    assert {"replay", "simulate", "evaluate", "config", "monitor"} <= commands
    assert any(w == "README" for w, _ in EXAMPLES)


def test_the_checker_catches_a_bad_parameter() -> None:
    args = cli.build_parser().parse_args(["replay", "x.csv", "--param", "on_x=4"])
    with pytest.raises(AssertionError, match="no detector parameter 'on_x'"):
        check_offline(["replay"], args)
