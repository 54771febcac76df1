"""Waiting in tests for something another process does: poll a condition until it holds or time runs out."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(cond: Callable[[], bool], seconds: float = 60.0, step_s: float = 0.02) -> bool:
    """True as soon as `cond()` holds; after `seconds` the last answer of `cond()` (generous: a loaded CI)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step_s)
    return cond()
