"""Serving the page with uvicorn: in a background thread of ``spectssp watch``, or alone.

The socket is bound here, before uvicorn runs, so a bad address or a port in use is one
error sentence (not a thread dying later), and port 0 gives a free port we can log. uvicorn's
access log is off: a request line could carry ``?token=``; the page's own addresses carry
only opaque study keys.
"""
from __future__ import annotations

import errno
import logging
import socket
import threading
import time

import uvicorn

from processor.config import Section
from processor.web.app import create_app
from processor.web.auth import Guard
from spectssp.errors import ConfigError

log = logging.getLogger(__name__)


class WebServer:
    """A bound socket and the uvicorn server that will answer on it."""

    def __init__(self, cfg: Section, host: str | None = None, port: int | None = None) -> None:
        web = cfg.web
        self.host = web.host if host is None else host
        Guard(web).check_bind(self.host)       # refuses before anything listens
        self.sock = _bind(self.host, web.port if port is None else port)
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(create_app(cfg), log_config=None, access_log=False, lifespan="off",
                                server_header=False, timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def serve(self) -> None:
        """Serve in this thread until :meth:`stop` (or Ctrl-C / SIGTERM when this is the main thread)."""
        log.info("status page at %s", self.url)
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def start(self) -> "WebServer":
        """Serve in a daemon thread; returns once it answers."""
        self._thread = threading.Thread(target=self.serve, name="spectssp-web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise ConfigError(f"the status page could not start on {self.url}; see the log file.")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise ConfigError(f"setting 'web.host' is {host!r}, which is not an address of this machine.") from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        why = "is in use by another program" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
        raise ConfigError(f"the status page's address {host}:{port} (settings 'web.host', 'web.port') {why}.") from None
    sock.setblocking(False)
    return sock
