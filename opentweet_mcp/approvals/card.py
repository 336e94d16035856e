"""The MCP Apps approval card (docs/approvals.md; the SDK's `mcp.server.apps`).

Gated tools name one `ui://opentweet/approval` resource: a host that speaks MCP Apps draws it
beside the tool's result, which holds the preview (structured content) and, in the result's
metadata that models do not read, the pending approval's secret. The card's buttons call two
app-only tools (hidden from the model by the host) with that secret; approving carries the
call out at once, through the gated tool itself, and the card shows what happened.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.client.extension import ClientExtension
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID, Apps
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import Field

from opentweet_mcp.approvals.page import approval_html
from opentweet_mcp.results import tool_errors
from opentweet_mcp.services import services
from opentweet_mcp.tools.spec import ToolSpec
from opentweet_mcp.validate import ApprovalId

APPROVAL_URI = "ui://opentweet/approval"
UI_META: dict[str, Any] = {"ui": {"resourceUri": APPROVAL_URI}}
Secret = Annotated[str, Field(max_length=128)]


async def approve_pending(ctx: Context, approval_id: ApprovalId, secret: Secret) -> CallToolResult:
    """Approve a pending request shown in the approval card, and carry it out."""
    svc = services(ctx)
    approvals = svc.guard.approvals
    approval = await approvals.find(approval_id, secret, svc.caller(ctx).key_digest)
    await approvals.decide(approval, "approved", "card")
    arguments = {**approval.arguments, "approval_id": approval.id}
    try:
        result = await ctx.mcp_server.call_tool(approval.tool, arguments, ctx)
    except ToolError as failed:  # the gated call's own refusal, already worded for people
        return CallToolResult(content=[TextContent(type="text", text=str(failed))], is_error=True)
    if not isinstance(result, CallToolResult):
        raise ToolError("the approved call asked for more input; approve it again")
    return result


async def decline_pending(ctx: Context, approval_id: ApprovalId, secret: Secret) -> CallToolResult:
    """Decline a pending request shown in the approval card; nothing is sent."""
    svc = services(ctx)
    approvals = svc.guard.approvals
    approval = await approvals.find(approval_id, secret, svc.caller(ctx).key_digest)
    await approvals.decide(approval, "declined", "card")
    text = f"Declined: {approval.preview.get('action')}. Nothing was sent."
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content={"status": "declined"}
    )


class AppsClient(ClientExtension):
    """What a client that draws MCP Apps declares (for `opentweet-mcp tools`, which lists
    what such a host is offered, and for tests and scripts that play one)."""

    identifier = EXTENSION_ID

    def settings(self) -> dict[str, Any]:
        return {"mimeTypes": [APP_MIME_TYPE]}


def apps_extension() -> Apps:
    """The card's resource and its two app-only tools, as an MCP Apps extension."""
    apps = Apps()
    apps.add_html_resource(
        APPROVAL_URI,
        approval_html(),
        name="approval",
        title="Approve what goes out",
        description="The preview of what a call would send to X, with Approve and Decline",
        prefers_border=True,
    )
    for spec in (
        ToolSpec(approve_pending, "Approve", destructive=True, idempotent=True),
        ToolSpec(decline_pending, "Decline", idempotent=True),
    ):
        apps.tool(
            resource_uri=APPROVAL_URI,
            visibility=["app"],
            name=spec.name,
            description=spec.fn.__doc__,
            annotations=spec.annotations(),
        )(tool_errors(spec.fn))
    return apps
