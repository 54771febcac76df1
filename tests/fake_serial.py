"""A scripted serial device on a pseudo-terminal, for link and deploy tests."""

from __future__ import annotations

import os
import select
import threading
import tty
from collections.abc import Callable


def fake_serial_device(reply: Callable[[bytes], bytes | None]) -> tuple[str, Callable[[], None]]:
    """A pty whose other end answers what it reads with reply(data)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            r, _, _ = select.select([master], [], [], 0.05)
            if r:
                out = reply(os.read(master, 1024))
                if out:
                    os.write(master, out)

    t = threading.Thread(target=serve, daemon=True)
    t.start()

    def close() -> None:
        stop.set()
        t.join()
        os.close(master)
        os.close(slave)

    return os.ttyname(slave), close
