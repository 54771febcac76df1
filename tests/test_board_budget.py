"""What a plain ESP32 runs, proven at its budget on the 32-bit heap model (spasmcore.boards "esp32": a GC heap of
56 kB that grows by at most 44 kB, Wi-Fi's share of the system heap reserved): an hour of signal each.

- 4 channels at 1 kHz boot, stream and log every episode host replay finds in the same recording, >= 16 kB free;
- 2 channels with Wi-Fi, the TCP server (a host connected) and MQTT (a broker acknowledging) >= 8 kB free;
- `config set params.sensitivity=5` and `status_s=30` apply live (no restart) with 4 channels.

The firmware runs as vmain.py boots it (start.boot), in micropython-esp32heap from ../shared/tools/micropython32;
the heap is read from the board's own `status` heartbeats (heap_free after a collection, every 10 s of signal).
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import micropython32
from net_runner import TcpClient, free_port

from spasmcore import protohost
from spasmcore.boards import board, heap_args
from spasmcore.firmware import FIRMWARE_DIR, UNIX_DIR, interpreter_march
from spasmfw import config as fwconfig
from spasmfw import protocol
from spasmsim.device import REBOOT_EXIT, precompile
from spasmsim.generate import generate
from spasmwatch.engine.detect import detect

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(600)]

RATE = 1000
PIECE_MIN = 10  # minutes simulated, tiled to an hour (generating a whole hour of 4 channels takes ~30 s)

HARNESS = r"""
import sys
state, mpy, fw, unix = sys.argv[1:5]
cmds = [(int(c.split(":", 1)[0]), c.split(":", 1)[1].encode() + b"\n") for c in sys.argv[5:]]
sys.path[0:0] = [mpy, fw, unix]
import vboard
vboard.STORAGE_DIR = state
a = __import__("start").boot(vboard)
b = a.b
def feed():  # commands as the serial link would bring them, each once its sample count is reached
    if cmds and a.samples >= cmds[0][0]:
        return cmds.pop(0)[1]
    return None
b.poll_input = feed
a.hello()
if a.boot_reply:  # as App.run: the reply to a `config set` applied (or refused) across the restart
    a.send(*a.boot_reply)
while not (b.eof and a.flushed):
    a.step()
a.status()
"""


@pytest.fixture(scope="module")
def esp32heap() -> str:
    return micropython32("micropython-esp32heap")


@pytest.fixture(scope="module")
def mpy32(tmp_path_factory: pytest.TempPathFactory, esp32heap: str) -> Path:
    d = tmp_path_factory.mktemp("mpy32")
    precompile(d, interpreter_march(esp32heap))
    return d


def hour(channels: int) -> np.ndarray:
    """An hour of 1 kHz raw counts (samples x channels): everyday spasms of every kind."""
    sim = generate("everyday_mixed", seed=3, minutes=PIECE_MIN, mode="raw", rate_hz=RATE, channels=channels)
    return np.tile(np.stack(sim.channels, axis=1).astype("<u2"), (60 // PIECE_MIN, 1))


def flash(tmp: Path, data: np.ndarray, net: dict | None = None, speed: float = 0.0) -> Path:
    state = tmp / "flash"
    state.mkdir(parents=True)
    data.tofile(state / "samples.bin")
    (state / "vboard.json").write_text(json.dumps({"data": "samples.bin", "channels": data.shape[1],
                                                   "rate_hz": RATE, "speed": speed, "loop": False,
                                                   "clock": "sim", "unique_id": "budget"}))
    cfg = dict(fwconfig.defaults(), channels=list(fwconfig.WIRED_PINS[:data.shape[1]]), rate_hz=RATE)
    if net:
        cfg["net"] = net
    fwconfig.save(str(state / "config.json"), cfg)
    return state


def boot(exe: str, mpy: Path, state: Path, *cmds: str) -> subprocess.Popen[bytes]:
    args, env = heap_args(exe, board("esp32"))
    script = state / "harness.py"
    script.write_text(HARNESS)
    with open(state / "serial.out", "ab") as out, open(state / "stderr.log", "wb") as err:  # no pipe to fill
        return subprocess.Popen([exe, *args, str(script), str(state), str(mpy), str(FIRMWARE_DIR), str(UNIX_DIR),
                                 *cmds], stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=state)


def messages(proc: subprocess.Popen[bytes], state: Path, timeout: float = 300) -> list[dict]:
    proc.wait(timeout)
    assert proc.returncode == 0, (state / "stderr.log").read_text(errors="replace")[-2000:]
    msgs = []
    for line in (state / "serial.out").read_bytes().splitlines():
        try:
            msgs.append(protohost.decode(line))
        except protocol.ProtocolError:
            pass
    return msgs


def restarting(exe: str, mpy: Path, state: Path, *cmds: str) -> list[dict]:
    """Messages of a boot with `cmds` and of the boots that follow a restart it asks for, as the launcher does."""
    proc = boot(exe, mpy, state, *cmds)
    for _ in range(2):
        if proc.wait(300) != REBOOT_EXIT:
            break
        proc = boot(exe, mpy, state)
    return messages(proc, state)


def heap_running(msgs: list[dict]) -> int:
    heaps = [m["heap_free"] for m in msgs if m["t"] == "status"]
    assert len(heaps) > 300, "an hour of heartbeats every 10 s"
    return min(heaps)


def test_four_channels_at_1khz_an_hour_on_a_plain_esp32(tmp_path: Path, esp32heap: str, mpy32: Path) -> None:
    data = hour(4)
    state = flash(tmp_path, data)
    msgs = messages(boot(esp32heap, mpy32, state), state)
    hello = next(m for m in msgs if m["t"] == "hello")
    assert len(hello["channels"]) == 4 and not [m for m in msgs if m["t"] == "error"], \
        [m for m in msgs if m["t"] == "error"]  # booted as configured: no "needs more heap", no defaults
    assert heap_running(msgs) >= 16 * 1024
    got = sorted((m["ch"], m["onset_ms"], m["kind"]) for m in msgs if m["t"] == "end")
    want = sorted((c, round(e.onset_s * 1000), e.kind) for c in range(4)
                  for e in detect(data[:, c], RATE, "raw", None, channel=c, engine="fast") if e.kind != "fault")
    assert len(want) > 100 and got == want  # every episode replay finds, streamed (and logged: eseq below)
    assert max(m["eseq"] for m in msgs if m["t"] == "end") >= len(want)


def test_config_set_params_applies_live_with_four_channels(tmp_path: Path, esp32heap: str, mpy32: Path) -> None:
    sim = generate("everyday_mixed", seed=4, minutes=2, mode="raw", rate_hz=RATE, channels=4)
    data = np.stack(sim.channels, axis=1).astype("<u2")
    state = flash(tmp_path, data)
    msgs = messages(boot(esp32heap, mpy32, state, "20000:config set params.sensitivity=5",
                         "40000:config set status_s=30", "60000:config get"), state)
    replies = [m for m in msgs if m["t"] in ("ok", "error")]
    assert [(m["t"], m.get("data")) for m in replies[:2]] == [("ok", {"saved": True, "reboot": False})] * 2
    cfg = replies[2]["data"]
    assert cfg["params"]["sensitivity"] == 5 and cfg["status_s"] == 30
    assert sum(1 for m in msgs if m["t"] == "hello") == 1  # no restart
    assert min(m["heap_free"] for m in msgs if m["t"] == "status") >= 16 * 1024


class Broker:
    """The least MQTT broker the firmware needs: CONNACK, PUBACK for QoS 1, PINGRESP; counts publishes."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.published = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                while len(buf) >= 2:
                    n, mult, i = 0, 1, 1
                    while i < len(buf) and buf[i] & 0x80:
                        n += (buf[i] & 0x7F) * mult
                        mult *= 128
                        i += 1
                    if i >= len(buf):
                        break
                    n += buf[i] * mult
                    if len(buf) < i + 1 + n:
                        break
                    head, body, buf = buf[0], buf[i + 1:i + 1 + n], buf[i + 1 + n:]
                    kind = head >> 4
                    if kind == 1:
                        conn.sendall(b"\x20\x02\x00\x00")
                    elif kind == 3:
                        self.published += 1
                        if head & 0x06:  # QoS 1: acknowledge the packet id after the topic
                            t = 2 + int.from_bytes(body[:2], "big")
                            conn.sendall(b"\x40\x02" + body[t:t + 2])
                    elif kind == 12:
                        conn.sendall(b"\xd0\x00")

    def close(self) -> None:
        self.sock.close()


def test_two_channels_with_wifi_tcp_and_mqtt_an_hour_on_a_plain_esp32(tmp_path: Path, esp32heap: str,
                                                                        mpy32: Path) -> None:
    from spasmfw import netconfig

    broker = Broker()
    port = free_port()
    net = dict(netconfig.validate({"ssid": "virtual", "tcp_port": port, "token": "budget-token-1",
                                   "mqtt": f"mqtt://127.0.0.1:{broker.port}"}))
    # paced at 400x real time (an hour in ~9 s): a host connects over TCP while the board runs
    state = flash(tmp_path, hour(2), net, speed=400)
    proc = boot(esp32heap, mpy32, state)
    try:
        client = TcpClient(port, timeout=60)
        client.send(b"auth budget-token-1\n")
        while proc.poll() is None:
            client.poll()
        tcp_seen = len(client.seen)
        client.close()
        msgs = messages(proc, state)
    finally:
        if proc.poll() is None:
            proc.kill()
        broker.close()
    assert not [m for m in msgs if m["t"] == "error"], [m for m in msgs if m["t"] == "error"]
    last = [m for m in msgs if m["t"] == "status"][-1]
    assert last.get("wifi") and last.get("mqtt"), last  # joined, broker connected at the end
    # the host got the stream (from whenever a loaded machine let it connect), the broker the events
    assert tcp_seen >= 10 and broker.published > 100
    assert heap_running(msgs) >= 8 * 1024


FIT = r"""
import sys, json
state, mpy, fw, unix = sys.argv[1:5]
sys.path[0:0] = [mpy, fw, unix]
import vboard
vboard.STORAGE_DIR = state
a = __import__("start").boot(vboard)
out = []
for spec in sys.argv[5:]:  # "N,W": N channels, Wi-Fi on (1) or off (0)
    new = dict(a.cfg, channels=a.cfg["channels"][:1] * int(spec[0]))
    new.pop("net", None)
    if spec[2] == "1":
        new["net"] = {"ssid": "virtual"}
    out.append(a.memory_problem(new))
print(json.dumps(out))
"""
CONFIGS = [(n, w) for w in (False, True) for n in (1, 2, 3, 4)]


def net_cfg() -> dict:
    from spasmfw import netconfig

    return dict(netconfig.validate({"ssid": "virtual", "tcp_port": free_port(), "token": "budget-token-1",
                                    "mqtt": "mqtt://127.0.0.1:1"}))


def test_memory_check_is_true_to_the_growing_heap(tmp_path: Path, esp32heap: str, mpy32: Path) -> None:
    """app.memory_problem, from the heap left at boot, against real boots of every config: none that fits
    is refused; one that does not (4 channels with Wi-Fi: its Wi-Fi would not start) is."""
    from spasmfw.app import HEADROOM

    sim = generate("everyday_mixed", seed=5, minutes=0.5, mode="raw", rate_hz=RATE, channels=4)
    data = np.stack(sim.channels, axis=1).astype("<u2")
    fits = {}
    for n, wifi in CONFIGS:
        state = flash(tmp_path / f"boot{n}{int(wifi)}", data[:, :n].copy(), net_cfg() if wifi else None)
        msgs = messages(boot(esp32heap, mpy32, state), state)
        errors = [m["msg"] for m in msgs if m["t"] == "error"]
        fits[(n, wifi)] = not errors and min(m["heap_free"] for m in msgs if m["t"] == "status") >= HEADROOM
    assert fits[(4, False)] and fits[(3, True)] and not fits[(4, True)]  # what the plain ESP32 runs
    args, env = heap_args(esp32heap, board("esp32"))
    for n, wifi in ((1, False), (2, True)):  # asked of a board running one config about all the others
        state = flash(tmp_path / f"ask{n}{int(wifi)}", data[:, :n].copy(), net_cfg() if wifi else None)
        (state / "fit.py").write_text(FIT)
        proc = subprocess.run([esp32heap, *args, str(state / "fit.py"), str(state), str(mpy32), str(FIRMWARE_DIR),
                               str(UNIX_DIR), *[f"{c},{int(w)}" for c, w in CONFIGS]], capture_output=True,
                              env=env, cwd=state, timeout=120)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        answers = json.loads(proc.stdout.decode().splitlines()[-1])
        assert {c: not why for c, why in zip(CONFIGS, answers, strict=True)} == fits, answers
        assert "4 channels with Wi-Fi would leave" in answers[-1] and "this board fits 3" in answers[-1]


def test_a_config_that_does_not_fit_is_refused_and_changes_nothing(tmp_path: Path, esp32heap: str,
                                                                    mpy32: Path) -> None:
    sim = generate("everyday_mixed", seed=5, minutes=0.5, mode="raw", rate_hz=RATE, channels=2)
    state = flash(tmp_path, np.stack(sim.channels, axis=1).astype("<u2"), net_cfg())
    before = (state / "config.json").read_bytes()
    msgs = restarting(esp32heap, mpy32, state, "5000:config set channels=[36,39,34,35]")
    err = next(m for m in msgs if m["t"] == "error")
    assert err["cmd"] == "config set" and "4 channels with Wi-Fi would leave" in err["msg"], err
    assert (state / "config.json").read_bytes() == before and not (state / "config.json.pending").exists()
    assert {len(m["channels"]) for m in msgs if m["t"] == "hello"} == {2}
    # where the running app had no heap for the config code, the pairs wait for the next boot with the figures of
    # the boot that wrote them (App.heap_at_boot), and that boot refuses them as the app would have
    idle = min(m["heap_free"] for m in msgs if m["t"] == "status")
    (state / "config.json.pending").write_text(json.dumps({"pairs": [["channels", [36, 39, 34, 35]]],
                                                           "heap": [idle, 4000, 2, 1]}))
    (state / "serial.out").unlink()
    msgs = messages(boot(esp32heap, mpy32, state), state)
    err = next(m for m in msgs if m["t"] == "error")
    assert err["cmd"] == "config set" and "4 channels with Wi-Fi would leave" in err["msg"], err
    assert (state / "config.json").read_bytes() == before and not (state / "config.json.pending").exists()
    assert [len(m["channels"]) for m in msgs if m["t"] == "hello"] == [2]


def test_calibration_checks_on_the_device_with_four_channels(tmp_path: Path, esp32heap: str, mpy32: Path) -> None:
    """On the board at its budget: a rest calibration at rest is kept; one with a burst on one channel is refused
    with the channel and the reason, and changes nothing; an MVC at rest is refused (not above rest)."""
    from signals import emg

    chans = [emg(60, RATE, [(30.0, 35.0, 80.0)] if c == 1 else [], seed=10 + c) for c in range(4)]
    state = flash(tmp_path, np.stack(chans, axis=1).astype("<u2"))
    msgs = messages(boot(esp32heap, mpy32, state, "15000:calibrate rest 10", "28000:calibrate rest 10",
                         "40000:calibrate show", "42000:calibrate mvc 5", "50000:calibrate show"), state)
    replies = [m for m in msgs if m["t"] in ("ok", "error") and (m.get("data") or {}).get("state") != "started"]
    kept, refused, shown, mvc, shown2 = replies
    assert kept["t"] == "ok" and kept["data"]["state"] == "done" and len(kept["data"]["floor"]) == 4, kept
    assert refused["t"] == "error" and refused["msg"].startswith("ch1: not at rest"), refused
    # the refused run changed nothing: the saved calibration is the kept one, the floors in use are its own
    # (the running floor adapts slowly between runs: within a quarter count, far from the burst's level)
    assert shown["data"]["saved"]["floor"] == kept["data"]["floor"] and not shown["data"]["running"]
    assert all(abs(a - b) <= 4 for a, b in zip(shown["data"]["floor"], kept["data"]["floor"], strict=True))
    assert mvc["t"] == "error" and mvc["cmd"] == "calibrate mvc" and "needs 5x" in mvc["msg"], mvc
    assert shown2["data"]["mvc"] == shown["data"]["mvc"] and shown2["data"]["saved"] == shown["data"]["saved"]
    assert min(m["heap_free"] for m in msgs if m["t"] == "status") >= 16 * 1024
