"""The `/_sandbox/` control endpoints for tests and demos (docs/sandbox.md): fault rules, the
request log, reset, a scheduler run, and the knobs. They take no API key, and fault injection
and the request log pass them by (those see only `/api/` paths, faults.py); each drives the
`Sandbox` directly."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from opentweet_mcp.sandbox.plumbing import error, json_body
from opentweet_mcp.sandbox.rules import Rejected
from opentweet_mcp.sandbox.state import Sandbox


async def control_faults(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    if request.method == "DELETE":
        sandbox.faults.clear()
        return JSONResponse({"success": True})
    try:
        sandbox.add_fault(**(await json_body(request)))
    except Rejected as exc:
        return error(exc.status, exc.message, "invalid_fault")
    except (ValueError, TypeError) as exc:
        return error(400, str(exc), "invalid_fault")
    return JSONResponse({"success": True}, 201)


async def control_requests(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    public = [
        {k: v for k, v in r.items() if not k.startswith("_")} for r in sandbox.store.requests()
    ]
    return JSONResponse({"requests": public})


async def control_reset(request: Request) -> Response:
    request.app.state.sandbox.reset()
    return JSONResponse({"success": True})


async def control_scheduler(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        body = await json_body(request)
        now = body.get("now")
        return JSONResponse({"success": True, **sandbox.scheduler(str(now) if now else None)})
    except ValueError:
        return error(400, "now must be an ISO 8601 date", "invalid_request")
    except Rejected as exc:
        return error(exc.status, exc.message, exc.code)


async def control_config(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        config = sandbox.configure(**(await json_body(request)))
    except Rejected as exc:
        return error(exc.status, exc.message, exc.code)
    except ValueError as exc:
        return error(400, str(exc), "invalid_config")
    return JSONResponse({"success": True, "config": config})
