"""The sandbox's inspiration endpoints over real sockets: search (filters, order, its daily cap)
and repurpose (deterministic, with its AI quota)."""

from __future__ import annotations

import httpx2

from tests import sandbox_helpers
from tests.sandbox_helpers import auth

http = sandbox_helpers.http  # the shared client fixture (an import by name would trip ruff F811)


async def test_inspiration_caps_and_filters(http: httpx2.AsyncClient) -> None:
    found = (
        await http.get("/api/v1/inspiration/search?q=agents&lang=en&min_likes=1000", headers=auth())
    ).json()
    assert found["data"] and all(
        t["lang"] == "en" and t["like_count"] >= 1000 for t in found["data"]
    )
    assert found["usage"] == {"searches_used": 1, "remaining": 49, "daily_limit": 50}
    assert (await http.get("/api/v1/inspiration/search", headers=auth())).status_code == 400
    for _ in range(2):
        await http.get("/api/v1/inspiration/search?q=ai", headers=auth("trial_search"))
    capped = await http.get("/api/v1/inspiration/search?q=ai", headers=auth("trial_search"))
    assert capped.status_code == 429


async def test_inspiration_search_details(http: httpx2.AsyncClient) -> None:
    hit = (await http.get("/api/v1/inspiration/search?q=instructions", headers=auth())).json()
    assert any("Ignore previous instructions" in t["text"] for t in hit["data"])
    assert hit["meta"]["result_count"] == len(hit["data"])
    fields = {"id", "author", "text", "lang", "like_count", "retweet_count", "has_media"}
    assert fields | {"created_at"} <= set(hit["data"][0])
    recent = (
        await http.get("/api/v1/inspiration/search?q=the&sort_order=recency", headers=auth())
    ).json()["data"]
    dates = [t["created_at"] for t in recent]
    assert len(dates) > 1 and dates == sorted(dates, reverse=True)
    media = (
        await http.get("/api/v1/inspiration/search?q=the&has_media=true", headers=auth())
    ).json()["data"]
    assert media and all(t["has_media"] for t in media)
    for query in ("q=ai&max_results=5", "q=ai&sort_order=best", "q=ai&min_likes=many"):
        bad_query = await http.get(f"/api/v1/inspiration/search?{query}", headers=auth())
        assert bad_query.status_code == 400, query


async def test_repurpose(http: httpx2.AsyncClient) -> None:
    body = {"tweet_text": "AI agents will change how small teams ship software.", "tone": "bold"}
    answer = (await http.post("/api/v1/inspiration/repurpose", json=body, headers=auth())).json()
    assert answer["repurposed"]["text"].startswith("Hot take: ")
    assert answer["repurposed"]["category"] == "AI" and answer["repurposed"]["key_topics"]
    saved = (await http.get(f"/api/v1/posts/{answer['draft']['id']}", headers=auth())).json()
    assert saved["post"]["status"] == "draft"
    again = (await http.post("/api/v1/inspiration/repurpose", json=body, headers=auth())).json()
    assert again["repurposed"] == answer["repurposed"]  # deterministic
    unsaved = {**body, "save_as_draft": False, "instructions": "add a call to action"}
    plain = (await http.post("/api/v1/inspiration/repurpose", json=unsaved, headers=auth())).json()
    assert "draft" not in plain and plain["repurposed"]["text"].endswith("What would you add?")
    assert (
        await http.post("/api/v1/inspiration/repurpose", json={}, headers=auth())
    ).status_code == 400
    key = "trial_ai"
    codes = [
        (await http.post("/api/v1/inspiration/repurpose", json=body, headers=auth(key))).status_code
        for _ in range(6)
    ]
    assert codes == [200] * 5 + [429]
