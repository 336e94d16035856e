"""Post tools: create (single, thread, bulk), list, read, update, schedule, publish, delete.

Publishing, bulk creation, batch scheduling and deletion go through the confirmation gate.
"""

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, Resolve
from mcp.types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field

from opentweet_mcp.api import operations as ops
from opentweet_mcp.api.errors import OpenTweetError, OutcomeUnknown
from opentweet_mcp.api.shapes import created_posts, is_evergreen, publish_fields, unwrap_post
from opentweet_mcp.guard.confirm import Answer, Plan, Preview, asks_person
from opentweet_mcp.results import (
    GatedOut,
    describe_post,
    preview_text,
    success,
)
from opentweet_mcp.services import Caller, services
from opentweet_mcp.tools.spec import ToolSpec, declare
from opentweet_mcp.validate import (
    MAX_BULK,
    AccountId,
    ConfirmationToken,
    FutureDate,
    IdempotencyKey,
    InvalidArguments,
    Limit,
    MediaUrls,
    Page,
    PostId,
    RetweetOffset,
    StateRefused,
    TweetText,
    check_no_duplicates,
    check_thread,
    drop_none,
)

TOOLS: list[ToolSpec] = []

ThreadTweets = Annotated[list[TweetText], Field(description="Tweets after the first")]
ThreadMedia = Annotated[list[MediaUrls], Field(description="One media list per thread tweet")]


class NewPost(BaseModel):
    # one post of a bulk create (a comment, not a docstring: it would be a schema description)
    model_config = ConfigDict(extra="forbid")
    text: TweetText
    is_thread: bool | None = None
    thread_tweets: ThreadTweets | None = None
    media_urls: MediaUrls | None = None
    thread_media: ThreadMedia | None = None
    scheduled_date: FutureDate | None = None
    community_id: str | None = None
    share_with_followers: bool | None = None
    auto_retweet_enabled: bool | None = None
    auto_retweet_offset_minutes: RetweetOffset | None = None

    def body(self) -> dict[str, Any]:
        check_thread(self.is_thread, self.thread_tweets, self.thread_media)
        body = drop_none(self.model_dump())
        if self.thread_tweets and self.is_thread is None:
            body["is_thread"] = True
        return body


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    post_id: PostId
    scheduled_date: FutureDate


def _tweet_count(body: dict[str, Any]) -> int:
    return 1 + len(body.get("thread_tweets") or [])


def _scheduled_or_unverified(post: dict[str, Any], verb: str) -> str:
    """SPEC §4: report a schedule as done only when the response shows it."""
    if post.get("status") == "scheduled" and post.get("scheduled_date"):
        return f"{verb}: {describe_post(post)}"
    return (
        f"UNVERIFIED — the response does not show status 'scheduled' with a scheduled_date; "
        f"it shows: {describe_post(post)}. Check with get_post before telling the user."
    )


def _published_or_unverified(data: Any) -> str:
    status, x_post_id, url = publish_fields(data)
    if status == "posted" and url:
        return f"Published to X: status posted, x_post_id {x_post_id}, url {url}"
    return (
        f"UNVERIFIED — the response does not show status 'posted' with a url "
        f"(status {status!r}, url {url!r}). Check with get_post before telling the user."
    )


async def _plan_create(
    ctx: Context,
    text: str,
    is_thread: bool | None = None,
    thread_tweets: list[str] | None = None,
    media_urls: list[str] | None = None,
    thread_media: list[list[str]] | None = None,
    scheduled_date: str | None = None,
    publish_now: bool = False,
    community_id: str | None = None,
    share_with_followers: bool | None = None,
    auto_retweet_enabled: bool | None = None,
    auto_retweet_offset_minutes: int | None = None,
    x_account_id: str | None = None,
) -> Plan:
    if publish_now and scheduled_date:
        raise InvalidArguments("publish_now cannot be combined with scheduled_date")
    new = NewPost(
        text=text,
        is_thread=is_thread,
        thread_tweets=thread_tweets,
        media_urls=media_urls,
        thread_media=thread_media,
        scheduled_date=scheduled_date,
        community_id=community_id,
        share_with_followers=share_with_followers,
        auto_retweet_enabled=auto_retweet_enabled,
        auto_retweet_offset_minutes=auto_retweet_offset_minutes,
    )
    caller = services(ctx).caller(ctx)
    account = caller.account(x_account_id)
    body = new.body() | drop_none({"x_account_id": account})
    if publish_now:
        body["publish_now"] = True
    request = ops.create_post(body)

    async def perform() -> CallToolResult:
        data = await caller.client.send(request)
        if publish_now:
            return success(_published_or_unverified(data), data)
        posts = created_posts(data)
        post = posts[0] if posts else {}
        summary = (
            _scheduled_or_unverified(post, "Scheduled")
            if scheduled_date
            else f"Saved as draft: {describe_post(post)}"
        )
        return success(summary, data)

    async def preview() -> Preview:
        lines = [f'Tweet 1: "{preview_text(text, 200)}"']
        lines += [
            f'Tweet {i}: "{preview_text(t, 120)}"'
            for i, t in enumerate(thread_tweets or [], start=2)
        ]
        if media_urls:
            lines.append(f"Media: {len(media_urls)} file(s)")
        return Preview(
            action=f"create and publish {'a thread' if thread_tweets else 'a tweet'} on X now",
            details={"text": text, "thread_tweets": thread_tweets or [], "media_urls": media_urls},
            lines=lines,
        )

    return Plan(
        "create_post",
        caller,
        request,
        account,
        perform,
        preview,
        tweets=_tweet_count(body) if publish_now else 0,
        gated=publish_now,
    )


@declare(TOOLS, "Create post or thread", destructive=True)
async def create_post(
    ctx: Context,
    approval: Annotated[Answer, Resolve(asks_person(_plan_create))],
    text: TweetText,
    is_thread: bool | None = None,
    thread_tweets: ThreadTweets | None = None,
    media_urls: MediaUrls | None = None,
    thread_media: ThreadMedia | None = None,
    scheduled_date: FutureDate | None = None,
    publish_now: Annotated[bool, Field(description="Publish at once (gated)")] = False,
    community_id: str | None = None,
    share_with_followers: bool | None = None,
    auto_retweet_enabled: bool | None = None,
    auto_retweet_offset_minutes: RetweetOffset | None = None,
    x_account_id: AccountId | None = None,
    confirmation_token: ConfirmationToken | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> Annotated[CallToolResult, GatedOut]:
    """Create a draft (no date), a scheduled post (scheduled_date) or publish now (publish_now,
    needs confirmation). A thread is text plus thread_tweets."""
    plan = await _plan_create(
        ctx,
        text,
        is_thread,
        thread_tweets,
        media_urls,
        thread_media,
        scheduled_date,
        publish_now,
        community_id,
        share_with_followers,
        auto_retweet_enabled,
        auto_retweet_offset_minutes,
        x_account_id,
    )
    return await services(ctx).guard.confirmed(
        ctx, plan, token=confirmation_token, idempotency_key=idempotency_key, approval=approval
    )


async def _plan_bulk(ctx: Context, posts: list[NewPost], x_account_id: str | None = None) -> Plan:
    check_no_duplicates([p.text for p in posts])
    bodies = [p.body() for p in posts]
    caller = services(ctx).caller(ctx)
    account = caller.account(x_account_id)
    request = ops.create_post({"posts": bodies} | drop_none({"x_account_id": account}))

    async def preview() -> Preview:
        dates = sorted(b["scheduled_date"] for b in bodies if b.get("scheduled_date"))
        drafts = len(bodies) - len(dates)
        lines = [
            f"{len(bodies)} post(s): {len(dates)} scheduled, {drafts} draft(s)",
            f'First: "{preview_text(bodies[0]["text"])}"',
            f'Last: "{preview_text(bodies[-1]["text"])}"',
        ]
        if dates:
            lines.append(f"Dates from {dates[0]} to {dates[-1]}")
        return Preview(
            action=f"create {len(bodies)} posts",
            details={
                "count": len(bodies),
                "scheduled": len(dates),
                "drafts": drafts,
                "first": preview_text(bodies[0]["text"]),
                "last": preview_text(bodies[-1]["text"]),
                "date_range": [dates[0], dates[-1]] if dates else None,
            },
            lines=lines,
        )

    async def perform() -> CallToolResult:
        await ctx.report_progress(0, 1, f"creating {len(bodies)} posts")
        data = await caller.client.send(request)
        await ctx.report_progress(1, 1, "created")
        created = created_posts(data)
        lines = [f"Created {len(created)} of {len(bodies)} post(s):"]
        lines += [f"- {describe_post(p)}" for p in created]
        if len(created) != len(bodies):
            lines.append(
                "WARNING: the response lists fewer posts than were sent; check list_posts."
            )
        return success("\n".join(lines), data)

    return Plan("bulk_create_posts", caller, request, account, perform, preview)


@declare(TOOLS, "Bulk create posts", destructive=True)
async def bulk_create_posts(
    ctx: Context,
    approval: Annotated[Answer, Resolve(asks_person(_plan_bulk))],
    posts: Annotated[list[NewPost], Field(min_length=1, max_length=MAX_BULK)],
    x_account_id: AccountId | None = None,
    confirmation_token: ConfirmationToken | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> Annotated[CallToolResult, GatedOut]:
    """Create 1–50 drafts or scheduled posts in one request (needs confirmation). Never
    publishes."""
    plan = await _plan_bulk(ctx, posts, x_account_id)
    return await services(ctx).guard.confirmed(
        ctx, plan, token=confirmation_token, idempotency_key=idempotency_key, approval=approval
    )


@declare(TOOLS, "List posts", read_only=True)
async def list_posts(
    ctx: Context,
    status: Literal["scheduled", "posted", "draft", "failed", "evergreen"] | None = None,
    page: Page | None = None,
    limit: Limit | None = None,
    x_account_id: AccountId | None = None,
) -> CallToolResult:
    """List posts, newest first, optionally by status (evergreen = pool sources)."""
    caller = services(ctx).caller(ctx)
    data = await caller.client.list_posts(
        status=status, page=page, limit=limit, x_account_id=caller.account(x_account_id)
    )
    posts = data.get("posts") or []
    pagination = data.get("pagination") or {}
    lines = [
        f"{len(posts)} post(s) (page {pagination.get('page', page or 1)} of "
        f"{pagination.get('pages', '?')}, {pagination.get('total', '?')} in all):"
    ]
    lines += [f"- {describe_post(p)}" for p in posts]
    return success("\n".join(lines), data)


@declare(TOOLS, "Get post", read_only=True)
async def get_post(
    ctx: Context, id: PostId, x_account_id: AccountId | None = None
) -> CallToolResult:
    """Read one post: text, status, dates, X url once posted."""
    caller = services(ctx).caller(ctx)
    data = await caller.client.get_post(id, x_account_id=caller.account(x_account_id))
    return success(describe_post(unwrap_post(data)), data)


@declare(TOOLS, "Update post", destructive=True, idempotent=True)
async def update_post(
    ctx: Context,
    id: PostId,
    text: TweetText | None = None,
    media_urls: MediaUrls | None = None,
    scheduled_date: FutureDate | None = None,
    unschedule: Annotated[bool, Field(description="Back to draft")] = False,
    auto_retweet_enabled: bool | None = None,
    auto_retweet_offset_minutes: RetweetOffset | None = None,
    x_account_id: AccountId | None = None,
) -> CallToolResult:
    """Change an unpublished post; only the fields given change. Published posts can't be
    edited."""
    if unschedule and scheduled_date:
        raise InvalidArguments("unschedule cannot be combined with scheduled_date")
    caller = services(ctx).caller(ctx)
    body = drop_none(
        {
            "text": text,
            "media_urls": media_urls,
            "scheduled_date": scheduled_date,
            "auto_retweet_enabled": auto_retweet_enabled,
            "auto_retweet_offset_minutes": auto_retweet_offset_minutes,
            "x_account_id": caller.account(x_account_id),
        }
    )
    if unschedule:
        body["scheduled_date"] = None
    if not body.keys() - {"x_account_id"}:
        raise InvalidArguments("nothing to change: give at least one field to update")
    data = await caller.client.update_post(id, body)
    post = unwrap_post(data)
    if scheduled_date:
        summary = _scheduled_or_unverified(post, "Updated and scheduled")
    else:
        summary = f"Updated: {describe_post(post)}"
    return success(summary, data)


@declare(TOOLS, "Schedule post", idempotent=True)
async def schedule_post(
    ctx: Context,
    id: PostId,
    scheduled_date: FutureDate,
    x_account_id: AccountId | None = None,
) -> CallToolResult:
    """Schedule an existing draft for a future date."""
    caller = services(ctx).caller(ctx)
    body = drop_none(
        {"scheduled_date": scheduled_date, "x_account_id": caller.account(x_account_id)}
    )
    data = await caller.client.schedule_post(id, body)
    return success(_scheduled_or_unverified(unwrap_post(data), "Scheduled"), data)


async def _publishable(caller: Caller, post_id: str, account: str | None, override: bool) -> Any:
    """Read the post and refuse what must not be published now (upstream guide's guardrails)."""
    post = unwrap_post(await caller.client.get_post(post_id, x_account_id=account))
    if is_evergreen(post):
        raise StateRefused(
            f"post {post_id} is an evergreen source: the scheduler publishes clones of it; "
            "it is never published directly"
        )
    if post.get("status") == "posted":
        raise StateRefused(f"post {post_id} is already published: {post.get('url')}")
    if post.get("status") == "scheduled" and post.get("scheduled_date") and not override:
        raise StateRefused(
            f"post {post_id} is scheduled for {post['scheduled_date']}; it will be published "
            "then. Pass override_schedule=true only if the user asked to publish it now"
        )
    return post


async def _plan_publish(
    ctx: Context, id: str, override_schedule: bool = False, x_account_id: str | None = None
) -> Plan:
    caller = services(ctx).caller(ctx)
    account = caller.account(x_account_id)
    request = ops.publish_post(id, drop_none({"x_account_id": account}) or None)

    async def preview() -> Preview:
        post = await _publishable(caller, id, account, override_schedule)
        tweets = [post.get("text") or "", *(post.get("thread_tweets") or [])]
        return Preview(
            action=f"publish post {id} on X now",
            details={"id": id, "text": preview_text(tweets[0], 200), "tweets": len(tweets)},
            lines=[f'Text: "{preview_text(tweets[0], 200)}"', f"Tweets: {len(tweets)}"],
        )

    async def perform() -> CallToolResult:
        await _publishable(caller, id, account, override_schedule)  # live state, just before
        try:
            data = await caller.client.send(request)
        except OutcomeUnknown as lost:
            return await _reread_after_ambiguous_publish(caller, id, account, lost)
        return success(_published_or_unverified(data), data)

    return Plan("publish_post", caller, request, account, perform, preview, tweets=1)


@declare(TOOLS, "Publish post now", destructive=True)
async def publish_post(
    ctx: Context,
    approval: Annotated[Answer, Resolve(asks_person(_plan_publish))],
    id: PostId,
    override_schedule: Annotated[
        bool, Field(description="Publish a scheduled post now (user asked)")
    ] = False,
    x_account_id: AccountId | None = None,
    confirmation_token: ConfirmationToken | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> Annotated[CallToolResult, GatedOut]:
    """Publish an existing post to X now (needs confirmation). Irreversible."""
    plan = await _plan_publish(ctx, id, override_schedule, x_account_id)
    return await services(ctx).guard.confirmed(
        ctx, plan, token=confirmation_token, idempotency_key=idempotency_key, approval=approval
    )


async def _reread_after_ambiguous_publish(
    caller: Caller, post_id: str, account: str | None, lost: OutcomeUnknown
) -> CallToolResult:
    """The publish request may or may not have happened: report what OpenTweet now shows."""
    failure = f"HTTP {lost.status}, {lost.reason}" if lost.status is not None else lost.reason
    post = unwrap_post(await caller.client.get_post(post_id, x_account_id=account))
    if post.get("status") == "posted" and post.get("url"):
        return success(
            "The publish response was lost, but re-reading the post shows it was published: "
            f"{describe_post(post)}",
            {"post": post, "status": "posted", "url": post["url"]},
        )
    raise OpenTweetError(
        f"Outcome unknown: the publish request failed without a clear answer ({failure}), and "
        f"re-reading shows post {post_id} with status {post.get('status')!r}",
        hint="Do not retry blindly: check get_post again in a minute, then ask the user "
        "before publishing again.",
    )


async def _plan_batch(
    ctx: Context,
    schedules: list[Schedule],
    community_id: str | None = None,
    share_with_followers: bool | None = None,
    x_account_id: str | None = None,
) -> Plan:
    check_no_duplicates([s.post_id for s in schedules], what="schedules")
    caller = services(ctx).caller(ctx)
    account = caller.account(x_account_id)
    body = {"schedules": [s.model_dump() for s in schedules]} | drop_none(
        {
            "community_id": community_id,
            "share_with_followers": share_with_followers,
            "x_account_id": account,
        }
    )
    request = ops.batch_schedule(body)

    async def preview() -> Preview:
        ordered = sorted(schedules, key=lambda s: s.scheduled_date)
        first, last = ordered[0], ordered[-1]
        texts = {}
        for item in {first.post_id, last.post_id}:
            post = unwrap_post(await caller.client.get_post(item, x_account_id=account))
            texts[item] = preview_text(str(post.get("text") or ""))
        lines = [f"{len(schedules)} post(s) from {first.scheduled_date} to {last.scheduled_date}"]
        lines += [f"- {s.scheduled_date}: {s.post_id}" for s in ordered]
        lines.append(f'First: "{texts[first.post_id]}"  Last: "{texts[last.post_id]}"')
        return Preview(
            action=f"schedule {len(schedules)} posts",
            details={
                "count": len(schedules),
                "date_range": [first.scheduled_date, last.scheduled_date],
                "first": texts[first.post_id],
                "last": texts[last.post_id],
                "schedules": [s.model_dump() for s in ordered],
            },
            lines=lines,
        )

    async def perform() -> CallToolResult:
        await ctx.report_progress(0, 1, f"scheduling {len(schedules)} posts")
        data = await caller.client.send(request)
        await ctx.report_progress(1, 1, "scheduled")
        return success(_batch_summary(data, len(schedules)), data)

    return Plan("batch_schedule_posts", caller, request, account, perform, preview)


@declare(TOOLS, "Batch schedule posts", destructive=True)
async def batch_schedule_posts(
    ctx: Context,
    approval: Annotated[Answer, Resolve(asks_person(_plan_batch))],
    schedules: Annotated[list[Schedule], Field(min_length=1, max_length=MAX_BULK)],
    community_id: str | None = None,
    share_with_followers: bool | None = None,
    x_account_id: AccountId | None = None,
    confirmation_token: ConfirmationToken | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> Annotated[CallToolResult, GatedOut]:
    """Schedule 1–50 existing posts at their dates in one request (needs confirmation)."""
    plan = await _plan_batch(ctx, schedules, community_id, share_with_followers, x_account_id)
    return await services(ctx).guard.confirmed(
        ctx, plan, token=confirmation_token, idempotency_key=idempotency_key, approval=approval
    )


def _batch_summary(data: Any, sent: int) -> str:
    scheduled = data.get("scheduled") if isinstance(data, dict) else None
    posts = created_posts(data) if isinstance(data, dict) and "posts" in data else []
    ok = [p for p in posts if p.get("status") == "scheduled" and p.get("scheduled_date")]
    lines = [f"Batch schedule: {len(ok) if posts else scheduled} of {sent} scheduled."]
    lines += [f"- {describe_post(p)}" for p in posts]
    failed = data.get("failed") if isinstance(data, dict) else None
    if failed:
        lines.append(f"Failed: {failed}")
    if posts and len(ok) != sent:
        lines.append("WARNING: not every post shows status 'scheduled'; check list_posts.")
    return "\n".join(lines)


async def _plan_delete(
    ctx: Context, id: str, delete_from_x: bool = True, x_account_id: str | None = None
) -> Plan:
    caller = services(ctx).caller(ctx)
    account = caller.account(x_account_id)
    request = ops.delete_post(id, delete_from_x=delete_from_x, x_account_id=account)

    async def preview() -> Preview:
        post = unwrap_post(await caller.client.get_post(id, x_account_id=account))
        on_x = post.get("status") == "posted"
        if on_x and delete_from_x:
            where = "from OpenTweet and from X"
        elif on_x:
            where = "from OpenTweet only (the tweet stays live on X)"
        else:
            where = "from OpenTweet (it was never published)"
        return Preview(
            action=f"delete post {id} {where}",
            details={
                "id": id,
                "status": post.get("status"),
                "text": preview_text(str(post.get("text") or ""), 200),
                "url": post.get("url"),
                "delete_from_x": delete_from_x,
            },
            lines=[f"Post: {describe_post(post)}"],
        )

    async def perform() -> CallToolResult:
        data = await caller.client.send(request)
        summary = f"Deleted post {id}. x_deleted: {data.get('x_deleted')}"
        if data.get("x_delete_error"):
            summary += f"; deleting from X failed: {data['x_delete_error']}"
        return success(summary, data)

    return Plan("delete_post", caller, request, account, perform, preview)


@declare(TOOLS, "Delete post", destructive=True)
async def delete_post(
    ctx: Context,
    approval: Annotated[Answer, Resolve(asks_person(_plan_delete))],
    id: PostId,
    delete_from_x: Annotated[
        bool, Field(description="Also delete the published tweet from X")
    ] = True,
    x_account_id: AccountId | None = None,
    confirmation_token: ConfirmationToken | None = None,
) -> Annotated[CallToolResult, GatedOut]:
    """Delete a post (needs confirmation); by default also removes the published tweet from X."""
    plan = await _plan_delete(ctx, id, delete_from_x, x_account_id)
    return await services(ctx).guard.confirmed(
        ctx, plan, token=confirmation_token, idempotency_key=None, approval=approval
    )
