"""The sandbox itself over real sockets: the upstream guide's rules, the plans, and every fault
action. (The tools' tests exercise the happy paths of every endpoint through MCP.)"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from opentweet_mcp.sandbox import rules
from opentweet_mcp.sandbox.runner import DEMO_KEY, SandboxServer, banner

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
FUTURE = "2099-01-01T10:00:00Z"


@pytest.fixture
async def http(sandbox: Any) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=sandbox.base_url, timeout=5) as client:
        yield client


def auth(key: str = "pro_rules") -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def draft(http: httpx2.AsyncClient, text: str = "a draft", key: str = "pro_rules") -> str:
    response = await http.post("/api/v1/posts", json={"text": text}, headers=auth(key))
    assert response.status_code == 201
    post_id = str(response.json()["posts"][0]["id"])
    assert re.fullmatch(r"[0-9a-f]{24}", post_id)
    return post_id


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "pro_key"}, {"Authorization": "Basic pro_key"}]
)
async def test_auth_required(http: httpx2.AsyncClient, headers: dict[str, str]) -> None:
    response = await http.get("/api/v1/me", headers=headers)
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


@pytest.mark.parametrize(
    "key,plan,accounts,access",
    [
        ("trial_x", "trial", 1, True),
        ("pro_x", "pro", 1, True),
        ("advanced_x", "advanced", 3, True),
        ("agency_x", "agency", 10, True),
        ("nosub_x", "none", 1, False),
        ("anything", "pro", 1, True),
    ],
)
async def test_plans_by_key_prefix(
    http: httpx2.AsyncClient, key: str, plan: str, accounts: int, access: bool
) -> None:
    me = (await http.get("/api/v1/me", headers=auth(key))).json()
    assert me["subscription"]["plan"] == plan and me["subscription"]["has_access"] is access
    listed = (await http.get("/api/v1/accounts", headers=auth(key))).json()["accounts"]
    assert len(listed) == accounts and sum(a["is_primary"] for a in listed) == 1
    assert all(re.fullmatch(r"[0-9a-f]{24}", a["id"]) for a in listed)


async def test_drafts_are_free_the_rest_needs_a_subscription(http: httpx2.AsyncClient) -> None:
    key = "nosub_rules"
    post_id = await draft(http, key=key)
    for method, path, body in [
        ("POST", "/api/v1/posts", {"text": "x", "scheduled_date": FUTURE}),
        ("POST", "/api/v1/posts", {"text": "x", "publish_now": True}),
        ("POST", f"/api/v1/posts/{post_id}/schedule", {"scheduled_date": FUTURE}),
        ("POST", f"/api/v1/posts/{post_id}/publish", None),
        (
            "POST",
            "/api/v1/posts/batch-schedule",
            {"schedules": [{"post_id": post_id, "scheduled_date": FUTURE}]},
        ),
        ("GET", "/api/v1/evergreen/settings", None),
        ("GET", "/api/v1/inspiration/search?q=ai", None),
        ("POST", "/api/v1/inspiration/repurpose", {"tweet_text": "x"}),
    ]:
        response = await http.request(method, path, json=body, headers=auth(key))
        assert response.status_code == 403, (path, response.text)
        assert response.json()["code"] == "subscription_required"


@pytest.mark.parametrize(
    "body,code",
    [
        ({"text": ""}, "invalid_request"),
        ({"text": "x" * 281}, "text_too_long"),
        ({"text": "日" * 141}, "text_too_long"),
        ({"text": "ok", "scheduled_date": "2020-01-01T00:00:00Z"}, "date_in_past"),
        ({"text": "ok", "scheduled_date": "soon"}, "invalid_date"),
        ({"text": "ok", "publish_now": True, "scheduled_date": FUTURE}, "invalid_request"),
        ({"posts": [{"text": "a"}], "publish_now": True}, "invalid_request"),
        ({"posts": [{"text": f"p{n}"} for n in range(51)]}, "bulk_limit"),
        ({"text": "ok", "media_urls": ["https://m/1.png"] * 5}, "too_much_media"),
        ({"text": "ok", "media_urls": ["https://m/1.png", "https://m/2.mp4"]}, "too_much_media"),
        ({"text": "ok", "thread_tweets": ["b"], "thread_media": [[], []]}, "invalid_request"),
        ({"text": "ok", "is_thread": True}, "invalid_request"),
        (
            {"text": "ok", "auto_retweet_enabled": True, "auto_retweet_offset_minutes": 10081},
            "invalid_request",
        ),
        ({"text": "ok", "x_account_id": "0" * 24}, "account_not_found"),
    ],
)
async def test_create_rules(http: httpx2.AsyncClient, body: dict[str, Any], code: str) -> None:
    response = await http.post("/api/v1/posts", json=body, headers=auth())
    assert response.status_code in (400, 404) and response.json()["code"] == code, response.text
    listed = (await http.get("/api/v1/posts", headers=auth())).json()
    assert listed["pagination"]["total"] == 0  # nothing was saved


async def test_publish_update_delete_rules(http: httpx2.AsyncClient) -> None:
    post_id = await draft(http, "publish me")
    published = (await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth())).json()
    assert published["status"] == "posted" and published["x_post_id"].isdigit()
    assert re.fullmatch(r"https://x\.com/sandbox_\w+/status/\d+", published["url"])
    again = await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth())
    assert again.status_code == 409
    edit = await http.put(f"/api/v1/posts/{post_id}", json={"text": "late"}, headers=auth())
    assert edit.status_code == 409
    kept = await http.delete(f"/api/v1/posts/{post_id}?delete_from_x=false", headers=auth())
    assert kept.json()["x_deleted"] is False
    assert (await http.get(f"/api/v1/posts/{post_id}", headers=auth())).status_code == 404

    other = await draft(http, "published then deleted")
    await http.post(f"/api/v1/posts/{other}/publish", headers=auth())
    gone = await http.delete(f"/api/v1/posts/{other}", headers=auth())
    assert gone.json()["x_deleted"] is True
    assert (await http.get("/api/v1/posts/nothex", headers=auth())).status_code == 400


async def test_evergreen_source_is_never_published(http: httpx2.AsyncClient) -> None:
    post_id = await draft(http, "timeless")
    added = await http.post("/api/v1/evergreen/posts", json={"post_id": post_id}, headers=auth())
    assert added.status_code == 201 and added.json()["post"]["isEvergreen"] is True
    refused = await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth())
    assert refused.status_code == 400 and refused.json()["code"] == "evergreen_source"
    sources = (await http.get("/api/v1/posts?status=evergreen", headers=auth())).json()["posts"]
    assert [p["id"] for p in sources] == [post_id]


async def test_update_unschedules_with_null(http: httpx2.AsyncClient) -> None:
    post_id = await draft(http)
    await http.post(
        f"/api/v1/posts/{post_id}/schedule", json={"scheduled_date": FUTURE}, headers=auth()
    )
    back = await http.put(f"/api/v1/posts/{post_id}", json={"scheduled_date": None}, headers=auth())
    assert (
        back.json()["post"]["status"] == "draft" and back.json()["post"]["scheduled_date"] is None
    )


async def test_batch_schedule_reports_failures(http: httpx2.AsyncClient) -> None:
    post_id = await draft(http)
    body = {
        "schedules": [
            {"post_id": post_id, "scheduled_date": FUTURE},
            {"post_id": "0" * 24, "scheduled_date": FUTURE},
        ]
    }
    answer = (await http.post("/api/v1/posts/batch-schedule", json=body, headers=auth())).json()
    assert answer["scheduled"] == 1 and answer["failed"][0]["code"] == "not_found"
    too_many = {"schedules": [{"post_id": post_id, "scheduled_date": FUTURE}] * 51}
    assert (
        await http.post("/api/v1/posts/batch-schedule", json=too_many, headers=auth())
    ).status_code == 400


async def test_daily_post_limit(http: httpx2.AsyncClient) -> None:
    key = "trial_daily"
    for n in range(10):
        ok = await http.post(
            "/api/v1/posts", json={"text": f"t{n}", "publish_now": True}, headers=auth(key)
        )
        assert ok.status_code == 201
    over = await http.post(
        "/api/v1/posts", json={"text": "eleven", "publish_now": True}, headers=auth(key)
    )
    assert over.status_code == 429 and over.json()["code"] == "daily_post_limit"
    me = (await http.get("/api/v1/me", headers=auth(key))).json()["limits"]
    assert me["remaining_posts_today"] == 0 and me["can_post"] is False


async def test_url_cap_saves_a_draft(http: httpx2.AsyncClient) -> None:
    key = "trial_links"
    for n in range(2):
        body = {"text": f"read https://example.com/{n}", "publish_now": True}
        assert (await http.post("/api/v1/posts", json=body, headers=auth(key))).status_code == 201
    capped = await http.post(
        "/api/v1/posts",
        json={"text": "read https://example.com/3", "publish_now": True},
        headers=auth(key),
    )
    payload = capped.json()
    assert capped.status_code == 429 and payload["urlLimit"]["saved_as_draft"] is True
    saved = (await http.get(f"/api/v1/posts/{payload['post']['id']}", headers=auth(key))).json()
    assert saved["post"]["status"] == "draft"


async def test_rate_limit_with_retry_after(http: httpx2.AsyncClient, sandbox: Any) -> None:
    sandbox.config(rate_per_minute=3)
    statuses = [
        (await http.get("/api/v1/me", headers=auth("pro_fast"))).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    limited = await http.get("/api/v1/me", headers=auth("pro_fast"))
    assert int(limited.headers["retry-after"]) >= 1
    assert (await http.get("/api/v1/me", headers=auth("pro_other"))).status_code == 200


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


async def test_uploads_are_judged_by_content_and_served(http: httpx2.AsyncClient) -> None:
    stored = await http.post("/api/v1/upload", files={"file": ("x.jpg", PNG)}, headers=auth())
    assert stored.status_code == 201 and stored.json()["url"].endswith(".png")
    served = await http.get(stored.json()["url"])
    assert served.content == PNG and served.headers["content-type"] == "image/png"
    wrong = await http.post(
        "/api/v1/upload", files={"file": ("a.png", b"%PDF-1.4")}, headers=auth()
    )
    assert wrong.status_code == 400
    big = await http.post(
        "/api/v1/upload", files={"file": ("b.png", PNG + b"\0" * (5 * 1024 * 1024))}, headers=auth()
    )
    assert big.status_code == 413


async def test_scheduler_publishes_due_posts(http: httpx2.AsyncClient, sandbox: Any) -> None:
    post_id = await draft(http)
    soon = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await http.post(
        f"/api/v1/posts/{post_id}/schedule", json={"scheduled_date": soon}, headers=auth()
    )
    later = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    ran = (await http.post("/_sandbox/scheduler", json={"now": later})).json()
    assert ran["published"] == 1
    post = (await http.get(f"/api/v1/posts/{post_id}", headers=auth())).json()["post"]
    assert post["status"] == "posted" and post["url"]


async def test_fault_actions(http: httpx2.AsyncClient, sandbox: Any) -> None:
    sandbox.fault(
        path="/api/v1/me",
        action="status",
        status=503,
        body={"error": "down"},
        headers={"Retry-After": "2"},
    )
    down = await http.get("/api/v1/me", headers=auth())
    assert down.status_code == 503 and down.headers["retry-after"] == "2"
    assert (await http.get("/api/v1/me", headers=auth())).status_code == 200  # times=1

    sandbox.fault(path="/api/v1/posts", method="POST", action="reset_before")
    with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
        await http.post("/api/v1/posts", json={"text": "lost"}, headers=auth())
    sandbox.fault(path="/api/v1/posts", method="POST", action="reset_after")
    with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
        await http.post("/api/v1/posts", json={"text": "applied"}, headers=auth())
    texts = [p["text"] for p in (await http.get("/api/v1/posts", headers=auth())).json()["posts"]]
    assert texts == ["applied"]
    log = [r for r in sandbox.requests() if r["method"] == "POST"]
    assert [(r["processed"], r["status"]) for r in log] == [(False, "reset"), (True, "reset")]

    for action, body in (
        ("malformed", b'{"success": true, "post": {'),
        ("empty", b""),
        ("wrong_shape", b"[]"),
    ):
        sandbox.fault(path=r"/api/v1/posts/[0-9a-f]{24}", action=action)
        answer = await http.get(f"/api/v1/posts/{'a' * 24}", headers=auth())
        assert answer.status_code == 200 and answer.content == body

    sandbox.fault(path="/api/v1/accounts", action="echo_auth", status=400)
    echoed = await http.get("/api/v1/accounts", headers=auth("pro_secret_value"))
    assert echoed.status_code == 400 and "pro_secret_value" in echoed.text
    assert all("pro_secret_value" not in str(r["key_prefix"]) for r in sandbox.requests())

    sandbox.fault(path="/api/v1/me", action="delay", delay=0.3, times=2)
    start = datetime.now(UTC)
    assert (await http.get("/api/v1/me", headers=auth())).status_code == 200
    assert (datetime.now(UTC) - start).total_seconds() >= 0.3


async def test_control_endpoints(http: httpx2.AsyncClient) -> None:
    assert (await http.post("/_sandbox/faults", json={"path": "/x"})).status_code == 400
    assert (
        await http.post("/_sandbox/faults", json={"path": "/api/v1/me", "status": 500})
    ).status_code == 201
    assert (await http.delete("/_sandbox/faults")).status_code == 200
    assert (await http.get("/api/v1/me", headers=auth())).status_code == 200
    assert (await http.put("/_sandbox/config", json={"no_such_knob": 1})).status_code == 400
    logged = (await http.get("/_sandbox/requests")).json()["requests"]
    assert [r["path"] for r in logged] == ["/api/v1/me"]
    await http.post("/_sandbox/reset")
    assert (await http.get("/_sandbox/requests")).json()["requests"] == []


def test_file_database_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.sqlite3")
    with SandboxServer(db=db) as first:
        created = httpx2.post(
            f"{first.base_url}/api/v1/posts", json={"text": "persisted"}, headers=auth()
        )
        post_id = created.json()["posts"][0]["id"]
    with SandboxServer(db=db) as second:
        again = httpx2.get(f"{second.base_url}/api/v1/posts/{post_id}", headers=auth())
        assert again.json()["post"]["text"] == "persisted"


# --- more endpoints and rules ------------------------------------------------------------------

POST_FIELDS = {
    "id",
    "text",
    "status",
    "scheduled_date",
    "posted_date",
    "is_thread",
    "thread_tweets",
    "media_urls",
    "thread_media",
    "x_account_id",
    "platforms",
    "x_post_id",
    "url",
    "posted",
    "failed",
    "results",
    "community_id",
    "share_with_followers",
    "auto_retweet_enabled",
    "auto_retweet_offset_minutes",
    "isEvergreen",
    "category",
    "created_at",
    "updated_at",
}
MP4 = b"\0\0\0\x18ftypisom" + b"\0" * 32


async def accounts_of(http: httpx2.AsyncClient, key: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await http.get("/api/v1/accounts", headers=auth(key))).json()[
        "accounts"
    ]
    return listed


async def publish_drafts(http: httpx2.AsyncClient, key: str, count: int) -> list[str]:
    ids = []
    for n in range(count):
        post_id = await draft(http, f"published {n}", key=key)
        answer = await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth(key))
        assert answer.status_code == 200, answer.text
        ids.append(post_id)
    return ids


async def test_accounts_are_derived_from_the_key(http: httpx2.AsyncClient, sandbox: Any) -> None:
    first = await accounts_of(http, "advanced_derive")
    assert [a["is_primary"] for a in first] == [True, False, False]
    assert all(re.fullmatch(r"@sandbox_[0-9a-f]{4}(_\d)?", a["x_handle"]) for a in first)
    assert set(first[0]) == {
        "id",
        "x_handle",
        "x_name",
        "is_primary",
        "nickname",
        "x_premium",
        "cross_post",
    }
    assert not first[0]["x_premium"] and first[0]["cross_post"] == []
    sandbox.state.reset()
    assert await accounts_of(http, "advanced_derive") == first
    assert await accounts_of(http, "advanced_other") != first
    me = (await http.get("/api/v1/me", headers=auth("advanced_derive"))).json()
    assert me["authenticated"] is True and me["x_accounts"] == first
    assert set(me["limits"]) >= {"can_post", "daily_limit", "posts_today", "remaining_posts_today"}
    assert me["post_counts"]["draft"] == 0


async def test_create_shapes_thread_and_publish_now(http: httpx2.AsyncClient) -> None:
    thread = {
        "text": "intro",
        "is_thread": True,
        "thread_tweets": ["two", "three"],
        "media_urls": ["https://m/1.png"],
        "thread_media": [["https://m/2.png"], []],
        "community_id": "1234567890",
        "share_with_followers": True,
        "category": "Tips",
    }
    created = await http.post("/api/v1/posts", json=thread, headers=auth())
    body = created.json()
    assert created.status_code == 201 and body["success"] is True and body["count"] == 1
    (post,) = body["posts"]
    assert set(post) == POST_FIELDS and post["status"] == "draft"
    assert (
        post["thread_media"] == [["https://m/2.png"], []] and post["community_id"] == "1234567890"
    )

    now = await http.post(
        "/api/v1/posts", json={"text": "now!", "publish_now": True}, headers=auth()
    )
    answer = now.json()
    assert now.status_code == 201 and answer["status"] == "posted"
    assert answer["url"] == answer["posts"][0]["url"] and answer["x_post_id"].isdigit()
    assert answer["posts"][0]["posted_date"]

    bulk = {"posts": [{"text": "b1"}, {"text": "b2", "scheduled_date": FUTURE}]}
    made = (await http.post("/api/v1/posts", json=bulk, headers=auth())).json()
    assert made["count"] == 2 and [p["status"] for p in made["posts"]] == ["draft", "scheduled"]
    assert made["posts"][1]["scheduled_date"] == "2099-01-01T10:00:00.000Z"


async def test_list_filters_and_pages(http: httpx2.AsyncClient) -> None:
    key = "advanced_lists"
    second = (await accounts_of(http, key))[1]["id"]
    for n in range(3):
        await draft(http, f"d{n}", key=key)
    other = await http.post(
        "/api/v1/posts", json={"text": "elsewhere", "x_account_id": second}, headers=auth(key)
    )
    assert other.json()["posts"][0]["x_account_id"] == second
    page = (await http.get("/api/v1/posts?status=draft&page=2&limit=3", headers=auth(key))).json()
    assert page["pagination"] == {"page": 2, "limit": 3, "total": 4, "pages": 2}
    assert [p["text"] for p in page["posts"]] == ["d0"]  # newest first
    mine = (await http.get(f"/api/v1/posts?x_account_id={second}", headers=auth(key))).json()
    assert [p["text"] for p in mine["posts"]] == ["elsewhere"]
    for query in ("status=weird", "limit=0", "page=x", f"x_account_id={'f' * 24}"):
        refused = await http.get(f"/api/v1/posts?{query}", headers=auth(key))
        assert refused.status_code in (400, 404), query
    assert (await http.get("/api/v1/posts?status=posted", headers=auth(key))).json()["posts"] == []


async def test_update_and_schedule_rules(http: httpx2.AsyncClient) -> None:
    post_id = await draft(http)
    for body in (
        {"auto_retweet_offset_minutes": 0},
        {"text": ""},
        {"scheduled_date": "2001-01-01T00:00:00Z"},
        {"media_urls": ["https://m/a.mp4", "https://m/b.mp4"]},
        {"thread_tweets": ["x" * 281]},
    ):
        refused = await http.put(f"/api/v1/posts/{post_id}", json=body, headers=auth())
        assert refused.status_code == 400, body
    changed = await http.put(
        f"/api/v1/posts/{post_id}",
        json={
            "text": "new text",
            "thread_tweets": ["second"],
            "auto_retweet_enabled": True,
            "auto_retweet_offset_minutes": 10080,
            "scheduled_date": FUTURE,
        },
        headers=auth(),
    )
    post = changed.json()["post"]
    assert post["text"] == "new text" and post["is_thread"] is True
    assert post["status"] == "scheduled" and post["auto_retweet_offset_minutes"] == 10080

    path = f"/api/v1/posts/{post_id}/schedule"
    assert (await http.post(path, json={}, headers=auth())).status_code == 400
    past = {"scheduled_date": "2001-01-01T00:00:00Z"}
    assert (await http.post(path, json=past, headers=auth())).json()["code"] == "date_in_past"
    moved = await http.post(
        path, json={"scheduled_date": "2099-02-01T09:30:00+02:00"}, headers=auth()
    )
    assert moved.json()["post"]["scheduled_date"] == "2099-02-01T07:30:00.000Z"
    await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth())
    late = await http.post(path, json={"scheduled_date": FUTURE}, headers=auth())
    assert late.status_code == 409


async def test_delete_from_x_can_fail(http: httpx2.AsyncClient, sandbox: Any) -> None:
    (post_id,) = await publish_drafts(http, "pro_rules", 1)
    sandbox.config(x_delete_fails=True)
    answer = (await http.delete(f"/api/v1/posts/{post_id}", headers=auth())).json()
    assert answer["x_deleted"] is False and "could not be deleted" in answer["x_delete_error"]
    assert (await http.get(f"/api/v1/posts/{post_id}", headers=auth())).status_code == 404
    bad_flag = await http.delete(
        f"/api/v1/posts/{await draft(http)}?delete_from_x=maybe", headers=auth()
    )
    assert bad_flag.status_code == 400


async def test_bulk_over_the_daily_limit_saves_nothing(http: httpx2.AsyncClient) -> None:
    key = "trial_bulk"
    bulk = {"posts": [{"text": f"b{n}", "scheduled_date": FUTURE} for n in range(11)]}
    refused = await http.post("/api/v1/posts", json=bulk, headers=auth(key))
    assert refused.status_code == 429 and refused.json()["code"] == "daily_post_limit"
    assert refused.headers["retry-after"]
    assert (await http.get("/api/v1/posts", headers=auth(key))).json()["pagination"]["total"] == 0
    bulk["posts"] = bulk["posts"][:10]
    assert (await http.post("/api/v1/posts", json=bulk, headers=auth(key))).status_code == 201
    one_more = {"text": "x", "scheduled_date": FUTURE}
    assert (await http.post("/api/v1/posts", json=one_more, headers=auth(key))).status_code == 429
    assert (await http.get("/api/v1/posts", headers=auth(key))).json()["pagination"]["total"] == 10


async def test_daily_request_limit(http: httpx2.AsyncClient, sandbox: Any) -> None:
    sandbox.config(rate_per_day=2)
    codes = [(await http.get("/api/v1/me", headers=auth("pro_day"))) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert codes[2].json()["code"] == "daily_rate_limited" and codes[2].headers["retry-after"]


async def test_media_upload_edges(http: httpx2.AsyncClient) -> None:
    video = await http.post("/api/v1/upload", files={"file": ("v.bin", MP4)}, headers=auth())
    assert video.status_code == 201 and video.json()["url"].endswith(".mp4")
    missing = await http.post("/api/v1/upload", files={"other": ("a.png", PNG)}, headers=auth())
    assert missing.status_code == 400
    not_multipart = await http.post("/api/v1/upload", content=PNG, headers=auth())
    assert not_multipart.status_code == 400
    assert (await http.get("/media/" + "0" * 24 + ".png")).status_code == 404


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


async def test_request_log_entries(http: httpx2.AsyncClient, sandbox: Any) -> None:
    await http.post("/api/v1/posts?x=1", json={"text": "logged"}, headers=auth("pro_logsecret"))
    await http.get("/api/v1/me")
    sandbox.fault(path="/api/v1/me", status=500)
    await http.get("/api/v1/me", headers=auth())
    created, anonymous, faulted = sandbox.requests()
    assert created == {
        "method": "POST",
        "path": "/api/v1/posts",
        "query": "x=1",
        "body": {"text": "logged"},
        "key_prefix": created["key_prefix"],
        "status": 201,
        "processed": True,
    }
    assert created["key_prefix"] and "pro_logsecret".startswith(created["key_prefix"])
    assert created["key_prefix"] != "pro_logsecret"
    assert (anonymous["status"], anonymous["key_prefix"]) == (401, "")
    assert (faulted["status"], faulted["processed"]) == (500, False)


async def test_control_endpoints_over_http(http: httpx2.AsyncClient) -> None:
    rule = {"path": r"/api/v1/posts/[0-9a-f]{24}/publish", "status": 502, "times": 2}
    assert (await http.post("/_sandbox/faults", json=rule)).status_code == 201
    post_id = await draft(http)
    codes = [
        (await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth())).status_code
        for _ in range(3)
    ]
    assert codes == [502, 502, 200]
    configured = (await http.put("/_sandbox/config", json={"analysis_delay": 0})).json()
    assert configured["config"]["analysis_delay"] == 0
    assert (await http.post("/_sandbox/scheduler", json={"now": "nope"})).status_code == 400
    ran = (await http.post("/_sandbox/scheduler")).json()
    assert ran == {"success": True, "published": 0, "failed": 0, "evergreen_clones": 0}
    assert (
        await http.post("/_sandbox/faults", json={"status": 500, "times": 0})
    ).status_code == 400


def test_banner_names_the_url_and_demo_key() -> None:
    server = SandboxServer()
    try:
        text = banner(server, ":memory:")
    finally:
        server.stop()
    assert server.base_url in text and DEMO_KEY in text and DEMO_KEY == "pro_sandbox_demo"


async def test_x_account_id_is_checked_everywhere(http: httpx2.AsyncClient) -> None:
    key = "advanced_accounts"
    primary, second, _ = (a["id"] for a in await accounts_of(http, key))
    stranger = "f" * 24
    post_id = await draft(http, key=key)
    for method, path, body in [
        ("GET", f"/api/v1/me?x_account_id={stranger}", None),
        ("GET", f"/api/v1/posts/{post_id}?x_account_id={stranger}", None),
        ("GET", f"/api/v1/analytics/overview?x_account_id={stranger}", None),
        ("POST", f"/api/v1/posts/{post_id}/publish", {"x_account_id": stranger}),
        (
            "POST",
            f"/api/v1/posts/{post_id}/schedule",
            {"scheduled_date": FUTURE, "x_account_id": stranger},
        ),
        ("PUT", f"/api/v1/posts/{post_id}", {"x_account_id": stranger}),
        ("POST", "/api/v1/evergreen/posts", {"post_id": post_id, "x_account_id": stranger}),
        ("POST", "/api/v1/analytics/best-times/analyze", {"x_account_id": stranger}),
    ]:
        refused = await http.request(method, path, json=body, headers=auth(key))
        assert refused.status_code == 404, (path, refused.text)
        assert refused.json()["code"] == "account_not_found"
    post = (await http.get(f"/api/v1/posts/{post_id}", headers=auth(key))).json()["post"]
    assert post["status"] == "draft" and post["x_account_id"] == primary  # nothing changed

    moved = await http.put(
        f"/api/v1/posts/{post_id}", json={"x_account_id": second}, headers=auth(key)
    )
    assert moved.json()["post"]["x_account_id"] == second
    published = (await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth(key))).json()
    handle = (await accounts_of(http, key))[1]["x_handle"].lstrip("@")
    assert published["url"].startswith(f"https://x.com/{handle}/status/")
    on_second = f"/api/v1/analytics/overview?x_account_id={second}"
    assert (await http.get(on_second, headers=auth(key))).json()["stats"]["total_posts"] == 1
    on_primary = f"/api/v1/analytics/overview?x_account_id={primary}"
    assert (await http.get(on_primary, headers=auth(key))).json()["stats"]["total_posts"] == 0


async def test_handle_scheduler_takes_strings(http: httpx2.AsyncClient, sandbox: Any) -> None:
    post_id = await draft(http)
    await http.post(
        f"/api/v1/posts/{post_id}/schedule", json={"scheduled_date": FUTURE}, headers=auth()
    )
    assert sandbox.scheduler("2098-12-31T23:59:59Z")["published"] == 0
    assert sandbox.scheduler("2099-01-01T10:00:00Z")["published"] == 1
    post = (await http.get(f"/api/v1/posts/{post_id}", headers=auth())).json()["post"]
    assert post["posted_date"] == "2099-01-01T10:00:00.000Z"
    with pytest.raises(ValueError):
        sandbox.config(no_such_knob=1)


async def test_keep_alive_requests_are_fast(http: httpx2.AsyncClient) -> None:
    """Regression: without TCP_NODELAY every keep-alive answer waited ~40 ms (delayed ACK)."""
    await http.get("/api/v1/accounts", headers=auth())
    start = datetime.now(UTC)
    for _ in range(20):
        await http.get("/api/v1/accounts", headers=auth())
    assert (datetime.now(UTC) - start).total_seconds() < 0.5


# --- drops, fault parsing, uploads, isolation, caps, evergreen scheduler, analytics ---------------

GIF = b"GIF89a" + b"\0" * 32
WEBP = b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 32
MOV = b"\0\0\0\x14ftypqt  " + b"\0" * 32


async def test_drops_are_connection_errors_not_500s(http: httpx2.AsyncClient, sandbox: Any) -> None:
    sandbox.faults(path="/api/v1/posts", method="POST", reset_before=True)
    with pytest.raises(httpx2.ReadError):  # a TCP reset before any byte of an answer
        await http.post("/api/v1/posts", json={"text": "never saved"}, headers=auth())
    sandbox.faults({"path": "/api/v1/posts", "method": "POST", "reset_after": True})
    with pytest.raises(httpx2.RemoteProtocolError, match="complete message body"):
        await http.post("/api/v1/posts", json={"text": "saved anyway"}, headers=auth())
    # the server is fine afterwards, and only the reset_after request was processed
    listed = (await http.get("/api/v1/posts", headers=auth())).json()["posts"]
    assert [p["text"] for p in listed] == ["saved anyway"]
    statuses = [r["status"] for r in sandbox.requests()]
    assert statuses == ["reset", "reset", 200] and 500 not in statuses


async def test_fault_rules_are_parsed_strictly(http: httpx2.AsyncClient, sandbox: Any) -> None:
    sandbox.faults(path="/api/v1/me", echo_auth=True, status=401)  # echo_auth wins over status
    echoed = await http.get("/api/v1/me", headers=auth("pro_echo_me"))
    assert echoed.status_code == 401 and "Bearer pro_echo_me" in echoed.json()["error"]

    sandbox.faults(path="/api/v1/me", status=503, delay=0.2)  # delay is a modifier
    start = datetime.now(UTC)
    slow = await http.get("/api/v1/me", headers=auth())
    assert slow.status_code == 503 and (datetime.now(UTC) - start).total_seconds() >= 0.2

    sandbox.faults(path="/api/v1/me", method="post", status=500)  # method is case-insensitive
    assert (await http.get("/api/v1/me", headers=auth())).status_code == 200
    assert (await http.post("/api/v1/me", headers=auth())).status_code == 500

    sandbox.faults(path="/api/v1/accounts", status=502, body="<html>Bad gateway</html>")
    raw = await http.get("/api/v1/accounts", headers=auth())
    assert raw.status_code == 502 and raw.text == "<html>Bad gateway</html>"

    for rule in (
        {"path": "/api/v1/me", "stauts": 500},
        {"path": "/api/v1/me", "status": 700},
        {"path": "/api/v1/me", "malformed": True, "empty": True},
        {"path": "/api/v1/me", "delay": -1},
        {"path": "/api/v1/me", "status": 500, "times": True},
    ):
        with pytest.raises(ValueError):
            sandbox.faults(rule)
        assert (await http.post("/_sandbox/faults", json=rule)).status_code == 400, rule
    assert (await http.get("/api/v1/me", headers=auth())).status_code == 200


@pytest.mark.parametrize(
    "data,extension,content_type",
    [
        (JPEG, "jpg", "image/jpeg"),
        (GIF, "gif", "image/gif"),
        (WEBP, "webp", "image/webp"),
        (MOV, "mov", "video/quicktime"),
        (MP4 + b"\0" * (6 * 1024 * 1024), "mp4", "video/mp4"),  # over the image limit: fine
    ],
    ids=["jpg", "gif", "webp", "mov", "mp4-6MiB"],
)
async def test_every_media_kind_is_stored_and_served(
    http: httpx2.AsyncClient, data: bytes, extension: str, content_type: str
) -> None:
    stored = await http.post("/api/v1/upload", files={"file": ("upload", data)}, headers=auth())
    assert stored.status_code == 201, stored.text
    url = stored.json()["url"]
    base = re.escape(str(http.base_url).rstrip("/"))
    assert re.fullmatch(rf"{base}/media/[0-9a-f]{{24}}\.{extension}", url)
    served = await http.get(url)  # no Authorization
    assert served.content == data and served.headers["content-type"] == content_type


async def test_video_and_body_size_limits(http: httpx2.AsyncClient) -> None:
    video = MP4 + b"\0" * (20 * 1024 * 1024)
    too_big = await http.post("/api/v1/upload", files={"file": ("v.mp4", video)}, headers=auth())
    assert too_big.status_code == 413 and too_big.json()["code"] == "file_too_large"
    huge = MP4 + b"\0" * (21 * 1024 * 1024)  # past what the multipart parser takes at all
    refused = await http.post("/api/v1/upload", files={"file": ("v.mp4", huge)}, headers=auth())
    assert refused.status_code == 413 and refused.json()["code"] == "file_too_large"


async def test_unknown_routes_answer_json(http: httpx2.AsyncClient) -> None:
    missing = await http.get("/api/v1/nothing", headers=auth())
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong = await http.patch("/api/v1/posts", headers=auth())
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
    garbled = await http.post(
        "/api/v1/posts",
        content=b"{not json",
        headers={**auth(), "content-type": "application/json"},
    )
    assert garbled.status_code == 400 and "JSON" in garbled.json()["error"]


async def test_each_key_sees_only_its_own_posts(http: httpx2.AsyncClient) -> None:
    mine = await draft(http, "mine", key="pro_alice")
    for method in ("GET", "PUT", "DELETE"):
        other = await http.request(
            method, f"/api/v1/posts/{mine}", json={"text": "x"}, headers=auth("pro_bob")
        )
        assert other.status_code == 404, method
    assert (await http.get("/api/v1/posts", headers=auth("pro_bob"))).json()["posts"] == []
    assert (await http.get(f"/api/v1/posts/{mine}", headers=auth("pro_alice"))).status_code == 200


async def test_weighted_length_and_media_counts(http: httpx2.AsyncClient) -> None:
    long_url = "https://example.com/" + "a" * 300  # counts 23, whatever its length
    ok = {"text": "x" * 250 + " " + long_url, "media_urls": ["https://m/1.png"] * 4}
    assert (await http.post("/api/v1/posts", json=ok, headers=auth())).status_code == 201
    one_video = {"text": "clip", "media_urls": ["https://m/clip.mp4"]}
    assert (await http.post("/api/v1/posts", json=one_video, headers=auth())).status_code == 201
    exact = {"text": "é" * 280}
    assert (await http.post("/api/v1/posts", json=exact, headers=auth())).status_code == 201
    thread = {"text": "ok", "thread_tweets": ["fine", "y" * 281]}
    refused = await http.post("/api/v1/posts", json=thread, headers=auth())
    assert refused.status_code == 400 and "thread_tweets[1]" in refused.json()["error"]


async def test_plan_request_rates_without_overrides(http: httpx2.AsyncClient) -> None:
    pro = [(await http.get("/api/v1/accounts", headers=auth("pro_rate"))) for _ in range(61)]
    assert [r.status_code for r in pro] == [200] * 60 + [429]
    assert (
        pro[-1].json()["code"] == "rate_limited" and 1 <= int(pro[-1].headers["retry-after"]) <= 60
    )
    advanced = [
        (await http.get("/api/v1/accounts", headers=auth("advanced_rate"))).status_code
        for _ in range(61)
    ]
    assert advanced == [200] * 61


async def test_url_cap_when_scheduling(http: httpx2.AsyncClient) -> None:
    key = "trial_url_schedule"
    ids = [await draft(http, f"see https://example.com/{n}", key=key) for n in range(3)]
    for post_id in ids[:2]:
        ok = await http.post(
            f"/api/v1/posts/{post_id}/schedule", json={"scheduled_date": FUTURE}, headers=auth(key)
        )
        assert ok.status_code == 200
    capped = await http.post(
        f"/api/v1/posts/{ids[2]}/schedule", json={"scheduled_date": FUTURE}, headers=auth(key)
    )
    assert capped.status_code == 429 and capped.json()["urlLimit"]["limit"] == 2
    assert 0 < int(capped.headers["retry-after"]) <= 86400
    kept = (await http.get(f"/api/v1/posts/{ids[2]}", headers=auth(key))).json()["post"]
    assert kept["status"] == "draft" and kept["scheduled_date"] is None
    no_link = await draft(http, "no link here", key=key)
    fine = await http.post(
        f"/api/v1/posts/{no_link}/schedule", json={"scheduled_date": FUTURE}, headers=auth(key)
    )
    assert fine.status_code == 200  # the URL cap is separate from the post limit

    bulk = {"posts": [{"text": "https://example.com/b", "scheduled_date": FUTURE}]}
    made = await http.post("/api/v1/posts", json=bulk, headers=auth(key))
    assert made.status_code == 201 and made.json()["url_limited"] == [made.json()["posts"][0]["id"]]
    assert made.json()["posts"][0]["status"] == "draft"
    me = (await http.get("/api/v1/me", headers=auth(key))).json()
    assert me["limits"]["posts_today"] == 3 and me["post_counts"]["scheduled"] == 3
    assert me["post_counts"]["draft"] == 2


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


async def test_scheduler_can_fail_posts(http: httpx2.AsyncClient, sandbox: Any) -> None:
    post_id = await draft(http)
    await http.post(
        f"/api/v1/posts/{post_id}/schedule", json={"scheduled_date": FUTURE}, headers=auth()
    )
    sandbox.config(scheduler_fails=True)
    assert sandbox.scheduler("2099-01-02T00:00:00Z") == {
        "published": 0,
        "failed": 1,
        "evergreen_clones": 0,
    }
    failed = (await http.get("/api/v1/posts?status=failed", headers=auth())).json()["posts"]
    assert [p["id"] for p in failed] == [post_id] and failed[0]["error"]
    assert (await http.get("/api/v1/me", headers=auth())).json()["post_counts"]["failed"] == 1
    retried = (await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth())).json()
    assert retried["status"] == "posted" and "error" not in retried["post"]


# --- the live API's ways (docs/sandbox.md, "observed clients") ---------------------------------


def test_key_words_pick_the_plan_and_traits_in_any_order() -> None:
    assert rules.key_traits("advanced_premium_abc") == (rules.PLANS["advanced"], {"premium"})
    assert rules.key_traits("crosspost_trial_abc") == (rules.PLANS["trial"], {"crosspost"})
    assert rules.key_traits("premium") == (rules.PLANS["pro"], set())  # the key's own word
    assert rules.key_traits("team_premium_abc") == (rules.PLANS["pro"], set())  # words end


async def test_me_carries_trial_flag_and_post_stats(http: httpx2.AsyncClient) -> None:
    await draft(http, key="trial_me")
    me = (await http.get("/api/v1/me", headers=auth("trial_me"))).json()
    assert me["subscription"]["is_trialing"] is True
    assert me["stats"] == {
        "total_posts": 1,
        "scheduled_posts": 0,
        "posted_posts": 0,
        "draft_posts": 1,
    }
    pro = (await http.get("/api/v1/me", headers=auth())).json()
    assert pro["subscription"]["is_trialing"] is False


async def test_a_delayed_publish_answers_before_the_tweet_exists(
    http: httpx2.AsyncClient, sandbox: Any
) -> None:
    sandbox.config(publish_delay=0.3)
    post_id = await draft(http)
    answer = (await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth())).json()
    assert answer["status"] == "publishing" and "url" not in answer
    assert answer["post"]["posted"] is False and answer["post"]["results"] == []
    again = await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth())
    assert again.status_code == 409  # never twice, even while under way
    await anyio.sleep(0.35)
    post = (await http.get(f"/api/v1/posts/{post_id}", headers=auth())).json()["post"]
    assert post["status"] == "posted" and post["posted"] is True and post["url"]
    assert post["results"] == [
        {"platform": "x", "status": "posted", "post_id": post["x_post_id"], "url": post["url"]}
    ]


async def test_a_failed_publish_is_saved_and_answered_with_502(
    http: httpx2.AsyncClient, sandbox: Any
) -> None:
    sandbox.config(publish_fails=True)
    post_id = await draft(http)
    answer = await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth())
    assert answer.status_code == 502 and answer.json()["code"] == "publish_failed"
    assert answer.json()["post"]["id"] == post_id
    post = (await http.get(f"/api/v1/posts/{post_id}", headers=auth())).json()["post"]
    assert post["status"] == "failed" and post["failed"] is True and not post["url"]


async def test_cross_posting_follows_the_account_unless_a_request_names_networks(
    http: httpx2.AsyncClient,
) -> None:
    key = "crosspost_sandbox"
    (account,) = await accounts_of(http, key)
    assert account["cross_post"] == ["bluesky", "linkedin"]
    unnamed = (
        await http.post("/api/v1/posts", json={"text": "a", "publish_now": True}, headers=auth(key))
    ).json()["posts"][0]
    assert [r["platform"] for r in unnamed["results"]] == ["x", "bluesky", "linkedin"]
    named = (
        await http.post(
            "/api/v1/posts",
            json={"text": "b", "publish_now": True, "platforms": ["x"]},
            headers=auth(key),
        )
    ).json()["posts"][0]
    assert [r["platform"] for r in named["results"]] == ["x"]
    refused = await http.post(
        "/api/v1/posts", json={"text": "c", "platforms": ["bluesky"]}, headers=auth()
    )
    assert refused.status_code == 400 and refused.json()["code"] == "platform_not_connected"


async def test_premium_accounts_take_long_posts(http: httpx2.AsyncClient) -> None:
    long_text = "word " * 200
    assert (
        await http.post("/api/v1/posts", json={"text": long_text}, headers=auth())
    ).status_code == 400
    premium = await http.post("/api/v1/posts", json={"text": long_text}, headers=auth("premium_s"))
    assert premium.status_code == 201
    (account,) = await accounts_of(http, "premium_s")
    assert account["x_premium"] is True


async def test_lean_answers_name_only_id_and_status(http: httpx2.AsyncClient, sandbox: Any) -> None:
    sandbox.config(lean_answers=True)
    made = (await http.post("/api/v1/posts", json={"text": "lean"}, headers=auth())).json()
    assert made == {"success": True, "posts": [{"id": made["posts"][0]["id"], "status": "draft"}]}
