"""Account tools: who the key belongs to, its plan and limits, and its connected X accounts."""

from typing import Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from opentweet_mcp.results import success
from opentweet_mcp.services import services
from opentweet_mcp.tools.spec import ToolSpec, declare

TOOLS: list[ToolSpec] = []


def _account_line(account: dict[str, Any]) -> str:
    primary = " (primary)" if account.get("is_primary") else ""
    return f"{account.get('x_handle', '?')}{primary} id {account.get('id', '?')}"


@declare(TOOLS, "Get account", read_only=True)
async def get_account(ctx: Context) -> CallToolResult:
    """Check the connection first: plan, today's limits, connected X accounts."""
    data = await services(ctx).caller(ctx).client.me()
    sub = data.get("subscription") or {}
    limits = data.get("limits") or {}
    lines = [
        f"Authenticated: {data.get('authenticated')}. Plan {sub.get('plan', '?')}, "
        f"status {sub.get('status', '?')}, has_access {sub.get('has_access')}.",
        f"Posts today: {limits.get('posts_today', '?')} of {limits.get('daily_limit', '?')}, "
        f"remaining {limits.get('remaining_posts_today', '?')}, can_post {limits.get('can_post')}.",
    ]
    accounts = data.get("x_accounts") or data.get("accounts") or []
    if accounts:
        lines.append("X accounts: " + "; ".join(_account_line(a) for a in accounts))
    return success("\n".join(lines), data)


@declare(TOOLS, "List X accounts", read_only=True)
async def list_accounts(ctx: Context) -> CallToolResult:
    """Connected X accounts and their ids (for x_account_id)."""
    data = await services(ctx).caller(ctx).client.accounts()
    accounts = data.get("accounts") or []
    summary = f"{len(accounts)} X account(s): " + "; ".join(_account_line(a) for a in accounts)
    return success(summary, data)
