"""Simulated ESP32 boot on the MicroPython unix port, for `spasmwatch board-sim` (spasmsim.boardsim launches it).

    MICROPYINSPECT=1 micropython -X heapsize=100k board_repl.py FLASH_DIR ROM_DIR RUN_MAIN UNIQUE_ID_HEX

What an ESP32 does at reset, on the unix port: FLASH_DIR becomes the filesystem root (os.mount of a VfsPosix
at "/", so "/config.json" is FLASH_DIR/config.json and nothing outside it is reachable through the VFS),
boot.py runs, then main.py unless RUN_MAIN is 0 (a soft reset from the raw REPL runs boot.py only, as on the
board), and the interpreter's own REPL (MICROPYINSPECT, as `-i`) takes over: friendly REPL, raw REPL (Ctrl-A),
raw-paste mode, Ctrl-D. The launcher turns Ctrl-D / sys.exit() (exit code 0) into a soft reset and
machine.reset() (exit code HARD_RESET) into a hard one.

ROM_DIR (this directory) holds what the ESP32 port has built in and the unix port lacks, as rom_*.py:
`machine` (ADC, Pin, WDT, unique_id, reset), `esp` and micropython.alloc_emergency_exception_buf; `os` gets a
rename() that avoids a unix-port VfsPosix bug (rom_os.py). They are imported before the flash is mounted,
like frozen modules, so the deployed files themselves run unchanged.

Ctrl-C: the ESP32's start-up before boot.py is C and takes none, so this one takes none either until boot.py
runs (kbd_intr(-1): the launcher then passes 0x03 on as a byte, which the REPL or the app reads later); a
KeyboardInterrupt here would leave a REPL without the flash mounted and without the ROM stand-ins.
"""

import micropython

micropython.kbd_intr(-1)
try:
    for _ in (0, 1):
        pass  # a Ctrl-C taken while this file was compiled is raised at this loop's jump, and dropped
except KeyboardInterrupt:
    pass


def _boot(kbd_intr):
    import gc
    import os
    import sys

    flash, rom, run_main, uid = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
    sys.path[:] = [rom]
    import rom_esp
    import rom_machine
    import rom_micropython
    import rom_os

    # the ESP32 port's built-in modules, under their names (rom_*.py say what each one stands in for)
    for name, mod in (("esp", rom_esp), ("machine", rom_machine), ("micropython", rom_micropython),
                      ("os", rom_os)):
        sys.modules[name] = mod
    machine = rom_machine
    machine._UID = bytes(int(uid[i:i + 2], 16) for i in range(0, len(uid), 2))
    sys.path[:] = ["", ".frozen", "/lib"]  # the ESP32 port's path
    sys.argv[:] = []
    os.umount("/")
    os.mount(os.VfsPosix(flash), "/")
    os.chdir("/")
    kbd_intr(3)  # from here on a Ctrl-C stops boot.py / main.py, as on the ESP32
    for name in ("boot.py", "main.py") if run_main else ("boot.py",):
        try:
            os.stat(name)
        except OSError:
            continue
        try:
            with open(name) as f:
                code = compile(f.read(), name, "exec")
            gc.collect()
            exec(code, {"__name__": "__main__"})
        except SystemExit:
            # machine.reset() / sys.exit() from boot.py or main.py (the app's `reboot`, a `config set` that
            # restarts): the interpreter must exit so the launcher resets the board. The unix port reads
            # MICROPYINSPECT after the script, and with it set would go to the REPL instead: unset it first.
            os.unsetenv("MICROPYINSPECT")
            raise
        except BaseException as exc:  # noqa: BLE001  (the board prints the traceback and goes to the REPL)
            sys.print_exception(exc)
        code = None
    gc.collect()


_boot(micropython.kbd_intr)
del _boot, micropython, _  # the REPL starts with an empty namespace, as on the board
