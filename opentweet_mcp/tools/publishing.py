"""What a publish did, told truthfully (docs/architecture.md).

OpenTweet may publish asynchronously: a 2xx can arrive before the tweet exists on X. So an
answer without a url is followed by a few re-reads of the post (seconds in all, reported as
progress) before anything is said; a post that turns `failed` is a failure; one still under
way is reported as unverified, never as published. A 502 from a publish means OpenTweet saved
the post but did not publish it: it is re-read and reported as it stands, never retried.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from opentweet_mcp.api import operations as ops
from opentweet_mcp.api.errors import OpenTweetError, OutcomeUnknown
from opentweet_mcp.api.shapes import PublishState, publish_state, unwrap_post
from opentweet_mcp.caller import Caller
from opentweet_mcp.results import describe_post, success

# Seconds between re-reads of a post whose publish is under way: about 6 s in all.
REREAD_DELAYS = (0.5, 0.5, 1.0, 1.0, 1.5, 1.5)
SAVED_NOT_PUBLISHED = 502
NEVER_BEGAN = ("draft", "failed")  # statuses that show a publish is not under way


async def read_post(caller: Caller, post_id: str, account: str | None) -> dict[str, Any]:
    return unwrap_post(await caller.client.send(ops.get_post(post_id, x_account_id=account)))


async def settle(
    ctx: Context, caller: Caller, account: str | None, state: PublishState
) -> tuple[PublishState, dict[str, Any] | None, str | None]:
    """Re-read the post while its publish is under way: the last state, the post as last read
    (None if never re-read), and why re-reading stopped early (a failed read), if it did."""
    post: dict[str, Any] | None = None
    total = len(REREAD_DELAYS)
    for step, delay in enumerate(REREAD_DELAYS):
        if not state.pending or state.post_id is None:
            break
        await ctx.report_progress(
            step, total, f"post {state.post_id} is {state.status or 'being published'}; waiting"
        )
        await anyio.sleep(delay)
        try:
            post = await read_post(caller, state.post_id, account)
        except OpenTweetError as exc:
            return state, post, exc.message
        state = publish_state(post)
    if post is not None:
        await ctx.report_progress(total, total, f"post {state.post_id} is {state.status}")
    return state, post, None


def networks_line(state: PublishState) -> str:
    said = state.networks()
    return f"\nBy network: {said}" if said else ""


def told(state: PublishState, data: Any, *, note: str = "") -> CallToolResult:
    """The result for a publish whose state is settled as far as it will be."""
    if state.posted:
        return success(
            f"Published to X: status posted, x_post_id {state.x_post_id}, url {state.url}"
            + networks_line(state),
            data,
        )
    if state.failed:
        if state.maybe_on_x:
            on_x = (
                f"\nIt MAY be on X: {state.maybe_on_x}"
                + (f"; on X for sure: {', '.join(state.on_x)}" if state.on_x else "")
                + ". Tell the user to look at the profile; publishing it again (with their "
                "approval again) finds what X has and never posts it twice."
            )
        elif state.on_x:
            on_x = (
                f"\nPart of it IS on X: {', '.join(state.on_x)}. Tell the user; publishing it "
                "again (with their approval again) continues the thread after those, never "
                "reposting them."
            )
        else:
            on_x = (
                "\nNothing is on X from this attempt. Tell the user; publishing it again needs "
                "their approval again."
            )
        result = success(
            f"NOT PUBLISHED — post {state.post_id} failed"
            + (f": {state.error}" if state.error else "")
            + networks_line(state)
            + on_x,
            data,
        )
        return result.model_copy(update={"is_error": True})
    if state.post_id is None:
        return success(
            "UNVERIFIED — OpenTweet accepted the publish but its answer shows no url and names "
            f"no post (status {state.status!r}). Find the post with list_posts before telling "
            "the user, and do not publish it again." + note,
            data,
        )
    return success(
        f"UNVERIFIED — OpenTweet accepted the publish, but after re-reading for a few "
        f"seconds post {state.post_id} shows status {state.status!r} and no url yet"
        + networks_line(state)
        + ". It may still go out: check with get_post in a minute before telling the user, "
        "and do not publish it again." + note,
        data,
    )


async def published(
    ctx: Context, caller: Caller, account: str | None, data: Any, post_id: str | None = None
) -> CallToolResult:
    """The result of a publish that answered: settled by re-reading when still under way."""
    state = publish_state(data)
    if state.post_id is None and post_id is not None:
        state = dataclasses.replace(state, post_id=post_id)
    state, post, stopped = await settle(ctx, caller, account, state)
    note = f" (Re-reading stopped: {stopped}.)" if stopped else ""
    return told(state, data if post is None else {"post": post, "answer": data}, note=note)


async def after_lost_answer(
    ctx: Context, caller: Caller, post_id: str | None, account: str | None, lost: OutcomeUnknown
) -> CallToolResult:
    """A publish whose answer was lost or was a 5xx: what OpenTweet now shows for the post.

    The post is re-read, and followed a few seconds more while it shows a publish under way
    (a 502 may come from a gateway while OpenTweet publishes). "Not published" is said only
    when the post shows it (draft or failed: OpenTweet's 502 "saved, not published"); a post
    still under way, or a failed re-read, leaves the outcome unknown."""
    saved = lost.status == SAVED_NOT_PUBLISHED
    failure = f"HTTP {lost.status}, {lost.reason}" if lost.status is not None else lost.reason
    if post_id is None:  # a create with publish_now: the 502 body may name the saved post
        try:
            post_id = unwrap_post(lost.body)["id"] if saved else None
        except OpenTweetError:
            post_id = None
    if post_id is None:
        if saved:
            raise OpenTweetError(
                'OpenTweet answered HTTP 502, which it uses for "saved, not published", but '
                f"named no post to check{_said(lost)}",
                hint="Find the post with list_posts (newest first) and see its status before "
                "anything else; do not create it again, and publish it with publish_post only "
                "once the user approves again.",
            )
        raise lost
    try:
        post = await read_post(caller, post_id, account)
    except OpenTweetError as reread:
        raise OutcomeUnknown(
            method=lost.method,
            path=lost.path,
            reason=f"{failure}; re-reading the post failed too: {reread.message}",
        ) from reread
    state = publish_state(post)
    if state.status not in NEVER_BEGAN:
        state, later, _ = await settle(ctx, caller, account, state)
        post = later or post
    if state.posted:
        lead = (
            "OpenTweet answered HTTP 502, yet re-reading the post shows it was published: "
            if saved
            else "The publish response was lost, but re-reading the post shows it was published: "
        )
        return success(
            lead + describe_post(post) + networks_line(state),
            {"post": post, "status": "posted", "url": state.url},
        )
    if state.failed or (saved and state.status in NEVER_BEGAN):
        raise OpenTweetError(
            f"NOT PUBLISHED — the publish request ended with {failure}{_said(lost)}, and post "
            f"{post_id} is saved with status {post.get('status')!r}: it was not published"
            + networks_line(state),
            hint="Nothing went out. Do not retry on your own: tell the user, and publish it "
            "with publish_post only after they approve again.",
        )
    raise OpenTweetError(
        f"Outcome unknown: the publish request failed without a clear answer ({failure}), and "
        f"re-reading shows post {post_id} with status {post.get('status')!r}",
        hint="Do not retry blindly: check get_post again in a minute, then ask the user "
        "before publishing again.",
    )


def _said(lost: OutcomeUnknown) -> str:
    return f" (it said: {lost.upstream_message})" if lost.upstream_message else ""
