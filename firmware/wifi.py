"""Wi-Fi station with reconnect and back-off, polled between sample blocks (the only module using `network`)."""

import time

try:
    import network
except ImportError:  # the MicroPython unix port (the virtual board): the stand-in in firmware/unix
    import rom_network as network

CHECK_MS = 500  # link checks at most this often: isconnected() is cheap, but 20 calls a second buy nothing
JOIN_MS = 20000  # a connect attempt that has not got an address by then is abandoned
BACKOFF_MS = (1000, 2000, 5000, 10000, 30000, 60000)  # waits after failed attempts 1, 2, ... (then the last)
# state words in `status` (short: the status line has a 256-byte limit)
UP, JOIN, NO_AP, BAD_PW, FAIL = "up", "join", "no_ap", "badpw", "fail"


class Wifi:
    """One station interface. poll() never waits: wlan.connect() only starts the ESP32's join, and each call
    looks at how it is going, so sampling goes on while the radio associates, gets DHCP or reconnects."""

    def __init__(self, ssid, password, hostname):
        self.ssid = ssid
        self.password = password
        if hostname:
            try:
                network.hostname(hostname)  # MicroPython >= 1.20: before the interface comes up
            except (AttributeError, ValueError, OSError):
                pass
        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)
        try:
            self.wlan.config(reconnects=0)  # the back-off below decides when to retry, not the driver
        except (ValueError, TypeError, OSError):
            pass
        self.state = JOIN
        self.up = False
        self.ip = ""
        self.rssi = 0
        self.attempts = 0
        self.reconnects = 0  # connect attempts after the first one
        self.fails = 0  # failed attempts in a row (chooses the back-off)
        now = time.ticks_ms()
        self._check = now
        self._t0 = now
        self._joining = False
        self._next = now

    def poll(self):
        """True while the link is up with an address; starts, times out and retries joins as needed."""
        now = time.ticks_ms()
        if -CHECK_MS <= time.ticks_diff(now, self._check) < 0:  # below -CHECK_MS: stale and wrapped, so due
            return self.up
        self._check = time.ticks_add(now, CHECK_MS)
        w = self.wlan
        if w.isconnected():
            if not self.up:
                self.up = True
                self.state = UP
                self._joining = False
                self.fails = 0
                self.ip = w.ifconfig()[0]
            try:
                self.rssi = w.status("rssi")
            except (ValueError, OSError, TypeError):
                pass
            return True
        if self.up:  # lost the access point: try again at once, then back off
            self.up = False
            self.ip = ""
            self._joining = False
            self._next = now
        if self._joining:
            st = w.status()
            joined = 0 <= time.ticks_diff(now, self._t0) < JOIN_MS
            if st == network.STAT_CONNECTING and joined:
                return False
            if st == network.STAT_GOT_IP and joined:
                return False  # isconnected() follows in a moment
            self.state = _reason(st)
            self._joining = False
            self.fails += 1
            self._next = time.ticks_add(now, BACKOFF_MS[min(self.fails, len(BACKOFF_MS)) - 1])
            try:
                w.disconnect()
            except OSError:
                pass
            return False
        d = time.ticks_diff(now, self._next)
        if d >= 0 or d < -BACKOFF_MS[-1]:  # due, or so stale that ticks_diff wrapped (2**29 ms on the ESP32)
            if self.attempts:
                self.reconnects += 1
            self.attempts += 1
            self._joining = True
            self._t0 = now
            if self.state == UP:
                self.state = JOIN
            try:
                w.connect(self.ssid, self.password)
            except OSError:  # e.g. "Wifi Internal Error" while the driver is still busy: next back-off
                self._joining = False
                self.fails += 1
                self.state = FAIL
                self._next = time.ticks_add(now, BACKOFF_MS[min(self.fails, len(BACKOFF_MS)) - 1])
        return False


def _reason(st):
    if st == network.STAT_NO_AP_FOUND:
        return NO_AP
    if st == network.STAT_WRONG_PASSWORD:
        return BAD_PW
    return FAIL
