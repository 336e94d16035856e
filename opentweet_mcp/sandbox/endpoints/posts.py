"""Post endpoints: create (one post or a bulk list), list, get, update, delete, schedule, publish
and batch-schedule, with the field validation they share (`post_fields`, also used when a text
goes straight into the evergreen pool, and `take_platforms`). The lifecycle itself (quotas,
scheduling, publishing) lives on `Sandbox` in state.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request

from opentweet_mcp.sandbox import rules
from opentweet_mcp.sandbox.plumbing import json_body, page_args, paginate, pagination_of
from opentweet_mcp.sandbox.rules import Rejected, bad
from opentweet_mcp.sandbox.state import Sandbox, User, iso


def tweet_limit(account: dict[str, Any]) -> int:
    return rules.MAX_LONG_TWEET if account.get("x_premium") else rules.MAX_TWEET


def post_fields(raw: dict[str, Any], now: datetime, account: dict[str, Any]) -> dict[str, Any]:
    """Validate one post's fields (the rules of the guide, the account's length limit and
    networks) and return them cleaned."""
    limit = tweet_limit(account)
    fields: dict[str, Any] = {"text": rules.check_text(raw.get("text"), limit=limit)}
    tweets = raw.get("thread_tweets")
    if tweets is not None:
        if not isinstance(tweets, list):
            raise bad("thread_tweets must be a list of strings")
        fields["thread_tweets"] = [
            rules.check_text(t, f"thread_tweets[{i}]", limit) for i, t in enumerate(tweets)
        ]
    fields["platforms"] = rules.check_platforms(raw.get("platforms"), connected(account))
    if raw.get("is_thread") and not fields.get("thread_tweets"):
        raise bad("is_thread requires thread_tweets")
    fields["is_thread"] = bool(raw.get("is_thread") or fields.get("thread_tweets"))
    fields["media_urls"] = rules.check_media(raw.get("media_urls"))
    media = raw.get("thread_media")
    if media is not None:
        if not isinstance(media, list) or len(media) != len(fields.get("thread_tweets") or []):
            raise bad("thread_media must have one list per thread tweet")
        fields["thread_media"] = [
            rules.check_media(m, f"thread_media[{i}]") for i, m in enumerate(media)
        ]
    if raw.get("scheduled_date") is not None:
        fields["scheduled_date"] = rules.parse_date(raw["scheduled_date"], now)
    offset = raw.get("auto_retweet_offset_minutes")
    if offset is not None:
        fields["auto_retweet_offset_minutes"] = rules.check_int(
            offset, "auto_retweet_offset_minutes", 1, 10080
        )
    elif raw.get("auto_retweet_enabled"):
        fields["auto_retweet_offset_minutes"] = 60
    for name in ("community_id", "share_with_followers", "auto_retweet_enabled", "category"):
        if raw.get(name) is not None:
            fields[name] = raw[name]
    return fields


def connected(account: dict[str, Any]) -> list[str]:
    return ["x", *(account.get("cross_post") or [])]


def lean(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Posts as the live API's create answers name them: id and status only."""
    return [{"id": post["id"], "status": post["status"]} for post in posts]


async def create_post(sb: Sandbox, user: User, request: Request) -> Any:
    body = await json_body(request)
    now = sb.now()
    account = user.account(body.get("x_account_id"))
    if "posts" in body:
        items = body["posts"]
        if body.get("publish_now"):
            raise bad("publish_now cannot be used with bulk posts")
        if not isinstance(items, list) or not 1 <= len(items) <= rules.MAX_BULK:
            raise bad(f"posts must be a list of 1 to {rules.MAX_BULK} posts", "bulk_limit")
        if not all(isinstance(i, dict) for i in items):
            raise bad("each entry of posts must be an object")
        checked = [
            post_fields(
                item | {"platforms": item.get("platforms", body.get("platforms"))}, now, account
            )
            for item in items
        ]
        wanted = sum(1 for f in checked if f.get("scheduled_date"))
        if wanted:
            sb.require_subscription(user, "schedule posts")
            sb.check_room(user, wanted)
        created, limited = [], []
        for fields in checked:
            post = sb.new_post(user, fields, account)
            if fields.get("scheduled_date"):
                try:
                    post = sb.schedule(user, post, fields["scheduled_date"])
                except Rejected as exc:
                    if exc.code != "url_limit":
                        raise
                    limited.append(post["id"])
            created.append(post)
        shown = lean(created) if sb.knob("lean_answers") else created
        answer: dict[str, Any] = {"success": True, "count": len(created), "posts": shown}
        if limited:
            answer["url_limited"] = limited
        return 201, answer

    fields = post_fields(body, now, account)
    publish_now = bool(body.get("publish_now"))
    if publish_now and fields.get("scheduled_date"):
        raise bad("publish_now cannot be combined with scheduled_date")
    if publish_now or fields.get("scheduled_date"):
        sb.require_subscription(user, "schedule or publish posts")
        sb.check_room(user, 1)  # refused before anything is saved
    post = sb.new_post(user, fields, account)
    if fields.get("scheduled_date"):
        post = sb.schedule(user, post, fields["scheduled_date"])
    if sb.knob("lean_answers"):
        if publish_now:
            post = sb.publish(user, post)
        return 201, {"success": True, "posts": lean([post])}
    if publish_now:
        post = sb.publish(user, post)
        return 201, {"success": True, "count": 1, "posts": [post], **published(post)}
    return 201, {"success": True, "count": 1, "posts": [post]}


def published(post: dict[str, Any]) -> dict[str, Any]:
    """The top-level fields of a publish answer; no url or x_post_id until the tweet exists."""
    said = {"status": post["status"]}
    if post["status"] == "posted":
        said |= {"x_post_id": post["x_post_id"], "url": post["url"]}
    return said


async def list_posts(sb: Sandbox, user: User, request: Request) -> Any:
    page, limit = page_args(request)
    status = request.query_params.get("status")
    if status not in (None, "scheduled", "posted", "draft", "failed", "evergreen"):
        raise bad("status must be scheduled, posted, draft, failed or evergreen")
    account = request.query_params.get("x_account_id")
    if account:
        user.account(account)
    if status is None and not account:  # nothing to filter: page in SQLite
        items, total = sb.store.posts_page(user.id, limit, (page - 1) * limit)
        items = [sb.settle(user, p) for p in items]
        return {"posts": items, "pagination": pagination_of(total, page, limit)}
    posts = [
        p
        for p in (sb.settle(user, p) for p in sb.store.posts(user.id))
        if (not account or p["x_account_id"] == account)
        and (
            p.get("isEvergreen")
            if status == "evergreen"
            else (status is None or (p["status"] == status and not p.get("isEvergreen")))
        )
    ]
    items, pagination = paginate(posts, page, limit)
    return {"posts": items, "pagination": pagination}


async def get_post(sb: Sandbox, user: User, request: Request) -> Any:
    return {"success": True, "post": sb.get_post(user, request.path_params["id"])}


async def update_post(sb: Sandbox, user: User, request: Request) -> Any:
    post = sb.get_post(user, request.path_params["id"])
    body = await json_body(request)
    if post.get("status") in ("posted", "publishing"):
        raise Rejected(409, "Published posts cannot be updated", "already_posted")
    if body.get("x_account_id"):
        post["x_account_id"] = user.account(body["x_account_id"])["id"]
    account = user.account(post["x_account_id"])
    if "text" in body:
        post["text"] = rules.check_text(body["text"], limit=tweet_limit(account))
    if "platforms" in body:
        post["platforms"] = rules.check_platforms(body["platforms"], connected(account))
    if "media_urls" in body:
        post["media_urls"] = rules.check_media(body["media_urls"])
    if "auto_retweet_offset_minutes" in body:
        post["auto_retweet_offset_minutes"] = rules.check_int(
            body["auto_retweet_offset_minutes"], "auto_retweet_offset_minutes", 1, 10080
        )
    if "auto_retweet_enabled" in body:
        post["auto_retweet_enabled"] = bool(body["auto_retweet_enabled"])
        if post["auto_retweet_enabled"] and not post.get("auto_retweet_offset_minutes"):
            post["auto_retweet_offset_minutes"] = 60
    if "thread_tweets" in body or "thread_media" in body:
        merged = {
            "text": post["text"],
            "thread_tweets": body.get("thread_tweets", post.get("thread_tweets")),
            "thread_media": body.get("thread_media", post.get("thread_media") or None),
        }
        checked = post_fields(merged, sb.now(), account)
        post.update(
            thread_tweets=checked.get("thread_tweets") or [],
            thread_media=checked.get("thread_media") or [],
            is_thread=checked["is_thread"],
        )
    for name in ("community_id", "share_with_followers", "category"):
        if name in body:
            post[name] = body[name]
    post["updated_at"] = iso(sb.now())
    if "scheduled_date" in body:
        if body["scheduled_date"] is None:
            post.update(status="draft", scheduled_date=None)
        else:
            when = rules.parse_date(body["scheduled_date"], sb.now())
            return {"success": True, "post": sb.schedule(user, post, when)}
    return {"success": True, "post": sb.store.save_post(user.id, post)}


async def delete_post(sb: Sandbox, user: User, request: Request) -> Any:
    post = sb.get_post(user, request.path_params["id"])
    flag = request.query_params.get("delete_from_x", "true").lower()
    if flag not in ("true", "false"):
        raise bad("delete_from_x must be true or false")
    answer: dict[str, Any] = {"success": True, "deleted": True, "id": post["id"]}
    on_x = post.get("status") == "posted" and flag == "true"
    if on_x and sb.knob("x_delete_fails"):
        on_x = False
        answer["x_delete_error"] = "X API error: the tweet could not be deleted (simulated)"
    sb.store.delete_post(user.id, post["id"])
    answer["x_deleted"] = on_x
    return answer


async def schedule_post(sb: Sandbox, user: User, request: Request) -> Any:
    post = sb.get_post(user, request.path_params["id"])
    body = await json_body(request)
    if body.get("scheduled_date") is None:
        raise bad("scheduled_date is required")
    user.account(body.get("x_account_id"))
    sb.require_subscription(user, "schedule posts")
    when = rules.parse_date(body["scheduled_date"], sb.now())
    take_platforms(user, post, body)
    return {"success": True, "post": sb.schedule(user, post, when)}


def take_platforms(user: User, post: dict[str, Any], body: dict[str, Any]) -> None:
    """The networks a schedule or publish request names replace the post's own."""
    named = rules.check_platforms(
        body.get("platforms"), connected(user.account(post.get("x_account_id")))
    )
    if named is not None:
        post["platforms"] = named


async def publish_post(sb: Sandbox, user: User, request: Request) -> Any:
    post = sb.get_post(user, request.path_params["id"])
    body = await json_body(request)
    user.account(body.get("x_account_id"))
    take_platforms(user, post, body)
    post = sb.publish(user, post)
    return {"success": True, **published(post), "post": post}


async def batch_schedule_posts(sb: Sandbox, user: User, request: Request) -> Any:
    body = await json_body(request)
    sb.require_subscription(user, "schedule posts")
    items = body.get("schedules")
    if not isinstance(items, list) or not 1 <= len(items) <= rules.MAX_BULK:
        raise bad(f"schedules must be a list of 1 to {rules.MAX_BULK} entries", "bulk_limit")
    now = sb.now()
    plan = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("post_id"), str):
            raise bad("each schedule needs post_id and scheduled_date")
        plan.append((item["post_id"], rules.parse_date(item.get("scheduled_date"), now)))
    if body.get("x_account_id"):
        user.account(body["x_account_id"])
    done, failed = [], []
    for post_id, when in plan:
        try:
            post = sb.get_post(user, post_id)
            for name in ("community_id", "share_with_followers"):
                if body.get(name) is not None:
                    post[name] = body[name]
            take_platforms(user, post, body)
            done.append(sb.schedule(user, post, when))
        except Rejected as exc:
            failed.append({"post_id": post_id, "error": exc.message, "code": exc.code})
    return {"success": not failed, "scheduled": len(done), "posts": done, "failed": failed}
