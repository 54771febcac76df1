"""The host over the network (host/spasmwatch/link/network.py): pyserial's socket:// handler to the real firmware
under the unix port, through the host's own Link and Client; the token; clear errors. End to end: the monitor
across a dropped connection and a reboot, and the CLI's `device --tcp` with `monitor --port socket://`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest
from net_runner import NetDevice, free_port

from spasmcore.errors import ConfigError, LinkError
from spasmwatch.link import network as transport
from spasmwatch.link.client import Client, DeviceError
from spasmwatch.link.serial_link import Link

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(240)]
EXAMPLE = Path(str(resources.files("spasmwatch") / "examples" / "example_raw.csv"))
TOKEN = "host-side-token"


def test_url_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(transport.TOKEN_ENV, raising=False)
    assert transport.is_url("socket://10.0.0.5:7878") and not transport.is_url("/dev/ttyUSB0")
    assert not transport.is_url(None) and not transport.is_url("auto")
    assert transport.split_token("socket://h:1?token=abc&logging=debug") == ("socket://h:1?logging=debug", "abc")
    assert transport.split_token("socket://h:1") == ("socket://h:1", None)
    monkeypatch.setenv(transport.TOKEN_ENV, "from-env")
    assert transport.split_token("socket://h:1") == ("socket://h:1", "from-env")
    assert transport.where("socket://h:1?token=secret") == "h:1"


def test_connection_refused_is_one_clear_sentence() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(LinkError) as e:
        transport.open_url(f"socket://127.0.0.1:{port}?token=whatever")
    assert f"nothing listens at 127.0.0.1:{port}" in str(e.value) and "whatever" not in str(e.value)
    with pytest.raises(LinkError, match="bad port URL"):
        transport.open_url("socket://127.0.0.1:99999")


def test_client_over_tcp_hello_sync_and_token(tmp_path: Path, micropython_bin: str) -> None:
    port = free_port()
    net = {"ssid": "virtual", "tcp_port": port, "token": TOKEN}
    with NetDevice(EXAMPLE, tmp_path / "board", net, micropython_bin, speed=0, status_s=1):
        url = f"socket://127.0.0.1:{port}"
        end = time.monotonic() + 20
        while True:
            try:
                ser = transport.open_url(f"{url}?token={TOKEN}")
                break
            except LinkError:
                assert time.monotonic() < end
                time.sleep(0.1)
        client = Client(Link(ser, url))
        hello = client.hello()
        assert hello["boot"] == 1 and hello["rate"] == 1000
        deadline = time.monotonic() + 60
        while client.status()["samples"] < 60000:  # the whole recording played
            assert time.monotonic() < deadline
            time.sleep(0.2)
        logs, done = client.sync(0)
        ends = [m for m in logs if m["ev"] == "end"]
        assert len(ends) == 3 and done["count"] == len(logs) and done["last"] == logs[-1]["eseq"]
        assert client.config_set([("name", "over-wifi")])["saved"] is True
        client.close()
        with pytest.raises(LinkError, match="refused the token .*wrong token"):
            transport.open_url(f"{url}?token=not-it-at-all")
        end = time.monotonic() + 30
        while True:  # no token at all: reads refused by this board (read_open false)
            client = Client(Link(transport.open_url(url), url))
            try:
                client.request("config get")
                raise AssertionError("config get answered without the token")
            except (LinkError, DeviceError) as exc:  # the board holds the next try ~2 s after a wrong token
                if "needs the token" in str(exc):
                    break
                assert time.monotonic() < end, exc
            finally:
                client.close()
            time.sleep(0.2)


def test_virtual_device_net_options() -> None:
    from spasmsim import netdevice

    assert netdevice.net_config() == {}
    net = netdevice.net_config(tcp="127.0.0.1:7878", mqtt="mqtt://127.0.0.1:1883", token="abcdefgh1")
    assert net["tcp_port"] == 7878 and net["token"] == "abcdefgh1" and net["ssid"] == netdevice.VIRTUAL_SSID
    assert len(netdevice.net_config(tcp="localhost:1")["token"]) >= 12  # a generated one
    for bad, needle in (("0.0.0.0:7878", "127.0.0.1:PORT"), ("127.0.0.1:0", "1..65535"), ("7878", "127.0.0.1")):
        with pytest.raises(ConfigError, match=re.escape(needle)):
            netdevice.net_config(tcp=bad)
    with pytest.raises(ConfigError, match="--mqtt"):
        netdevice.net_config(mqtt="http://x")
    with pytest.raises(ConfigError, match="--token"):
        netdevice.net_config(tcp="127.0.0.1:7878", token="short")


RATE = 1000
SECONDS = 30
SPEED = 10


def device_log(dev: NetDevice) -> tuple[list[dict], dict]:
    """`sync 0` over the device's USB serial: the flash log and the closing ok data."""
    before = len(dev.serial_lines())
    dev.serial_write(b"sync 0\n")
    end = time.monotonic() + 60
    while True:
        lines = dev.serial_lines()[before:]
        done = [m for m in lines if m["t"] == "ok" and m.get("cmd") == "sync"]
        if done:
            return [m for m in lines if m["t"] == "log"], done[0]["data"]
        assert time.monotonic() < end, "no sync reply"
        time.sleep(0.1)


@pytest.mark.slow
def test_monitor_over_socket_stores_what_the_board_found_across_a_drop_and_a_restart(tmp_path: Path) -> None:
    """monitor --port socket://: every episode once in the store after the board is killed (the connection
    drops) and boots again; boot 2, played whole, holds exactly the episodes replay (detect) finds."""
    import io

    from signals import emg
    from test_monitor_e2e import check_store_matches, in_thread, wait_for

    from spasmcore.recording import read_recording, write_recording
    from spasmwatch.engine.detect import detect
    from spasmwatch.monitor import Monitor, PlainSink
    from spasmwatch.store import Store

    rec = tmp_path / "many.csv"
    bursts = [(1.0 + 1.5 * k, 1.0 + 1.5 * k + 0.3, 150.0) for k in range(19)]
    write_recording(rec, RATE, [emg(SECONDS, RATE, bursts, seed=11)], units="counts", mode="raw")
    port = free_port()
    net = {"ssid": "virtual", "tcp_port": port, "token": TOKEN}
    from spasmcore.tools import find_tool

    dev = NetDevice(rec, tmp_path / "board", net, str(find_tool("micropython")), speed=SPEED, status_s=1)
    url = f"socket://127.0.0.1:{port}?token={TOKEN}"
    out = io.StringIO()
    dev.start()
    dev.wait_listening(port)
    try:
        with Store(tmp_path / "events.sqlite3") as store:
            mon = Monitor(store, url, sink=PlainSink(out), probe_s=0.4, dead_s=1.2)
            mon.connect()

            def played_and_stored() -> bool:
                """A status of boot 2 (over USB) says the whole recording played; the store holds its eseq."""
                done = [m for m in dev.serial_lines() if m["t"] == "status" and m["boot"] == 2
                        and m["samples"] >= SECONDS * RATE]
                return bool(done) and not mon.syncing and mon.policy.synced_to >= done[0]["eseq"]

            def chaos() -> None:
                try:
                    wait_for(lambda: len(mon.state.recent) >= 3, "3 events before the power cut")
                    dev.kill()  # power cut: the TCP connection drops with it
                    wait_for(lambda: mon.client is None, "the monitor to find the connection gone")
                    dev.start()
                    dev.wait_listening(port)
                    wait_for(played_and_stored, "boot 2 played whole and stored", timeout=120)
                finally:
                    mon.stop()

            t, errors = in_thread(chaos)
            mon.run()
            t.join()
            assert not errors, errors
            logs, done = device_log(dev)
            # the board goes on logging after the recording (its ADC holds the last count: a flat-line fault
            # starts and ends): the store must match the log up to the newest record the monitor stored
            cut = store.last_seq(mon.device_id or "")
            logs = [m for m in logs if m["eseq"] <= cut]
            rows = check_store_matches(store, logs, {**done, "last": cut}, last_boot="2")
            assert mon.counts["reconnects"] >= 1
    finally:
        dev.stop()
    x = read_recording(rec).channels[0]
    want = [e for e in detect(x, RATE, "raw", {"mains_hz": 50}, channel=0) if e.kind != "fault"]
    # (episodes only, as `want`: after the recording the virtual ADC holds its last count, a dead-line fault)
    boot2 = sorted((r for r in rows if r.boot_id == "2" and r.state == "closed" and r.kind != "fault"),
                   key=lambda r: r.onset_ms)
    assert len(want) >= 15 and len(boot2) == len(want)
    for e, r in zip(want, boot2, strict=True):
        assert r.kind == e.kind and abs(r.onset_ms - e.onset_s * 1000) <= 1


def stored_all(db: Path, mon: subprocess.Popen[str], n: int, timeout: float = 120) -> None:
    """Until the monitor's database holds n closed episodes (read-only, beside the running monitor)."""
    import sqlite3

    from spasmcore.errors import FatalError
    from spasmwatch.store import ReadOnlyStore

    end = time.monotonic() + timeout
    while True:
        assert mon.poll() is None and time.monotonic() < end, "the monitor stored fewer episodes"
        if db.is_file():
            try:
                with ReadOnlyStore(db) as store:
                    if sum(r.kind != "fault" for r in store.events(states=("closed",))) >= n:
                        return
            except (sqlite3.Error, FatalError):  # the monitor is still creating it
                pass
        time.sleep(0.2)


@pytest.mark.slow
def test_cli_device_tcp_and_monitor_socket(tmp_path: Path) -> None:
    """`spasmwatch device --tcp` and `spasmwatch monitor --port socket://`: the example's 3 episodes stored."""
    from spasmwatch.store import Store

    port = free_port()
    env = {**os.environ, transport.TOKEN_ENV: TOKEN}
    cli = [sys.executable, "-m", "spasmwatch.cli"]
    db = tmp_path / "events.sqlite3"
    dev = subprocess.Popen(cli + ["device", "--example", "--speed", "0", "--tcp", f"127.0.0.1:{port}",
                                  "--token", TOKEN], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 60
        while True:  # the device prints its port once it boots; the TCP server follows with the virtual Wi-Fi
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert dev.poll() is None and time.monotonic() < end, dev.stdout.read() if dev.stdout else ""
                time.sleep(0.1)
        mon = subprocess.Popen(cli + ["monitor", "--port", f"socket://127.0.0.1:{port}", "--db", str(db),
                                      "--seconds", "120", "--plain"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        try:
            stored_all(db, mon, 3)  # then Ctrl-C, instead of waiting out --seconds
            mon.send_signal(signal.SIGINT)
            _, err = mon.communicate(timeout=60)
        finally:
            if mon.poll() is None:
                mon.kill()
        assert mon.returncode == 0, err
        got = subprocess.run(cli + ["config", "get", "--port", f"socket://127.0.0.1:{port}", "name"], env=env,
                             capture_output=True, text=True, timeout=120)  # `config` over the network too
        assert got.returncode == 0 and "spasmwatch" in got.stdout, got.stdout + got.stderr
    finally:
        dev.terminate()
        dev.wait(20)
    with Store(db) as store:
        rows = store.events(states=("open", "closed", "abandoned"))
    assert sorted(r.kind for r in rows) == ["clonus", "tonic", "twitch"]
