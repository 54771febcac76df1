"""MicroPython-side replay: run firmware/detector.py over a file of uint16 samples and print its records."""
# usage: micropython replay.py FIRMWARE_DIR SAMPLES.bin RATE MODE PARAMS_JSON BLOCK
import sys

sys.path.insert(0, sys.argv[1])
import json
from array import array

import detector

rate = float(sys.argv[3])
if rate == int(rate):
    rate = int(rate)
det = detector.Detector(rate, sys.argv[4], json.loads(sys.argv[5]))
block = int(sys.argv[6])
buf = array("H", bytes(2 * block))
out = sys.stdout


def drain():
    while True:
        rec = det.pop()
        if rec is None:
            return
        out.write(",".join([str(v) for v in rec]))
        out.write("\n")


with open(sys.argv[2], "rb") as f:
    while True:
        got = f.readinto(buf)
        if not got:
            break
        det.process(buf, got // 2)
        drain()
det.flush()
drain()
