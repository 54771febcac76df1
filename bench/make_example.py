"""Generate the bundled example recording host/spasmwatch/examples/example_raw.csv and its truth CSV.

60 s of MyoWare RAW at 1000 Hz in ADC counts: a quiet baseline (band-limited noise, ~3 counts RMS around
mid-rail) with a tonic spasm (~5 s), a short twitch (jerk) and a 5 Hz clonus train. Deterministic (fixed seed,
numpy only), so re-running it gives the same bytes; tests/test_recording.py checks that.

    python bench/make_example.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))  # run from a checkout without installing

from spasmcore.events import TruthInterval, write_truth  # noqa: E402
from spasmcore.recording import write_recording  # noqa: E402

RATE_HZ = 1000
DURATION_S = 60.0
SEED = 20260101
MID = 2048
REST_RMS = 3.0  # counts: a MyoWare at rest on a still muscle


def bandpass_fir(lo_hz: float, hi_hz: float, rate_hz: float, taps: int = 101) -> np.ndarray:
    """Windowed-sinc band-pass FIR (numpy only, so the output does not depend on the scipy version)."""
    n = np.arange(taps) - (taps - 1) / 2
    low = 2 * hi_hz / rate_hz * np.sinc(2 * hi_hz / rate_hz * n)
    high = 2 * lo_hz / rate_hz * np.sinc(2 * lo_hz / rate_hz * n)
    return (low - high) * np.hamming(taps)


def emg_noise(rng: np.random.Generator, n: int, lo_hz: float = 20.0, hi_hz: float = 450.0) -> np.ndarray:
    """Unit-RMS band-limited Gaussian noise: surface EMG's interference pattern."""
    x = np.convolve(rng.standard_normal(n + 200), bandpass_fir(lo_hz, hi_hz, RATE_HZ), mode="same")[100:-100]
    return x / np.sqrt(np.mean(x**2))


def envelope_shape(n: int, rise_s: float, fall_s: float) -> np.ndarray:
    """A burst amplitude profile: raised-cosine rise, plateau, raised-cosine fall."""
    t = np.arange(n) / RATE_HZ
    dur = n / RATE_HZ
    a = np.ones(n)
    rise, fall = t < rise_s, t > dur - fall_s
    a[rise] = 0.5 - 0.5 * np.cos(np.pi * t[rise] / rise_s)
    a[fall] = 0.5 - 0.5 * np.cos(np.pi * (dur - t[fall]) / fall_s)
    return a


def make() -> tuple[np.ndarray, list[TruthInterval]]:
    rng = np.random.default_rng(SEED)
    n = int(DURATION_S * RATE_HZ)
    signal = REST_RMS * emg_noise(rng, n)
    signal += 1.0 * np.sin(2 * np.pi * 50.0 * np.arange(n) / RATE_HZ)  # a little mains hum
    amplitude = np.zeros(n)
    truth = []

    def burst(onset_s: float, dur_s: float, rms: float, rise_s: float, fall_s: float, kind: str | None):
        i0, m = int(onset_s * RATE_HZ), int(dur_s * RATE_HZ)
        amplitude[i0 : i0 + m] = np.maximum(amplitude[i0 : i0 + m], rms * envelope_shape(m, rise_s, fall_s))
        if kind:
            truth.append(TruthInterval(0, onset_s, onset_s + dur_s, kind))

    # Tonic spasm: sustained ~5 s contraction, wavering in strength.
    burst(12.0, 5.2, 100.0, 0.25, 0.6, "tonic")
    i0, m = int(12.0 * RATE_HZ), int(5.2 * RATE_HZ)
    amplitude[i0 : i0 + m] *= 1.0 + 0.2 * np.sin(2 * np.pi * 0.7 * np.arange(m) / RATE_HZ)
    # Short twitch (myoclonic jerk).
    burst(28.5, 0.18, 130.0, 0.03, 0.06, "jerk")
    # Clonus: 5 Hz train of ~70 ms bursts for ~4 s, one truth interval for the train.
    for k in range(20):
        burst(40.0 + k * 0.2, 0.07, 120.0 * (1.0 - 0.02 * k), 0.015, 0.03, None)
    truth.append(TruthInterval(0, 40.0, 40.0 + 19 * 0.2 + 0.07, "clonus"))
    signal += amplitude * emg_noise(rng, n)
    counts = np.clip(np.round(MID + signal), 0, 4095).astype(np.int32)
    return counts, truth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = ROOT / "host" / "spasmwatch" / "examples"
    ap.add_argument("--out", type=Path, default=default, help="output folder (default: the package's)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    counts, truth = make()
    rec_path = args.out / "example_raw.csv"
    write_recording(rec_path, RATE_HZ, [counts], units="counts", mode="raw")
    write_truth(args.out / "example_raw.truth.csv", truth)
    rest = counts[: 10 * RATE_HZ].astype(float)
    print(f"wrote {rec_path} ({rec_path.stat().st_size / 1024:.0f} KiB, {len(counts) / RATE_HZ:g} s)")
    print(f"rest RMS {rest.std():.2f} counts, range {counts.min()}..{counts.max()}, {len(truth)} truth rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
