"""Account endpoints: `GET /me` (`get_account`: plan, limits, post counts) and `GET /accounts`
(`list_accounts`: the X accounts a key is connected to, derived from the key)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from opentweet_mcp.sandbox.state import Sandbox, User


async def get_account(sb: Sandbox, user: User, request: Request) -> Any:
    posts = sb.store.posts(user.id)
    used = sb.store.count(sb.day_counter(user, "posts"))
    counts = {
        s: sum(1 for p in posts if p["status"] == s and not p.get("isEvergreen"))
        for s in ("draft", "scheduled", "posted", "failed")
    }
    counts["evergreen"] = sum(1 for p in posts if p.get("isEvergreen"))
    status = {"trial": "trialing", "none": "inactive"}.get(user.plan.name, "active")
    return {
        "authenticated": True,
        "subscription": {
            "plan": user.plan.name,
            "status": status,
            "has_access": user.plan.has_access,
            "is_trialing": user.plan.name == "trial",
        },
        "limits": {
            "can_post": user.plan.has_access and used < user.plan.daily_posts,
            "daily_limit": user.plan.daily_posts,
            "posts_today": used,
            "remaining_posts_today": max(0, user.plan.daily_posts - used),
            "url_posts_today": sb.store.count(sb.day_counter(user, "url_posts")),
            "url_daily_limit": user.plan.daily_url_posts,
            "requests_per_minute": user.plan.per_minute,
        },
        "post_counts": counts,
        "stats": {
            "total_posts": len(posts),
            "scheduled_posts": counts["scheduled"],
            "posted_posts": counts["posted"],
            "draft_posts": counts["draft"],
        },
        "x_accounts": user.accounts,
    }


async def list_accounts(sb: Sandbox, user: User, request: Request) -> Any:
    return {"accounts": user.accounts}
