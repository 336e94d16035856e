"""Account tools: who the key belongs to, its plan and limits, and its connected X accounts."""

from typing import Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from opentweet_mcp.api import operations as ops
from opentweet_mcp.long_posts import reports_long_posts
from opentweet_mcp.results import success
from opentweet_mcp.services import services
from opentweet_mcp.tools.spec import ToolSpec, declare

TOOLS: list[ToolSpec] = []


def _account_line(account: dict[str, Any]) -> str:
    primary = " (primary)" if account.get("is_primary") else ""
    long = " — long posts (X Premium)" if reports_long_posts(account) else ""
    cross = account.get("cross_post")
    also = (
        f" — cross-posts to {', '.join(map(str, cross))}"
        if isinstance(cross, list) and cross
        else ""
    )
    return f"{account.get('x_handle', '?')}{primary} id {account.get('id', '?')}{long}{also}"


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@declare(TOOLS, "Get account", read_only=True)
async def get_account(ctx: Context) -> CallToolResult:
    """Plan, daily limits and connected X accounts; check it first."""
    caller = services(ctx).caller(ctx)
    data = await caller.client.send(ops.get_account())
    caller.facts.learn(data)
    sub = _object(data.get("subscription"))
    limits = _object(data.get("limits"))
    trial = " (trial)" if sub.get("is_trialing") is True else ""
    lines = [
        f"Authenticated: {data.get('authenticated')}. Plan {sub.get('plan', '?')}{trial}, "
        f"status {sub.get('status', '?')}, has_access {sub.get('has_access')}."
    ]
    if limits:
        lines.append(
            f"Posts today: {limits.get('posts_today', '?')} of {limits.get('daily_limit', '?')}, "
            f"remaining {limits.get('remaining_posts_today', '?')}, "
            f"can_post {limits.get('can_post')}."
        )
    if data.get("scheduler"):  # the X provider: whether scheduled posts will go out
        lines.append(f"Scheduler: {data['scheduler']}.")
    stats = _object(data.get("stats"))
    if stats:
        lines.append(
            f"Posts: {stats.get('total_posts', '?')} in all — {stats.get('scheduled_posts', '?')} "
            f"scheduled, {stats.get('posted_posts', '?')} posted, "
            f"{stats.get('draft_posts', '?')} drafts."
        )
    accounts = data.get("x_accounts") or data.get("accounts") or []
    if accounts:
        lines.append("X accounts: " + "; ".join(_account_line(a) for a in accounts))
    return success("\n".join(lines), data)


@declare(TOOLS, "List X accounts", read_only=True)
async def list_accounts(ctx: Context) -> CallToolResult:
    """Connected X accounts and their ids."""
    caller = services(ctx).caller(ctx)
    data = await caller.client.send(ops.list_accounts())
    caller.facts.learn(data)
    accounts = data.get("accounts") or []
    summary = f"{len(accounts)} X account(s): " + "; ".join(_account_line(a) for a in accounts)
    return success(summary, data)
