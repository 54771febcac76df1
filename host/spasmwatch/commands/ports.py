"""`spasmwatch ports`: list serial ports and say which is likely the ESP32 board."""

from __future__ import annotations

import argparse
import json

from spasmcore.errors import LinkError
from spasmwatch.link import ports as P
from spasmwatch.terminal.ui import safe


def run(args: argparse.Namespace) -> int:
    found = P.list_ports()
    if args.json:
        print(json.dumps([dict(device=p.device, usb_id=p.usb_id, chip=p.chip, board=p.verdict,
                               accessible=p.accessible, description=p.description) for p in found], indent=1))
        return 0
    if not found:
        print("No serial ports found.")
        print(P.no_ports_hint())
        return 0
    print(safe(P.format_table(found), lines=True))  # USB descriptions are the device's own words
    boards = [p for p in found if p.score >= P.LIKELY]
    if not boards:
        print("\nNo port looks like an ESP32 board (by USB VID:PID).")
        print(P.no_ports_hint())
    else:
        try:
            print(f"\n* likely ESP32 board; --port auto would pick {P.guess_port(found)}")
        except LinkError as exc:
            print(f"\n* likely ESP32 boards; --port auto cannot choose: {exc}")
        if not all(p.accessible for p in boards):
            print("No permission to open a board port: " + P.permission_hint() + ".")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ports",
        help="list serial ports and guess which is the ESP32 board",
        description="List serial ports with their USB VID:PID; ports of Espressif native USB or of the "
        "USB-serial chips used on ESP32 boards (CP210x, CH340/CH9102, FTDI) are marked with *.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)
