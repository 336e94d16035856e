"""Evergreen endpoints: the queue's settings, its pool of source posts (list, add, get, update,
remove) and the history of the clones the scheduler posted from them. Each HTTP method has its
own handler, named after its tool; the scheduler run itself lives on `Sandbox` in state.py."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from opentweet_mcp.sandbox import rules
from opentweet_mcp.sandbox.endpoints.posts import post_fields, take_platforms
from opentweet_mcp.sandbox.plumbing import account_param, json_body, page_args, paginate
from opentweet_mcp.sandbox.rules import Rejected, bad
from opentweet_mcp.sandbox.state import Sandbox, User, iso


def evergreen_allowed(sb: Sandbox, user: User) -> None:
    sb.require_subscription(user, "use the evergreen queue")
    if user.plan.evergreen_pool == 0:
        raise Rejected(
            403, "The evergreen queue is not available during the trial", "plan_required"
        )


def evergreen_state(sb: Sandbox, user: User) -> dict[str, Any]:
    pool = [p for p in sb.store.posts(user.id) if p.get("isEvergreen")]
    return {
        "success": True,
        "settings": user.doc["evergreen"],
        "pool": {
            "total": len(pool),
            "active": sum(1 for p in pool if not p.get("paused")),
            "paused": sum(1 for p in pool if p.get("paused")),
        },
        "limits": {
            "pool_size": user.plan.evergreen_pool,
            "posts_per_day": user.plan.evergreen_per_day,
        },
    }


async def get_evergreen_settings(sb: Sandbox, user: User, request: Request) -> Any:
    evergreen_allowed(sb, user)
    return evergreen_state(sb, user)


async def update_evergreen_settings(sb: Sandbox, user: User, request: Request) -> Any:
    evergreen_allowed(sb, user)
    body = await json_body(request)
    settings = user.doc["evergreen"]
    if "enabled" in body:
        settings["enabled"] = bool(body["enabled"])
    if "posts_per_day" in body:
        wanted = rules.check_int(body["posts_per_day"], "posts_per_day", 1, 1000)
        settings["posts_per_day"] = min(wanted, user.plan.evergreen_per_day)
    if "posting_times" in body:
        settings["posting_times"] = rules.check_times(body["posting_times"])
    if "default_cooldown_days" in body:
        settings["default_cooldown_days"] = rules.check_int(
            body["default_cooldown_days"], "default_cooldown_days", 1, 90
        )
    sb.save_user(user)
    return evergreen_state(sb, user)


def evergreen_source(sb: Sandbox, user: User, post_id: str) -> dict[str, Any]:
    post = sb.get_post(user, post_id)
    if not post.get("isEvergreen"):
        raise Rejected(404, f"Post {post_id} is not in the evergreen pool", "not_found")
    return post


async def list_evergreen_posts(sb: Sandbox, user: User, request: Request) -> Any:
    evergreen_allowed(sb, user)
    page, limit = page_args(request)
    paused = request.query_params.get("paused")
    if paused not in (None, "true", "false"):
        raise bad("paused must be true or false")
    account = account_param(user, request)
    pool = [
        p
        for p in sb.store.posts(user.id)
        if p.get("isEvergreen")
        and (paused is None or str(bool(p.get("paused"))).lower() == paused)
        and (not account or p["x_account_id"] == account)
    ]
    items, pagination = paginate(pool, page, limit)
    return {"posts": items, "pagination": pagination}


async def add_to_evergreen(sb: Sandbox, user: User, request: Request) -> Any:
    evergreen_allowed(sb, user)
    body = await json_body(request)
    if ("post_id" in body) == ("text" in body):
        raise bad("give either post_id (mode 1) or text (mode 2)")
    account = user.account(body.get("x_account_id"))
    pool = [p for p in sb.store.posts(user.id) if p.get("isEvergreen")]
    if len(pool) >= user.plan.evergreen_pool:
        raise Rejected(
            429,
            f"Evergreen pool is full ({user.plan.evergreen_pool} posts)",
            "evergreen_pool_full",
            retry_after=86400,
        )
    cooldown = rules.check_int(
        body.get("cooldown_days", user.doc["evergreen"]["default_cooldown_days"]),
        "cooldown_days",
        1,
        90,
    )
    if "post_id" in body:
        post = sb.get_post(user, str(body["post_id"]))
        if post.get("isEvergreen"):
            raise Rejected(409, "Post is already in the evergreen pool", "already_evergreen")
        take_platforms(user, post, body)
    else:
        fields = post_fields(body, sb.now(), account)
        fields.pop("scheduled_date", None)
        post = sb.new_post(user, fields, account)
    if post.get("status") != "posted":  # a template never publishes itself; a tweet on X stays
        post.update(status="draft", scheduled_date=None)
    post.update(
        isEvergreen=True,
        cooldown_days=cooldown,
        paused=False,
        times_posted=int(post.get("times_posted") or 0),
        last_posted_at=post.get("last_posted_at"),
        updated_at=iso(sb.now()),
    )
    if body.get("category"):
        post["category"] = body["category"]
    return 201, {"success": True, "post": sb.store.save_post(user.id, post)}


async def get_evergreen_post(sb: Sandbox, user: User, request: Request) -> Any:
    evergreen_allowed(sb, user)
    post = evergreen_source(sb, user, request.path_params["id"])
    clones = [
        p
        for p in sb.store.posts(user.id)
        if p.get("source_id") == post["id"] and p["status"] == "posted"
    ]
    return {"success": True, "post": post, "recent_posts": clones[:5]}


async def update_evergreen_post(sb: Sandbox, user: User, request: Request) -> Any:
    evergreen_allowed(sb, user)
    post = evergreen_source(sb, user, request.path_params["id"])
    body = await json_body(request)
    if "cooldown_days" in body:
        post["cooldown_days"] = rules.check_int(body["cooldown_days"], "cooldown_days", 1, 90)
    if "paused" in body:
        post["paused"] = bool(body["paused"])
    post["updated_at"] = iso(sb.now())
    return {"success": True, "post": sb.store.save_post(user.id, post)}


async def remove_from_evergreen(sb: Sandbox, user: User, request: Request) -> Any:
    evergreen_allowed(sb, user)
    post = evergreen_source(sb, user, request.path_params["id"])
    post.update(isEvergreen=False, paused=False, updated_at=iso(sb.now()))
    if post.get("status") != "posted":
        post["status"] = "draft"
    sb.store.save_post(user.id, post)
    return {
        "success": True,
        "post": post,
        "message": "Removed from the evergreen pool and converted back to a draft",
    }


async def get_evergreen_history(sb: Sandbox, user: User, request: Request) -> Any:
    evergreen_allowed(sb, user)
    page, limit = page_args(request)
    source = request.query_params.get("source_id")
    if source is not None:
        rules.check_id(source)
    account = account_param(user, request)
    clones = [
        p
        for p in sb.store.posts(user.id)
        if p.get("source_id")
        and (source is None or p["source_id"] == source)
        and (not account or p["x_account_id"] == account)
    ]
    items, pagination = paginate(clones, page, limit)
    return {"history": items, "pagination": pagination}
