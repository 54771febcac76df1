"""Serve the dashboard app with uvicorn on a socket bound here (port 0: any free one), foreground or thread."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any

from spasmcore.errors import ConfigError, InputError
from spasmwatch.dashboard.app import create_app

DEFAULT_LISTEN = "127.0.0.1:8765"


def parse_listen(text: str) -> tuple[str, int]:
    """`127.0.0.1:8765`, `0.0.0.0:8765`, `[::1]:8765`, `:8765` (localhost) or a bare port."""
    text = text.strip()
    host, _, port = text.rpartition(":") if ":" in text else ("", "", text)
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        raise ConfigError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8765") from None
    if not 0 <= number <= 65535:
        raise ConfigError(f"--listen {text!r}: port must be 0..65535")
    return host, number


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = " (another dashboard? try --listen 127.0.0.1:0 for any free port)" if exc.errno == 98 else ""
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


class Dashboard:
    """The app over `db` on `listen`; a token is made (and required) unless the address is loopback."""

    def __init__(self, db: str | Path, listen: str = DEFAULT_LISTEN, *, live: Any = None,
                 token: str | None = None) -> None:
        self.db = Path(db).expanduser()
        if not self.db.is_file():
            raise InputError(f"no event database at {self.db} (record one with `spasmwatch monitor`, or give --db)")
        self.host, port = parse_listen(listen)
        self.token = None if is_loopback(self.host) else (token or secrets.token_urlsafe(18))
        self.live = live
        self.app = create_app(self.db, token=self.token, listen_host=self.host, live=live)
        self.sock = bind(self.host, port)
        self.port = self.sock.getsockname()[1]
        self.thread: threading.Thread | None = None
        self.server: Any = None

    @property
    def url(self) -> str:
        """The address to open (with the token when one is needed)."""
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        shown = f"[{shown}]" if ":" in shown else shown
        return f"http://{shown}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def _server(self) -> Any:
        import uvicorn

        live = self.live

        class Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: Any) -> None:
                if live is not None:  # open event streams would hold the shutdown until cancelled
                    live.end_streams()
                super().handle_exit(sig, frame)

        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=2, ws="none")
        self.server = Server(config)
        return self.server

    def serve(self) -> None:
        """In the foreground until Ctrl-C (uvicorn handles the signal)."""
        self._server().run(sockets=[self.sock])

    def start(self) -> str:
        """In a thread; returns once the server accepts requests."""
        server = self._server()
        self.thread = threading.Thread(target=server.run, kwargs={"sockets": [self.sock]}, name="dashboard",
                                       daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30  # generous: a loaded 2-core CI machine
        while not server.started and time.monotonic() < deadline and self.thread.is_alive():
            time.sleep(0.02)
        if not server.started:
            raise RuntimeError("the dashboard server did not start")
        return self.url

    def request_stop(self) -> None:
        """Ask the server to finish (from any thread), as Ctrl-C does."""
        if self.live is not None:
            self.live.end_streams()
        if self.server is not None:
            self.server.should_exit = True

    def stop(self) -> None:
        self.request_stop()
        if self.thread is not None:
            self.thread.join(15)
        self.sock.close()
