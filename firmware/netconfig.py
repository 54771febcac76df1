"""Wi-Fi, TCP and MQTT settings (config key `net`): defaults, validation, redaction, and the start-up switch."""

# Everything is off until net.ssid is set: Wi-Fi costs ~100 mA (docs/wireless.md), the board must not draw
# it unless asked to. tcp_port 0 = no TCP server, mqtt "" = no MQTT.
DEFAULTS = {  # type: dict
    "ssid": "",  # Wi-Fi network (station mode); "" = Wi-Fi off, the other keys are then unused
    "password": "",  # WPA2 passphrase 8..63 characters, "" for an open network
    "hostname": "",  # DHCP / mDNS host name; "" = "spasmwatch-" + the last 4 hex digits of the device id
    "tcp_port": 0,  # the serial protocol on this TCP port; 0 = off
    "token": "",  # pre-shared token (8..64 characters) a TCP client sends with `auth TOKEN`
    "read_open": False,  # true: read-only commands (hello, status, sync, ...) need no token over TCP
    "mqtt": "",  # broker URL mqtt://[user[:password]@]host[:port]; "" = off
    "mqtt_prefix": "spasmwatch",  # topics PREFIX/ID/{status,state,event}
    "discovery": "homeassistant",  # Home Assistant discovery prefix; "" = no discovery messages
}
# Text limits keep a full config inside one hello / `config get` line (protocol.MAX_REPLY).
KEYS = ("ssid", "password", "hostname", "tcp_port", "token", "read_open", "mqtt", "mqtt_prefix", "discovery")
SECRET = "***"  # what hello / config get show instead of the password, the token and the broker password
MQTT_PORT = 1883


def _text(n, key, lo, hi, bad=""):
    v = n[key]
    if not isinstance(v, str) or not lo <= len(v) <= hi:
        raise ValueError("net.%s must be text of %d..%d characters" % (key, lo, hi))
    for c in v:
        if ord(c) < 32 or ord(c) == 127 or c in bad:
            raise ValueError("net.%s has a character it cannot hold (%r)" % (key, c))
    return v


def _name_ok(s, extra):
    for c in s:
        if not (("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c in extra):
            return False
    return True


def mqtt_parts(url):
    """(host, port, user, password) of mqtt://[user[:password]@]host[:port]; ValueError naming the problem."""
    if url.startswith("mqtts://"):
        raise ValueError("net.mqtt: TLS (mqtts://) is not supported: it needs ~40 kB of heap the detectors use")
    if not url.startswith("mqtt://"):
        raise ValueError("net.mqtt=%r must look like mqtt://[user[:password]@]host[:port]" % (url[:40],))
    rest = url[7:]
    if rest.endswith("/"):
        rest = rest[:-1]
    user = password = None
    at = rest.rfind("@")
    if at >= 0:
        cred, rest = rest[:at], rest[at + 1:]
        i = cred.find(":")
        user, password = (cred, None) if i < 0 else (cred[:i], cred[i + 1:])
    port = MQTT_PORT
    i = rest.rfind(":")
    if i >= 0:
        try:
            port = int(rest[i + 1:])
        except ValueError:
            port = 0
        rest = rest[:i]
        if not 1 <= port <= 65535:
            raise ValueError("net.mqtt: port must be 1..65535")
    if not rest or not _name_ok(rest, ".-_"):
        raise ValueError("net.mqtt: host must be a name or an IPv4 address")
    return rest, port, user, password


def validate(n):
    """The `net` object with defaults filled in, or ValueError naming the key (net.KEY) and what it allows."""
    if n is None:
        n = {}
    if not isinstance(n, dict):
        raise ValueError("net must be an object {ssid, password, tcp_port, token, mqtt, ...}")
    out = {}
    for k in n:
        if k not in DEFAULTS:
            raise ValueError("unknown key net.%s (known: %s)" % (str(k)[:24], ", ".join(KEYS)))
    for k in KEYS:
        out[k] = n.get(k, DEFAULTS[k])
    _text(out, "ssid", 0, 32)
    pw = _text(out, "password", 0, 63)
    if pw and len(pw) < 8:
        raise ValueError("net.password must be 8..63 characters (WPA2), or empty for an open network")
    host = _text(out, "hostname", 0, 24)
    if host and (not _name_ok(host, "-") or host[0] == "-" or host[-1] == "-"):
        raise ValueError("net.hostname=%r may hold only letters, digits and inner hyphens" % (host,))
    port = out["tcp_port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError("net.tcp_port=%r must be 0 (off) or a port 1..65535" % (port,))
    token = _text(out, "token", 0, 64, " ")
    if token and len(token) < 8:
        raise ValueError("net.token must be 8..64 characters without spaces")
    if port and not token:
        raise ValueError("net.tcp_port needs net.token (8..64 characters), so nobody else on the network can "
                         "change settings: set both in one `config set`")
    if not isinstance(out["read_open"], bool):
        raise ValueError("net.read_open=%r must be true or false" % (out["read_open"],))
    url = _text(out, "mqtt", 0, 96, " ")
    if url:
        mqtt_parts(url)
    prefix = _text(out, "mqtt_prefix", 1, 24)
    if not _name_ok(prefix, "-_/") or prefix[0] == "/" or prefix[-1] == "/":
        raise ValueError("net.mqtt_prefix=%r may hold letters, digits, - _ and inner /" % (prefix,))
    disc = _text(out, "discovery", 0, 24)
    if disc and not _name_ok(disc, "-_"):
        raise ValueError("net.discovery=%r must be a topic word such as homeassistant, or empty" % (disc,))
    return out


def public(cfg):
    """cfg as hello and `config get` show it: the Wi-Fi password, the token and a broker password hidden."""
    n = cfg.get("net")
    if not n or not (n["password"] or n["token"] or "@" in n["mqtt"]):
        return cfg
    out = dict(cfg)
    m = dict(n)
    for k in ("password", "token"):
        if m[k]:
            m[k] = SECRET
    url = m["mqtt"]
    at = url.rfind("@")
    colon = url.find(":", 7)
    if at > 0 and 0 < colon < at:
        m["mqtt"] = url[:colon + 1] + SECRET + url[at:]
    out["net"] = m
    return out


def start(cfg, board):
    """(Net or None, error text or None): the network side when net.ssid is set, teeing board.write.

    Imported lazily so a board with Wi-Fi off never loads the network modules (heap); a failure here
    (no memory, no network driver) leaves the board sampling and logging over USB, and says why.
    """
    n = cfg.get("net")
    if not n or not n["ssid"]:
        return None, None
    try:
        try:
            from . import net
        except ImportError:
            import net
        return net.Net(cfg, board, mqtt_parts(n["mqtt"]) if n["mqtt"] else None), None
    except Exception as e:  # noqa: BLE001 - Wi-Fi must never stop the board from sampling
        return None, "wifi not started: %r" % (e,)
