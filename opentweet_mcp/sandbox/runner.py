"""Serving the sandbox: in a background thread on a free loopback port (tests, `--sandbox`),
or in the foreground (`opentweet-mcp sandbox`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
import time
from types import TracebackType
from typing import Any, Self, TextIO

import uvicorn

from opentweet_mcp.sandbox.app import Sandbox, SandboxApp, create_app

DEMO_KEY = "pro_sandbox_demo"
PORT_COUNTER = "sandbox:port"  # where a file-backed sandbox remembers the port it served on


class BackgroundServer:
    """An ASGI app served by uvicorn on its own loop in a daemon thread, on `sock` (bound by
    the caller, so `base_url` is known before `start()`)."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        self._socket = sock
        host, self.port = sock.getsockname()[:2]
        self.base_url = (
            f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"
        )
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            # stop() must not hang on a request held by a long injected delay
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._socket])),
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._thread = None
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve in the foreground (the `opentweet-mcp sandbox` command) until interrupted."""
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(self._server.serve(sockets=[self._socket]))


def tcp_socket(host: str) -> socket.socket:
    """A listening-to-be TCP socket. proto must be IPPROTO_TCP (not 0): asyncio only sets
    TCP_NODELAY on accepted sockets that say so, and without it every keep-alive response
    waits ~40 ms for a delayed ACK."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


class SandboxServer(BackgroundServer):
    """The sandbox in the background (port 0 = a free one).

    A file-backed sandbox asked for any port takes the one it served on last time when that is
    free, so the media URLs it handed out (`http://127.0.0.1:<port>/media/…`) keep working from
    one `opentweet-mcp call --sandbox DB` to the next."""

    def __init__(self, db: str = ":memory:", host: str = "127.0.0.1", port: int = 0) -> None:
        self.app: SandboxApp = create_app(db)
        self.host = host
        sock = tcp_socket(host)
        store = self.sandbox.store
        remembered = store.count(PORT_COUNTER) if db != ":memory:" else 0
        try:
            sock.bind((host, port or remembered))
        except OSError:
            if port or not remembered:
                raise
            sock.bind((host, 0))
        bound = sock.getsockname()[1]
        if db != ":memory:" and bound != remembered:
            store.bump(PORT_COUNTER, bound - remembered)
        super().__init__(self.app, sock)
        self.sandbox.base_url = self.base_url

    @property
    def sandbox(self) -> Sandbox:
        """The controls in Python (same object as `app.state.sandbox`)."""
        return self.app.sandbox


def banner(server: SandboxServer, db: str) -> str:
    """What `opentweet-mcp sandbox` tells the user: where it listens and a key to try."""
    return (
        f"OpenTweet sandbox at {server.base_url}  (state in {db})\n"
        f"Demo key: {DEMO_KEY}  (a key's prefix picks its plan: see docs/sandbox.md)\n"
        f"Try: curl -H 'Authorization: Bearer {DEMO_KEY}' {server.base_url}/api/v1/me\n"
    )


def main_sandbox(host: str, port: int, db: str, out: TextIO | None = None) -> None:
    """Serve the sandbox in the foreground until interrupted, after writing the banner to
    stdout (command output for the user, not a log line)."""
    server = SandboxServer(db=db, host=host, port=port)
    stream = out or sys.stdout
    stream.write(banner(server, db))
    stream.flush()
    server.serve_forever()
