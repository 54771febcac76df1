"""The protocol over TCP (firmware/tcpserve.py, net.py, wifi.py): the real firmware under the unix port with
the virtual Wi-Fi, real sockets on localhost; garbage, the token, a host that keeps its link, Wi-Fi going away."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import pytest
from net_runner import NetDevice, TcpClient, free_port

pytestmark = [pytest.mark.micropython, pytest.mark.timeout(180)]
EXAMPLE = Path(str(resources.files("spasmwatch") / "examples" / "example_raw.csv"))  # 60 s, 3 episodes
TOKEN = "t0ken-for-tests"
GARBAGE = [b"foo\n", b"config set\n", b"sync -1\n", b"stream env maybe\n", b"config set params.sensitivity=0.001\n",
           b"calibrate rest 0\n", b"x" * 1000 + b"\n", b"\x01\x02abc\n", b"\xff\xfe\n", b"log\n"]


def device(tmp_path: Path, micropython_bin: str, **net: object) -> tuple[NetDevice, int]:
    port = free_port()
    cfg = {"ssid": "virtual", "tcp_port": port, "token": TOKEN, **net}
    return NetDevice(EXAMPLE, tmp_path / "board", cfg, micropython_bin, speed=0, status_s=1), port


def authed(port: int) -> TcpClient:
    c = TcpClient(port)
    r = c.ask(f"auth {TOKEN}\n".encode())
    assert r["t"] == "ok" and r["cmd"] == "auth", r
    return c


def errors_after(msgs: list[dict], start: int) -> list[tuple[object, str]]:
    return [(m["cmd"], m["msg"]) for m in msgs if m["seq"] >= start and m["t"] == "error"]


def test_garbage_gets_the_same_error_replies_as_serial(tmp_path: Path, micropython_bin: str) -> None:
    dev, port = device(tmp_path, micropython_bin)
    with dev:
        c = authed(port)
        over_tcp = []
        for line in GARBAGE:
            r = c.ask(line)
            assert r["t"] == "error", (line, r)
            over_tcp.append((r["cmd"], r["msg"]))
        mark = c.seen[-1]["seq"] + 1
        for line in GARBAGE:
            dev.serial_write(line)
        c.wait(lambda m: m["t"] == "error" and m["msg"] == over_tcp[-1][1])  # the tee brings serial's replies
        assert errors_after(c.seen, mark) == over_tcp
        assert ("unknown command: foo (try help)" in {m for _, m in over_tcp}
                and "line too long" in {m for _, m in over_tcp})
        # one stream: from the auth reply on, the TCP client got every line the serial port got, in order
        seqs = [m["seq"] for m in c.seen if m["seq"] >= c.seen[0]["seq"]]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        serial = {m["seq"]: m for m in dev.serial_lines()}
        assert all(serial[m["seq"]] == m for m in c.seen)
        assert c.ask(b"ping\n")["t"] == "ok"  # and the device still answers


def test_token_needed_refusals_logged_and_nothing_leaks(tmp_path: Path, micropython_bin: str) -> None:
    dev, port = device(tmp_path, micropython_bin)
    with dev:
        c = TcpClient(port)
        for line, name in ((b"hello\n", "hello"), (b"status\n", "status"), (b"sync 0\n", "sync"),
                           (b"config set name=intruder\n", "config set"), (b"log clear\n", "log clear"),
                           (b"reboot\n", "reboot"), (b"calibrate rest 5\n", "calibrate rest")):
            r = c.ask(line)
            assert r["t"] == "error" and r["cmd"] == name and "needs the token" in r["msg"], r
        heard = c.quiet(2.5)  # status_s=1: the serial port gets heartbeats meanwhile, this client must not
        assert not [m for m in heard if m["t"] in ("status", "hello", "onset", "end", "log")], heard
        wrong = c.ask(b"auth not-the-token\n")
        assert wrong["t"] == "error" and wrong["cmd"] == "auth"
        assert wrong["msg"] == "wrong token from 127.0.0.1 (1 since boot)"
        assert c.ask(f"auth {TOKEN}\n".encode())["msg"] == "too many wrong tokens: wait 2 s"  # no fast guessing
        end = time.monotonic() + 30
        while (r := c.ask(f"auth {TOKEN}\n".encode()))["t"] != "ok":  # a refused try does not extend the wait
            assert r["msg"] == "too many wrong tokens: wait 2 s" and time.monotonic() < end, r
            time.sleep(0.2)
        cfg = c.ask(b"config get\n")["data"]
        assert cfg["name"] == "spasmwatch"  # the refused config set changed nothing
        assert c.ask(b"config set name=trusted\n")["data"]["saved"] is True
        assert c.ask(b"config get\n")["data"]["name"] == "trusted"
        logged = [m for m in dev.serial_lines() if m["t"] == "error"]
        assert {"cmd": "auth", "msg": wrong["msg"]} in [{"cmd": m["cmd"], "msg": m["msg"]} for m in logged]
        assert sum("needs the token" in m["msg"] for m in logged) == 7


def test_read_open_lets_reads_through_but_not_changes(tmp_path: Path, micropython_bin: str) -> None:
    dev, port = device(tmp_path, micropython_bin, read_open=True)
    with dev:
        c = TcpClient(port)
        hello = c.ask(b"hello\n", ("hello", "error"))
        assert hello["t"] == "hello" and hello["boot"] == 1
        assert c.ask(b"status\n", ("status", "error"))["t"] == "status"
        assert c.ask(b"ping\n")["t"] == "ok"
        for line in (b"config set name=intruder\n", b"log clear\n", b"reboot\n", b"calibrate mvc 3\n"):
            r = c.ask(line)
            assert r["t"] == "error" and "needs the token" in r["msg"], r
        assert c.ask(b"foo\n")["msg"] == "unknown command: foo (try help)"
        assert c.ask(b"hello\n", ("hello",))["boot"] == 1  # not rebooted, not renamed
        assert c.seen[-1]["name"] == "spasmwatch"


def closed_after(c: TcpClient, line: bytes) -> list[dict]:
    """Send one line on a connection and read until the board closes it: what it said meanwhile."""
    c.send(line)
    end = time.monotonic() + 15
    while not c.closed and time.monotonic() < end:
        c.poll()
    assert c.closed, "the board kept the connection open"
    return c.seen


def test_an_authenticated_host_keeps_its_link_until_the_token_takes_it_over(tmp_path: Path,
                                                                            micropython_bin: str) -> None:
    dev, port = device(tmp_path, micropython_bin)
    with dev:
        a = authed(port)
        assert a.ask(b"hello\n", ("hello",))["boot"] == 1
        said = closed_after(TcpClient(port, source="127.0.0.2"), b"config set name=b\n")  # no token: refused
        assert [m["msg"] for m in said] == ["another host is connected: send `auth TOKEN` first to take over"]
        assert not a.closed and a.ask(b"ping\n")["t"] == "ok"  # the host kept its link
        idle, t0 = TcpClient(port, source="127.0.0.4"), time.monotonic()  # connects and says nothing
        while not idle.closed and time.monotonic() < t0 + 20:
            idle.poll()
        assert idle.closed and time.monotonic() - t0 >= 4.5 and idle.seen == []  # closed after 5 s, silently
        assert not a.closed and a.ask(b"ping\n")["t"] == "ok"
        b = TcpClient(port)  # the host itself, back after its Wi-Fi dropped (the old link half-open)
        assert b.ask(f"auth {TOKEN}\n".encode())["t"] == "ok"
        end = time.monotonic() + 15
        while not a.closed and time.monotonic() < end:
            a.poll()
        assert a.closed, "the old connection was not closed"
        assert b.ask(b"hello\n", ("hello",))["boot"] == 1
        assert b.ask(b"config set name=b\n")["data"]["saved"] is True


def test_guessing_from_elsewhere_neither_displaces_nor_delays_the_host(tmp_path: Path, micropython_bin: str) -> None:
    dev, port = device(tmp_path, micropython_bin)
    with dev:
        host = authed(port)
        first = closed_after(TcpClient(port, source="127.0.0.2"), b"auth not-the-token\n")
        assert [m["msg"] for m in first] == ["wrong token from 127.0.0.2 (1 since boot)"]
        t0, quick = time.monotonic(), 0
        for _ in range(5):  # the guesser's address is held for 2 s: closed at once, without a word
            said = closed_after(TcpClient(port, source="127.0.0.2"), b"auth guess-again\n")
            if time.monotonic() - t0 < 1.5:  # (a slow machine may pass the 2 s: only count what is surely within)
                quick += 1
                assert said == []
        assert quick >= 1
        heard = host.quiet(2.5)  # status_s=1: the host's stream went on throughout
        assert sum(m["t"] == "status" for m in heard) >= 2 and not host.closed
        assert host.ask(b"ping\n")["t"] == "ok"
        back = TcpClient(port, source="127.0.0.3")  # the real host reconnecting from its address: no 2 s wait
        assert back.ask(f"auth {TOKEN}\n".encode())["t"] == "ok"
        assert back.ask(b"status\n", ("status",))["t"] == "status"


def test_wifi_loss_keeps_sampling_and_the_server_comes_back(tmp_path: Path, micropython_bin: str) -> None:
    port = free_port()
    net = {"ssid": "virtual", "tcp_port": port, "token": TOKEN}
    with NetDevice(EXAMPLE, tmp_path / "board", net, micropython_bin, speed=1, loop=True, status_s=1) as dev:
        c = authed(port)
        before = c.ask(b"status\n", ("status",))["samples"]
        (tmp_path / "board" / "wifi.off").write_text("")  # the access point goes out of range
        end = time.monotonic() + 15
        while not c.closed and time.monotonic() < end:
            c.poll()
        assert c.closed, "the server kept its socket with the link down"
        end = time.monotonic() + 30
        while True:  # sampling and USB output go on without Wi-Fi
            beats = [m for m in dev.serial_lines() if m["t"] == "status"]
            if beats and beats[-1]["samples"] > before:
                break
            assert time.monotonic() < end, beats[-1:]
            time.sleep(0.1)
        (tmp_path / "board" / "wifi.off").unlink()
        c = authed(port)  # TcpClient retries connecting for up to 15 s: the back-off rejoins within that
        assert c.ask(b"status\n", ("status",))["samples"] > beats[-1]["samples"]
