"""`spasmwatch simulate`: write a synthetic EMG recording (ADC counts) and its ground-truth intervals."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spasmcore.errors import ConfigError, FatalError

DESCRIPTION = """\
Simulate what the board reads from a MyoWare 2.0 (RAW or ENV pin) through the ESP32 ADC: surface EMG with
spasms (tonic, clonus, myoclonic jerks, cramps), everyday interference (mains, motion, electrode pops,
wander, ECG, drifting floor) and lead-off faults. Writes OUT (a spasmwatch recording in ADC counts) and
OUT.truth.csv (channel,onset_s,offset_s,kind: where each spasm or fault was injected). The same options and
seed always give the same bytes. Channels are independent (own spasms, artefacts and faults) but share the
mains phase and the heartbeat. See docs/simulator.md.

Examples:
  spasmwatch simulate --list
  spasmwatch simulate tonic.csv --scenario tonic_moderate
  spasmwatch simulate night.csv --scenario night --minutes 30 --mode env --rate 50 --seed 7
"""

RAW_RATES = (250.0, 2048.0)
ENV_RATES = (25.0, 1000.0)
MAX_CHANNELS = 16


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="write a synthetic EMG recording with ground truth",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", nargs="?", metavar="OUT.csv", help="recording to write (truth goes to OUT.truth.csv)")
    p.add_argument("--scenario", metavar="NAME", help="scenario to simulate (see --list)")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--minutes", type=float, metavar="M", help="duration (default: the scenario's)")
    p.add_argument("--seed", type=int, default=1, metavar="N", help="random seed (default 1)")
    p.add_argument("--mode", choices=["raw", "env"], default="raw", help="MyoWare output pin (default raw)")
    p.add_argument("--rate", type=float, metavar="HZ", help="sample rate (default 1000 raw, 100 env)")
    p.add_argument("--channels", type=int, default=1, metavar="K", help="independent channels (default 1)")
    p.add_argument("--mains", type=int, choices=[50, 60], default=50, help="mains frequency, Hz (default 50)")
    p.set_defaults(func=run)


def truth_path(out: Path) -> Path:
    """OUT.csv -> OUT.truth.csv (any other name gets .truth.csv appended)."""
    if out.suffix.lower() == ".csv":
        return out.with_name(out.name[: -len(out.suffix)] + ".truth.csv")
    return out.with_name(out.name + ".truth.csv")


def _check(args: argparse.Namespace) -> float:
    if args.minutes is not None and not 0 < args.minutes <= 24 * 60:
        raise ConfigError(f"--minutes {args.minutes:g}: expected more than 0 and at most 1440")
    if args.seed < 0:
        raise ConfigError(f"--seed {args.seed}: expected a non-negative integer")
    if not 1 <= args.channels <= MAX_CHANNELS:
        raise ConfigError(f"--channels {args.channels}: expected 1..{MAX_CHANNELS}")
    rate = args.rate if args.rate is not None else (1000.0 if args.mode == "raw" else 100.0)
    lo, hi = RAW_RATES if args.mode == "raw" else ENV_RATES
    if not lo <= rate <= hi:
        raise ConfigError(f"--rate {rate:g}: {args.mode} mode needs {lo:g}..{hi:g} Hz")
    return float(rate)


def run(args: argparse.Namespace) -> int:
    from spasmsim.scenarios import BY_NAME, SCENARIOS  # light; the generator (scipy) is imported below

    if args.list:
        width = max(len(sc.name) for sc in SCENARIOS)
        for sc in SCENARIOS:
            print(f"{sc.name:<{width}}  {sc.minutes:>4g} min  {sc.description}")
        return 0
    if not args.scenario:
        raise ConfigError("--scenario NAME is required (see --list)")
    if args.scenario not in BY_NAME:
        raise ConfigError(f"unknown scenario {args.scenario!r} (known: {', '.join(BY_NAME)})")
    if not args.out:
        raise ConfigError("OUT.csv is required")
    rate = _check(args)

    from spasmcore.events import write_truth
    from spasmcore.recording import write_recording
    from spasmsim.generate import generate

    sim = generate(args.scenario, seed=args.seed, minutes=args.minutes, mode=args.mode, rate_hz=rate,
                   channels=args.channels, mains_hz=float(args.mains))
    out = Path(args.out)
    truth = truth_path(out)
    try:
        write_recording(out, sim.rate_hz, sim.channels, units="counts", mode=sim.mode)
        write_truth(truth, sim.truth)
    except OSError as exc:
        raise FatalError(f"cannot write {exc.filename}: {exc.strerror}") from None
    n = len(sim.channels[0])
    print(f"wrote {out} ({n} samples x {len(sim.channels)} ch at {sim.rate_hz:g} Hz, {sim.mode}, "
          f"{n / sim.rate_hz / 60:.1f} min) and {truth} ({len(sim.truth)} intervals)")
    return 0
