"""The sandbox itself over real sockets: the upstream guide's rules, the plans, and every fault
action. (The tools' tests exercise the happy paths of every endpoint through MCP.)"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from opentweet_mcp.sandbox.runner import SandboxServer

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
