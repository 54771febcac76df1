"""`spasmwatch calibrate`: guided rest / maximal-contraction calibration, checked by the board, kept on confirm."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spasmcore.errors import ConfigError
from spasmwatch.commands.config import connect
from spasmwatch.commands.monitor import add_port_arg
from spasmwatch.link.client import DeviceError

REST_S = 10.0
MVC_S = 5.0

CAL_HELP = """\
Guided calibration of the detector on the muscle as it is worn:

  rest  the resting noise floor, learned while the muscle is fully relaxed (default 10 s);
        every threshold is a multiple of it
  mvc   a maximal voluntary contraction (default 5 s), for the strength scale of episodes

With neither option both run, rest first. The board checks each result before it is used: a rest must
be steady, without bursts, and at most 2x the floor in use (after moving the electrodes, --clear first);
a contraction must reach 5x the resting floor and be held for half the time. Refused results change
nothing. An accepted one is shown and kept only when you confirm it (--yes keeps it without asking);
the board saves it (calib.json) and uses it at every start while the detector settings stay the same.

  spasmwatch calibrate                 rest, then maximal contraction
  spasmwatch calibrate --rest 20       only the rest floor, over 20 s
  spasmwatch calibrate --show          what the board uses and has saved
  spasmwatch calibrate --clear         forget the saved calibration (the floor is learnt again)
  spasmwatch calibrate --undo          go back to the calibration saved before the last change
"""

STEPS = {
    "rest": "Relax the muscle completely: limb supported, no movement, no talking, for {s:g} s.",
    "mvc": "Contract the muscle as hard as you can and hold it for {s:g} s (stop at once if it hurts).",
}


def register(subparsers: Any) -> None:
    c = subparsers.add_parser("calibrate", help="guided rest / maximal-contraction calibration",
                              description=CAL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_port_arg(c)
    c.add_argument("--rest", type=float, metavar="SECONDS", help=f"rest calibration (default {REST_S:g} s)")
    c.add_argument("--mvc", type=float, metavar="SECONDS", help=f"maximal contraction (default {MVC_S:g} s)")
    c.add_argument("--yes", "-y", action="store_true",
                   help="start each step without waiting for Enter and keep results without asking")
    what = c.add_mutually_exclusive_group()
    what.add_argument("--show", action="store_true", help="print the calibration in use and the saved one")
    what.add_argument("--clear", action="store_true", help="forget the saved calibration")
    what.add_argument("--undo", action="store_true", help="go back to the calibration saved before the last one")
    c.set_defaults(func=run_calibrate)


def _counts(v: Any, scale: float) -> str:
    return "-" if not isinstance(v, (int, float)) else f"{v / scale:.1f}"


def show(data: dict, names: list[str], scale: float) -> list[str]:
    """One line per channel: the floor and contraction in use, what is saved, the contraction's size."""
    saved = data.get("saved") or {}
    lines = []
    for i, name in enumerate(names):
        floor = (data.get("floor") or [None] * len(names))[i]
        mvc = (data.get("mvc") or [None] * len(names))[i]
        sf = (saved.get("floor") or [None] * len(names))[i] if saved else None
        ratio = f" = {mvc / floor:.0f}x the floor" if mvc and floor else ""
        lines.append(f"{name}: floor {_counts(floor, scale)} counts (saved: {_counts(sf, scale) if saved else 'none'})"
                     f", maximal contraction {_counts(mvc, scale) if mvc else 'not calibrated'}{ratio}")
    if data.get("running"):
        lines.append("a calibration is running on the board")
    return lines


def _confirm(question: str, interactive: bool, yes: bool) -> bool:
    if yes:
        return True
    if not interactive:
        return False
    answer = input(f"{question} [Y/n] ").strip().lower()
    return answer in ("", "y", "yes")


def _steps(args: argparse.Namespace) -> list[tuple[str, float]]:
    steps = []
    if args.rest is not None or args.mvc is None:
        steps.append(("rest", REST_S if args.rest is None else args.rest))
    if args.mvc is not None or args.rest is None:
        steps.append(("mvc", MVC_S if args.mvc is None else args.mvc))
    for name, seconds in steps:
        if not 1 <= seconds <= 300:
            raise ConfigError(f"--{name} must be 1..300 seconds")
    return steps


def run_calibrate(args: argparse.Namespace) -> int:
    steps = _steps(args)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    client = connect(args.port)
    try:
        hello = client.hello_msg or {}
        scale = float(hello.get("scale") or 16)
        names = list(hello.get("channels") or ["ch0"])
        if args.show:
            data = client.request("calibrate show", keep=False).get("data") or {}
            print("\n".join(show(data, names, scale)))
            return 0
        if args.clear or args.undo:
            word = "clear" if args.clear else "undo"
            question = ("Forget the saved calibration (the board learns the floor again now)?" if args.clear
                        else "Go back to the calibration saved before the last change?")
            if not _confirm(question, interactive, args.yes):
                print("nothing changed (confirm in a terminal, or pass --yes)")
                return 1
            data = client.request(f"calibrate {word}", keep=False).get("data") or {}
            if data.get("floor") is None:
                print(f"no calibration saved now; the board learns the resting floor over the next "
                      f"{data.get('relearn_s', 1):g} s: keep the muscle relaxed")
            else:
                print("the earlier calibration is back: " + ", ".join(
                    f"{n} floor {_counts(v, scale)}" for n, v in zip(names, data["floor"], strict=False)))
            return 0
        return _guided(client, steps, names, scale, interactive, args.yes)
    finally:
        client.close()


def _guided(client: Any, steps: list[tuple[str, float]], names: list[str], scale: float, interactive: bool,
            yes: bool) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(soft_wrap=True)  # soft wrap: piped output is not cut mid-sentence at 80 columns
    floors: list[float] = []
    for step, seconds in steps:
        console.print(f"[bold]{step} calibration[/bold]: {STEPS[step].format(s=seconds)}")
        if interactive and not yes:
            console.input("Press Enter when ready (Ctrl-C to cancel) ")
        with Progress(TextColumn(step), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeRemainingColumn(), console=console, transient=True,
                      disable=not console.is_terminal) as prog:
            task = prog.add_task(step, total=1.0)
            try:
                done = client.calibrate(step, seconds, tick=lambda f, t=task: prog.update(t, completed=f))
            except DeviceError as exc:
                reason = str(exc).removeprefix("calibration failed: ")
                console.print(f"{step} calibration refused by the board: {reason}")
                console.print("nothing was changed; try again")
                return 1
        floor = [float(v) / scale for v in done.get("floor") or []]
        if step == "rest":
            kept = [float(v) / scale for v in done.get("kept") or []]
            console.print("resting floor (ADC counts): " + ", ".join(
                f"{n} {v:.1f} (was {k:.1f})" if k else f"{n} {v:.1f} (none learnt before)"
                for n, v, k in zip(names, floor, kept, strict=False)))
            floors = floor
        else:
            mvc = [float(v) / scale for v in done.get("mvc") or []]
            ref = floors or floor
            console.print("maximal contraction envelope (ADC counts): " + ", ".join(
                f"{n} {m:.1f} = {m / f:.0f}x the resting floor" if f else f"{n} {m:.1f}"
                for n, m, f in zip(names, mvc, ref, strict=False)))
        if not _confirm("Keep it?", interactive, yes):
            client.request("calibrate undo", keep=False)
            console.print("not kept: the board is back to the calibration it had"
                          + ("" if interactive else " (confirm in a terminal, or pass --yes)"))
            return 1
        console.print("saved on the board; it is used from now on")
    return 0
