"""Board entry point: safe-boot check, then the spasmwatch app; kept tiny so a broken app never locks you out."""

import micropython

micropython.alloc_emergency_exception_buf(100)  # tracebacks from IRQ context, should one ever fire
# Ctrl-C (0x03) stays enabled: commands are text and never contain it, and mpremote / `spasmwatch deploy`
# send it to stop the app and reach the REPL. So kbd_intr is never switched off (see docs/firmware.md).
micropython.kbd_intr(3)

import board  # noqa: E402

if board.safe_boot():
    print("spasmwatch: safe boot (BOOT button pressed after reset): app not started, REPL is free")
else:
    # start.py, not app: it builds the detectors before the app's modules load, and boot() unloads it
    # again (no name here holds it, so run() keeps none of its ~2 kB on the heap)
    __import__("start").boot(board).run()
