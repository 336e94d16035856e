"""Serving MCP over HTTP (streamable HTTP at /mcp, or legacy SSE) for hosted use.

Loaded only for `--transport http|sse`. Every MCP request passes the bearer-token check (when a
token is configured), the SDK's Host/Origin protection and body-size limit, and the user-key
rule (`users.py`): without a server key, every request brings its own in `X-OpenTweet-Key`, so
one deployment serves many users. The same app serves the approvals page under `/approvals/`
(Host/Origin checked, each request authorised by its approval's secret: see `approvals.page`).

`--workers N` runs N processes of the same app (uvicorn's own process manager): stateless
streamable HTTP, with approvals, tokens and budgets in the shared ledger (Redis, or the SQLite
file in the state folder) and one secret for all of them.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import os
import socket
from pathlib import Path
from typing import Any

import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.supervisors import Multiprocess

from opentweet_mcp.api.errors import OpenTweetError
from opentweet_mcp.approvals.page import page_app
from opentweet_mcp.config import ConfigError, Settings, is_loopback, is_wildcard
from opentweet_mcp.guard.approvals import PAGE_PATH
from opentweet_mcp.server import OpenTweetServer, build_server
from opentweet_mcp.users import api_key_for

MCP_PATH = "/mcp"
MAX_REQUEST_BYTES = 4 * 1024 * 1024  # one MCP request body (the SDK's default, said here)
WORKER_SETTINGS = "OPENTWEET_MCP_WORKER_SETTINGS"  # how the parent hands its settings on


class BearerAuth:
    """Pure ASGI middleware: HTTP requests need `Authorization: Bearer <token>`; lifespan passes."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await _unauthorized(send)
                return
        await self.app(scope, receive, send)


class UserKeys:
    """Pure ASGI middleware: an MCP request without the key it must bring (multi-user), or
    with another than the server's own (single-user), gets 401 before the SDK sees it."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in scope.get("headers") or []
            }
            try:
                api_key_for(self.settings, headers)
            except OpenTweetError as refused:
                await _unauthorized(send, "missing_or_foreign_key", str(refused))
                return
        await self.app(scope, receive, send)


async def _unauthorized(
    send: Send,
    error: str = "unauthorized",
    message: str = "send Authorization: Bearer <OPENTWEET_MCP_AUTH_TOKEN>",
) -> None:
    body = json.dumps({"error": error, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="opentweet-mcp"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection is always on: loopback names plus the configured allow-lists."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", *settings.allowed_hosts]
    if not is_loopback(settings.host) and not is_wildcard(settings.host):
        hosts.append(f"{settings.host}:*")
    origins = [
        "http://127.0.0.1:*",
        "http://localhost:*",
        "http://[::1]:*",
        *settings.allowed_origins,
    ]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def asgi_app(server: OpenTweetServer, settings: Settings) -> ASGIApp:
    security = transport_security(settings)
    pages = page_app(lambda: server.services().guard, security)
    app: ASGIApp
    if settings.transport == "sse":
        app = server.sse_app(transport_security=security, host=settings.host)
    else:
        app = server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=settings.stateless,
            json_response=settings.stateless,
            transport_security=security,
            host=settings.host,
            max_request_body_size=MAX_REQUEST_BYTES,
        )
    app = UserKeys(app, settings)
    if settings.auth_token:
        app = BearerAuth(app, settings.auth_token)
    mcp_app = app

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PAGE_PATH):
            await pages(scope, receive, send)
        else:
            await mcp_app(scope, receive, send)  # the lifespan too: it runs the MCP server

    return route


def serve_http(settings: Settings) -> None:
    """Serve until stopped: in this process, or in `settings.workers` processes."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "access_log": settings.log_level == "DEBUG",
    }
    if settings.workers > 1:
        os.environ[WORKER_SETTINGS] = _encode(settings)
        config = uvicorn.Config(
            f"{__name__}:worker_app", factory=True, workers=settings.workers, **options
        )
        Multiprocess(config, sockets=[_listening(settings)]).run()
        return
    uvicorn.Server(uvicorn.Config(asgi_app(build_server(settings), settings), **options)).run()


def _listening(settings: Settings) -> socket.socket:
    """The socket the workers share, made as uvicorn makes it but with its protocol named:
    accepted connections get TCP_NODELAY only from a socket that says it is TCP (asyncio
    checks), and without it every answer waits ~40 ms for the client's delayed ACK."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {settings.host}:{settings.port}: {exc}") from None
    sock.set_inheritable(True)
    return sock


def worker_app() -> ASGIApp:
    """The app of one worker process, from the settings its parent handed on."""
    settings = _decode(os.environ[WORKER_SETTINGS])
    return asgi_app(build_server(settings), settings)


def _encode(settings: Settings) -> str:
    values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    values["secret"] = settings.secret.hex() if settings.secret else None
    return json.dumps(values, default=str)


def _decode(raw: str) -> Settings:
    values = json.loads(raw)
    for name, value in values.items():
        if isinstance(value, list):
            values[name] = tuple(value)
    values["media_dirs"] = tuple(Path(p) for p in values["media_dirs"])
    values["ledger_path"] = Path(values["ledger_path"]) if values["ledger_path"] else None
    values["secret"] = bytes.fromhex(values["secret"]) if values["secret"] else None
    return Settings(**values)
