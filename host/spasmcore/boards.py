"""Board profiles: each board's MicroPython heap model, what it runs, and how an interpreter reproduces it.

The ESP32 port's GC heap starts at MICROPY_GC_INITIAL_HEAP_SIZE and grows on demand by areas taken from the
ESP-IDF heap (MICROPY_GC_SPLIT_HEAP_AUTO, `ports/esp32/mpconfigport.h`); Wi-Fi takes its buffers from that same
heap. `micropython-esp32heap` (../shared/tools/micropython32/) models it: a heap that starts at `-X heapsize`
and grows from a system heap of MICROPY_SYSTEM_HEAP bytes, given here only what is left after Wi-Fi's share,
so the GC can never take what Wi-Fi needs. A fixed-heap interpreter gets the profile's whole budget at once
(the firmware's figures are the same on both: docs/firmware.md, "Board profiles").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

K = 1024


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    initial: int  # GC heap at boot (bytes)
    system: int  # ESP-IDF heap free once MicroPython has started, that the GC heap may grow into
    wifi: int  # what Wi-Fi, lwIP and the sockets take from that system heap (reserved: never the GC's)
    runs: str  # what the profile's budget runs (tests/test_board_budget.py proves the esp32 line)

    @property
    def growth(self) -> int:
        """What the GC heap may grow by: the system heap less Wi-Fi's share."""
        return self.system - self.wifi

    @property
    def budget(self) -> int:
        """The GC heap at its largest: the whole budget a fixed-heap interpreter is given."""
        return self.initial + self.growth


BOARDS = {
    # ESP32 (ESP32_GENERIC, no PSRAM): MICROPY_GC_INITIAL_HEAP_SIZE 56 kB; the port's comment on it says the size
    # is chosen so the heap "can grow once (double it) and still have enough internal RAM to start WiFi", so
    # the budget stays under 2 x 56 kB: 56 kB + 44 kB, the other 66 kB of the ~110 kB IDF heap kept for Wi-Fi.
    "esp32": Board("esp32", "ESP32 without PSRAM (ESP32_GENERIC, e.g. DevKitC / WROOM-32)", 56 * K, 110 * K,
                   66 * K, "4 channels x 1 kHz; or 2 channels x 1 kHz with Wi-Fi + TCP + MQTT"),
    # ESP32-S3 with octal PSRAM (ESP32_GENERIC_S3 SPIRAM_OCT): the port puts the GC heap in the PSRAM (8 MB on
    # the recommended boards; modelled at 2 MB, more than the firmware can use); Wi-Fi keeps internal RAM.
    "esp32s3": Board("esp32s3", "ESP32-S3 with 8 MB PSRAM (ESP32_GENERIC_S3 SPIRAM_OCT), the wearable",
                     2048 * K, 110 * K, 66 * K, "the heap for 4 channels x 1 kHz with Wi-Fi + TCP + MQTT; channels "
                     "on GPIO 1-10 (config.gpio)"),
}
DEFAULT_BOARD = "esp32"


def board(name: str | None) -> Board:
    """The profile called `name` (None: the default); ConfigError naming the known ones."""
    b = BOARDS.get(name or DEFAULT_BOARD)
    if b is None:
        raise ConfigError(f"--board {name}: unknown board profile (known: {', '.join(BOARDS)})")
    return b


def grows(exe: str) -> bool:
    """Does interpreter `exe` model the ESP32's growing heap (the esp32heap variant)?"""
    return "esp32heap" in Path(exe).name


def heap_args(exe: str, profile: Board, heap: str | None = None) -> tuple[list[str], dict[str, str]]:
    """(command-line options, environment) that give interpreter `exe` the profile's heap; `heap` (a size such
    as 100k, from --heap) overrides the budget: the whole heap on a fixed heap, the initial one on a growing one."""
    if grows(exe):
        return ["-X", f"heapsize={heap or profile.initial // K}k"], {"MICROPY_SYSTEM_HEAP": f"{profile.growth // K}k"}
    return ["-X", f"heapsize={heap or f'{profile.budget // K}k'}"], {}
