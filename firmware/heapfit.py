"""Does a new config fit this board's heap? Decided from what the board measured at boot, loaded only to ask."""

import sys

HEADROOM = 8192  # heap a config must leave free once booted, for sync, replies, calibration (app.HEADROOM)
# heap the running network side takes (Wi-Fi, the TCP server with a host connected, MQTT): 20.5-22 kB on the
# board's 32-bit heap, ~28 kB on the 64-bit unix port (bench/net_heap.py, tests/test_board_budget.py)
NET_BYTES = (23 if sys.maxsize < 1 << 32 else 30) * 1024


def fit_problem(heap, new):
    """Why config `new` would not leave HEADROOM free after boot ('' if it would), decided from what the board
    measured at boot (App.heap_at_boot: heap left, which on the ESP32 port counts what the heap can still grow
    by; one detector's heap; channels; Wi-Fi on), not guessed. A config that takes no more (no more channels, no
    Wi-Fi added) is never refused."""
    idle, det, nch, wifi = heap
    n = len(new["channels"])
    wifi_new = 1 if new.get("net", {}).get("ssid") else 0
    if not det or (n <= nch and wifi_new <= wifi):
        return ""
    per = det + 2 * min(256, max(1, new["rate_hz"] // 20)) + 64  # a detector and its block buffer (app.BLOCK_MS)
    left = idle + (nch - n) * per - (wifi_new - wifi) * NET_BYTES
    if left >= HEADROOM:
        return ""
    fit = nch + (idle - (wifi_new - wifi) * NET_BYTES - HEADROOM) // per
    return ("%d channels%s would leave %d kB of heap, %d kB are needed; this board fits %d"
            % (n, " with Wi-Fi" if wifi_new else "", max(0, left) // 1024, HEADROOM // 1024, max(0, fit)))
