"""numba's CPU target loaded once per process, without the BLAS probe that imports scipy.linalg (~0.4 s)."""

from __future__ import annotations

import sys

_READY = False


def prepare() -> None:
    """Load numba's CPU target registries before the first compiled call.

    numba probes for BLAS by importing scipy.linalg when it loads its array functions, a third of the compiled
    engine's start-up. Our compiled code (integer loops over arrays) never calls BLAS, so the probe is made to
    fail, quickly, unless scipy.linalg is loaded already; the import is unblocked right after, for scipy.signal."""
    global _READY
    if _READY:
        return
    from numba.core.registry import cpu_target

    blocked = "scipy.linalg" not in sys.modules
    if blocked:
        sys.modules["scipy.linalg"] = None  # type: ignore[assignment]  # (None in sys.modules: ImportError)
    try:
        cpu_target.target_context.refresh()
    finally:
        if blocked and "scipy.linalg" in sys.modules and sys.modules["scipy.linalg"] is None:
            del sys.modules["scipy.linalg"]
    _READY = True
