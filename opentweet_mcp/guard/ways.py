"""How a gated call is approved, from the configured policy and what the client declared
(docs/approvals.md).

A person's channel is preferred whenever the client offers one, in this order: an MCP Apps
card (`card`), a form the client shows (`form`), a page the client opens (`url`). Without one,
`auto` falls back to an agent-held token, and `person` to a pending approval answered on the
approvals page or with `opentweet-mcp approvals` (`page`); `elicit` refuses.
"""

from __future__ import annotations

from typing import Any, Literal

from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver import Context
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from opentweet_mcp.config import ConfirmMode

Way = Literal["card", "form", "url", "page", "token", "refuse"]


def _can_ask(ctx: Context[Any, Any]) -> bool:
    """A request can reach the client: the 2026 era rides the call itself; the handshake
    era needs a back-channel (stdio, stateful HTTP)."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return True
    session = ctx.session
    return bool(session is not None and session.can_send_request)


def offered(ctx: Context[Any, Any]) -> set[Way]:
    """The person channels this client offers on this request."""
    ways: set[Way] = set()
    if client_supports_apps(ctx):
        ways.add("card")
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    if elicitation is not None and _can_ask(ctx):
        if elicitation.form is not None or elicitation.url is None:  # bare {} means form
            ways.add("form")
        # the SDK asks for a URL only over a back-channel (no 2026-era form of it)
        if elicitation.url is not None and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            ways.add("url")
    return ways


_FALLBACK: dict[str, Way] = {"auto": "token", "person": "page", "elicit": "refuse"}


def choose(confirm: ConfirmMode, ctx: Context[Any, Any]) -> Way:
    if confirm == "token":
        return "token"
    ways = offered(ctx)
    order: tuple[Way, ...] = ("form", "url") if confirm == "elicit" else ("card", "form", "url")
    return next((way for way in order if way in ways), _FALLBACK[confirm])
