"""The sandbox's keys and plans over real sockets: authentication, what a key's words make of it
(plan, accounts, traits), `/me`, subscriptions, request rate limits, and the x_account_id
check every endpoint makes."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest

from opentweet_mcp.sandbox import rules
from tests import sandbox_helpers
from tests.sandbox_helpers import FUTURE, accounts_of, auth, draft

http = sandbox_helpers.http  # the shared client fixture (an import by name would trip ruff F811)


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


async def test_rate_limit_with_retry_after(http: httpx2.AsyncClient, sandbox: Any) -> None:
    sandbox.config(rate_per_minute=3)
    statuses = [
        (await http.get("/api/v1/me", headers=auth("pro_fast"))).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    limited = await http.get("/api/v1/me", headers=auth("pro_fast"))
    assert int(limited.headers["retry-after"]) >= 1
    assert (await http.get("/api/v1/me", headers=auth("pro_other"))).status_code == 200


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


async def test_daily_request_limit(http: httpx2.AsyncClient, sandbox: Any) -> None:
    sandbox.config(rate_per_day=2)
    codes = [(await http.get("/api/v1/me", headers=auth("pro_day"))) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert codes[2].json()["code"] == "daily_rate_limited" and codes[2].headers["retry-after"]


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


async def test_each_key_sees_only_its_own_posts(http: httpx2.AsyncClient) -> None:
    mine = await draft(http, "mine", key="pro_alice")
    for method in ("GET", "PUT", "DELETE"):
        other = await http.request(
            method, f"/api/v1/posts/{mine}", json={"text": "x"}, headers=auth("pro_bob")
        )
        assert other.status_code == 404, method
    assert (await http.get("/api/v1/posts", headers=auth("pro_bob"))).json()["posts"] == []
    assert (await http.get(f"/api/v1/posts/{mine}", headers=auth("pro_alice"))).status_code == 200


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


# --- the live API's ways (docs/sandbox.md, "observed clients") ------------------------------------


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
