"""Where a replay cuts the signal into the detector's process() calls: as the board does, whatever is fed."""

from __future__ import annotations

import numpy as np

from spasmfw import detector as fw

BLOCK: int | None = None  # samples per process() call; None: as the board (below); tests set it to vary the cut
BOARD_BLOCK_MS = 50  # firmware/app.py BLOCK_MS: the board hands its detectors rate x 50 ms of samples per loop
BOARD_MAX_BLOCK = 256  # firmware/app.py MAX_BLOCK


def drain_block(det: fw.Detector) -> int:
    """Samples per process() call, the record queue drained after each: the board's own block (rate x 50 ms, at
    most 256), so a replay cuts the signal where the board does (after a fault, where a block starts can move a
    record by a tick: docs/detector.md), and at most ~5 ticks per call, so the 16-record queue cannot overflow
    (with 256-sample blocks it did at 25 Hz on extreme noise). An overflow is an error, never a silent loss."""
    if BLOCK is not None:
        return BLOCK
    return min(BOARD_MAX_BLOCK, max(1, int(det.rate_hz) * BOARD_BLOCK_MS // 1000))


def split_carry(carry: np.ndarray, samples: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """(whole blocks to process now, the rest to carry): process() calls then fall on the same sample indices
    whatever the lengths fed, as in one unblocked run (the chain runs ahead of the decisions within a call, so
    where calls begin is not always irrelevant: see docs/detector.md)."""
    data = np.concatenate([carry, samples]) if carry.size else np.asarray(samples)
    whole = len(data) - len(data) % block
    return data[:whole], data[whole:].copy()
