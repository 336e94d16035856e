"""Evergreen tools: the pool of timeless posts the scheduler republishes as clones, its
settings, and the history of what it published. Adding to the pool is gated: what enters it
goes out again and again. Settings, pausing and removal arm no new content."""

import re
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import AfterValidator, Field

from opentweet_mcp.api import operations as ops
from opentweet_mcp.api.shapes import is_evergreen, unwrap_post
from opentweet_mcp.guard.plan import Plan
from opentweet_mcp.guard.publication import EVERGREEN, Publication, armed_at, outgoing
from opentweet_mcp.results import describe_post, success
from opentweet_mcp.services import services
from opentweet_mcp.tools.spec import ToolSpec, declare
from opentweet_mcp.validate import (
    AccountId,
    CooldownDays,
    InvalidArguments,
    IsThread,
    Limit,
    MediaUrls,
    Page,
    PostId,
    StateRefused,
    ThreadTweets,
    TweetText,
    check_thread,
    drop_none,
    platforms_field,
)

TOOLS: list[ToolSpec] = []
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _check_times(times: list[str]) -> list[str]:
    for value in times:
        if not _HHMM.fullmatch(value):
            raise ValueError(f"posting time {value!r} is not 24-hour HH:mm, e.g. 09:00 or 17:30")
    if len(set(times)) != len(times):
        raise ValueError("posting_times has the same time twice")
    return times


PostingTimes = Annotated[
    list[str],
    Field(min_length=1, max_length=24, description='"HH:mm" list'),
    AfterValidator(_check_times),
]


def _inner(data: dict[str, Any], key: str) -> dict[str, Any]:
    """The object under `key` when the response wraps it there, else the response itself."""
    value = data.get(key)
    return value if isinstance(value, dict) else data


def _pool_line(item: dict[str, Any]) -> str:
    state = "paused" if item.get("paused") else "active"
    return (
        f"{describe_post(item)}; cooldown {item.get('cooldown_days')} d, posted "
        f"{item.get('times_posted', 0)}×, last {item.get('last_posted_at') or 'never'}, {state}"
    )


def _settings_summary(data: dict[str, Any]) -> str:
    settings = _inner(data, "settings")
    parts = [
        f"Evergreen {'enabled' if settings.get('enabled') else 'disabled'}",
        f"{settings.get('posts_per_day')} post(s)/day at {settings.get('posting_times')}",
        f"default cooldown {settings.get('default_cooldown_days')} days",
    ]
    for key in ("pool", "stats", "limits", "plan_limits"):
        if data.get(key):
            parts.append(f"{key}: {data[key]}")
    return "; ".join(parts)


@declare(TOOLS, "Get evergreen settings", read_only=True)
async def get_evergreen_settings(ctx: Context) -> CallToolResult:
    """Evergreen queue settings, pool counts and plan limits."""
    data = await services(ctx).caller(ctx).client.send(ops.get_evergreen_settings())
    return success(_settings_summary(data), data)


@declare(TOOLS, "Update evergreen settings", idempotent=True)
async def update_evergreen_settings(
    ctx: Context,
    enabled: Annotated[bool | None, Field(description="Queue on or off")] = None,
    posts_per_day: Annotated[int | None, Field(ge=1, le=50, description="Capped by plan")] = None,
    posting_times: PostingTimes | None = None,
    default_cooldown_days: CooldownDays | None = None,
) -> CallToolResult:
    """Change the given evergreen queue settings."""
    body = drop_none(
        {
            "enabled": enabled,
            "posts_per_day": posts_per_day,
            "posting_times": posting_times,
            "default_cooldown_days": default_cooldown_days,
        }
    )
    if not body:
        raise InvalidArguments("nothing to change: give at least one setting")
    data = await services(ctx).caller(ctx).client.send(ops.update_evergreen_settings(body))
    summary = "Updated. " + _settings_summary(data)
    settings = _inner(data, "settings")
    if posts_per_day and settings.get("posts_per_day") not in (None, posts_per_day):
        summary += f" (posts_per_day capped to {settings['posts_per_day']} by the plan)"
    return success(summary, data)


@declare(TOOLS, "List evergreen pool", read_only=True)
async def list_evergreen_posts(
    ctx: Context,
    page: Page | None = None,
    limit: Limit | None = None,
    paused: Annotated[bool | None, Field(description="Paused or active only")] = None,
    x_account_id: AccountId | None = None,
) -> CallToolResult:
    """The evergreen pool with cooldowns, times posted and paused state."""
    caller = services(ctx).caller(ctx)
    data = await caller.client.send(
        ops.list_evergreen_posts(
            page=page, limit=limit, paused=paused, x_account_id=caller.account(x_account_id)
        )
    )
    items = data.get("posts") or data.get("items") or data.get("data") or []
    lines = [f"{len(items)} evergreen post(s):", *[f"- {_pool_line(i)}" for i in items]]
    return success("\n".join(lines), data)


@declare(TOOLS, "Add to evergreen pool", destructive=True, gated=True, idempotency_key=True)
async def add_to_evergreen(
    ctx: Context,
    post_id: Annotated[PostId | None, Field(description="An existing post")] = None,
    text: Annotated[TweetText | None, Field(description="Or new text")] = None,
    category: Annotated[str | None, Field(description="e.g. Tips")] = None,
    is_thread: IsThread | None = None,
    thread_tweets: ThreadTweets | None = None,
    media_urls: MediaUrls | None = None,
    cooldown_days: CooldownDays | None = None,
    x_account_id: AccountId | None = None,
) -> Plan:
    """Add a post or new text to the evergreen queue, which republishes it."""
    if (post_id is None) == (text is None):
        raise InvalidArguments(
            "give exactly one of post_id (convert an existing post) or text (a new one)"
        )
    if post_id is not None and (category or is_thread or thread_tweets or media_urls):
        raise InvalidArguments("category, is_thread, thread_tweets and media_urls go with text")
    check_thread(is_thread, thread_tweets, None)
    caller = services(ctx).caller(ctx)
    account = caller.account(x_account_id)
    body = drop_none(
        {
            "post_id": post_id,
            "text": text,
            "category": category,
            "is_thread": is_thread if is_thread is not None else (True if thread_tweets else None),
            "thread_tweets": thread_tweets,
            "media_urls": media_urls,
            "cooldown_days": cooldown_days,
            "x_account_id": account,
        }
    ) | platforms_field(None)
    request = ops.add_to_evergreen(body)

    async def read() -> Publication:
        if post_id is None:
            item = outgoing(body, EVERGREEN, cooldown_days=cooldown_days)
            return Publication("add a new post to the evergreen queue", (item,))
        post = unwrap_post(await caller.client.send(ops.get_post(post_id, x_account_id=account)))
        if is_evergreen(post):
            raise StateRefused(f"post {post_id} is already in the evergreen queue")
        item = outgoing(
            post | platforms_field(None),
            EVERGREEN,
            post_id=post_id,
            was=armed_at(post),
            cooldown_days=cooldown_days,
        )
        return Publication(f"add post {post_id} to the evergreen queue", (item,))

    async def perform() -> CallToolResult:
        data = await caller.client.send(request)
        post = _inner(data, "post")
        return success(f"Added to the evergreen pool: {_pool_line(post)}", data)

    posts = (post_id,) if post_id is not None else ()
    texts = (text, *(thread_tweets or ())) if text is not None else ()
    return Plan(
        "add_to_evergreen", caller, perform, read, posts=posts, named_account=account, texts=texts
    )


@declare(TOOLS, "Get evergreen post", read_only=True)
async def get_evergreen_post(
    ctx: Context, id: PostId, x_account_id: AccountId | None = None
) -> CallToolResult:
    """An evergreen post with its last 5 clones and their X urls."""
    caller = services(ctx).caller(ctx)
    data = await caller.client.send(
        ops.get_evergreen_post(id, x_account_id=caller.account(x_account_id))
    )
    post = _inner(data, "post")
    recent = data.get("recent_posts") or post.get("recent_posts") or []
    lines = [_pool_line(post), f"{len(recent)} recent clone(s):"]
    lines += [f"- {r.get('posted_date') or r.get('posted_at')}: {r.get('url')}" for r in recent]
    return success("\n".join(lines), data)


@declare(TOOLS, "Update evergreen post", idempotent=True)
async def update_evergreen_post(
    ctx: Context,
    id: PostId,
    cooldown_days: CooldownDays | None = None,
    paused: Annotated[bool | None, Field(description="Pause or resume")] = None,
    x_account_id: AccountId | None = None,
) -> CallToolResult:
    """Set an evergreen post's cooldown or pause it."""
    caller = services(ctx).caller(ctx)
    body = drop_none({"cooldown_days": cooldown_days, "paused": paused})
    if not body:
        raise InvalidArguments("nothing to change: give cooldown_days or paused")
    body |= drop_none({"x_account_id": caller.account(x_account_id)})
    data = await caller.client.send(ops.update_evergreen_post(id, body))
    post = _inner(data, "post")
    return success(f"Updated: {_pool_line(post)}", data)


@declare(TOOLS, "Remove from evergreen pool", idempotent=True)
async def remove_from_evergreen(
    ctx: Context, id: PostId, x_account_id: AccountId | None = None
) -> CallToolResult:
    """Take a post out of the evergreen pool; it becomes a draft."""
    caller = services(ctx).caller(ctx)
    data = await caller.client.send(
        ops.remove_from_evergreen(id, x_account_id=caller.account(x_account_id))
    )
    return success(
        f"Removed post {id} from the evergreen pool; it is a draft again (not deleted).", data
    )


@declare(TOOLS, "Evergreen history", read_only=True)
async def get_evergreen_history(
    ctx: Context,
    page: Page | None = None,
    limit: Limit | None = None,
    source_id: Annotated[PostId | None, Field(description="One source's clones")] = None,
    x_account_id: AccountId | None = None,
) -> CallToolResult:
    """Clones the evergreen queue published, newest first."""
    caller = services(ctx).caller(ctx)
    data = await caller.client.send(
        ops.get_evergreen_history(
            page=page, limit=limit, source_id=source_id, x_account_id=caller.account(x_account_id)
        )
    )
    items = data.get("history") or data.get("posts") or data.get("data") or []
    lines = [f"{len(items)} published clone(s):", *[f"- {describe_post(i)}" for i in items]]
    return success("\n".join(lines), data)
