"""Wi-Fi settings (firmware/netconfig.py) on both runtimes, and the station's join / back-off / reconnect logic
(firmware/wifi.py) under the unix port with the virtual Wi-Fi (firmware/unix/rom_network.py)."""

from __future__ import annotations

import json

import pytest
from mpy_runner import run_json

from spasmcore.firmware import UNIX_DIR
from spasmfw import netconfig as N

TOKEN = "abcdefgh"
# (net overrides, text the error must contain: the key and what it allows)
INVALID = [
    ([1], "net must be an object"),
    ({"ssd": "home"}, "unknown key net.ssd (known: ssid, password"),
    ({"ssid": 5}, "net.ssid must be text of 0..32"),
    ({"ssid": "x" * 33}, "net.ssid must be text of 0..32"),
    ({"ssid": "a\nb"}, "net.ssid has a character"),
    ({"password": "short"}, "net.password must be 8..63 characters (WPA2)"),
    ({"password": "p" * 64}, "net.password must be text of 0..63"),
    ({"hostname": "bad name"}, "net.hostname='bad name' may hold only letters"),
    ({"hostname": "-lead"}, "net.hostname='-lead'"),
    ({"tcp_port": 70000, "token": TOKEN}, "net.tcp_port=70000 must be 0 (off) or a port 1..65535"),
    ({"tcp_port": -1}, "net.tcp_port=-1"),
    ({"tcp_port": True}, "net.tcp_port=True"),
    ({"tcp_port": "7878"}, "net.tcp_port='7878'"),
    ({"tcp_port": 7878}, "net.tcp_port needs net.token"),
    ({"token": "short"}, "net.token must be 8..64 characters"),
    ({"token": "with space"}, "net.token has a character"),
    ({"token": "t" * 65}, "net.token must be text of 0..64"),
    ({"read_open": "yes"}, "net.read_open='yes' must be true or false"),
    ({"mqtt": "http://broker"}, "net.mqtt='http://broker' must look like mqtt://"),
    ({"mqtt": "mqtts://broker"}, "TLS (mqtts://) is not supported"),
    ({"mqtt": "mqtt://"}, "net.mqtt: host must be a name"),
    ({"mqtt": "mqtt://broker:0"}, "net.mqtt: port must be 1..65535"),
    ({"mqtt": "mqtt://broker:x"}, "net.mqtt: port must be 1..65535"),
    ({"mqtt": "mqtt://bro/ker"}, "net.mqtt: host must be a name"),
    ({"mqtt_prefix": ""}, "net.mqtt_prefix must be text of 1..24"),
    ({"mqtt": "mqtt://" + "b" * 90}, "net.mqtt must be text of 0..96"),
    ({"hostname": "h" * 25}, "net.hostname must be text of 0..24"),
    ({"mqtt_prefix": "a/#"}, "net.mqtt_prefix='a/#' may hold"),
    ({"mqtt_prefix": "/lead"}, "net.mqtt_prefix='/lead'"),
    ({"discovery": "home assistant"}, "net.discovery='home assistant' must be a topic word"),
    ({"discovery": "ha/x"}, "net.discovery='ha/x'"),
]
VALID = [
    {},
    {"ssid": "home", "password": "12345678"},
    {"ssid": "café wifi", "password": ""},  # an open network
    {"ssid": "home", "hostname": "left-calf", "tcp_port": 7878, "token": TOKEN, "read_open": True},
    {"mqtt": "mqtt://192.168.1.5", "mqtt_prefix": "home/ward-3", "discovery": ""},
    {"mqtt": "mqtt://user:pa:ss@broker.lan:1884/"},
]


def test_defaults_are_off() -> None:
    n = N.validate({})
    assert n == N.DEFAULTS and not n["ssid"] and n["tcp_port"] == 0 and n["mqtt"] == ""
    assert N.start({"net": n}, object()) == (None, None)  # Wi-Fi off: no network module is even imported
    assert N.validate(None) == N.DEFAULTS


@pytest.mark.parametrize(("net", "needle"), INVALID, ids=[n for _, n in INVALID])
def test_invalid_values_name_the_key(net: object, needle: str) -> None:
    with pytest.raises(ValueError) as e:
        N.validate(net)
    assert needle in str(e.value)
    assert len(str(e.value)) <= 160  # one error line on the wire


@pytest.mark.parametrize("net", VALID, ids=[json.dumps(v)[:40] for v in VALID])
def test_valid_values_pass_and_keep_their_values(net: dict) -> None:
    out = N.validate(net)
    assert set(out) == set(N.KEYS)
    assert all(out[k] == v for k, v in net.items())


def test_mqtt_url_parts() -> None:
    assert N.mqtt_parts("mqtt://broker") == ("broker", 1883, None, None)
    assert N.mqtt_parts("mqtt://u@10.0.0.2:1900") == ("10.0.0.2", 1900, "u", None)
    assert N.mqtt_parts("mqtt://u:p@ss:w@host/") == ("host", 1883, "u", "p@ss:w")


def test_secrets_are_hidden_from_hello_and_config_get() -> None:
    cfg = {"name": "x", "net": N.validate({"ssid": "home", "password": "hunter2-long", "tcp_port": 7878,
                                             "token": "s3cret-token", "mqtt": "mqtt://ha:brokerpw@broker:1883"})}
    pub = N.public(cfg)
    text = json.dumps(pub)
    assert "hunter2" not in text and "s3cret" not in text and "brokerpw" not in text
    assert pub["net"]["password"] == pub["net"]["token"] == N.SECRET
    assert pub["net"]["mqtt"] == "mqtt://ha:***@broker:1883" and pub["net"]["ssid"] == "home"
    assert cfg["net"]["token"] == "s3cret-token"  # the real config is untouched
    plain = {"name": "x", "net": N.validate({"ssid": "open-net"})}
    assert N.public(plain) is plain  # nothing secret: no copy
    with pytest.raises(ValueError):  # a redacted value sent back is refused, never saved as the secret
        N.validate({**cfg["net"], "token": N.SECRET})


def test_validation_is_the_same_on_micropython() -> None:
    cases = [net for net, _ in INVALID if isinstance(net, dict)] + VALID
    code = ("import json, netconfig\nout = []\n"
            f"for n in json.loads({json.dumps(json.dumps(cases))}):\n"
            "    try:\n        out.append(netconfig.validate(n))\n"
            "    except ValueError as e:\n        out.append(str(e))\n"
            "print(json.dumps(out))\n")
    want = []
    for net in cases:
        try:
            want.append(N.validate(net))
        except ValueError as e:
            want.append(str(e))
    assert run_json(code) == want


WIFI = f"""
import sys, json, time
sys.path.insert(0, {str(UNIX_DIR)!r})
import os
import rom_network
sys.modules["network"] = rom_network
import wifi
wifi.CHECK_MS = 0
wifi.BACKOFF_MS = (40, 80, 160)
def run(w, ms):
    seen = []
    end = time.ticks_add(time.ticks_ms(), ms)
    while time.ticks_diff(end, time.ticks_ms()) > 0:
        up = w.poll()
        if not seen or seen[-1][0] != w.state:
            seen.append([w.state, w.attempts])
        time.sleep_ms(2)
    return seen
out = {{}}
w = wifi.Wifi("nowhere", "", "left-calf")
out["no_ap"] = run(w, 500)
out["no_ap_attempts"] = w.attempts
out["hostname"] = rom_network.hostname()
w = wifi.Wifi("home", "wrong-password", "")
out["badpw"] = run(w, 100)
w = wifi.Wifi("home", "12345678", "")
out["first"] = run(w, 50)
out["ip"] = w.ip
out["rssi"] = w.rssi
open("wifi.off", "w").close()
out["gone"] = run(w, 150)
os.remove("wifi.off")
out["back"] = run(w, 400)
out["reconnects"] = w.reconnects
out["up"] = w.up
print(json.dumps(out))
"""


@pytest.mark.micropython
def test_station_joins_backs_off_and_reconnects(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = run_json(WIFI, cwd=tmp_path)
    assert out["no_ap"][0] == ["join", 1] and out["no_ap"][1][0] == "no_ap"
    # back-off 40, 80, 160, 160 ms: about 5 attempts in 500 ms, not one per poll (hundreds)
    assert 3 <= out["no_ap_attempts"] <= 7, out
    assert out["hostname"] == "left-calf"
    assert [s for s, _ in out["badpw"]] == ["join", "badpw"]
    assert out["first"] == [["join", 1], ["up", 1]] and out["ip"] == "127.0.0.1" and out["rssi"] == -58
    assert out["gone"] == [["join", 2], ["no_ap", 2]]  # the link dropped: rejoined at once, which fails
    assert out["back"][-1][0] == "up" and out["up"] and out["reconnects"] >= 2


NET_STATUS = f"""
import sys, json
sys.path.insert(0, {str(UNIX_DIR)!r})
import netconfig, protocol
class Board:
    storage_dir = "."
    unique_id = "a4cf12b0c3d8"
    def write(self, data):
        pass
cfg = {{"id": "", "name": "x", "net": netconfig.validate({{"ssid": "home", "mqtt": "mqtt://127.0.0.1:1"}})}}
net, err = netconfig.start(cfg, Board())
for _ in range(3):
    net.wifi._check = 0
    net.wifi.poll()
out = []
for base in ({{"uptime_ms": 1000, "state": "idle"}},
             {{"uptime_ms": 10**10 - 1, "samples": 2 * 10**10, "overruns": 99999, "dropped": 10**8, "heap_free": 99999,
              "queue": 9999, "faults": 4, "state": "spasm", "eseq": 999999, "boot": 9999, "lost": 99, "pops": 9999}}):
    net.add_status(base)
    out.append([sorted(k for k in base if k in ("wifi", "rssi", "reconn", "mqtt")),
                len(protocol.encode("status", 10**8, base))])
print(json.dumps(out))
"""


@pytest.mark.micropython
def test_heartbeat_fields_fit_the_status_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    short, long = run_json(NET_STATUS, cwd=tmp_path)
    assert short[0] == ["mqtt", "reconn", "rssi", "wifi"]  # all of them when there is room
    assert "wifi" in long[0] and len(long[0]) < 4 and long[1] <= 256  # months of uptime: still one valid line
