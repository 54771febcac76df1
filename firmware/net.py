"""The firmware's network side (Wi-Fi, TCP server, MQTT publisher), polled by the app between sample blocks.

Loaded only when net.ssid is set (netconfig.start). Net tees the board's output writer, so everything the
app sends to USB serial also goes to the TCP client; poll(app) runs the Wi-Fi link, the TCP server and the
publisher a step each and never waits. A failure is reported (at most once a minute) and retried; it never
stops sampling or logging: the flash log keeps every event for `sync` and for MQTT to catch up.
"""

import time

try:
    from . import codes, compat, protocol
except ImportError:
    import codes
    import compat
    import protocol

REPORT_MS = 60000  # at most one `error` line per minute about network trouble


class Net:
    def __init__(self, cfg, board, broker=None):
        # broker: netconfig.mqtt_parts of net.mqtt, worked out by netconfig.start (no import back to netconfig)
        wifi = compat.mod("wifi")
        n = cfg["net"]
        dev = cfg["id"] or board.unique_id
        self.wifi = wifi.Wifi(n["ssid"], n["password"], n["hostname"] or "spasmwatch-" + dev[-4:])
        self.tcp = None
        self.mqtt = None
        if n["tcp_port"]:
            self.tcp = compat.mod("tcpserve").TcpServer(n["tcp_port"], n["token"], n["read_open"])
        if broker:
            mqttpub = compat.mod("mqttpub")
            d = board.storage_dir
            path = (d if d.endswith("/") else d + "/") + mqttpub.ACKED_FILE
            self.mqtt = mqttpub.Publisher(broker, n["mqtt_prefix"], n["discovery"], dev, cfg["name"], path,
                                          n["token"])
        self.errors = 0
        self._said = time.ticks_add(time.ticks_ms(), -REPORT_MS)
        self._serial = board.write
        board.write = self.write  # the tee: the app keeps calling board.write

    def write(self, data):
        self._serial(data)
        if self.tcp is not None:
            self.tcp.write(data)

    def poll(self, app):
        """One step of each part; call between blocks. Exceptions end here (reported, then retried)."""
        try:
            up = self.wifi.poll()
            if self.tcp is not None:
                self.tcp.poll(app, self.wifi.ip if up else "")
            if self.mqtt is not None:
                self.mqtt.poll(app, up)
        except Exception as e:  # noqa: BLE001 - the network must never stop the sampling loop
            self.errors += 1
            now = time.ticks_ms()
            d = time.ticks_diff(now, self._said)
            if d >= REPORT_MS or d < 0:  # < 0: the last report is over 2**29 ms old (ticks wrapped), not future
                self._said = now
                app.error(None, "net: %r (%d since boot)" % (e, self.errors))

    def add_status(self, f):
        """Heartbeat fields: wifi (up, join, no_ap, badpw, fail), rssi (dBm, while up), reconn, mqtt (up, down).

        A status line may hold 256 bytes and its own fields can take ~225 after months of uptime, so the
        least important of these are left out when the line would not fit (wifi itself always fits)."""
        w = self.wifi
        extra = [("wifi", w.state)]  # type: list
        if w.up:
            extra.append(("rssi", w.rssi))
        if self.mqtt is not None:
            extra.append(("mqtt", "up" if self.mqtt.up() else "down"))
        extra.append(("reconn", w.reconnects))
        for k, v in extra:
            f[k] = v
        while len(extra) > 1:
            try:
                protocol.encode_into(protocol.OUT, "status", 99999999, f)  # a large seq: the real line is never longer
                return
            except protocol.ProtocolError:
                f.pop(extra.pop()[0])

    def led_state(self, state):
        """The app's LED state, or codes.NET_DOWN while idle with the Wi-Fi link down."""
        return codes.NET_DOWN if state == codes.IDLE and not self.wifi.up else state
