"""Analytics tools: posting stats, per-tweet engagement (Advanced plan), and best times to
post, including a fresh engagement analysis that can be waited for with progress."""

import time
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from opentweet_mcp.api import operations as ops
from opentweet_mcp.api.errors import Forbidden
from opentweet_mcp.results import success
from opentweet_mcp.services import services
from opentweet_mcp.tools.spec import ToolSpec, declare
from opentweet_mcp.validate import AccountId

TOOLS: list[ToolSpec] = []

ANALYSIS_WAIT_SECONDS = 90.0
POLL_INTERVAL_SECONDS = 1.0


@declare(TOOLS, "Analytics overview", read_only=True)
async def get_analytics_overview(
    ctx: Context, x_account_id: AccountId | None = None
) -> CallToolResult:
    """Posting stats, streaks, trends, categories and recent activity."""
    caller = services(ctx).caller(ctx)
    data = await caller.client.send(
        ops.get_analytics_overview(x_account_id=caller.account(x_account_id))
    )
    stats = data.get("stats") or data.get("posting_stats") or data
    streaks = data.get("streaks") or {}
    summary = (
        f"Total posts {stats.get('total_posts', '?')}, publishing rate "
        f"{stats.get('publishing_rate', '?')}, avg {stats.get('avg_posts_per_week', '?')}/week, "
        f"most active {stats.get('most_active_day', '?')} "
        f"at {stats.get('most_active_hour', '?')}h; "
        f"streak {streaks.get('current', '?')} (longest {streaks.get('longest', '?')})."
    )
    return success(summary, data)


@declare(TOOLS, "Tweet analytics", read_only=True)
async def get_tweet_analytics(
    ctx: Context,
    period: Annotated[
        Annotated[int, Field(ge=7, le=365)] | Literal["all"] | None,
        Field(description='Days 7–365 or "all"'),
    ] = None,
    x_account_id: AccountId | None = None,
) -> CallToolResult:
    """Per-tweet engagement, top and worst tweets, best hours (Advanced plan)."""
    caller = services(ctx).caller(ctx)
    try:
        data = await caller.client.send(
            ops.get_tweet_analytics(period=period, x_account_id=caller.account(x_account_id))
        )
    except Forbidden as exc:
        exc.hint = "Advanced plan required: tweet engagement analytics are not in this plan."
        raise
    tweets = data.get("tweets") or []
    top = data.get("top_performers") or data.get("top") or []
    summary = f"{len(tweets)} tweet(s) in period {period or 'default'}."
    if top:
        best = top[0]
        summary += f" Top: {best.get('url') or best.get('id')} ({best.get('likes', '?')} likes)."
    return success(summary, data)


def _best_times_summary(data: dict[str, Any]) -> str:
    mode = data.get("mode") or data.get("analysis_mode") or "unknown"
    if mode == "engagement_weighted":
        windows = data.get("top_windows") or []
        return (
            f"Mode engagement_weighted (from real engagement): best day {data.get('best_day')}, "
            f"best hour {data.get('best_hour')}, confidence {data.get('confidence')}; "
            f"top windows {windows[:3]}."
        )
    return (
        f"Mode {mode} (from when you posted, not engagement; run analyze_best_times for "
        f"engagement-weighted results): best hours {data.get('best_hours')}, "
        f"best days {data.get('best_days')}."
    )


@declare(TOOLS, "Best posting times", read_only=True)
async def get_best_times(ctx: Context, x_account_id: AccountId | None = None) -> CallToolResult:
    """Best hours to post, engagement_weighted or frequency_only."""
    caller = services(ctx).caller(ctx)
    data = await caller.client.send(ops.get_best_times(x_account_id=caller.account(x_account_id)))
    return success(_best_times_summary(data), data)


@declare(TOOLS, "Analyze best times")
async def analyze_best_times(
    ctx: Context,
    x_account_id: AccountId | None = None,
    wait: Annotated[bool, Field(description="Until ready")] = False,
) -> CallToolResult:
    """Start a fresh engagement analysis (cooldown between runs)."""
    caller = services(ctx).caller(ctx)
    account = caller.account(x_account_id)
    data = await caller.client.send(
        ops.analyze_best_times({"x_account_id": account} if account else {})
    )
    profile = data.get("profile") or {}
    status = profile.get("status")
    if not wait or status != "analyzing":
        return success(f"Analysis status: {status}.", data)
    deadline = time.monotonic() + ANALYSIS_WAIT_SECONDS
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        await ctx.report_progress(polls, None, "analyzing recent tweets")
        await anyio.sleep(POLL_INTERVAL_SECONDS)
        times = await caller.client.send(ops.get_best_times(x_account_id=account))
        current = (times.get("profile") or {}).get("status") or (
            "ready" if times.get("mode") == "engagement_weighted" else "analyzing"
        )
        if current != "analyzing":
            await ctx.report_progress(polls, polls, current)
            return success(f"Analysis {current}. {_best_times_summary(times)}", times)
    return success(
        f"Analysis still running after {ANALYSIS_WAIT_SECONDS:.0f} s; call get_best_times later.",
        data,
    )
