"""`spasmwatch record`: stream raw samples from a board into a recording that `replay` and `device` read."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from spasmcore.errors import ConfigError, FatalError, InputError, LinkError
from spasmwatch.commands.monitor import add_port_arg
from spasmwatch.terminal.ui import safe

if TYPE_CHECKING:
    import numpy as np


class _Stop(Exception):
    """End of the recording loop."""


SILENCE_S = 5.0  # no samples for this long while streaming: the device stopped (end of a virtual recording)

DESCRIPTION = """\
Record what the board's ADC sees: turns on `stream raw` and writes every sample to a spasmwatch recording
(CSV, `# rate_hz`, `# units=counts`, `# mode` from the board), which `spasmwatch replay`, `simulate`-style
tools and `spasmwatch device` read back. Samples are streamed to a temporary file and the recording is
written when you stop (--minutes, or Ctrl-C).

Each `raw` line carries the sample counter of its first sample, so lost lines are detected: the missing
samples are filled with the channel's last value (keeping the timing right), reported on stderr, and
listed as `# gap: ...` comment lines after the header. Samples the board itself dropped (sampling
overruns, from `status`) are reported on stderr and in a comment too.

With --out FILE.edf (or --edf FILE.edf beside the CSV) the recording is EDF+ instead (or as well): the
samples as ADC counts and each gap as an annotation over the filled samples, for EDFbrowser or MNE.

A USB serial link carries about 11 kB/s at 115200 baud: one channel at 1000 Hz uses about half.

Examples:
  spasmwatch record --out calf.csv --minutes 5
  spasmwatch record --out both.csv --port /dev/ttyUSB0 --channel 0,1
  spasmwatch record --out night.csv --edf night.edf --minutes 480
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("record", help="record raw samples from a board into a recording file",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", "-o", required=True, metavar="FILE",
                   help="recording to write: CSV, or EDF+ if it ends in .edf (gaps as annotations)")
    p.add_argument("--edf", metavar="FILE.edf", help="also write the recording as EDF+ (gaps as annotations)")
    p.add_argument("--minutes", type=float, metavar="M",
                   help="stop after M minutes of samples (default: at Ctrl-C)")
    add_port_arg(p)
    p.add_argument("--channel", metavar="N", help="only these device channels: N, 0,2 or 0-3 (default: all)")
    p.set_defaults(func=run)


@dataclass
class Gap:
    channel: int  # index in the recording
    at: int  # samples recorded on that channel before the gap
    missing: int

    def describe(self, rate: float) -> str:
        return (f"{self.missing} sample(s) missing on ch{self.channel} after sample {self.at} "
                f"({self.at / rate:.3f} s), filled with the last value")


@dataclass
class Recorder:
    """Collects `raw` messages of the selected channels into one temporary uint16 file per channel."""

    rate: float
    channels: list[int]  # device channel numbers, in recording order
    tmpdir: Path
    start_n: int | None = None
    next_n: dict[int, int] = field(default_factory=dict)
    count: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)
    files: dict[int, BinaryIO] = field(default_factory=dict)
    _first: dict[int, dict[int, list[int]]] = field(default_factory=dict)  # n -> ch -> values, before start

    def samples(self) -> int:
        """Samples recorded on every channel (the shortest)."""
        return min(self.count.values()) if self.count else 0

    def add(self, ch: int, n: int, values: list[int]) -> None:
        if ch not in self.channels or not values:
            return
        if self.start_n is None:
            # start at the first block that every selected channel delivered, so channels line up
            self._first.setdefault(n, {})[ch] = values
            if len(self._first[n]) < len(self.channels):
                return
            self.start_n = n
            for c in self.channels:
                self.files[c] = open(self.tmpdir / f"ch{c}.u16", "wb")
                self.next_n[c] = n
                self.count[c] = 0
            held, self._first = self._first[n], {}
            for c, vals in held.items():
                self._append(c, n, vals)
            return
        self._append(ch, n, values)

    def _append(self, ch: int, n: int, values: list[int]) -> None:
        import numpy as np  # (here, not at the top: `spasmwatch --help` should not pay for numpy)

        expect = self.next_n[ch]
        if n < expect:  # overlap (never expected): keep only the new part
            values = values[expect - n:]
            n = expect
            if not values:
                return
        if n > expect:
            missing = n - expect
            self.gaps.append(Gap(self.channels.index(ch), self.count[ch], missing))
            fill = np.full(missing, self.last.get(ch, values[0]), dtype="<u2")
            fill.tofile(self.files[ch])
            self.count[ch] += missing
        arr = np.clip(np.asarray(values, dtype=np.int64), 0, 65535).astype("<u2")
        arr.tofile(self.files[ch])
        self.count[ch] += len(arr)
        self.last[ch] = int(arr[-1])
        self.next_n[ch] = n + len(arr)

    def arrays(self, limit: int | None = None) -> list[np.ndarray]:
        import numpy as np

        for f in self.files.values():
            f.close()
        n = self.samples() if limit is None else min(limit, self.samples())
        return [np.fromfile(self.tmpdir / f"ch{c}.u16", dtype="<u2", count=n) for c in self.channels]


def finalize(path: Path, rate: float, mode: str, arrays: list[np.ndarray], comments: list[str],
             gaps: list[Gap] | None = None, channels: list[int] | None = None) -> None:
    """Write the recording: CSV (write_recording, then our `#` comment lines after its header), or EDF+ when
    `path` ends in .edf (each gap an annotation over the filled samples, the other comments at 0 s)."""
    from spasmcore.recording import write_recording

    if path.suffix.lower() == ".edf":
        write_edf(path, rate, arrays, comments, gaps or [], channels)
        return
    tmp = path.with_name(path.name + ".tmp")
    write_recording(tmp, rate, arrays, units="counts", mode=mode)
    if comments:
        with open(tmp, encoding="ascii") as src, open(path.with_name(path.name + ".tmp2"), "w",
                                                       encoding="ascii", newline="\n") as dst:
            line = src.readline()
            while line.startswith("#"):
                dst.write(line)
                line = src.readline()
            dst.writelines(f"# {c}\n" for c in comments)
            dst.write(line)
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(path.with_name(path.name + ".tmp2"), tmp)
    os.replace(tmp, path)


def write_edf(path: Path, rate: float, arrays: list[np.ndarray], comments: list[str], gaps: list[Gap],
              channels: list[int] | None = None) -> None:
    """EDF+ of ADC counts; the board's sample-counter gaps (filled with the last value) as annotations."""
    from spasmcore.readers.edf import write_annotated

    names = [f"ch{c}" for c in (channels if channels is not None else range(len(arrays)))]
    notes = [(0.0, 0.0, c) for c in comments if not c.startswith("gap: ")]
    gap_notes = [(g.at / rate, g.missing / rate, f"gap {names[g.channel]}: {g.missing} sample(s) missing, filled "
                  "with the last value") for g in gaps]
    tmp = path.with_name(path.name + ".tmp")
    write_annotated(tmp, rate, arrays, names, notes + gap_notes)
    os.replace(tmp, path)


def _progress(total: int | None) -> Any:
    if not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    prog = Progress(TextColumn("recording"), BarColumn(), TextColumn("{task.completed:,.0f} samples"),
                    TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    prog.add_task("rec", total=total)
    return prog


def _stream(client: Any, rec: Recorder, target: int | None) -> str:
    """Collect `raw` messages into `rec` until `target` samples, Ctrl-C, a restart or silence; the reason."""
    reason = "stopped"
    prog = _progress(target)
    last_data = time.monotonic()
    try:
        if prog is not None:
            prog.start()
        while target is None or rec.samples() < target:
            for inc in client.poll(0.1):
                m = inc.msg
                if m is None:
                    continue
                if m.get("t") == "raw":
                    rec.add(int(m.get("ch", 0)), int(m.get("n", 0)), list(m.get("values") or []))
                    last_data = time.monotonic()
                elif m.get("t") == "hello":
                    reason = "the device restarted"
                    raise _Stop
                elif m.get("t") == "error":
                    print(safe(f"device error: {m.get('msg')}"), file=sys.stderr)
            if time.monotonic() - last_data > SILENCE_S:
                reason = f"no samples from the device for {SILENCE_S:g} s"
                raise _Stop
            if prog is not None:
                prog.update(prog.task_ids[0], completed=rec.samples())
    except (_Stop, KeyboardInterrupt):
        pass
    finally:
        if prog is not None:
            prog.stop()
    return reason


def _comments(hello: dict[str, Any], rec: Recorder, rate: float, n: int, before: dict[str, Any],
              after: dict[str, Any] | None) -> tuple[list[str], list[Gap]]:
    """The recording's `#` comment lines (origin, gaps, board overruns), also reported on stderr."""
    start_n = rec.start_n or 0
    comments = [f"recorded by spasmwatch record from device {hello.get('id')} boot {hello.get('boot')}: "
                f"first sample is device sample {start_n} ({start_n / rate:.3f} s after boot)"]
    gaps = [g for g in rec.gaps if g.at < n]
    for g in gaps:
        comments.append("gap: " + g.describe(rate))
        print(f"gap: {g.describe(rate)}", file=sys.stderr)
    d0, d1 = before.get("dropped"), after.get("dropped") if after is not None else None
    if after is not None and isinstance(d0, int) and isinstance(d1, int):
        dropped = d1 - d0
        if dropped > 0 and after.get("boot") == before.get("boot"):
            text = (f"the board dropped {dropped} sample(s) while sampling (overruns): its timing "
                    "slipped by that much")
            comments.append(text)
            print(f"warning: {text}", file=sys.stderr)
    return comments, gaps


def record(port_spec: str | None, out: Path, minutes: float | None, channel_spec: str | None,
           edf: Path | None = None) -> int:
    from spasmwatch.commands.replay import parse_channels
    from spasmwatch.link.client import Client
    from spasmwatch.link.serial_link import Link, resolve_port

    port = resolve_port(port_spec)
    client = Client(Link.open(port))
    tmpdir = Path(tempfile.mkdtemp(prefix=".record-", dir=out.parent))
    rec: Recorder | None = None
    try:
        hello = client.hello()
        rate = float(hello.get("rate") or 0)
        mode = str(hello.get("mode") or "raw")
        names = hello.get("channels") or ["ch0"]
        if rate <= 0:
            raise LinkError(f"{port}: the device's hello has no sample rate")
        chans = list(range(len(names))) if channel_spec is None else parse_channels(channel_spec)
        bad = [c for c in chans if c >= len(names)]
        if bad:
            raise ConfigError(f"--channel {channel_spec}: the board has {len(names)} channel(s) "
                              f"(0-{len(names) - 1})")
        target = None if minutes is None else int(round(minutes * 60 * rate))
        before = client.status()
        rec = Recorder(rate, chans, tmpdir)
        client.stream("raw", True, keep=False)
        reason = _stream(client, rec, target)
        after = None
        try:
            client.stream("raw", False, keep=False)
            after = client.status()
        except LinkError:
            pass
        n = rec.samples() if target is None else min(target, rec.samples())
        if n == 0 or rec.start_n is None:
            raise LinkError(f"{port}: no samples received ({reason})")
        comments, gaps = _comments(hello, rec, rate, n, before, after)
        if target is not None and n < target:
            print(f"note: recording stopped early ({reason})", file=sys.stderr)
        arrays = rec.arrays(n)
        finalize(out, rate, mode, arrays, comments, gaps, chans)
        if edf is not None:
            write_edf(edf, rate, arrays, comments, gaps, chans)
    finally:
        client.close()
        if rec is not None:
            for f in rec.files.values():
                f.close()
        shutil.rmtree(tmpdir, ignore_errors=True)
    print(f"{out}: {n / rate:.1f} s ({n} samples x {len(chans)} channel(s) at {rate:g} Hz, {mode}), "
          f"{len(gaps)} gap(s)")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.minutes is not None and (not args.minutes > 0 or math.isinf(args.minutes)):
        raise ConfigError("--minutes must be a positive number")
    out = Path(args.out).expanduser()
    if not out.parent.is_dir():
        raise InputError(f"cannot write {out}: folder {out.parent} does not exist")
    try:
        return record(args.port, out, args.minutes, args.channel, Path(args.edf).expanduser() if args.edf else None)
    except OSError as exc:
        raise FatalError(f"cannot write {out}: {exc.strerror or exc}") from None
