"""Building tool results: a short summary from the real response beside the structured data,
and the one place where errors become the text a model reads (docs/architecture.md).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import SkipJsonSchema

from opentweet_mcp.api.errors import OpenTweetError
from opentweet_mcp.api.shapes import deliveries
from opentweet_mcp.guard.approvals import ApprovalRefused
from opentweet_mcp.guard.ledger import DailyLimitReached, IdempotencyConflict, PostBusy
from opentweet_mcp.guard.tokens import ConfirmationRefused
from opentweet_mcp.validate import InvalidArguments, StateRefused

log = logging.getLogger("opentweet_mcp.tools")

P = ParamSpec("P")
R = TypeVar("R")


class Out(BaseModel):
    """An output schema: the fields a result is known to carry; upstream JSON passes through.

    Declared only where the shape is ours to know (gated results, upload, compose): the guide
    leaves the other response shapes open (docs/architecture.md), and a guessed schema would make
    clients reject a valid answer while costing tokens on every turn."""

    model_config = ConfigDict(extra="allow")


class GatedOut(Out):
    """Either the performed result (upstream JSON), or what approval needs: status
    "confirmation_required" (a preview and a token) or "approval_pending" (a preview and an
    approval_id). Only `status` is spelled out, and never as null: this schema is read on
    every turn, and the instructions say the rest once."""

    status: str | SkipJsonSchema[None] = None


def success(summary: str, data: Mapping[str, Any] | list[Any]) -> CallToolResult:
    structured = dict(data) if isinstance(data, Mapping) else {"result": data}
    return CallToolResult(
        content=[TextContent(type="text", text=summary)], structured_content=structured
    )


def describe_post(post: Mapping[str, Any]) -> str:
    """One line naming the post's real id, status, date and URL, as the response gave them."""
    parts = [f"post {post.get('id', '?')}", f"status {post.get('status', '?')}"]
    if post.get("isEvergreen"):
        parts.append("evergreen source")
    if post.get("scheduled_date"):
        parts.append(f"scheduled for {post['scheduled_date']}")
    if post.get("url"):
        parts.append(f"url {post['url']}")
    delivered = deliveries([post])
    if delivered:
        parts.append("networks: " + ", ".join(f"{d.platform} {d.status or '?'}" for d in delivered))
    text = str(post.get("text") or "")
    if text:
        parts.append(f'"{preview_text(text)}"')
    on_x = post.get("on_x")
    if isinstance(on_x, list) and on_x:  # part of a thread that stopped (--provider x)
        parts.append("on X: " + " ".join(map(str, on_x)))
    if post.get("may_be_on_x"):
        parts.append(f"MAY be on X: {post['may_be_on_x']}")
    if post.get("error") and post.get("status") != "posted":
        parts.append(f"error: {preview_text(str(post['error']), 160)}")
    if post.get("warning"):  # the X provider: no scheduler running to publish it
        parts.append(f"WARNING: {post['warning']}")
    return ", ".join(parts)


def preview_text(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


USER_ERRORS = (
    OpenTweetError,
    InvalidArguments,
    StateRefused,
    ConfirmationRefused,
    ApprovalRefused,
    IdempotencyConflict,
    DailyLimitReached,
    PostBusy,
)


def error_message(exc: Exception) -> str:
    """The text after the SDK's own "Error executing tool <name>: " prefix."""
    if isinstance(exc, InvalidArguments):
        return f"invalid arguments, nothing was sent: {exc}"
    if isinstance(exc, ConfirmationRefused):
        return f"confirmation refused, nothing was sent: {exc}"
    if isinstance(exc, ApprovalRefused):
        return f"approval refused, nothing was sent: {exc}"
    if isinstance(exc, IdempotencyConflict | DailyLimitReached | StateRefused | PostBusy):
        return f"refused, nothing was sent: {exc}"
    return str(exc)


def tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn the errors a model should read into ToolError, so their text reaches it.

    Any other exception is a bug: the SDK hides its message from the model and logs it.
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except USER_ERRORS as exc:
            log.info("%s: %s", fn.__name__, type(exc).__name__)
            raise ToolError(error_message(exc)) from exc

    return wrapper
