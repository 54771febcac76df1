"""One connection to a board as the store records it: the open client, the `links` row, disconnect and reboot gaps."""

from __future__ import annotations

import time

from spasmcore.errors import FatalError, LinkError
from spasmwatch.link.client import Client
from spasmwatch.store import Store

LINK_SEEN_S = 10.0  # how often the link session's last_seen_at is refreshed in the store

Who = tuple[str | None, str | None]  # (device id, boot id)


class LinkSession:
    """The open client (None between connections), whether the device answers (`connected`), and what the
    store keeps of it: the `links` row of this session and the gap while the device was away.

    `wall` arguments are host wall-clock seconds (the store's times), `now` the monitor's monotonic clock.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.client: Client | None = None
        self.connected = False
        self.link_id: int | None = None
        self.last_seen_store = 0.0  # `now` of the last refresh of the row's last_seen_at
        self.last_rx_wall = self.prev_rx_wall = time.time()  # wall time of the latest line and the one before
        self.gap_start: float | None = None  # wall time the device went away
        self.gap_reason = ""
        self.revived = False  # the device came back after silence: its gap is already recorded

    @property
    def port(self) -> str | None:
        return self.client.port if self.client is not None else None

    def send(self, name: str, *args: object) -> None:
        """A command to the board, if one is open."""
        if self.client is not None:
            self.client.send(name, *args)

    def opened(self, client: Client, wall: float) -> None:
        self.client, self.connected, self.last_rx_wall = client, True, wall

    def heard(self, wall: float) -> None:
        self.prev_rx_wall, self.last_rx_wall = self.last_rx_wall, wall

    def went_away(self, reason: str) -> None:
        """The device stopped answering (or its port vanished): the session's row ends, a gap starts."""
        self.connected = False
        self.gap_start, self.gap_reason = self.last_rx_wall, reason
        self._end_row(reason)

    def drop(self) -> None:
        """Let go of the port (a reconnection opens a new client)."""
        if self.client is not None:
            self.client.close()
            self.client = None

    def came_back(self, wall: float, now: float, who: Who) -> None:
        """A line from a device that had gone silent on the same open port: a new row, its gap recorded."""
        self.connected = True
        self.link_id = self.store.link_open(self.port, who[0], wall)
        self.last_seen_store = now
        if self.gap_start is not None and who[0] is not None:
            self.store.add_gap("disconnect", self.gap_start, wall, device_id=who[0], boot_id=who[1],
                               detail=self.gap_reason)
            self.gap_start = None
        self.revived = True

    def hello(self, old: Who, new: tuple[str, str], wall: float, now: float, fresh_link: bool) -> None:
        """A hello: the row opened (or its device filled in), and the gap a reboot or an absence left."""
        dev, boot = new
        if fresh_link or self.link_id is None:
            self.link_id = self.store.link_open(self.port, dev, wall)
            self.last_seen_store = now
        else:
            self.store.link_seen(self.link_id, wall, device_id=dev)
        if old[0] == dev and old[1] not in (None, boot) and not fresh_link and not self.revived:
            self.store.add_gap("reboot", self.prev_rx_wall, wall, device_id=dev, boot_id=boot,
                               detail=f"device restarted (boot {old[1]} -> {boot})")
        if self.gap_start is not None:
            self.store.add_gap("disconnect", self.gap_start, wall, device_id=dev, boot_id=boot,
                               detail=self.gap_reason)
            self.gap_start = None
        self.revived = False

    def other_device(self, old: Who, dev: str, wall: float, fresh_link: bool, port: str | None) -> None:
        """Another board answered on the port: the first one's absence and session end where it began."""
        if self.gap_start is not None:  # the first device went away and has not come back
            self.store.add_gap("disconnect", self.gap_start, wall, device_id=old[0], boot_id=old[1],
                               detail=f"{self.gap_reason}; then device {dev} answered on {port}")
            self.gap_start = None
        if not fresh_link and self.link_id is not None:  # same open port: the session so far was the old one's
            self.store.link_close(self.link_id, wall, reason=f"device {dev} answered instead")
            self.link_id = None
        self.revived = False

    def seen(self, device_id: str | None, now: float) -> None:
        """Refresh the row's last_seen_at every LINK_SEEN_S (a killed host leaves the session's end there)."""
        if self.link_id is not None and now - self.last_seen_store > LINK_SEEN_S:
            self.last_seen_store = now
            self.store.link_seen(self.link_id, device_id=device_id)

    def close(self, reason: str, stream_env: bool) -> None:
        """Leave the board as we found it, let go of the port, and end the row."""
        if self.client is not None:
            try:
                if stream_env and self.connected:
                    self.client.send("stream env", False)
            except LinkError:
                pass
            self.drop()
        try:
            self._end_row(reason)
        except FatalError:  # a full disk or read-only file: the error that stopped us says so already
            pass
        self.connected = False

    def _end_row(self, reason: str) -> None:
        if self.link_id is not None:
            link_id, self.link_id = self.link_id, None
            self.store.link_close(link_id, reason=reason)
