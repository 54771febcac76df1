"""Device time per boot, across lines: a boot's clock only goes forward (wire.py checks each line alone)."""

from __future__ import annotations

from spasmwatch.link import wire


class Clocks:
    """Device time may only go forward within a boot: a `status` whose uptime_ms is below the last one of the
    same device and boot is refused (WireError kind "time"). A hello starts its boot afresh (a re-flashed
    board counts its boots from 1 again)."""

    def __init__(self) -> None:
        self._uptime: dict[tuple[str | None, int | None], int] = {}
        self._device: str | None = None
        self._boot: int | None = None

    def check(self, msg: wire.Message) -> None:
        if isinstance(msg, wire.Hello):
            self._device, self._boot = msg.id, msg.boot
            self._uptime.pop((msg.id, msg.boot), None)
        elif isinstance(msg, wire.Status):
            key = (self._device, self._boot if msg.boot is None else msg.boot)
            last = self._uptime.get(key, 0)
            if msg.uptime_ms < last:
                raise wire.WireError(f"status: uptime_ms {msg.uptime_ms} went back from {last} within boot "
                                     f"{key[1]}", "time")
            self._uptime[key] = msg.uptime_ms
