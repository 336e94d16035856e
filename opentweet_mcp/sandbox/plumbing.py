"""The HTTP plumbing every endpoint shares: the `api` wrapper (authentication, rate limits,
`Rejected` turned into the API's error shape), request parsing (`json_body`, `page_args`,
`account_param`), pagination, and the `SandboxApp` Starlette app with fault injection and the
request log wrapped around it. Endpoint modules and `control.py` build on this one."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from opentweet_mcp.sandbox.faults import FaultsAndLog
from opentweet_mcp.sandbox.rules import Rejected, bad
from opentweet_mcp.sandbox.state import Sandbox, User

Handler = Callable[[Sandbox, User, Request], Awaitable[Any]]


def error(status: int, message: str, code: str, **extra: Any) -> JSONResponse:
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra.pop("retry_after"))
    return JSONResponse({"error": message, "code": code, **extra}, status, headers=headers)


def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, rate-limit, run the handler, and turn `Rejected` into an error answer."""

    async def endpoint(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        auth = request.headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or not key or " " in key.strip():
            return error(
                401, "Missing or invalid Authorization header (Bearer <api key>)", "unauthorized"
            )
        user = sandbox.user(key.strip())
        try:
            sandbox.rate_limit(user)
            # "Add x_account_id to any ... GET query parameter": it must name one of the
            # user's accounts wherever it appears; the handlers that filter by it do so.
            user.account(request.query_params.get("x_account_id"))
            result = await handler(sandbox, user, request)
        except Rejected as exc:
            return error(exc.status, exc.message, exc.code, **exc.extra)
        if isinstance(result, Response):
            return result
        status, body = result if isinstance(result, tuple) else (200, result)
        return JSONResponse(body, status)

    return endpoint


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise bad("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad("Request body must be a JSON object")
    return body


def page_args(request: Request) -> tuple[int, int]:
    try:
        page = int(request.query_params.get("page", "1"))
        limit = int(request.query_params.get("limit", "20"))
    except ValueError:
        raise bad("page and limit must be whole numbers") from None
    if page < 1 or not 1 <= limit <= 100:
        raise bad("page must be ≥ 1 and limit 1–100")
    return page, limit


def pagination_of(total: int, page: int, limit: int) -> dict[str, int]:
    return {"page": page, "limit": limit, "total": total, "pages": max(1, math.ceil(total / limit))}


def paginate(items: list[Any], page: int, limit: int) -> tuple[list[Any], dict[str, int]]:
    return items[(page - 1) * limit : page * limit], pagination_of(len(items), page, limit)


def account_param(user: User, request: Request) -> str | None:
    account = request.query_params.get("x_account_id")
    if account:
        user.account(account)
    return account


class SandboxApp(Starlette):
    """The Starlette app with fault injection and the request log wrapped around everything,
    Starlette's own middleware included, so a fault can reach uvicorn's transport to drop the
    connection for real (faults.py)."""

    def __init__(self, sandbox: Sandbox, routes: list[Route]) -> None:
        super().__init__(routes=routes, exception_handlers={HTTPException: http_error})
        self.state.sandbox = sandbox
        self._front = FaultsAndLog(super().__call__, store=sandbox.store, faults=sandbox.faults)

    @property
    def sandbox(self) -> Sandbox:
        sandbox: Sandbox = self.state.sandbox
        return sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._front(scope, receive, send)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (unknown path, wrong method) in the API's error shape."""
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error(exc.status_code, str(exc.detail), codes.get(exc.status_code, "invalid_request"))
