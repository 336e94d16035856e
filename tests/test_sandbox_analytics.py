"""The sandbox's analytics over real sockets: the overview, per-tweet analytics by plan, and
best times with the analysis that makes them engagement-weighted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx2

from tests import sandbox_helpers
from tests.sandbox_helpers import auth, draft, publish_drafts

http = sandbox_helpers.http  # the shared client fixture (an import by name would trip ruff F811)


async def test_analytics_overview_and_tweets(http: httpx2.AsyncClient) -> None:
    key = "advanced_stats"
    ids = await publish_drafts(http, key, 3)
    await draft(http, "unpublished", key=key)
    overview = (await http.get("/api/v1/analytics/overview", headers=auth(key))).json()
    stats = overview["stats"]
    assert stats["total_posts"] == 4 and stats["publishing_rate"] == 0.75
    assert stats["most_active_day"] in (
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    )
    assert overview["streaks"] == {"current": 1, "longest": 1}
    assert {"trends", "categories", "recent_activity"} <= set(overview)

    pro = await http.get("/api/v1/analytics/tweets", headers=auth())
    assert pro.status_code == 403 and "Advanced" in pro.json()["error"]
    for period in ("6", "366", "week"):
        refused = await http.get(f"/api/v1/analytics/tweets?period={period}", headers=auth(key))
        assert refused.status_code == 400, period
    first = (await http.get("/api/v1/analytics/tweets?period=all", headers=auth(key))).json()
    second = (await http.get("/api/v1/analytics/tweets?period=7", headers=auth(key))).json()
    assert sorted(t["id"] for t in first["tweets"]) == sorted(ids)
    assert first["tweets"] == second["tweets"]  # deterministic
    assert first["top_performers"][0]["likes"] == max(t["likes"] for t in first["tweets"])


async def test_best_times_modes_and_cooldown(http: httpx2.AsyncClient, sandbox: Any) -> None:
    key = "advanced_times"
    early = (await http.get("/api/v1/analytics/best-times", headers=auth(key))).json()
    assert early["mode"] == "frequency_only" and early["insufficient_data"] is True
    thin = await http.post("/api/v1/analytics/best-times/analyze", json={}, headers=auth(key))
    assert thin.json()["profile"]["status"] == "insufficient_posts"

    await publish_drafts(http, key, 3)
    counted = (await http.get("/api/v1/analytics/best-times", headers=auth(key))).json()
    assert counted["mode"] == "frequency_only" and "insufficient_data" not in counted
    assert sum(counted["hour_distribution"].values()) == 3 and len(counted["best_hours"]) == 3

    sandbox.config(analysis_delay=0.3)
    started = await http.post("/api/v1/analytics/best-times/analyze", json={}, headers=auth(key))
    assert started.json() == {"success": True, "profile": {"status": "analyzing"}}
    cooling = await http.post("/api/v1/analytics/best-times/analyze", json={}, headers=auth(key))
    assert cooling.status_code == 429 and cooling.json()["next_available_at"]
    assert int(cooling.headers["retry-after"]) > 3000
    still = (await http.get("/api/v1/analytics/best-times", headers=auth(key))).json()
    assert still["mode"] == "frequency_only" and still["profile"]["status"] == "analyzing"
    await asyncio.sleep(0.35)
    ready = (await http.get("/api/v1/analytics/best-times", headers=auth(key))).json()
    assert ready["mode"] == "engagement_weighted" and ready["profile"]["status"] == "ready"
    assert len(ready["heatmap"]) == 7 and len(ready["heatmap"][0]) == 24
    assert ready["top_windows"] and 0 < ready["confidence"] <= 1
    for name in (
        "best_day",
        "best_hour",
        "worst_day",
        "worst_hour",
        "insights",
        "day_distribution",
    ):
        assert name in ready, name


async def test_tweet_analytics_plans_and_details(http: httpx2.AsyncClient) -> None:
    key = "agency_stats"
    await publish_drafts(http, key, 2)
    thread = await http.post(
        "/api/v1/posts",
        json={"text": "a thread", "thread_tweets": ["two"], "publish_now": True},
        headers=auth(key),
    )
    assert thread.status_code == 201
    answer = await http.get("/api/v1/analytics/tweets?period=all", headers=auth(key))
    body = answer.json()
    assert answer.status_code == 200 and body["summary"]["tweets"] == 3
    assert body["content_type_stats"]["thread"]["count"] == 1
    assert body["content_type_stats"]["text"]["count"] == 2
    assert sum(day["posts"] for day in body["engagement_timeline"]) == 3
    assert body["best_days"] and body["best_hours"]
    for tweet in body["tweets"]:
        assert {"likes", "retweets", "replies", "quotes", "impressions", "bookmarks"} <= set(tweet)
    trial = await http.get("/api/v1/analytics/tweets", headers=auth("trial_stats"))
    assert trial.status_code == 403
    overview = (await http.get("/api/v1/analytics/overview", headers=auth(key))).json()
    assert overview["trends"]["best_month"] == datetime.now(UTC).strftime("%Y-%m")
    assert overview["stats"]["threads"] == 1 and overview["trends"]["this_week"] == 3
