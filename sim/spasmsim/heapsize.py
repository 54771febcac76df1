"""--heap for the simulated boards: checked before MicroPython starts, so a bad size is one line, not a boot loop."""

from __future__ import annotations

import re

from spasmcore.errors import ConfigError

MIN_HEAP = 16 * 1024  # below this MicroPython's own REPL does not come up (1k: MemoryError at start)
MAX_HEAP = 1024 * 1024 * 1024  # MicroPython's -X heapsize takes no more than this (2g is refused)
_SIZE = re.compile(r"([0-9]{1,10})([kKmM]?)")


def heap_bytes(text: str) -> int:
    """Bytes of a --heap size as MicroPython's `-X heapsize` reads it (N, Nk or Nm); ConfigError naming it."""
    m = _SIZE.fullmatch(text.strip())
    if m is None:
        raise ConfigError(f"--heap {text!r}: give a size in bytes, k or m, such as 100k")
    n = int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()]
    if n < MIN_HEAP:
        raise ConfigError(f"--heap {text}: too small, MicroPython needs at least {MIN_HEAP // 1024}k "
                          "(the firmware about 100k: the default)")
    if n > MAX_HEAP:
        raise ConfigError(f"--heap {text}: at most {MAX_HEAP // 1024 // 1024}m")
    return n


def check_heap(text: str | None) -> str | None:
    """The size as MicroPython takes it (e.g. 100k), or None for the board profile's."""
    if text is None:
        return None
    heap_bytes(text)
    return text.strip().lower()
