"""The sandbox's evergreen queue over real sockets: plans and settings, the pool's lifecycle,
accounts, and the scheduler's clones with their cooldowns and pauses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

from tests import sandbox_helpers
from tests.sandbox_helpers import FUTURE, accounts_of, auth, draft, publish_drafts

http = sandbox_helpers.http  # the shared client fixture (an import by name would trip ruff F811)


async def test_evergreen_source_is_never_published(http: httpx2.AsyncClient) -> None:
    post_id = await draft(http, "timeless")
    added = await http.post("/api/v1/evergreen/posts", json={"post_id": post_id}, headers=auth())
    assert added.status_code == 201 and added.json()["post"]["isEvergreen"] is True
    refused = await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth())
    assert refused.status_code == 400 and refused.json()["code"] == "evergreen_source"
    sources = (await http.get("/api/v1/posts?status=evergreen", headers=auth())).json()["posts"]
    assert [p["id"] for p in sources] == [post_id]


async def test_evergreen_plans_and_settings(http: httpx2.AsyncClient) -> None:
    trial = await http.get("/api/v1/evergreen/settings", headers=auth("trial_green"))
    assert trial.status_code == 403 and trial.json()["code"] == "plan_required"
    got = (await http.get("/api/v1/evergreen/settings", headers=auth())).json()
    assert got["success"] is True and got["settings"]["enabled"] is False
    assert got["pool"]["total"] == 0 and got["limits"] == {"pool_size": 10, "posts_per_day": 2}
    wanted = {"enabled": True, "posts_per_day": 50, "posting_times": ["17:00", "09:00"]}
    pro = (await http.put("/api/v1/evergreen/settings", json=wanted, headers=auth())).json()
    assert pro["settings"]["posts_per_day"] == 2 and pro["settings"]["posting_times"] == [
        "09:00",
        "17:00",
    ]
    advanced = await http.put(
        "/api/v1/evergreen/settings", json=wanted, headers=auth("advanced_green")
    )
    assert advanced.json()["settings"]["posts_per_day"] == 10
    for body in ({"posting_times": ["9am"]}, {"default_cooldown_days": 91}, {"posts_per_day": 0}):
        refused = await http.put("/api/v1/evergreen/settings", json=body, headers=auth())
        assert refused.status_code == 400, body


async def test_evergreen_pool_lifecycle(http: httpx2.AsyncClient, sandbox: Any) -> None:
    both = {"post_id": "a" * 24, "text": "x"}
    assert (
        await http.post("/api/v1/evergreen/posts", json=both, headers=auth())
    ).status_code == 400
    source_id = await draft(http, "timeless one")
    added = await http.post(
        "/api/v1/evergreen/posts", json={"post_id": source_id, "cooldown_days": 3}, headers=auth()
    )
    assert added.status_code == 201 and added.json()["post"]["cooldown_days"] == 3
    again = await http.post("/api/v1/evergreen/posts", json={"post_id": source_id}, headers=auth())
    assert again.status_code == 409
    made = await http.post(
        "/api/v1/evergreen/posts",
        json={"text": "timeless two", "category": "Tips", "thread_tweets": ["more"]},
        headers=auth(),
    )
    second = made.json()["post"]
    assert second["isEvergreen"] is True and second["is_thread"] is True
    assert second["cooldown_days"] == 14  # the default_cooldown_days
    for n in range(8):
        await http.post("/api/v1/evergreen/posts", json={"text": f"filler {n}"}, headers=auth())
    full = await http.post("/api/v1/evergreen/posts", json={"text": "one too many"}, headers=auth())
    assert full.status_code == 429 and full.json()["code"] == "evergreen_pool_full"

    paused = await http.put(
        f"/api/v1/evergreen/posts/{second['id']}", json={"paused": True}, headers=auth()
    )
    assert paused.json()["post"]["paused"] is True
    listed = (await http.get("/api/v1/evergreen/posts?paused=true", headers=auth())).json()
    assert [p["id"] for p in listed["posts"]] == [second["id"]]
    assert listed["pagination"]["total"] == 1
    item = listed["posts"][0]
    assert {"cooldown_days", "last_posted_at", "times_posted", "paused"} <= set(item)

    await http.put(
        "/api/v1/evergreen/settings",
        json={"enabled": True, "posts_per_day": 1, "posting_times": ["09:00"]},
        headers=auth(),
    )
    ran = sandbox.scheduler(datetime.now(UTC).replace(hour=10, minute=0))
    assert ran["evergreen_clones"] == 1
    history = (await http.get("/api/v1/evergreen/history", headers=auth())).json()
    (clone,) = history["history"]
    assert clone["status"] == "posted" and clone["url"] and clone["isEvergreen"] is False
    source = clone["source_id"]
    detail = (await http.get(f"/api/v1/evergreen/posts/{source}", headers=auth())).json()
    assert detail["post"]["times_posted"] == 1 and detail["recent_posts"][0]["url"] == clone["url"]
    filtered = await http.get(f"/api/v1/evergreen/history?source_id={'b' * 24}", headers=auth())
    assert filtered.json()["history"] == []

    removed = await http.delete(f"/api/v1/evergreen/posts/{source_id}", headers=auth())
    assert removed.json()["post"]["isEvergreen"] is False
    kept = (await http.get(f"/api/v1/posts/{source_id}", headers=auth())).json()["post"]
    assert kept["status"] == "draft" and kept["isEvergreen"] is False
    gone = await http.get(f"/api/v1/evergreen/posts/{source_id}", headers=auth())
    assert gone.status_code == 404


async def test_evergreen_scheduler_honours_cooldowns_and_pauses(
    http: httpx2.AsyncClient, sandbox: Any
) -> None:
    settings = {"enabled": True, "posts_per_day": 2, "posting_times": ["09:00", "17:00"]}
    await http.put("/api/v1/evergreen/settings", json=settings, headers=auth())
    sources = []
    for text in ("evergreen a", "evergreen b", "evergreen paused"):
        made = await http.post(
            "/api/v1/evergreen/posts", json={"text": text, "cooldown_days": 3}, headers=auth()
        )
        sources.append(made.json()["post"]["id"])
    await http.put(f"/api/v1/evergreen/posts/{sources[2]}", json={"paused": True}, headers=auth())
    day = datetime(2099, 3, 1, tzinfo=UTC)
    assert sandbox.scheduler(day.replace(hour=8))["evergreen_clones"] == 0  # before 09:00
    assert sandbox.scheduler(day.replace(hour=12))["evergreen_clones"] == 1
    assert sandbox.scheduler(day.replace(hour=12, minute=30))["evergreen_clones"] == 0  # slot used
    assert sandbox.scheduler(day.replace(hour=18))["evergreen_clones"] == 1
    assert sandbox.scheduler((day + timedelta(days=1)).replace(hour=18))["evergreen_clones"] == 0
    assert sandbox.scheduler((day + timedelta(days=3)).replace(hour=18))["evergreen_clones"] == 2
    history = (await http.get("/api/v1/evergreen/history", headers=auth())).json()["history"]
    assert len(history) == 4 and sources[2] not in {c["source_id"] for c in history}
    assert {c["source_id"] for c in history} == set(sources[:2])
    one = await http.get(f"/api/v1/evergreen/history?source_id={sources[0]}", headers=auth())
    assert [c["source_id"] for c in one.json()["history"]] == [sources[0]] * 2
    source = (await http.get(f"/api/v1/evergreen/posts/{sources[0]}", headers=auth())).json()
    assert source["post"]["times_posted"] == 2 and len(source["recent_posts"]) == 2
    assert source["post"]["status"] == "draft"  # the template itself is never published


async def test_evergreen_accounts_and_published_sources(http: httpx2.AsyncClient) -> None:
    key = "advanced_pool"
    second = (await accounts_of(http, key))[1]["id"]
    await http.post("/api/v1/evergreen/posts", json={"text": "on primary"}, headers=auth(key))
    await http.post(
        "/api/v1/evergreen/posts",
        json={"text": "on second", "x_account_id": second},
        headers=auth(key),
    )
    listed = await http.get(f"/api/v1/evergreen/posts?x_account_id={second}", headers=auth(key))
    assert [p["text"] for p in listed.json()["posts"]] == ["on second"]
    assert (
        await http.get("/api/v1/evergreen/posts?paused=maybe", headers=auth(key))
    ).status_code == 400

    (posted_id,) = await publish_drafts(http, key, 1)
    added = await http.post(
        "/api/v1/evergreen/posts", json={"post_id": posted_id}, headers=auth(key)
    )
    assert (
        added.json()["post"]["isEvergreen"] is True and added.json()["post"]["status"] == "posted"
    )
    removed = await http.delete(f"/api/v1/evergreen/posts/{posted_id}", headers=auth(key))
    assert removed.json()["post"]["status"] == "posted"  # a tweet on X does not become a draft
    scheduled = await draft(http, "scheduled template", key=key)
    await http.post(
        f"/api/v1/posts/{scheduled}/schedule", json={"scheduled_date": FUTURE}, headers=auth(key)
    )
    converted = await http.post(
        "/api/v1/evergreen/posts", json={"post_id": scheduled}, headers=auth(key)
    )
    post = converted.json()["post"]
    assert post["status"] == "draft" and post["scheduled_date"] is None  # never self-publishes
