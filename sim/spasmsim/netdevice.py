"""Network settings for the virtual device: `spasmwatch device --tcp HOST:PORT --mqtt URL` as the board's `net`
config (the firmware's own netconfig validates it), written into the virtual flash before a boot."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from spasmcore.errors import ConfigError

LOCAL_HOSTS = ("127.0.0.1", "localhost")  # the virtual Wi-Fi's address (firmware/unix/rom_network.py)
VIRTUAL_SSID = "virtual"  # any SSID but "nowhere" joins the virtual Wi-Fi at once


def new_token() -> str:
    """A token for a virtual device started without --token (printed, so a client can use it)."""
    return secrets.token_urlsafe(12)


def parse_tcp(spec: str) -> int:
    """The port of --tcp HOST:PORT; HOST must be this machine's loopback (the virtual Wi-Fi's address)."""
    host, sep, port = spec.rpartition(":")
    if not sep or host not in LOCAL_HOSTS:
        raise ConfigError(f"--tcp {spec}: use 127.0.0.1:PORT (the virtual board listens on this machine only)")
    try:
        n = int(port)
    except ValueError:
        n = 0
    if not 1 <= n <= 65535:
        raise ConfigError(f"--tcp {spec}: the port must be 1..65535")
    return n


def net_config(tcp: str | None = None, mqtt: str | None = None, token: str | None = None,
               read_open: bool = False) -> dict:
    """The board's `net` object for these options, validated by the firmware's netconfig; {} when both are off."""
    if not tcp and not mqtt:
        return {}
    from spasmfw import netconfig

    net: dict = {"ssid": VIRTUAL_SSID}
    if tcp:
        net.update({"tcp_port": parse_tcp(tcp), "token": token or new_token(), "read_open": read_open})
    if mqtt:
        net["mqtt"] = mqtt
    try:
        return dict(netconfig.validate(net))
    except ValueError as exc:
        raise ConfigError(str(exc).replace("net.mqtt", "--mqtt").replace("net.token", "--token")) from None


def apply(state_dir: Path, net: dict) -> None:
    """Put `net` into STATE/config.json (after prepare_state wrote it); {} turns the network off again."""
    path = Path(state_dir) / "config.json"
    cfg = json.loads(path.read_text())
    if net:
        cfg["net"] = net
    else:
        cfg.pop("net", None)
    from spasmfw import config as fwconfig

    try:
        fwconfig.save(str(path), cfg)
    except ValueError as exc:
        raise ConfigError(f"the firmware refuses this network config: {exc}") from None
