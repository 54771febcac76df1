"""A network board that wants its token says so, and how to give it (issue 22, item 12)."""

from __future__ import annotations

import pytest

from spasmcore.errors import LinkError
from spasmfw import protocol
from spasmwatch.link.client import Client, DeviceError


class TokenBoard:
    """Answers every command as the firmware's tcpserve does for a client that sent no `auth TOKEN`."""

    def __init__(self, msg: str) -> None:
        self.msg, self.out, self.seq = msg, [], 0
        self.port = "socket://192.0.2.7:7878"

    def read_lines(self, timeout: float = 0.05) -> list[bytes]:
        out, self.out = self.out, []
        return out

    def write(self, data: bytes) -> None:
        name, _ = protocol.parse_command(data)
        self.seq += 1
        line = protocol.encode("error", self.seq, {"cmd": name, "msg": self.msg.replace("%s", name)})
        self.out.append(line.rstrip(b"\n"))

    def close(self) -> None:
        pass


def client(msg: str) -> Client:
    return Client(TokenBoard(msg))  # type: ignore[arg-type]  # a Link's read_lines/write/close/port


@pytest.mark.parametrize("msg", ["%s needs the token over the network: send `auth TOKEN` first",
                                 "another host is connected: send `auth TOKEN` first to take over"])
def test_hello_refused_for_want_of_the_token_says_how_to_give_it(msg: str) -> None:
    """It said "no reply to `hello`: the board is not running the spasmwatch firmware", which sent users to
    re-flash a board that only wanted its token."""
    with pytest.raises(LinkError) as err:
        client(msg).hello(timeout=0.5)
    text = str(err.value)
    assert "wants the board's token" in text and "SPASMWATCH_TOKEN" in text and "?token=" in text
    assert "192.0.2.7:7878" in text and "not running the spasmwatch firmware" not in text


def test_hello_refused_for_another_reason_is_the_device_s_own_words() -> None:
    with pytest.raises(DeviceError, match="refused `hello`: busy"):
        client("busy").hello(timeout=0.5)

