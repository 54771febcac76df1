"""Stand-in for the ESP32 port's `machine` module on the simulated board (board-sim).

ADC: a resting MyoWare RAW output (mid-scale with a few counts of noise), no muscle activity. Pin: inputs
read high (the BOOT button is never pressed, so there is no safe boot), outputs are remembered. WDT: created
and fed, but never fires (the launcher cannot see the feeds). reset(): ends the interpreter with HARD_RESET,
which the launcher turns into a new boot; soft_reset() likewise with SOFT_RESET.
"""

HARD_RESET = 76
SOFT_RESET = 77
PWRON_RESET = 1
_UID = b"\x5e\x00\x00\x00\x00\x01"  # set by board_repl from the launcher
_seed = [12345]


def unique_id():
    return _UID


def reset():
    raise SystemExit(HARD_RESET)


def soft_reset():
    raise SystemExit(SOFT_RESET)


def reset_cause():
    return PWRON_RESET


def freq(hz=None):
    return 240000000 if hz is None else None


def idle():
    pass


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1

    def __init__(self, pin, mode=-1, pull=-1, value=None):
        self.pin = pin
        self.mode = mode
        self._v = 1 if mode == Pin.IN else 0
        if value is not None:
            self._v = value

    def value(self, v=None):
        if v is None:
            return self._v
        self._v = 1 if v else 0

    def on(self):
        self._v = 1

    def off(self):
        self._v = 0

    def __call__(self, v=None):
        return self.value(v)


class _Block:
    def init(self, bits=12):
        pass


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_9BIT = 9
    WIDTH_10BIT = 10
    WIDTH_11BIT = 11
    WIDTH_12BIT = 12

    def __init__(self, pin, atten=None):
        self.pin = pin

    def block(self):
        return _Block()

    def width(self, bits):
        pass

    def atten(self, a):
        pass

    def read(self):
        return self.read_u16() >> 4

    def read_u16(self):
        s = (_seed[0] * 1103515245 + 12345) & 0x7FFFFFFF
        _seed[0] = s
        v = 2048 + ((s >> 16) & 15) - 8  # mid-scale (the RAW output's Vs/2) and +-8 counts of noise
        return (v << 4) | (v >> 8)  # 12 bits scaled to 16 like the ESP32 port


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout

    def feed(self):
        pass
