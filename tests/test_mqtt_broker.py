"""MQTT from the real firmware (firmware/mqttpub.py) under the unix port to a real Mosquitto broker, read by a
paho-mqtt subscriber: every episode once after de-duplication, across a broker restart; Home Assistant
discovery; the retained online/offline status and its last will."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from net_runner import NetDevice, free_port
from signals import emg

from spasmcore.recording import write_recording

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(240)]
MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
if MOSQUITTO is None:
    pytest.skip("the mosquitto broker is not installed (Debian: apt-get install mosquitto)", allow_module_level=True)
RATE = 1000
TOPIC = re.compile(r"^[^#+]+$")


class Broker:
    """Mosquitto on a free localhost port; persistence on, so subscriber sessions survive a restart."""

    def __init__(self, d: Path) -> None:
        self.port = free_port()
        self.dir = d
        self.conf = d / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                             f"persistence_location {d}/\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "mosquitto.log", "ab"))
        end = time.monotonic() + 10
        while True:
            try:
                import socket

                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < end, (self.dir / "mosquitto.log").read_text()
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: mosquitto saves its sessions and retained messages
            self.proc.wait(10)
            self.proc = None


class Subscriber:
    """A paho client with a persistent session (clean_session off), QoS 1 on everything of ours."""

    def __init__(self, port: int, name: str = "test-sub") -> None:
        self.got: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, clean_session=False)
        self.c.on_message = self._msg
        self.c.on_connect = lambda c, u, f, rc, p=None: c.subscribe([("spasmwatch/#", 1), ("homeassistant/#", 1)])
        self.c.reconnect_delay_set(0.1, 0.5)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _msg(self, c: object, u: object, m: object) -> None:
        with self.lock:
            self.got.append((m.topic, m.payload, bool(m.retain)))  # type: ignore[attr-defined]

    def messages(self, suffix: str = "") -> list[tuple[str, bytes, bool]]:
        with self.lock:
            return [g for g in self.got if g[0].endswith(suffix)]

    def wait(self, pred, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
        end = time.monotonic() + timeout
        while not pred():
            assert time.monotonic() < end, f"timed out; last messages: {self.got[-5:]}"
            time.sleep(0.05)

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


def events(sub: Subscriber) -> list[dict]:
    return [json.loads(p) for _, p, _ in sub.messages("/event")]


def logged(dev: NetDevice) -> set[tuple[int, int]]:
    """(boot, eseq) of every episode end and fault in the device's flash log, asked over USB (`sync 0`)."""
    before = len(dev.serial_lines())
    dev.serial_write(b"sync 0\n")
    end = time.monotonic() + 30
    while True:
        lines = dev.serial_lines()[before:]
        if any(m["t"] == "ok" and m.get("cmd") == "sync" for m in lines):
            return {(m["boot"], m["eseq"]) for m in lines if m["t"] == "log" and m["ev"] in ("end", "fault")}
        assert time.monotonic() < end, "no sync reply"
        time.sleep(0.1)


def test_every_episode_once_across_a_broker_restart(tmp_path: Path, broker: Broker, micropython_bin: str) -> None:
    bursts = [(1.0 + 2.0 * k, 1.4 + 2.0 * k, 150.0) for k in range(12)]  # an episode every 2 s
    rec = tmp_path / "bursts.csv"
    write_recording(rec, RATE, [emg(26, RATE, bursts, rest_rms=8.0, seed=3)], units="counts", mode="raw")
    sub = Subscriber(broker.port)
    net = {"ssid": "virtual", "mqtt": f"mqtt://127.0.0.1:{broker.port}"}
    dev = NetDevice(rec, tmp_path / "board", net, micropython_bin, speed=2, status_s=1)
    with dev:
        sub.wait(lambda: len(events(sub)) >= 2)
        broker.stop()
        down_at = len([m for m in dev.serial_lines() if m["t"] == "end"])
        end = time.monotonic() + 60
        while True:  # episodes go on while the broker is away: only the flash log has them
            during = len([m for m in dev.serial_lines() if m["t"] == "end"]) - down_at
            if during >= 2:
                break
            assert time.monotonic() < end, dev.stderr()
            time.sleep(0.1)
        broker.start()
        samples = len(bursts) * 2 * RATE
        end = time.monotonic() + 90
        while not any(m["t"] == "status" and m["samples"] >= samples for m in dev.serial_lines()):
            assert time.monotonic() < end, dev.stderr()
            time.sleep(0.2)
        want = logged(dev)
        sub.wait(lambda: {(e["boot"], e["eseq"]) for e in events(sub)} >= want, timeout=60)
        got = events(sub)
    sub.close()
    assert during >= 1, "no episode fell in the broker's downtime: the test did not test the backlog"
    assert len(want) >= 10
    assert {(e["boot"], e["eseq"]) for e in got} == want  # each one arrived, nothing invented
    for e in got:
        assert e["ev"] == "end" and e["kind"] in ("twitch", "tonic", "clonus") and e["chname"] == "ch0"
        assert e["duration_ms"] == e["offset_ms"] - e["onset_ms"] > 0
    statuses = [p for _, p, _ in sub.messages("/status")]
    assert statuses.count(b"online") >= 2  # announced again after the broker came back
    counts = [json.loads(p)["count"] for _, p, _ in sub.messages("/state")]
    assert counts == sorted(counts) and counts[-1] == len(want)  # the counter counts each episode once


def test_discovery_is_valid_home_assistant_json_and_the_will_says_offline(tmp_path: Path, broker: Broker,
                                                                        micropython_bin: str) -> None:
    from importlib import resources

    rec = Path(str(resources.files("spasmwatch") / "examples" / "example_raw.csv"))
    net = {"ssid": "virtual", "mqtt": f"mqtt://127.0.0.1:{broker.port}", "mqtt_prefix": "spasmwatch"}
    dev = NetDevice(rec, tmp_path / "board", net, micropython_bin, speed=0, status_s=1)
    dev.start()
    try:
        first = Subscriber(broker.port, "first")
        first.wait(lambda: len(first.messages("/state")) >= 1 and len(first.messages("/config")) >= 3)
        first.close()
        late = Subscriber(broker.port, "late")  # Home Assistant started after the board: retained messages
        late.wait(lambda: len(late.messages("/config")) >= 3 and late.messages("/state"))
        configs = late.messages("/config")
        state = json.loads(late.messages("/state")[-1][1])
        assert all(r for _, _, r in configs) and late.messages("/state")[0][2]  # the first one is the retained
        ids = set()
        for topic, payload, _ in configs:
            parts = topic.split("/")
            assert len(parts) == 5 and parts[0] == "homeassistant" and parts[4] == "config", topic
            comp = parts[1]
            assert comp in ("sensor", "binary_sensor")
            d = json.loads(payload)
            for key in ("name", "unique_id", "state_topic", "availability_topic", "device", "value_template"):
                assert key in d, (topic, key)
            assert TOPIC.match(d["state_topic"]) and TOPIC.match(d["availability_topic"])
            assert d["state_topic"].startswith("spasmwatch/") and d["availability_topic"].endswith("/status")
            assert d["device"]["identifiers"] and d["device"]["name"] == "spasmwatch"
            ids.add(d["unique_id"])
            field = re.fullmatch(r"\{\{ value_json\.(\w+) \}\}", d["value_template"]).group(1)  # type: ignore[union-attr]
            assert field in state, (field, state)
            if comp == "binary_sensor":
                assert state[field] in (d["payload_on"], d["payload_off"])
            else:
                assert d["state_class"] == "total_increasing" and isinstance(state[field], int)
        assert len(ids) == 3
        assert late.messages("/status")[-1][1] == b"online"
        dev.kill()  # power cut: no DISCONNECT, the broker publishes the last will
        late.wait(lambda: late.messages("/status")[-1][1] == b"offline", timeout=30)
        late.close()
        after = Subscriber(broker.port, "after")
        after.wait(lambda: after.messages("/status"))
        assert after.messages("/status")[-1][1:] == (b"offline", True)  # retained for whoever looks later
        after.close()
    finally:
        dev.stop()


def test_events_of_a_boot_that_died_offline_are_published_after_the_reboot(tmp_path: Path, broker: Broker,
                                                                          micropython_bin: str) -> None:
    """Broker down, episodes logged, power cut, reboot, broker back: boot 1's episodes come from the flash log
    (the last acknowledged eseq survives in mqtt.txt), each once, beside boot 2's."""
    bursts = [(1.0 + 2.0 * k, 1.4 + 2.0 * k, 150.0) for k in range(6)]
    rec = tmp_path / "bursts.csv"
    write_recording(rec, RATE, [emg(14, RATE, bursts, rest_rms=8.0, seed=4)], units="counts", mode="raw")
    sub = Subscriber(broker.port)
    net = {"ssid": "virtual", "mqtt": f"mqtt://127.0.0.1:{broker.port}"}
    dev = NetDevice(rec, tmp_path / "board", net, micropython_bin, speed=2, status_s=1)
    dev.start()
    try:
        sub.wait(lambda: len(sub.messages("/state")) >= 1)  # connected once: mqtt.txt holds the log's end
        broker.stop()
        down_at = len([m for m in dev.serial_lines() if m["t"] == "end"])
        end = time.monotonic() + 60
        while len([m for m in dev.serial_lines() if m["t"] == "end"]) < max(3, down_at + 2):  # 2 while it is away
            assert time.monotonic() < end, dev.stderr()
            time.sleep(0.1)
        dev.kill()  # power cut with unpublished episodes on flash
        offline = {(1, m["eseq"]) for m in dev.serial_lines() if m["t"] == "end"}
        dev.start()  # boot 2 plays the recording again, first with the broker still away
        while not any(m["t"] == "status" and m["boot"] == 2 for m in dev.serial_lines()):
            assert time.monotonic() < end + 60, dev.stderr()
            time.sleep(0.1)
        broker.start()
        while not any(m["t"] == "status" and m["boot"] == 2 and m["samples"] >= 14 * RATE
                      for m in dev.serial_lines()):
            assert time.monotonic() < end + 60, dev.stderr()
            time.sleep(0.2)
        want = logged(dev)
        sub.wait(lambda: {(e["boot"], e["eseq"]) for e in events(sub)} >= want, timeout=60)
        got = events(sub)
    finally:
        dev.stop()
        sub.close()
    assert offline and offline <= want and {b for b, _ in want} == {1, 2}
    assert {(e["boot"], e["eseq"]) for e in got} == want
    assert all(e["age_ms"] is None for e in got if e["boot"] == 1)  # an earlier boot's time is unknown now


IDLE_POLLS = r"""
import sys, json, socket, time, micropython
sys.path.insert(0, UNIX)
import netconfig, protocol
class Board:
    storage_dir = STATE
    unique_id = "a4cf12b0c3d8"
    def write(self, data):
        pass
class Log:
    last_seq = 0
    def since(self, eseq):
        return iter(())
class App:
    cfg = {"name": "x", "channels": [{"pin": 36, "name": "ch0"}]}
    boot = 1
    uptime = 0
    seq = 0
    log = Log()
    def state(self):
        return 0
    def handle(self, line):
        pass
    def error(self, cmd, msg):
        pass
    def ok(self, cmd, data=None):
        pass
net = {"ssid": "home", "tcp_port": TCP, "token": "abcdefgh", "mqtt": "mqtt://127.0.0.1:%d" % BROKER}
cfg = {"id": "", "name": "x", "net": netconfig.validate(net)}
n, err = netconfig.start(cfg, Board())
app = App()
client = None
end = time.ticks_add(time.ticks_ms(), 20000)
while time.ticks_diff(end, time.ticks_ms()) > 0:
    n.poll(app)
    if client is None and n.tcp.ls is not None:
        client = socket.socket()
        client.connect(socket.getaddrinfo("127.0.0.1", TCP)[0][-1])
    if n.mqtt.state == 3 and not n.mqtt.todo and n.mqtt.pend is None and n.mqtt.shown >= 0 and n.tcp.cl:
        break
    time.sleep_ms(5)
ready = [n.mqtt.state, n.tcp.cl is not None, n.wifi.up]
micropython.heap_lock()
try:
    for _ in range(2000):  # 2000 blocks' worth over > 2 s: Wi-Fi link checks (every 0.5 s), sockets polled
        n.poll(app)
        time.sleep_ms(1)
finally:
    micropython.heap_unlock()
after = [n.mqtt.state, n.tcp.cl is not None, n.wifi.up]
print(json.dumps({"ready": ready, "after": after, "errors": n.errors, "mqtt_connects": n.mqtt.connects,
                  "mqtt_fails": n.mqtt.fails}))
"""


def test_idle_network_polls_allocate_nothing(tmp_path: Path, broker: Broker, micropython_bin: str) -> None:
    """Between events (and keepalives, every 30 s) the network side allocates nothing per block (run with the
    heap locked), like the rest of the per-block path: Wi-Fi up, a TCP client connected, MQTT caught up."""
    from mpy_runner import run_json

    from spasmcore.firmware import UNIX_DIR

    code = IDLE_POLLS.replace("UNIX", repr(str(UNIX_DIR)), 1).replace("STATE", repr(str(tmp_path)), 1)
    code = code.replace("TCP", str(free_port())).replace("BROKER", str(broker.port))
    out = run_json(code, cwd=tmp_path)
    assert out["ready"] == [3, True, True], out
    # an allocation would raise MemoryError: net.errors counts it, or MQTT would drop and reconnect
    assert out["after"] == out["ready"] and out["errors"] == 0, out
    assert out["mqtt_connects"] == 1 and out["mqtt_fails"] == 0, out


@pytest.mark.slow
def test_demo_publishes_to_the_broker(tmp_path: Path, broker: Broker) -> None:
    import signal
    import sys

    sub = Subscriber(broker.port)
    with open(tmp_path / "stderr.txt", "w+") as err:
        demo = subprocess.Popen([sys.executable, "-m", "spasmwatch.cli", "demo", "--mqtt",
                                 f"mqtt://127.0.0.1:{broker.port}", "--seconds", "150", "--plain"],
                                stdout=subprocess.PIPE, stderr=err, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: [lines.append(ln) for ln in demo.stdout or ()], daemon=True)
        reader.start()
        try:
            # published, and stored by the demo's monitor: then Ctrl-C, instead of waiting out --seconds
            sub.wait(lambda: events(sub) and len(sub.messages("/config")) >= 3
                     and any(" end ch0 " in ln for ln in lines), timeout=150)
            demo.send_signal(signal.SIGINT)
            demo.wait(60)
        finally:
            if demo.poll() is None:
                demo.kill()
            sub.close()
        reader.join(10)
        err.seek(0)
        assert demo.returncode == 0, "".join(lines) + err.read()
    assert "publish" in "".join(lines)
    assert all(e["ev"] in ("end", "fault") for e in events(sub))


def verify(payload: bytes, token: str) -> bool:
    """A subscriber's check of an event's `sig` (the recipe of docs/wireless.md)."""
    import hashlib
    import hmac

    at = payload.rfind(b',"sig":"')
    if at < 0 or not payload.endswith(b'"}'):
        return False
    want = hmac.new(token.encode(), payload[:at] + b"}", hashlib.sha256).hexdigest()[:32]
    return hmac.compare_digest(payload[at + 8:-2], want.encode())


def test_events_are_signed_with_the_token_and_a_forgery_fails(tmp_path: Path, broker: Broker,
                                                              micropython_bin: str) -> None:
    from importlib import resources

    token = "t0ken-for-tests"
    rec = Path(str(resources.files("spasmwatch") / "examples" / "example_raw.csv"))
    sub = Subscriber(broker.port)
    net = {"ssid": "virtual", "mqtt": f"mqtt://127.0.0.1:{broker.port}", "token": token}
    with NetDevice(rec, tmp_path / "board", net, micropython_bin, speed=0, status_s=1):
        sub.wait(lambda: len(sub.messages("/event")) >= 3, timeout=60)
    real = [p for _, p, _ in sub.messages("/event")]
    assert all(verify(p, token) for p in real), real[:2]
    e = json.loads(real[0])
    assert set(e) >= {"id", "boot", "eseq", "sig"} and len(e["sig"]) == 32
    # anyone allowed on the broker can publish an event that reuses a real (id, boot, eseq) ...
    fake = dict(e, duration_ms=e["duration_ms"] + 60000, peak=e["peak"] * 9)
    forged = [json.dumps(fake).encode(), json.dumps({k: v for k, v in fake.items() if k != "sig"}).encode(),
              real[0].replace(b'"eseq": %d' % e["eseq"], b'"eseq": %d' % (e["eseq"] + 1000))]
    assert forged[2] != real[0]
    assert not any(verify(p, token) for p in forged)  # ... but not one that checks
    assert not verify(real[0], "another-token")
    sub.close()
