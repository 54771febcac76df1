"""What differs between MicroPython and CPython, in one place: const(), the emitter decorators, module loading.

Every firmware module takes these from here. The compiler still folds `_X = const(n)` and still emits native and
viper code when the names come from this module: it matches `const` and `micropython.viper` by name, at compile
time (checked with mpy-cross: an `_X = const(n)` name does not reach the .mpy).
"""

import sys

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the emitter decorators and const() become no-ops

    class micropython:  # noqa: N801 - stands in for the MicroPython module
        @staticmethod
        def native(f):
            return f

        viper = native

    def const(x):
        return x

    def ptr16(buf):  # viper's raw view of a buffer, built into viper code on MicroPython; CPython: the buffer itself
        return buf

    import builtins

    builtins.ptr16 = ptr16  # built in as on MicroPython: for CPython running the flat files too (detchain)


_PKG = __name__.rpartition(".")[0]  # "spasmfw" under CPython; "" on the board, where the modules are flat


def mod(name):
    """A firmware module by name, imported on first use: flat on the board, inside the spasmfw package on CPython.

    For modules loaded for one rare job and unloaded after it (config, netconfig, calib, cmdhelp, heapfit).
    """
    full = _PKG + "." + name if _PKG else name
    __import__(full)
    return sys.modules[full]


def unload(name):
    """On the board, drop a module so its code leaves the heap (CPython keeps it: other code may hold it)."""
    if sys.implementation.name == "micropython":
        sys.modules.pop(name, None)
