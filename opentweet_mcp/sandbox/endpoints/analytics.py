"""Analytics endpoints: the overview, per-tweet analytics (Advanced plan and up), best times,
and the best-times analysis that turns them engagement-weighted after a delay. Engagement is
pseudo-random but deterministic, derived from each post's id."""

from __future__ import annotations

import hashlib
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request

from opentweet_mcp.sandbox.plumbing import account_param, json_body
from opentweet_mcp.sandbox.rules import Rejected, bad
from opentweet_mcp.sandbox.state import Sandbox, User, iso, parse_iso

DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


def engagement(post: dict[str, Any]) -> dict[str, Any]:
    """Deterministic pseudo-engagement derived from the post id."""
    h = int(hashlib.sha256(post["id"].encode()).hexdigest()[:12], 16)
    likes, retweets, replies = h % 400, (h >> 9) % 80, (h >> 17) % 40
    impressions = 1000 + (h >> 23) % 20000
    return {
        "likes": likes,
        "retweets": retweets,
        "replies": replies,
        "quotes": (h >> 29) % 10,
        "bookmarks": (h >> 33) % 30,
        "impressions": impressions,
        "engagement_rate": round((likes + retweets + replies) / impressions * 100, 2),
    }


def posted(sb: Sandbox, user: User, account: str | None) -> list[dict[str, Any]]:
    return [
        p
        for p in sb.store.posts(user.id)
        if p["status"] == "posted" and (not account or p["x_account_id"] == account)
    ]


async def get_analytics_overview(sb: Sandbox, user: User, request: Request) -> Any:
    account = account_param(user, request)
    everything = [
        p
        for p in sb.store.posts(user.id)
        if not p.get("isEvergreen") and (not account or p["x_account_id"] == account)
    ]
    done = posted(sb, user, account)
    moments = [parse_iso(p["posted_date"]) for p in done]
    days = sorted({m.date() for m in moments})
    today = sb.now().date()
    streak = 0
    while today - timedelta(days=streak) in days:
        streak += 1
    longest = run = 0
    for index, day in enumerate(days):
        run = run + 1 if index and (day - days[index - 1]).days == 1 else 1
        longest = max(longest, run)

    def count_between(start: int, end: int) -> int:
        return sum(1 for m in moments if start <= (today - m.date()).days < end)

    weeks = max(1.0, ((today - days[0]).days + 1) / 7) if days else 1.0
    months: dict[str, int] = {}
    for m in moments:
        months[m.strftime("%Y-%m")] = months.get(m.strftime("%Y-%m"), 0) + 1
    categories: dict[str, int] = {}
    for p in done:
        categories[p.get("category") or "Uncategorized"] = (
            categories.get(p.get("category") or "Uncategorized", 0) + 1
        )
    return {
        "success": True,
        "stats": {
            "total_posts": len(everything),
            "published": len(done),
            "publishing_rate": round(len(done) / len(everything), 2) if everything else 0,
            "active_days": len(days),
            "avg_posts_per_week": round(len(done) / weeks, 2),
            "most_active_day": max(
                DAYS, key=lambda d: sum(1 for m in moments if DAYS[(m.weekday() + 1) % 7] == d)
            )
            if moments
            else None,
            "most_active_hour": max(range(24), key=lambda h: sum(1 for m in moments if m.hour == h))
            if moments
            else None,
            "threads": sum(1 for p in done if p.get("is_thread")),
            "media_posts": sum(1 for p in done if p.get("media_urls")),
        },
        "streaks": {"current": streak, "longest": longest},
        "trends": {
            "this_week": count_between(0, 7),
            "last_week": count_between(7, 14),
            "this_month": count_between(0, 30),
            "last_month": count_between(30, 60),
            "best_month": max(months, key=lambda m: (months[m], m)) if months else None,
        },
        "categories": categories,
        "recent_activity": {
            "last_7_days": [count_between(d, d + 1) for d in range(7)],
            "last_30_days": [count_between(d, d + 1) for d in range(30)],
        },
    }


async def get_tweet_analytics(sb: Sandbox, user: User, request: Request) -> Any:
    if not user.plan.tweet_analytics:
        raise Rejected(403, "Tweet engagement analytics require the Advanced plan", "plan_required")
    period = request.query_params.get("period", "30")
    if period != "all" and not (period.isdigit() and 7 <= int(period) <= 365):
        raise bad('period must be 7–365 days or "all"')
    account = account_param(user, request)
    now = sb.now()
    tweets = []
    for p in posted(sb, user, account):
        if period == "all" or parse_iso(p["posted_date"]) >= now - timedelta(days=int(period)):
            tweets.append(
                {
                    "id": p["id"],
                    "text": p["text"],
                    "url": p["url"],
                    "posted_date": p["posted_date"],
                    "content_type": "thread"
                    if p.get("is_thread")
                    else ("media" if p.get("media_urls") else "text"),
                    **engagement(p),
                }
            )
    ranked = sorted(tweets, key=lambda t: (-t["likes"], t["id"]))
    kinds: dict[str, list[dict[str, Any]]] = {"text": [], "thread": [], "media": []}
    timeline: dict[str, dict[str, int]] = {}
    for t in tweets:
        kinds[t["content_type"]].append(t)
        day = timeline.setdefault(t["posted_date"][:10], {"posts": 0, "likes": 0, "retweets": 0})
        day["posts"] += 1
        day["likes"] += t["likes"]
        day["retweets"] += t["retweets"]
    return {
        "success": True,
        "period": period,
        "summary": {
            "tweets": len(tweets),
            **{
                f"total_{name}": sum(t[name] for t in tweets)
                for name in ("likes", "retweets", "replies", "impressions")
            },
        },
        "tweets": tweets,
        "top_performers": ranked[:3],
        "worst_performers": ranked[-3:][::-1],
        "content_type_stats": {
            kind: {
                "count": len(items),
                "avg_likes": round(sum(t["likes"] for t in items) / len(items), 1) if items else 0,
            }
            for kind, items in kinds.items()
        },
        "engagement_timeline": [{"date": d, **v} for d, v in sorted(timeline.items())],
        "best_hours": sorted({parse_iso(t["posted_date"]).hour for t in ranked[:3]}),
        "best_days": list(
            dict.fromkeys(DAYS[(parse_iso(t["posted_date"]).weekday() + 1) % 7] for t in ranked)
        )[:3],
    }


def frequency(done: list[dict[str, Any]]) -> dict[str, Any]:
    moments = [parse_iso(p["posted_date"]) for p in done]
    hours = {str(h): sum(1 for m in moments if m.hour == h) for h in range(24)}
    days = {d: sum(1 for m in moments if DAYS[(m.weekday() + 1) % 7] == d) for d in DAYS}
    return {
        "hour_distribution": hours,
        "day_distribution": days,
        "best_hours": sorted(range(24), key=lambda h: -hours[str(h)])[:3],
        "best_days": sorted(DAYS, key=lambda d: -days[d])[:3],
    }


def analysis_status(sb: Sandbox, user: User) -> str:
    analysis = user.doc.get("analysis")
    if not analysis:
        return "none"
    if analysis["status"] == "analyzing" and time.time() >= analysis["ready_at"]:
        analysis["status"] = "ready"
        sb.save_user(user)
    return str(analysis["status"])


async def get_best_times(sb: Sandbox, user: User, request: Request) -> Any:
    account = account_param(user, request)
    done = posted(sb, user, account)
    status = analysis_status(sb, user)
    legacy = frequency(done)
    if status == "ready":
        heatmap = [[0.0] * 24 for _ in DAYS]
        for p in done:
            m = parse_iso(p["posted_date"])
            e = engagement(p)
            heatmap[(m.weekday() + 1) % 7][m.hour] += e["likes"] + 2 * e["retweets"]
        cells = sorted(((heatmap[d][h], d, h) for d in range(7) for h in range(24)), reverse=True)
        best, worst = cells[0], cells[-1]
        return {
            "success": True,
            "mode": "engagement_weighted",
            "profile": {"status": "ready"},
            "heatmap": heatmap,
            "confidence": round(min(1.0, len(done) / 30), 2),
            "top_windows": [{"day": DAYS[d], "hour": h, "score": s} for s, d, h in cells[:5]],
            "best_day": DAYS[best[1]],
            "best_hour": best[2],
            "worst_day": DAYS[worst[1]],
            "worst_hour": worst[2],
            "insights": [f"Your posts on {DAYS[best[1]]} around {best[2]}:00 do best."],
            **legacy,
        }
    answer = {"success": True, "mode": "frequency_only", "profile": {"status": status}, **legacy}
    if len(done) < 3:
        answer["insufficient_data"] = True
        answer["message"] = "Best times need at least 3 published posts"
    return answer


async def analyze_best_times(sb: Sandbox, user: User, request: Request) -> Any:
    body = await json_body(request)
    if body.get("x_account_id"):
        user.account(body["x_account_id"])
    analysis = user.doc.get("analysis")
    cooldown = float(sb.knob("analysis_cooldown"))
    if analysis and time.time() < analysis["started"] + cooldown:
        next_at = datetime.fromtimestamp(analysis["started"] + cooldown, UTC)
        raise Rejected(
            429,
            "A recent analysis is still fresh",
            "analysis_cooldown",
            next_available_at=iso(next_at),
            retry_after=max(1, math.ceil(analysis["started"] + cooldown - time.time())),
        )
    if len(posted(sb, user, body.get("x_account_id"))) < 3:
        return {
            "success": True,
            "profile": {
                "status": "insufficient_posts",
                "message": "needs at least 3 published posts",
            },
        }
    user.doc["analysis"] = {
        "status": "analyzing",
        "started": time.time(),
        "ready_at": time.time() + float(sb.knob("analysis_delay")),
    }
    sb.save_user(user)
    return {"success": True, "profile": {"status": analysis_status(sb, user)}}
