"""Time write_recording/read_recording on a 1 h, 1 kHz recording (1 and 2 channels) and print the figures."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))  # run from a checkout

from spasmcore.recording import read_recording, write_recording  # noqa: E402


def main() -> int:
    rng = np.random.default_rng(0)
    n = 3600 * 1000
    x = np.clip(np.round(2048 + 5 * rng.standard_normal(n)), 0, 4095).astype(np.int32)
    with tempfile.TemporaryDirectory() as tmp:
        for label, chans, with_time in (("1 ch", [x], False), ("2 ch + time", [x, x[::-1].copy()], True)):
            path = Path(tmp) / "r.csv"
            t0 = time.perf_counter()
            write_recording(path, 1000, chans, mode="raw", with_time=with_time)
            t1 = time.perf_counter()
            rec = read_recording(path)
            t2 = time.perf_counter()
            assert rec.n_samples == n
            size = path.stat().st_size / 1e6
            print(f"1 h at 1 kHz, {label}: {size:.1f} MB, write {t1 - t0:.2f} s, read {t2 - t1:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
