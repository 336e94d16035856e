"""The sandbox's post endpoints over real sockets: create (single, thread, bulk), list, update,
delete, schedule, publish, batch-schedule, and the daily and URL caps they enforce."""

from __future__ import annotations

import re
from typing import Any

import anyio
import httpx2
import pytest

from tests import sandbox_helpers
from tests.sandbox_helpers import FUTURE, accounts_of, auth, draft, publish_drafts

http = sandbox_helpers.http  # the shared client fixture (an import by name would trip ruff F811)


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


# --- the live API's ways (docs/sandbox.md, "observed clients") ------------------------------------


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
