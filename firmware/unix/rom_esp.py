"""Stand-in for the ESP32 port's `esp` module (only what the firmware calls)."""


def osdebug(level, *args):
    pass  # no ESP-IDF log lines on the simulated board


def flash_size():
    return 4 * 1024 * 1024
