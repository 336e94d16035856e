"""Post tools: create (single, thread, bulk), list, read, update, schedule, publish, delete.

Every write is a planner: it returns a `Plan` — how to read what the call would make go out,
and how to perform it — and the gate (`guard.confirm`) asks for an approval whenever that
publishes, schedules, changes something already armed, or deletes.
"""

from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field

from opentweet_mcp.api import operations as ops
from opentweet_mcp.api.errors import OutcomeUnknown
from opentweet_mcp.api.shapes import created_posts, is_evergreen, unwrap_post
from opentweet_mcp.caller import Caller
from opentweet_mcp.guard.plan import Plan
from opentweet_mcp.guard.publication import (
    EVERGREEN,
    NOW,
    Publication,
    Removal,
    armed_at,
    outgoing,
    tweets_of,
)
from opentweet_mcp.results import describe_post, success
from opentweet_mcp.services import services
from opentweet_mcp.tools.publishing import after_lost_answer, published, read_post
from opentweet_mcp.tools.spec import ToolSpec, declare
from opentweet_mcp.validate import (
    MAX_BULK,
    AccountId,
    AutoRetweet,
    CommunityId,
    FirstTweet,
    FutureDate,
    InvalidArguments,
    IsThread,
    Limit,
    MediaUrls,
    Page,
    Platforms,
    PollMinutes,
    PollOptions,
    PostId,
    QuoteTweetId,
    ReplySettings,
    RetweetOffset,
    ShareWithFollowers,
    StateRefused,
    ThreadMedia,
    ThreadTweets,
    TweetText,
    check_no_duplicates,
    check_thread,
    drop_none,
    platforms_field,
)

TOOLS: list[ToolSpec] = []

LIST_PAGE = 100  # the most posts one list request returns
READS_AT_ONCE = 4
# A listed post is taken as read only if it carries every field a preview shows.
_PREVIEW_FIELDS = ("text", "status", "thread_tweets", "media_urls")


class NewPost(BaseModel):
    # one post of a bulk create (a comment, not a docstring: it would be a schema description)
    model_config = ConfigDict(extra="forbid")
    text: FirstTweet
    is_thread: IsThread | None = None
    thread_tweets: ThreadTweets | None = None
    media_urls: MediaUrls | None = None
    thread_media: ThreadMedia | None = None
    scheduled_date: FutureDate | None = None
    community_id: CommunityId | None = None
    share_with_followers: ShareWithFollowers | None = None
    auto_retweet_enabled: AutoRetweet | None = None
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


def _scheduled_or_unverified(post: dict[str, Any], verb: str) -> str:
    """Report a schedule as done only when the response shows it (docs/architecture.md)."""
    if post.get("status") == "scheduled" and post.get("scheduled_date"):
        return f"{verb}: {describe_post(post)}"
    return (
        f"UNVERIFIED — the response does not show status 'scheduled' with a scheduled_date; "
        f"it shows: {describe_post(post)}. Check with get_post before telling the user."
    )


async def _as_stored(caller: Caller, post: dict[str, Any], account: str | None) -> dict[str, Any]:
    """The post as OpenTweet holds it, when an answer is too lean to show it (the live API
    may answer a create with only `{id, status}`)."""
    if post.get("id") and post.get("status") == "scheduled" and not post.get("scheduled_date"):
        return await read_post(caller, str(post["id"]), account)
    return post


# --- reading what a call would change ------------------------------------------------------


async def read_posts(
    caller: Caller, post_ids: list[str], account: str | None
) -> dict[str, dict[str, Any]]:
    """The posts, read in as few requests as the API allows: the newest page of the list
    first (a batch usually schedules fresh drafts), then one by one what it lacked."""
    found: dict[str, dict[str, Any]] = {}
    if len(post_ids) > 1:
        newest = min(LIST_PAGE, len(post_ids) + 10)
        listed = await caller.client.send(ops.list_posts(limit=newest, x_account_id=account))
        for item in listed.get("posts") or []:
            if isinstance(item, dict) and all(field in item for field in _PREVIEW_FIELDS):
                post = unwrap_post(item)
                if post["id"] in post_ids:
                    found[post["id"]] = post
    missing = [post_id for post_id in post_ids if post_id not in found]
    limiter = anyio.CapacityLimiter(READS_AT_ONCE)
    failures: list[Exception] = []

    async def read_one(post_id: str) -> None:
        async with limiter:
            if failures:
                return  # one failure decides the answer: read no more
            try:
                found[post_id] = await read_post(caller, post_id, account)
            except Exception as exc:  # raised below as itself, not as an exception group
                failures.append(exc)

    async with anyio.create_task_group() as group:
        for post_id in missing:
            group.start_soon(read_one, post_id)
    if failures:
        raise failures[0]
    return found


def refuse_published(post: dict[str, Any], post_id: str, what: str) -> None:
    """A post on X, or on its way there (a publish under way: `publishing` or the like), is
    never armed or changed again."""
    status = post.get("status")
    if status == "posted":
        raise StateRefused(f"post {post_id} is already published ({post.get('url')}); {what}")
    if status not in (None, "draft", "scheduled", "failed", "missed"):  # missed: --provider x
        raise StateRefused(
            f"post {post_id} has status {status!r}: a publish is under way; {what}. Check it "
            "with get_post in a minute"
        )


def _refuse_evergreen(post: dict[str, Any], post_id: str, what: str) -> None:
    """An evergreen source is published by the queue (as clones), never on its own."""
    if is_evergreen(post):
        raise StateRefused(
            f"post {post_id} is an evergreen source: the evergreen queue publishes clones of "
            f"it; {what}"
        )


# --- create ----------------------------------------------------------------------------------


@declare(TOOLS, "Create post or thread", destructive=True, gated=True, idempotency_key=True)
async def create_post(
    ctx: Context,
    text: FirstTweet,
    is_thread: IsThread | None = None,
    thread_tweets: ThreadTweets | None = None,
    media_urls: MediaUrls | None = None,
    thread_media: ThreadMedia | None = None,
    scheduled_date: FutureDate | None = None,
    publish_now: Annotated[bool, Field(description="After approval")] = False,
    community_id: CommunityId | None = None,
    share_with_followers: ShareWithFollowers | None = None,
    auto_retweet_enabled: AutoRetweet | None = None,
    auto_retweet_offset_minutes: RetweetOffset | None = None,
    platforms: Platforms | None = None,
    poll_options: PollOptions | None = None,
    poll_minutes: PollMinutes | None = None,
    quote_tweet_id: QuoteTweetId | None = None,
    reply_settings: ReplySettings | None = None,
    x_account_id: AccountId | None = None,
) -> Plan:
    """Create a draft, or schedule or publish it after approval."""
    if publish_now and scheduled_date:
        raise InvalidArguments("publish_now cannot be combined with scheduled_date")
    if poll_minutes is not None and not poll_options:
        raise InvalidArguments("poll_minutes needs poll_options")
    if poll_options and media_urls:
        raise InvalidArguments("a tweet takes a poll or media, not both")
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
    body = new.body() | platforms_field(platforms) | drop_none({"x_account_id": account})
    if poll_options:
        body["poll"] = {"options": poll_options, "duration_minutes": poll_minutes or 1440}
    body |= drop_none({"quote_tweet_id": quote_tweet_id, "reply_settings": reply_settings})
    if publish_now:
        body["publish_now"] = True
    request = ops.create_post(body)
    when = NOW if publish_now else scheduled_date
    kind = "a thread" if thread_tweets else "a tweet"

    async def read() -> Publication | None:
        if when is None:
            return None  # a draft: nothing goes out
        verb = "create and publish" if when == NOW else "create and schedule"
        action = f"{verb} {kind} on X{' now' if when == NOW else ''}"
        return Publication(action, (outgoing(body, when),))

    async def perform() -> CallToolResult:
        try:
            data = await caller.client.send(request)
        except OutcomeUnknown as lost:
            if not publish_now:
                raise
            return await after_lost_answer(ctx, caller, None, account, lost)
        if publish_now:
            return await published(ctx, caller, account, data)
        post = created_posts(data)[0]
        if scheduled_date:
            post = await _as_stored(caller, post, account)
            return success(_scheduled_or_unverified(post, "Scheduled"), data)
        return success(f"Saved as draft: {describe_post(post)}", data)

    texts = (text, *(thread_tweets or ()))
    return Plan("create_post", caller, perform, read, named_account=account, texts=texts)


@declare(TOOLS, "Bulk create posts", destructive=True, gated=True, idempotency_key=True)
async def bulk_create_posts(
    ctx: Context,
    posts: Annotated[
        list[NewPost], Field(min_length=1, max_length=MAX_BULK, description="As create_post")
    ],
    platforms: Platforms | None = None,
    x_account_id: AccountId | None = None,
) -> Plan:
    """Create up to 50 drafts or scheduled posts; never publishes now."""
    check_no_duplicates([p.text for p in posts])
    bodies = [p.body() | platforms_field(platforms) for p in posts]
    caller = services(ctx).caller(ctx)
    account = caller.account(x_account_id)
    request = ops.create_post({"posts": bodies} | drop_none({"x_account_id": account}))

    async def read() -> Publication:
        items = tuple(
            outgoing(body | drop_none({"x_account_id": account}), body.get("scheduled_date"))
            for body in bodies
        )
        scheduled = sum(1 for item in items if item.armed)
        action = (
            f"create {len(items)} posts: {scheduled} scheduled, {len(items) - scheduled} drafts"
        )
        return Publication(action, items)

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

    texts = tuple(text for p in posts for text in (p.text, *(p.thread_tweets or ())))
    return Plan("bulk_create_posts", caller, perform, read, named_account=account, texts=texts)


# --- read ------------------------------------------------------------------------------------


@declare(TOOLS, "List posts", read_only=True)
async def list_posts(
    ctx: Context,
    status: Annotated[
        Literal["scheduled", "posted", "draft", "failed", "evergreen"] | None,
        Field(description="evergreen: pool sources"),
    ] = None,
    page: Page | None = None,
    limit: Limit | None = None,
    x_account_id: AccountId | None = None,
) -> CallToolResult:
    """List posts, newest first."""
    caller = services(ctx).caller(ctx)
    data = await caller.client.send(
        ops.list_posts(
            status=status, page=page, limit=limit, x_account_id=caller.account(x_account_id)
        )
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
    """One post with its status, dates and X url."""
    caller = services(ctx).caller(ctx)
    data = await caller.client.send(ops.get_post(id, x_account_id=caller.account(x_account_id)))
    return success(describe_post(unwrap_post(data)), data)


# --- change ----------------------------------------------------------------------------------


@declare(TOOLS, "Update post", destructive=True, idempotent=True, gated=True)
async def update_post(
    ctx: Context,
    id: PostId,
    text: Annotated[TweetText | None, Field(description="New text")] = None,
    media_urls: MediaUrls | None = None,
    scheduled_date: FutureDate | None = None,
    unschedule: Annotated[bool, Field(description="Back to draft")] = False,
    auto_retweet_enabled: AutoRetweet | None = None,
    auto_retweet_offset_minutes: RetweetOffset | None = None,
    platforms: Platforms | None = None,
    x_account_id: AccountId | None = None,
) -> Plan:
    """Change an unpublished post; approval if scheduled, evergreen or dated."""
    if unschedule and scheduled_date:
        raise InvalidArguments("unschedule cannot be combined with scheduled_date")
    caller = services(ctx).caller(ctx)
    account = caller.account(x_account_id)
    changes = drop_none(
        {
            "text": text,
            "media_urls": media_urls,
            "scheduled_date": scheduled_date,
            "auto_retweet_enabled": auto_retweet_enabled,
            "auto_retweet_offset_minutes": auto_retweet_offset_minutes,
        }
    )
    if unschedule:
        changes["scheduled_date"] = None
    if not changes and not platforms:
        raise InvalidArguments("nothing to change: give at least one field to update")
    body = changes | platforms_field(platforms) | drop_none({"x_account_id": account})
    request = ops.update_post(id, body)

    async def read() -> Publication | None:
        """The post as it will stand after the update, if anything will publish it."""
        post = await read_post(caller, id, account)
        refuse_published(post, id, "published posts can't be edited")
        was = armed_at(post)
        when = was if was == EVERGREEN else changes.get("scheduled_date", was)
        if when is None:
            return None  # stays (or turns back into) a draft: nothing goes out
        if was == EVERGREEN:
            action = f"change evergreen post {id}, which the queue keeps publishing"
        else:
            action = f"{'change scheduled' if was else 'schedule'} post {id}"
        cooldown = post.get("cooldown_days")
        before, after = post.get("x_account_id"), body.get("x_account_id")
        item = outgoing(
            post | body,
            when,
            post_id=id,
            was=was,
            moved_from=str(before) if after and before and after != before else None,
            cooldown_days=cooldown if isinstance(cooldown, int) and was == EVERGREEN else None,
        )
        return Publication(action, (item,))

    async def perform() -> CallToolResult:
        data = await caller.client.send(request)
        post = unwrap_post(data)
        if scheduled_date:
            post = await _as_stored(caller, post, account)
            return success(_scheduled_or_unverified(post, "Updated and scheduled"), data)
        return success(f"Updated: {describe_post(post)}", data)

    # held here to the named account's limit; without one, the post's own account is known
    # only once read: the gate holds an armed post to it, and OpenTweet judges a draft
    texts = (text,) if text is not None and x_account_id else ()
    return Plan(
        "update_post", caller, perform, read, posts=(id,), named_account=account, texts=texts
    )


@declare(TOOLS, "Schedule post", destructive=True, idempotent=True, gated=True)
async def schedule_post(
    ctx: Context,
    id: PostId,
    scheduled_date: FutureDate,
    platforms: Platforms | None = None,
    x_account_id: AccountId | None = None,
) -> Plan:
    """Schedule an existing draft for a future date."""
    caller = services(ctx).caller(ctx)
    account = caller.account(x_account_id)
    sent = platforms_field(platforms)
    request = ops.schedule_post(
        id, {"scheduled_date": scheduled_date} | sent | drop_none({"x_account_id": account})
    )

    async def read() -> Publication:
        post = await read_post(caller, id, account)
        refuse_published(post, id, "it can't be scheduled again")
        _refuse_evergreen(post, id, "it can't be scheduled")
        item = outgoing(post | sent, scheduled_date, post_id=id, was=armed_at(post))
        return Publication(f"schedule post {id}", (item,))

    async def perform() -> CallToolResult:
        data = await caller.client.send(request)
        post = await _as_stored(caller, unwrap_post(data), account)
        return success(_scheduled_or_unverified(post, "Scheduled"), data)

    return Plan("schedule_post", caller, perform, read, posts=(id,), named_account=account)


@declare(TOOLS, "Publish post now", destructive=True, gated=True, idempotency_key=True)
async def publish_post(
    ctx: Context,
    id: PostId,
    override_schedule: Annotated[bool, Field(description="Even if scheduled")] = False,
    platforms: Platforms | None = None,
    x_account_id: AccountId | None = None,
) -> Plan:
    """Publish an existing post to X now. Irreversible."""
    caller = services(ctx).caller(ctx)
    account = caller.account(x_account_id)
    sent = platforms_field(platforms)
    request = ops.publish_post(id, sent | drop_none({"x_account_id": account}))

    async def read() -> Publication:
        post = await read_post(caller, id, account)
        refuse_published(post, id, "it is not published again")
        _refuse_evergreen(post, id, "it is never published directly")
        scheduled = post.get("status") == "scheduled" and post.get("scheduled_date")
        if scheduled and not override_schedule:
            raise StateRefused(
                f"post {id} is scheduled for {post['scheduled_date']}; it will be published "
                "then. Pass override_schedule=true only if the user asked to publish it now"
            )
        item = outgoing(post | sent, NOW, post_id=id, was=armed_at(post))
        return Publication(f"publish post {id} on X now", (item,))

    async def perform() -> CallToolResult:
        try:
            data = await caller.client.send(request)
        except OutcomeUnknown as lost:
            return await after_lost_answer(ctx, caller, id, account, lost)
        return await published(ctx, caller, account, data, post_id=id)

    return Plan("publish_post", caller, perform, read, posts=(id,), named_account=account)


@declare(TOOLS, "Batch schedule posts", destructive=True, gated=True, idempotency_key=True)
async def batch_schedule_posts(
    ctx: Context,
    schedules: Annotated[
        list[Schedule], Field(min_length=1, max_length=MAX_BULK, description="A date per post")
    ],
    community_id: CommunityId | None = None,
    share_with_followers: ShareWithFollowers | None = None,
    platforms: Platforms | None = None,
    x_account_id: AccountId | None = None,
) -> Plan:
    """Schedule up to 50 existing posts in one request."""
    ids = [s.post_id for s in schedules]
    check_no_duplicates(ids, what="schedules")
    caller = services(ctx).caller(ctx)
    account = caller.account(x_account_id)
    shared = drop_none(
        {"community_id": community_id, "share_with_followers": share_with_followers}
    ) | platforms_field(platforms)
    body = {"schedules": [s.model_dump() for s in schedules]} | shared
    request = ops.batch_schedule_posts(body | drop_none({"x_account_id": account}))

    async def read() -> Publication:
        posts = await read_posts(caller, ids, account)
        items = []
        for item in sorted(schedules, key=lambda s: s.scheduled_date):
            post = posts[item.post_id]
            refuse_published(post, item.post_id, "it can't be scheduled again")
            _refuse_evergreen(post, item.post_id, "it can't be scheduled")
            items.append(
                outgoing(
                    post | shared, item.scheduled_date, post_id=item.post_id, was=armed_at(post)
                )
            )
        return Publication(f"schedule {len(items)} posts", tuple(items))

    async def perform() -> CallToolResult:
        await ctx.report_progress(0, 1, f"scheduling {len(schedules)} posts")
        data = await caller.client.send(request)
        await ctx.report_progress(1, 1, "scheduled")
        summary, none_scheduled = _batch_summary(data, len(schedules))
        result = success(summary, data)
        # every schedule refused upstream is a failure, not a success with bad news in it
        return result.model_copy(update={"is_error": True}) if none_scheduled else result

    return Plan(
        "batch_schedule_posts", caller, perform, read, posts=tuple(ids), named_account=account
    )


def _batch_summary(data: Any, sent: int) -> tuple[str, bool]:
    """The summary, and whether the answer says that nothing was scheduled (every schedule
    refused: `posts` empty and `failed` saying why)."""
    scheduled = data.get("scheduled") if isinstance(data, dict) else None
    posts = created_posts(data) if isinstance(data, dict) and data.get("posts") else []
    ok = [p for p in posts if p.get("status") == "scheduled" and p.get("scheduled_date")]
    failed = data.get("failed") if isinstance(data, dict) else None
    none_scheduled = bool(failed) and not ok
    head = "NOT DONE — the API scheduled none of the" if none_scheduled else "Batch schedule:"
    count = len(ok) if posts else scheduled
    lines = [f"{head} {sent} posts." if none_scheduled else f"{head} {count} of {sent} scheduled."]
    lines += [f"- {describe_post(p)}" for p in posts]
    for item in failed if isinstance(failed, list) else [failed] if failed else []:
        why = item.get("error") or item.get("code") if isinstance(item, dict) else None
        post = item.get("post_id", "?") if isinstance(item, dict) else "?"
        lines.append(f"- not scheduled: post {post}: {why or item}")
    if posts and len(ok) != sent:
        lines.append("WARNING: not every post shows status 'scheduled'; check list_posts.")
    return "\n".join(lines), none_scheduled


@declare(TOOLS, "Delete post", destructive=True, gated=True)
async def delete_post(
    ctx: Context,
    id: PostId,
    delete_from_x: Annotated[bool, Field(description="Its tweet on X too")] = True,
    x_account_id: AccountId | None = None,
) -> Plan:
    """Delete a post. Irreversible."""
    caller = services(ctx).caller(ctx)
    account = caller.account(x_account_id)
    request = ops.delete_post(id, delete_from_x=delete_from_x, x_account_id=account)

    async def read() -> Publication:
        post = await read_post(caller, id, account)
        # on X: published, or part of a thread that stopped (--provider x lists those)
        part = post.get("on_x") if isinstance(post.get("on_x"), list) else []
        url = post.get("url") or (part[0] if part else None)
        on_x = post.get("status") == "posted" or bool(part) or bool(post.get("may_be_on_x"))
        removal = Removal(
            post_id=id,
            account=str(post["x_account_id"]) if post.get("x_account_id") else None,
            status=str(post["status"]) if post.get("status") else None,
            url=str(url) if url else None,
            tweets=tweets_of(post),
            from_x=on_x and delete_from_x,
            kept_by=caller.client.name,
            maybe_on_x=str(post["may_be_on_x"]) if post.get("may_be_on_x") else None,
        )
        where = f"from {removal.kept_by}" + (" and from X" if removal.from_x else "")
        return Publication(f"delete post {id} {where}", removals=(removal,))

    async def perform() -> CallToolResult:
        data = await caller.client.send(request)
        summary = f"Deleted post {id}. x_deleted: {data.get('x_deleted')}"
        if data.get("x_delete_error"):
            summary += f"; deleting from X failed: {data['x_delete_error']}"
        return success(summary, data)

    return Plan("delete_post", caller, perform, read, posts=(id,), named_account=account)
