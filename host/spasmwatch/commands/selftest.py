"""`spasmwatch selftest`: check a board once: deploy if needed, measure on the board, print a verdict."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from spasmcore.errors import InputError, LinkError
from spasmwatch.board.selftest_checks import FAIL, PASS, SKIP, Check, judge, report, worst
from spasmwatch.board.selftest_run import BoardRun, run_on_board
from spasmwatch.commands.deploy import MpremoteTarget, deploy, explain_mpremote, probe_raw_repl
from spasmwatch.commands.monitor import add_port_arg
from spasmwatch.terminal import ui

MAX_SECONDS = 600

DESCRIPTION = """\
The check to run once on a new board (or a board-sim): it deploys the firmware if the board's copy differs,
boots it with the board's config, and measures on the board itself:

- boot: the config boots (not the defaults instead, for lack of heap or a refused pin);
- heap: free after boot and after running, against the 8 kB the firmware keeps for sync, replies, calibration;
- adc: per pin, one second at rest: railed (0 V, 3.3 V), floating (wide swings), silent, off mid-scale, noisy;
- timing: the app's work per block at the configured rate and channels (mean, 99th percentile, max) and the
  overruns (samples skipped) over --seconds of running;
- wifi: the join, if net.ssid is configured;
- flash log: records written and read back, a record torn as by a power cut dropped at reopen.

Keep the sensors on and the muscles at rest while it runs. It prints one line per check (pass / warn / fail
and why) and the verdict; --json OUT keeps every figure, to attach to a bug report. The board is reset at
the end, so the firmware runs again. Exit status: 0 pass or warn, 1 fail, 2 the board could not be reached.

Examples:
  spasmwatch selftest --port /dev/ttyUSB0
  spasmwatch selftest --port /dev/pts/5 --seconds 10 --json selftest.json
"""


def _seconds(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {text!r}") from None
    if not 1 <= n <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"{n} is out of range: 1 to {MAX_SECONDS} seconds")
    return n


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("selftest", help="check a board: deploy if needed, measure on it, print a verdict",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_port_arg(p)
    p.add_argument("--seconds", type=_seconds, default=60, metavar="N",
                   help=f"how long the app runs while its timing is measured (default 60, at most {MAX_SECONDS})")
    p.add_argument("--json", metavar="OUT", help="write the verdict and every figure to this JSON file")
    p.set_defaults(func=run)


def ensure_deployed(port: str) -> None:
    """Deploy when the board's files differ from this spasmwatch's firmware (say so either way)."""
    from spasmcore.firmware import mpy_cross_version
    from spasmwatch.board.deploy_build import DEFAULT_MARCH, MARCH, SIM_MARCH, build, make_plan

    target = MpremoteTarget(port)
    info = target.list_files()
    march = (MARCH | SIM_MARCH).get((info.mpy or 0) >> 10, DEFAULT_MARCH)
    with tempfile.TemporaryDirectory(prefix="spasmwatch-build-") as tmp:
        local = build(Path(tmp), march)
    plan = make_plan(local, info, None)
    if not plan.put and not plan.remove:
        ui.note(f"the firmware on {port} is this spasmwatch's: no deploy needed")
        return
    ui.note(f"{port}: {len(plan.put)} file(s) differ from this spasmwatch's firmware: deploying")
    try:
        deploy(target, local, mpy=mpy_cross_version(), march=march, info=info, say=ui.detail)
    except LinkError as e:
        if make_plan(local, target.list_files(), None).put:
            raise  # the copy itself failed
        ui.warn(f"{e}; the files are in place: the self-test looks at why")  # e.g. a heap too small to boot


def measure(port: str, seconds: int) -> BoardRun:
    """The board's run, with a progress bar: boot, ADC, `seconds` of running, flash log."""
    start = {"boot": 0.0, "adc": 1.0, "run": 2.0, "log": 2.0 + seconds}
    width = {"boot": 1.0, "adc": 1.0, "run": float(seconds), "log": 1.0}
    with ui.progress("self-test: boot", total=seconds + 3.0) as bar:
        at = [0.0]

        def progress(phase: str, done: int, total: int) -> None:
            to = start.get(phase, at[0]) + width.get(phase, 0.0) * done / max(1, total)
            bar.step(max(0.0, to - at[0]), label=f"self-test: {phase}")
            at[0] = max(at[0], to)

        run = run_on_board(port, seconds, progress)
        bar.step(seconds + 3.0 - at[0], label="self-test: done")
    if run.result is None and not run.boot_error:
        said = "\n".join(run.tail)
        if any(s in said.lower() for s in ("raw repl", "failed to access", "no device found")):
            raise explain_mpremote(port, said)  # mpremote's own failure, said as deploy says it
        last = run.tail[-1] if run.tail else "(no output)"
        raise LinkError(f"{port}: the self-test ended without a result; the board's last line: {last[:200]}")
    return run


def show(port: str, run: BoardRun, checks: list[Check]) -> None:
    res = run.result
    ran = f"{res['impl']} ({res['platform']}), {res['seconds']} s of running" if res else "did not run"
    print(f"self-test of {port}: {ran}")
    wide = max(len(c.name) for c in checks)
    for c in checks:
        print(f"  {c.level.upper():4}  {c.name:{wide}}  {ui.safe(c.reason)}")  # reasons quote the board
    verdict = worst(checks)
    why = [f"{c.name}: {c.reason}" for c in checks if c.level == verdict and verdict not in (PASS, SKIP)]
    print(f"verdict: {verdict.upper()}" + (f" ({ui.safe(why[0])})" if why else ""))


def run(args: argparse.Namespace) -> int:
    from spasmwatch.link.serial_link import open_serial, resolve_port

    if args.json and not Path(args.json).resolve().parent.is_dir():
        raise InputError(f"--json {args.json}: no such directory {Path(args.json).resolve().parent}")
    port = resolve_port(args.port)
    open_serial(port).close()  # busy / permission / no such port, said precisely before mpremote runs
    probe_raw_repl(port)
    ensure_deployed(port)
    board = measure(port, args.seconds)
    MpremoteTarget(port).reset()  # the firmware runs again (the self-test left the board in the REPL)
    checks = judge(board)
    show(port, board, checks)
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(report(port, board, checks), indent=1) + "\n")
        except OSError as e:
            raise InputError(f"--json {args.json}: cannot write it: {e.strerror}") from None
        print(f"figures written to {args.json}", file=sys.stderr)
    return 1 if worst(checks) == FAIL else 0
