"""Plot one simulator scenario: RAW signal with truth shaded, our detector's envelope, thresholds, episodes.

    python bench/plot_scenario.py [--scenario clonus_mixed] [--start 0] [--seconds 120] [--out PNG]

Uses the same cached signal as bench/accuracy.py (seed 1, RAW 1 kHz, the scenario's default length), so the
picture shows exactly what the accuracy table scored. Default output: docs/img/scenario_<name>.png.
"""

from __future__ import annotations

import argparse
import sys
from array import array
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import MODE, RATE_HZ, scenario_signal  # noqa: E402

from spasmfw import detector as fw  # noqa: E402
from spasmsim.scenarios import get_scenario  # noqa: E402
from spasmwatch.engine.detect import detect  # noqa: E402

DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
TRUTH_COLOUR = {"tonic": "tab:orange", "clonus": "tab:red", "jerk": "tab:purple", "cramp": "tab:brown",
                "fault": "tab:gray"}
OURS_COLOUR = "tab:blue"


def level_trace(counts: np.ndarray, rate_hz: float, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Our detector's (envelope, on, off) in counts after every tick, up to sample `end`; times in s."""
    det = fw.Detector(rate_hz, MODE, {})
    step = det.tick_samples
    buf = array("H", counts[:end].astype("<u2").tobytes())
    view = memoryview(buf)
    t, rows = [], []
    for a in range(0, end, step):
        chunk = view[a : a + step]
        det.process(chunk, len(chunk))
        while det.pop() is not None:
            pass
        env, _, on, off, _ = det.level()
        t.append((a + len(chunk)) / rate_hz)
        rows.append((env / fw.ENV_SCALE, on / fw.ENV_SCALE, off / fw.ENV_SCALE))
    return np.array(t), np.array(rows)


def plot(name: str, start_s: float, seconds: float, out: Path) -> Path:
    minutes = float(get_scenario(name).minutes)
    counts, truth = scenario_signal(name, minutes)
    events = detect(counts, RATE_HZ, MODE, engine="fast")
    a, b = int(start_s * RATE_HZ), int(min(len(counts), (start_s + seconds) * RATE_HZ))
    t = np.arange(a, b) / RATE_HZ
    lt, lv = level_trace(counts, RATE_HZ, b)
    keep = lt >= start_s

    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(13, 7.5), sharex=True,
                                        gridspec_kw={"height_ratios": [3, 3, 1.1]})
    ax1.plot(t, counts[a:b], lw=0.3, color="black")
    ax1.set_ylabel("RAW, ADC counts")
    ax1.set_title(f"{name}: {seconds:g} s from {start_s:g} s (seed 1, RAW 1 kHz) - truth shaded by kind, "
                  "our episodes in blue")
    ax2.semilogy(lt[keep], np.maximum(lv[keep, 0], 0.5), lw=0.8, color="black", label="envelope")
    ax2.semilogy(lt[keep], lv[keep, 1], lw=0.8, ls="--", color="tab:green", label="on threshold")
    ax2.semilogy(lt[keep], lv[keep, 2], lw=0.8, ls=":", color="tab:green", label="off threshold")
    ax2.set_ylim(bottom=0.5)
    ax2.set_ylabel("detector envelope, counts")
    ax2.legend(loc="upper right", fontsize=8)
    in_view = lambda on, off: off >= start_s and on <= start_s + seconds  # noqa: E731
    for tr in truth:
        if in_view(tr.onset_s, tr.offset_s):
            ax1.axvspan(tr.onset_s, tr.offset_s, color=TRUTH_COLOUR[tr.kind], alpha=0.25, lw=0)
            ax3.broken_barh([(tr.onset_s, tr.offset_s - tr.onset_s)], (1.1, 0.8), color=TRUTH_COLOUR[tr.kind])
            ax3.text(max(tr.onset_s, start_s), 2.0, tr.kind, fontsize=7, va="bottom")
    for ev in events:
        if in_view(ev.onset_s, ev.offset_s):
            ax2.axvspan(ev.onset_s, ev.offset_s, color=OURS_COLOUR, alpha=0.2, lw=0)
            ax3.broken_barh([(ev.onset_s, ev.offset_s - ev.onset_s)], (0.1, 0.8), color=OURS_COLOUR)
            ax3.text(max(ev.onset_s, start_s), -0.05, ev.kind, fontsize=7, va="top", color=OURS_COLOUR)
    ax3.set_ylim(-1.0, 3.0)
    ax3.set_yticks([0.5, 1.5], ["ours", "truth"])
    ax3.set_xlabel("time, s")
    ax3.set_xlim(start_s, start_s + seconds)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="clonus_mixed")
    ap.add_argument("--start", type=float, default=0.0, help="first second shown")
    ap.add_argument("--seconds", type=float, default=120.0, help="length shown")
    ap.add_argument("--out", type=Path, help="PNG path (default docs/img/scenario_<name>.png)")
    args = ap.parse_args()
    out = args.out or DOCS_IMG / f"scenario_{args.scenario}.png"
    print(plot(args.scenario, args.start, args.seconds, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
