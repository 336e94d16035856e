"""Serving MCP over HTTP (streamable HTTP at /mcp, or legacy SSE) for hosted use.

Loaded only for `--transport http|sse`. Every MCP request passes the bearer-token check (when a
token is configured) and the SDK's Host/Origin protection; the OpenTweet key may come per
request in `X-OpenTweet-Key`, so one deployment serves many users. The same app serves the
approvals page under `/approvals/` (Host/Origin checked, each request authorised by its
approval's secret: see `approvals.page`).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from opentweet_mcp.approvals.page import page_app
from opentweet_mcp.config import Settings, is_loopback, is_wildcard
from opentweet_mcp.guard.approvals import PAGE_PATH
from opentweet_mcp.server import OpenTweetServer

MCP_PATH = "/mcp"


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


async def _unauthorized(send: Send) -> None:
    body = json.dumps(
        {
            "error": "unauthorized",
            "message": "send Authorization: Bearer <OPENTWEET_MCP_AUTH_TOKEN>",
        }
    ).encode()
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
        )
    if settings.auth_token:
        app = BearerAuth(app, settings.auth_token)
    mcp_app = app

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PAGE_PATH):
            await pages(scope, receive, send)
        else:
            await mcp_app(scope, receive, send)  # the lifespan too: it runs the MCP server

    return route


def serve_http(server: OpenTweetServer, settings: Settings) -> None:
    config: Any = uvicorn.Config(
        asgi_app(server, settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=settings.log_level == "DEBUG",
    )
    uvicorn.Server(config).run()
