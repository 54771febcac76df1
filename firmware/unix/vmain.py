"""Entry of the virtual device on the unix port: `micropython vmain.py STATE_DIR MPY_DIR FIRMWARE_DIR`.

MPY_DIR holds the same firmware compiled by mpy-cross (spasmsim.device.precompile); it comes first on the
path, the firmware sources after it for anything not compiled.
"""

import sys

import micropython

if hasattr(micropython, "alloc_emergency_exception_buf"):  # the unix port has none (no IRQs)
    micropython.alloc_emergency_exception_buf(100)
state_dir = sys.argv[1]
sys.path[0:0] = [sys.argv[2], sys.argv[3]]  # compiled firmware, then the real firmware sources, unmodified

import vboard  # noqa: E402

vboard.STORAGE_DIR = state_dir

# start.py, not app: it builds the detectors before the app's modules load, and boot() unloads it
# again (no name here holds it, so run() keeps none of its ~2 kB on the heap)
__import__("start").boot(vboard).run()
