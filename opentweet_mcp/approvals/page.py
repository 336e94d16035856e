"""The approvals page: a person approves or declines a pending approval in a browser
(docs/approvals.md).

The stdio server serves it on loopback from a small listener started on first need; an HTTP
deployment serves the same routes in its own app. A link is `<base>/approvals/<id>#<secret>`:
the page is a static shell whose script reads the secret from the fragment (a browser never
sends it to a server, so it stays out of logs and Referer headers) and sends it in a header
to read the preview, and in the body to answer. An answer is a JSON POST whose Origin must be
the page's own and which carries the token the preview handed out (CSRF); the first answer
stands. The link never appears in anything the model reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
from collections.abc import Awaitable, Callable, Iterator
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from mcp.server.transport_security import (
    RequestBodyLimitMiddleware,
    TransportSecurityMiddleware,
    TransportSecuritySettings,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from opentweet_mcp.guard.approvals import PAGE_PATH, ApprovalRefused, PendingApproval
from opentweet_mcp.guard.confirm import Guard
from opentweet_mcp.text.visible import visible

SECRET_HEADER = "x-approval-secret"
MAX_ANSWER = 4096  # bytes: an answer is a verdict and two tokens
STATUS = {"unknown": 404, "forged": 403, "expired": 410, "decided": 409, "refused": 403}
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "img-src https: data: 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
}


@cache
def approval_html() -> str:
    """The one approval UI, drawn by the MCP Apps card and by the page alike."""
    return files("opentweet_mcp.approvals").joinpath("approval.html").read_text("utf-8")


def _refused(code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "code": code}, STATUS[code], headers=HEADERS)


async def state_of(guard: Guard, approval: PendingApproval) -> dict[str, Any]:
    """Where an approval stands, with the outcome's text once carried out (made safe)."""
    state, result = await guard.state(approval)
    data: dict[str, Any] = {"state": state}
    if result is not None:
        said = "\n".join(getattr(block, "text", "") for block in result.content)
        data |= {"outcome": visible(said), "is_error": result.is_error}
    return data


LOOPBACK = TransportSecuritySettings(
    allowed_hosts=["127.0.0.1:*", "localhost:*"],
    allowed_origins=["http://127.0.0.1:*", "http://localhost:*"],
)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def page_app(guard_of: Callable[[], Guard], security: TransportSecuritySettings) -> ASGIApp:
    """The page's routes, served wherever `guard_of()` gives the running server's gate.

    They are not behind the deployment's bearer token, which a person's browser does not
    hold: each request is authorised by the approval's own secret instead (unguessable, one
    approval, expiring, answered once). Host and Origin pass the same DNS-rebinding checks as
    the MCP endpoint."""
    checks = TransportSecurityMiddleware(security)
    Handler = Callable[[Request], Awaitable[Response]]

    def checked(handler: Handler) -> Handler:
        async def run(request: Request) -> Response:
            refused = await checks.validate_request(request, is_post=request.method == "POST")
            return refused if refused is not None else await handler(request)

        return run

    async def found(request: Request, secret: str) -> PendingApproval:
        return await guard_of().approvals.find(request.path_params["id"], secret)

    async def shell(request: Request) -> Response:
        return HTMLResponse(
            approval_html().replace('data-mode="card"', 'data-mode="page"', 1), headers=HEADERS
        )

    async def view(request: Request) -> Response:
        try:
            approval = await found(request, request.headers.get(SECRET_HEADER, ""))
        except ApprovalRefused as refused:
            return _refused(refused.code, str(refused))
        body = {
            "id": approval.id,
            "tool": approval.tool,
            "preview": approval.preview,
            "expires_at": approval.expires_at,
            "csrf": approval.csrf,
            **await state_of(guard_of(), approval),
        }
        return JSONResponse(body, headers=HEADERS)

    async def answer(request: Request) -> Response:
        try:
            given = await request.json()
        except ValueError:
            return _refused("refused", "send the answer as JSON")
        if not isinstance(given, dict) or given.get("verdict") not in ("approved", "declined"):
            return _refused("refused", "answer with verdict approved or declined")
        try:
            approval = await found(request, str(given.get("secret", "")))
            page = _origin(approval.page or str(request.base_url))
            if request.headers.get("origin") != page:
                raise ApprovalRefused("answers come from the approval page itself", "refused")
            csrf = given.get("csrf")
            if not isinstance(csrf, str) or not hmac.compare_digest(
                csrf.encode(), approval.csrf.encode()
            ):
                raise ApprovalRefused("the page's token is missing or wrong", "refused")
            await guard_of().approvals.decide(approval, given["verdict"], "page")
        except ApprovalRefused as refused:
            return _refused(refused.code, str(refused))
        return JSONResponse(await state_of(guard_of(), approval), headers=HEADERS)

    async def state(request: Request) -> Response:
        try:
            approval = await found(request, request.headers.get(SECRET_HEADER, ""))
        except ApprovalRefused as refused:
            return _refused(refused.code, str(refused))
        return JSONResponse(await state_of(guard_of(), approval), headers=HEADERS)

    app = Starlette(
        routes=[
            Route(PAGE_PATH + "{id}", checked(shell), methods=["GET"]),
            Route(PAGE_PATH + "{id}/view", checked(view), methods=["GET"]),
            Route(PAGE_PATH + "{id}/answer", checked(answer), methods=["POST"]),
            Route(PAGE_PATH + "{id}/state", checked(state), methods=["GET"]),
        ]
    )
    return RequestBodyLimitMiddleware(app, MAX_ANSWER)


class PageListener:
    """The page on loopback for a server that has no HTTP app of its own (stdio): started the
    first time a call needs it, in the server's own event loop, stopped with the server."""

    def __init__(self, guard_of: Callable[[], Guard]) -> None:
        self._guard_of = guard_of
        self._url: str | None = None
        self._lock = asyncio.Lock()
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    async def url(self) -> str:
        async with self._lock:
            if self._url is None:
                self._url = await self._start()
            return self._url

    async def _start(self) -> str:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield  # the process's signals belong to the MCP server, not to this page

        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listening.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            page_app(self._guard_of, LOOPBACK),
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self._server = Server(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[listening]))
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.01)
        return f"http://127.0.0.1:{listening.getsockname()[1]}"

    async def aclose(self) -> None:
        if self._task is not None and self._server is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await self._task
