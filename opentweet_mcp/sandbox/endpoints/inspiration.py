"""Inspiration endpoints: `GET /inspiration/search` (`search_inspiration`, over the fixed
corpus in corpus.py) and `POST /inspiration/repurpose` (`repurpose_tweet`, a deterministic
rewrite standing in for the AI), each with its own daily cap."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from starlette.requests import Request

from opentweet_mcp.sandbox import rules
from opentweet_mcp.sandbox.corpus import corpus
from opentweet_mcp.sandbox.plumbing import json_body
from opentweet_mcp.sandbox.rules import bad
from opentweet_mcp.sandbox.state import Sandbox, User, iso
from opentweet_mcp.text.weighted import parse_tweet


async def search_inspiration(sb: Sandbox, user: User, request: Request) -> Any:
    sb.require_subscription(user, "search inspiration")
    params = request.query_params
    q = (params.get("q") or "").strip()
    if not q:
        raise bad("q is required")
    sb.check_daily(user, "searches", user.plan.searches_per_day, "search", "search_limit")
    try:
        max_results = int(params.get("max_results", "10"))
        min_likes = int(params.get("min_likes", "0"))
        min_retweets = int(params.get("min_retweets", "0"))
    except ValueError:
        raise bad("max_results, min_likes and min_retweets must be whole numbers") from None
    if sb.knob("search_ignores_minimums"):
        min_likes = min_retweets = 0
    if not 10 <= max_results <= 100:
        raise bad("max_results must be 10–100")
    sort_order = params.get("sort_order", "relevancy")
    if sort_order not in ("relevancy", "recency"):
        raise bad("sort_order must be relevancy or recency")
    words = {w for w in re.findall(r"\w+", q.lower()) if len(w) > 1}
    now = sb.now()
    found = []
    for tweet in corpus():
        score = len(words & set(re.findall(r"\w+", tweet["text"].lower())))
        if not score or tweet["like_count"] < min_likes or tweet["retweet_count"] < min_retweets:
            continue
        if params.get("lang") and tweet["lang"] != params["lang"]:
            continue
        if params.get("has_media") and str(tweet["has_media"]).lower() != params["has_media"]:
            continue
        found.append((score, tweet))
    if sort_order == "recency":
        found.sort(key=lambda pair: pair[1]["days_ago"])
    else:
        found.sort(key=lambda pair: (-pair[0], -pair[1]["like_count"]))
    data = []
    for _, tweet in found[:max_results]:
        item = {k: v for k, v in tweet.items() if k != "days_ago"}
        item["created_at"] = iso(now - timedelta(days=tweet["days_ago"]))
        data.append(item)
    used = sb.store.bump(sb.day_counter(user, "searches"))
    limit = user.plan.searches_per_day
    return {
        "data": data,
        "meta": {"result_count": len(data), "query": q},
        "usage": {"searches_used": used, "remaining": max(0, limit - used), "daily_limit": limit},
    }


TONES = {"casual": "Honestly: ", "professional": "", "witty": "Plot twist: ", "bold": "Hot take: "}
CATEGORIES = {
    "ai": "AI",
    "agent": "AI",
    "growth": "Growth",
    "pricing": "Business",
    "hiring": "Business",
    "write": "Writing",
    "thread": "Writing",
    "design": "Design",
}


async def repurpose_tweet(sb: Sandbox, user: User, request: Request) -> Any:
    sb.require_subscription(user, "repurpose tweets")
    body = await json_body(request)
    original = body.get("tweet_text")
    if not isinstance(original, str) or not original.strip():
        raise bad("tweet_text is required")
    sb.check_daily(user, "ai", user.plan.ai_per_day, "AI generation", "ai_quota")
    sb.store.bump(sb.day_counter(user, "ai"))
    core = " ".join(original.split())
    text = TONES.get(str(body.get("tone") or "").lower(), "") + core
    instructions = str(body.get("instructions") or "").lower()
    if "call to action" in instructions or "cta" in instructions:
        text += " What would you add?"
    if "punch" in instructions:
        text = text.split(". ")[0].rstrip(".") + "."
    while parse_tweet(text).weighted_length > rules.MAX_TWEET:
        text = text.rsplit(" ", 1)[0].rstrip(",;:") + "…"
    lowered = core.lower()
    category = next((c for k, c in CATEGORIES.items() if k in lowered), "General")
    topics = sorted(
        {w.strip(".,!?:;").lower() for w in core.split() if len(w) > 5}, key=lambda w: (-len(w), w)
    )[:3]
    answer: dict[str, Any] = {
        "success": True,
        "repurposed": {"text": text, "category": category, "key_topics": topics},
    }
    if body.get("save_as_draft", True):
        account = user.account(body.get("x_account_id"))
        answer["draft"] = sb.new_post(user, {"text": text, "category": category}, account)
    return answer
