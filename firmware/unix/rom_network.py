"""Stand-in for the ESP32 port's `network` module on the unix port: a station that joins at once.

The unix port has real sockets but no Wi-Fi driver; sockets go through the host's own network, so the
virtual Wi-Fi only has to say it is up, on IP (127.0.0.1: the TCP server then listens on localhost only).
To test the unhappy paths: SSID "nowhere" is never found, password "wrong-password" is refused, and while a
file named wifi.off exists in the current directory (the virtual board's state dir) the access point is out
of range (the link drops; joins fail until the file goes).
"""

import os

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_CONNECT_FAIL = 203
IP = "127.0.0.1"
_host = ["espressif"]


def hostname(name=None):
    if name is None:
        return _host[0]
    _host[0] = name


def _in_range():
    try:
        os.stat("wifi.off")
        return False
    except OSError:
        return True


class WLAN:
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2

    def __init__(self, interface=STA_IF):
        self._active = False
        self._status = STAT_IDLE
        self._ssid = ""
        self._cfg = {"reconnects": -1, "pm": 1}

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)

    def config(self, *args, **kw):
        if args:
            return self._cfg.get(args[0])
        self._cfg.update(kw)

    def connect(self, ssid=None, key=None):
        if not self._active:
            raise OSError("Wifi Not Started")
        self._ssid = ssid
        if ssid == "nowhere" or not _in_range():
            self._status = STAT_NO_AP_FOUND
        elif key == "wrong-password":
            self._status = STAT_WRONG_PASSWORD
        else:
            self._status = STAT_GOT_IP

    def disconnect(self):
        self._status = STAT_IDLE

    def isconnected(self):
        if self._status == STAT_GOT_IP and not _in_range():
            self._status = STAT_IDLE  # beacon lost
        return self._status == STAT_GOT_IP

    def status(self, param=None):
        if param is None:
            return self._status
        if param == "rssi":
            if self._status != STAT_GOT_IP:
                raise OSError("not connected")
            return -58
        raise ValueError("unknown status param")

    def ifconfig(self, cfg=None):
        return (IP, "255.0.0.0", IP, IP)
