"""Best-effort MQTT 3.1.1 publisher: episode ends and faults from the flash log (QoS 1), a retained online /
offline status (last will), a retained state and Home Assistant discovery; non-blocking, polled between blocks.

Not micropython-lib's umqtt.simple: its connect() and QoS-1 publish() wait on the socket (a broker that is
down would stall sampling for the TCP timeout). This is the part of MQTT 3.1.1 needed here: CONNECT with a
last will, CONNACK, PUBLISH QoS 0/1, PUBACK, PINGREQ/PINGRESP, one packet in flight.
"""

import errno
import json
import os
import select
import socket
import time

try:
    from . import codes, protocol
    from .compat import const
except ImportError:
    import codes
    import protocol
    from compat import const
try:  # optional: a port built without them (not the ESP32 nor the unix port) still publishes, unsigned
    import binascii
    import hashlib
except ImportError:
    hashlib = None  # type: ignore[assignment]

KEEPALIVE_S = 60
CONNECT_MS = 10000  # TCP connect plus CONNACK
ACK_MS = 10000  # a PUBACK later than this: the connection is rebuilt and the event sent again
BACKOFF_MS = (1000, 2000, 5000, 10000, 30000, 60000)
ACKED_FILE = "mqtt.txt"  # eseq of the last event the broker acknowledged, so a reboot resumes there
SAVE_EVERY = 16  # acknowledged events between two writes of ACKED_FILE while a backlog drains
OFF, CONNECTING, CONNACK, UP = 0, 1, 2, 3  # Publisher.state; CONNACK: connected, waiting for the broker's CONNACK
_PT_CONNACK = const(2)  # MQTT control packet types (the high nibble of a packet's first byte) this reads
_PT_PUBACK = const(4)
PUBLISHED = (protocol.EV_END, protocol.EV_FAULT_START, protocol.EV_FAULT_END)
_LATER = (errno.EAGAIN, errno.EINPROGRESS)
_HUP = select.POLLHUP | select.POLLERR


def _age(now, t):
    # ms since tick t; a negative ticks_diff means t is over half the tick period (2**29 ms, ~6.2 days) old
    d = time.ticks_diff(now, t)
    return d if d >= 0 else 1 << 29


def sign_pads(key):
    """HMAC-SHA256's inner and outer key pads of net.token, made once (128 bytes kept)."""
    k = key.encode() if isinstance(key, str) else key
    if len(k) > 64:
        k = hashlib.sha256(k).digest()
    k = k + bytes(64 - len(k))
    return bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)


def signed(payload, pads):
    """The event JSON with `"sig"` last: HMAC-SHA256(net.token, the JSON before it), 16 bytes as hex. A subscriber
    cuts `,"sig":"..."` off, puts `}` back and checks (docs/wireless.md): a forged or altered event fails."""
    inner = hashlib.sha256(pads[0])
    inner.update(payload.encode())
    outer = hashlib.sha256(pads[1])
    outer.update(inner.digest())
    return payload[:-1] + ',"sig":"%s"}' % binascii.hexlify(outer.digest()[:16]).decode()


def _s(text):
    b = text.encode() if isinstance(text, str) else text
    return bytes((len(b) >> 8, len(b) & 255)) + b


def _packet(head, body):
    n = len(body)
    out = bytearray((head,))
    while True:
        d = n & 127
        n >>= 7
        out.append(d | 128 if n else d)
        if not n:
            break
    return bytes(out) + body


def connect_packet(client_id, will_topic, will_msg, user=None, password=None, keepalive=KEEPALIVE_S):
    flags = 0x02 | 0x04 | 0x08 | 0x20  # clean session, will, will QoS 1, will retained
    body = _s(client_id) + _s(will_topic) + _s(will_msg)
    if user is not None:
        flags |= 0x80
        body += _s(user)
        if password is not None:
            flags |= 0x40
            body += _s(password)
    return _packet(0x10, b"\x00\x04MQTT\x04" + bytes((flags, keepalive >> 8, keepalive & 255)) + body)


def publish_packet(topic, payload, qos=0, retain=False, pid=0):
    head = 0x30 | (qos << 1) | (1 if retain else 0)
    body = _s(topic) + (bytes((pid >> 8, pid & 255)) if qos else b"")
    return _packet(head, body + (payload.encode() if isinstance(payload, str) else payload))


def topic_word(text):
    """Device id as one MQTT topic level: letters, digits, - and _ kept, anything else (+ # / space) as _."""
    return "".join(c if ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in "-_") else "_"
                   for c in text) or "device"


def discovery(disc, base, dev, name):
    """[(topic, JSON payload)] of Home Assistant MQTT discovery: a spasm counter, spasm now, sensor fault."""
    device = {"identifiers": ["spasmwatch_" + dev], "name": name, "manufacturer": "spasmwatch",
              "model": "spasmwatch EMG (ESP32)"}
    common = {"state_topic": base + "/state", "availability_topic": base + "/status",
              "payload_available": "online", "payload_not_available": "offline", "device": device}
    out = []
    for comp, key, label, extra in (
            ("sensor", "spasms", "Spasms", {"value_template": "{{ value_json.count }}",
                                            "state_class": "total_increasing", "icon": "mdi:counter"}),
            ("binary_sensor", "spasm", "Spasm now", {"value_template": "{{ value_json.spasm }}",
                                                     "payload_on": "ON", "payload_off": "OFF"}),
            ("binary_sensor", "fault", "Sensor fault", {"value_template": "{{ value_json.fault }}",
                                                        "payload_on": "ON", "payload_off": "OFF",
                                                        "device_class": "problem"})):
        cfg = {"name": label, "unique_id": dev + "_" + key}
        cfg.update(common)
        cfg.update(extra)
        out.append(("%s/%s/%s/%s/config" % (disc, comp, dev, key), json.dumps(cfg)))
    return out


def event_json(r, dev, chnames, boot, uptime):
    """One logged record as the JSON an `event` message carries (eseq and boot identify it)."""
    et = r["etype"]
    ch = r["ch"]
    d = {"id": dev, "boot": r["boot"], "eseq": r["eseq"], "ch": ch,
         "chname": chnames[ch] if ch < len(chnames) else "ch%d" % ch}
    if et == protocol.EV_END:
        d["ev"] = "end"
        d["kind"] = protocol.KINDS.get(r["kind"], str(r["kind"]))
        for k in ("onset_ms", "offset_ms", "detected_ms", "peak", "mean", "floor"):
            d[k] = r[k]
        d["duration_ms"] = r["offset_ms"] - r["onset_ms"]
        at = r["detected_ms"]
    else:
        d["ev"] = "fault"
        d["state"] = "start" if et == protocol.EV_FAULT_START else "end"
        d["detail"] = protocol.FAULTS.get(r["kind"], str(r["kind"]))
        d["start_ms"] = r["onset_ms"]
        d["end_ms"] = r["offset_ms"]
        at = r["onset_ms"] if et == protocol.EV_FAULT_START else r["offset_ms"]
    # how long ago it happened, when that is known (same boot): an alert can skip stale, replayed events
    d["age_ms"] = max(0, uptime - at) if r["boot"] == boot and at >= 0 else None
    return json.dumps(d)


def _load(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return -1


class Publisher:
    """poll(app, up) each block: connects when the link is up, sends what the flash log holds beyond the
    last acknowledged eseq, one event in flight; any failure closes the socket and retries after a back-off."""

    def __init__(self, broker, prefix, disc, dev_id, name, path, key=""):
        self.host, self.port, self.user, self.password = broker  # netconfig.mqtt_parts(url)
        self.dev = topic_word(dev_id)
        self.base = prefix + "/" + self.dev
        self.disc = disc
        self.name = name
        self.path = path
        self.pads = sign_pads(key) if key and hashlib is not None else None  # events signed with net.token
        self.acked = _load(path)  # -1: first start with MQTT on, begin at the log's end (set in poll)
        self.saved = self.acked
        self.state = OFF
        self.sock = None
        self.poller = select.poll()
        self.addr = None
        self.fails = 0
        self.connects = 0
        self.published = 0  # events acknowledged since boot
        self.count = 0  # episode ends acknowledged since boot: the Home Assistant counter
        self.pos = 0  # eseq of the last record taken from the log
        self.gen = None
        self.pid = 0
        self.inflight = 0  # eseq of the event waiting for its PUBACK, 0 = none
        self.inflight_pid = 0
        self.is_end = False  # the event in flight is an episode end (counted when acknowledged)
        self.todo = []  # (topic, payload) retained QoS-0 messages to send after (re)connecting
        self.pend = None  # memoryview of the packet not yet fully sent
        self.inb = b""
        now = time.ticks_ms()
        self.t0 = self.tx = self.rx = self.sent_at = self.next = self.ping_at = now
        self.shown = -1  # state last published: app state * 2**20 + count

    # -- connection ----------------------------------------------------------------------------------------
    def _fail(self, app):
        if self.sock is not None:
            try:
                self.poller.unregister(self.sock)
            except (OSError, KeyError, ValueError):
                pass
            self.sock.close()
            self.sock = None
        self._stop_gen()
        self.state = OFF
        self.pos = self.acked
        self.inflight = 0
        self.pend = None
        self.inb = b""
        self.todo = []
        self.fails += 1
        if self.fails % 3 == 0:
            self.addr = None  # look the broker's name up again
        self.next = time.ticks_add(time.ticks_ms(), BACKOFF_MS[min(self.fails, len(BACKOFF_MS)) - 1])

    def _stop_gen(self):
        g = self.gen
        self.gen = None
        if g is not None:
            g.close()  # releases the log segment it reads

    def _connect(self):
        if self.addr is None:  # a name costs one DNS lookup (it blocks); an IP address costs nothing
            self.addr = socket.getaddrinfo(self.host, self.port)[0][-1]
        s = socket.socket()
        self.sock = s
        s.setblocking(False)
        try:
            s.connect(self.addr)
        except OSError as e:
            if not e.args or e.args[0] not in _LATER:
                raise
        self.poller.register(s, select.POLLOUT)
        self.state = CONNECTING
        self.t0 = time.ticks_ms()

    def up(self):  # connected, and the broker's CONNACK received
        return self.state == UP

    def _on_connack(self, app):
        self.state = UP
        self.fails = 0
        self.connects += 1
        self.todo = [(self.base + "/status", "online")]
        if self.disc:
            self.todo += discovery(self.disc, self.base, self.dev, app.cfg["name"])
        self.shown = -1  # republish the state

    # -- polled between blocks -----------------------------------------------------------------------------
    def poll(self, app, up):
        if self.acked < 0 or self.acked > app.log.last_seq:  # first start, or a log erased since
            self.acked = app.log.last_seq if self.acked < 0 else 0
            self.pos = self.acked
            self._save(True)
        if not up:
            if self.sock is not None:
                self._fail(app)
            return
        now = time.ticks_ms()
        try:
            if self.state == OFF:
                d = time.ticks_diff(now, self.next)
                if d >= 0 or d < -BACKOFF_MS[-1]:  # due, or set so long ago (Wi-Fi down for days) that it wrapped
                    self._connect()
                return
            if self.state != UP and _age(now, self.t0) > CONNECT_MS:
                raise OSError("mqtt: no CONNACK")
            self._io(app, now)
            if self.state == UP:
                self._up(app, now)
        except (OSError, MemoryError, ValueError):
            self._fail(app)

    def _io(self, app, now):
        ready = hup = False
        for _obj, ev in self.poller.ipoll(0):
            if ev & _HUP:
                hup = True
            else:
                ready = True
        if self.state == CONNECTING:
            if hup:
                raise OSError("mqtt: connect refused")
            if ready:
                self.poller.modify(self.sock, select.POLLIN)
                self.state = CONNACK
                self.pend = None
                self._send(connect_packet("spasmwatch-" + self.dev, self.base + "/status", "offline",
                                          self.user, self.password))
            return
        if self.pend is not None:
            self._push(now)
        if ready or hup:
            self._recv(app, now)

    def _recv(self, app, now):
        try:
            data = self.sock.recv(64)  # type: ignore[union-attr]
        except OSError as e:
            if e.args and e.args[0] in _LATER:
                return
            raise
        if not data:
            raise OSError("mqtt: closed by the broker")
        self.rx = now
        buf = self.inb + data
        while len(buf) >= 2:
            if buf[1] & 128:
                raise OSError("mqtt: unexpected long packet")  # nothing we subscribe to sends one
            end = 2 + buf[1]
            if len(buf) < end:
                break
            kind = buf[0] >> 4
            if kind == _PT_CONNACK:
                if end < 4 or buf[3] != 0:
                    raise OSError("mqtt: connection refused, code %d" % (buf[3] if end >= 4 else -1))
                self._on_connack(app)
            elif kind == _PT_PUBACK and end >= 4 and self.inflight and (buf[2] << 8 | buf[3]) == self.inflight_pid:
                self._acked(app)
            buf = buf[end:]
        self.inb = buf

    def _acked(self, app):
        self.acked = self.inflight
        self.inflight = 0
        self.published += 1
        if self.is_end:
            self.count += 1
        self._save(self.gen is None)

    def _up(self, app, now):
        if self.inflight and _age(now, self.sent_at) > ACK_MS:
            raise OSError("mqtt: no PUBACK")
        if _age(now, self.rx) > KEEPALIVE_S * 1500:
            raise OSError("mqtt: broker silent")
        if self.pend is not None:
            return
        if self.todo:
            topic, payload = self.todo.pop(0)
            self._send(publish_packet(topic, payload, 0, True))
            return
        st = app.state()
        shown = st * 1048576 + self.count
        if shown != self.shown:
            self.shown = shown
            self._send(publish_packet(self.base + "/state", '{"spasm":"%s","fault":"%s","count":%d,"boot":%d}' % (
                "ON" if st == codes.SPASM else "OFF", "ON" if st == codes.FAULT else "OFF", self.count,
                app.boot), 0, True))
            return
        if not self.inflight:
            self._next_event(app, now)
        half = KEEPALIVE_S * 500
        if self.pend is None and (_age(now, self.tx) > half or (
                _age(now, self.rx) > half and _age(now, self.ping_at) > half)):
            self.ping_at = now  # also when only QoS-0 state went out: the broker must answer something
            self._send(b"\xc0\x00")  # PINGREQ

    def _next_event(self, app, now):
        if self.gen is None:
            if app.log.last_seq <= self.pos:
                return
            self.gen = app.log.since(self.pos)
        try:
            r = next(self.gen)
        except StopIteration:
            self.gen = None
            self._save(True)
            return
        self.pos = r["eseq"]
        if r["etype"] not in PUBLISHED:  # onsets: the retained state already said "spasm now"
            self.acked = r["eseq"]
            return
        self.pid = self.pid % 65535 + 1
        names = [c["name"] for c in app.cfg["channels"]]
        payload = event_json(r, self.dev, names, app.boot, app.uptime)
        if self.pads is not None:
            payload = signed(payload, self.pads)
        self.is_end = r["etype"] == protocol.EV_END
        self.inflight = r["eseq"]
        self.inflight_pid = self.pid
        self.sent_at = now
        self._send(publish_packet(self.base + "/event", payload, 1, False, self.pid))

    # -- bytes out -----------------------------------------------------------------------------------------
    def _send(self, pkt):
        self.pend = memoryview(pkt)
        self._push(time.ticks_ms())

    def _push(self, now):
        p = self.pend
        if p is None:
            return
        try:
            k = self.sock.send(p)  # type: ignore[union-attr]
        except OSError as e:
            if e.args and e.args[0] in _LATER:
                return
            raise
        if k:
            self.tx = now
            self.pend = p[k:] if k < len(p) else None

    def _save(self, now_anyway):
        if self.acked == self.saved or not (now_anyway or self.acked - self.saved >= SAVE_EVERY):
            return
        try:
            with open(self.path + ".tmp", "w") as f:
                f.write(str(self.acked))
            try:
                os.rename(self.path + ".tmp", self.path)
            except OSError:  # filesystems whose rename will not overwrite
                os.remove(self.path)
                os.rename(self.path + ".tmp", self.path)
            self.saved = self.acked
        except OSError:
            pass  # flash trouble: the worst case is events sent again after a reboot (subscribers dedupe)
