"""Entry point of the `spasmwatch` command: discovers subcommands and turns errors into one line."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import sys

from spasmcore.errors import FatalError
from spasmwatch import __version__, commands
from spasmwatch.terminal import ui


def _add_verbosity(parser: argparse.ArgumentParser, top: bool) -> None:
    """-q/-v, accepted before the command name and after it (subcommands do not overwrite the top level's)."""
    default: dict = {} if top else {"default": argparse.SUPPRESS}
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="no notes or progress bars (warnings and errors "
                       "still print)", **({"default": False} if top else default))
    group.add_argument("-v", "--verbose", action="count", help="more detail: how files were read, timings",
                       **({"default": 0} if top else default))


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _all_subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = []
    for child in {id(p): p for p in _subcommands(parser).values()}.values():
        out += [child, *_all_subparsers(child)]
    return out


def _leaf(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The (sub)parser of the command named in argv, so its errors name it: "spasmwatch replay: error: ..."."""
    for word in argv:
        choices = _subcommands(parser)
        if word in choices:
            parser = choices[word]
    return parser


DASH_VALUES = ("--since", "--until")  # take "-24h" (argparse would read it as an option)
AGO = re.compile(r"-(\d+(\.\d*)?|\.\d+)[smhdw]")


def _join_dash_values(words: list[str]) -> list[str]:
    """`--since -24h` -> `--since=-24h`: a time ago written with a minus is a value, not an option."""
    out: list[str] = []
    i = 0
    while i < len(words):
        if words[i] in DASH_VALUES and i + 1 < len(words) and AGO.fullmatch(words[i + 1]):
            out.append(f"{words[i]}={words[i + 1]}")
            i += 2
        else:
            out.append(words[i])
            i += 1
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spasmwatch",
        description="Detect, log and report muscle spasms from surface EMG (ESP32 board or recordings).",
    )
    parser.add_argument("--version", action="version", version=f"spasmwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    # Each module in spasmwatch.commands registers its own subcommand(s); sorted for a stable --help.
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    _add_verbosity(parser, top=True)
    for child in _all_subparsers(parser):
        _add_verbosity(child, top=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    words = _join_dash_values(sys.argv[1:] if argv is None else list(argv))
    args, extras = parser.parse_known_args(words)
    if extras:  # argparse would blame "spasmwatch" for an option of "spasmwatch replay"
        _leaf(parser, words).error(f"unrecognized arguments: {' '.join(extras)}")
    ui.set_level(bool(args.quiet), int(args.verbose or 0))
    try:
        return int(args.func(args) or 0)
    except FatalError as exc:
        print(f"spasmwatch {args.command}: error: {ui.safe(exc)}", file=sys.stderr)  # one line, device text escaped
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
