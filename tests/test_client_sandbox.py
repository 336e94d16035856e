"""OpenTweetClient against the sandbox over real loopback sockets.

The client tests in test_client.py script every byte of a fake upstream; these run the real
client against the simulated API instead, so each operation method is checked against the
endpoint it names and each failure path against the sandbox's request log: how many requests
reached the upstream, and whether the upstream acted on them.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from opentweet_mcp.api import operations as ops
from opentweet_mcp.api.client import OpenTweetClient
from opentweet_mcp.api.errors import (
    ApiError,
    AuthError,
    BadRequest,
    BadResponse,
    Conflict,
    Forbidden,
    NotFound,
    OutcomeUnknown,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    UpstreamUnavailable,
)
from opentweet_mcp.api.retry import RetryPolicy
from opentweet_mcp.api.shapes import created_posts, is_evergreen, publish_state, unwrap_post
from tests.conftest import SandboxHandle

KEY = "pro_sk_sandbox_3b8e61f0c2d94a7e"
ADVANCED_KEY = "advanced_sk_sandbox_9c04d7e2a15b"
TRIAL_KEY = "trial_sk_sandbox_61af83c9d20e"
NOSUB_KEY = "nosub_sk_sandbox_e7d2b0c4a918"
MISSING_ID = "0123456789abcdef01234567"


def future(hours: int = 24) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def tiny_png() -> bytes:
    """A valid 1×1 RGBA PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


class Sleeps:
    """The retry policy's sleep: records each requested pause and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_client(
    sandbox: SandboxHandle,
    key: str = KEY,
    *,
    sleeps: Sleeps | None = None,
    timeout: float = 5.0,
    base_url: str | None = None,
) -> OpenTweetClient:
    policy = RetryPolicy(
        attempts=3, base_delay=0.01, max_delay=0.05, jitter=0.0, sleep=sleeps or Sleeps()
    )
    return OpenTweetClient(
        key,
        base_url or sandbox.base_url,
        timeout=timeout,
        rate_per_minute=6000,
        retry=policy,
    )


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(sandbox: SandboxHandle, sleeps: Sleeps) -> AsyncIterator[OpenTweetClient]:
    sandbox.config(rate_per_minute=10_000)
    async with make_client(sandbox, sleeps=sleeps) as c:
        yield c


def logged(sandbox: SandboxHandle, path: str, method: str | None = None) -> list[dict[str, Any]]:
    return [
        r
        for r in sandbox.requests()
        if r["path"] == path and (method is None or r["method"] == method)
    ]


def wait_processed(sandbox: SandboxHandle, path: str, count: int, limit: float = 5.0) -> None:
    """Block until `count` requests to `path` were processed (a delayed one finishes late)."""
    deadline = time.monotonic() + limit
    while sum(1 for r in logged(sandbox, path) if r["processed"]) < count:
        assert time.monotonic() < deadline, f"{path} was not processed {count} times"
        time.sleep(0.02)


async def draft(client: OpenTweetClient, text: str = "A draft from the client tests") -> str:
    (post,) = created_posts(await client.send(ops.create_post({"text": text})))
    assert post["status"] == "draft"
    return str(post["id"])


# --- every operation against its endpoint ----------------------------------------------------


async def test_me_and_accounts(client: OpenTweetClient, sandbox: SandboxHandle) -> None:
    me = await client.send(ops.get_account())
    assert me["authenticated"] is True
    assert me["subscription"]["plan"] == "pro"
    assert me["limits"]["daily_limit"] == 100
    accounts = await client.send(ops.list_accounts())
    assert [a["id"] for a in accounts["accounts"]] == [a["id"] for a in me["x_accounts"]]
    assert accounts["accounts"][0]["is_primary"] is True
    log = sandbox.requests()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", "/api/v1/me", 200),
        ("GET", "/api/v1/accounts", 200),
    ]
    assert all(r["key_prefix"] and KEY.startswith(r["key_prefix"]) for r in log)


async def test_create_single_thread_bulk_and_publish_now(
    client: OpenTweetClient, sandbox: SandboxHandle
) -> None:
    (single,) = created_posts(await client.send(ops.create_post({"text": "Just one post"})))
    assert single["text"] == "Just one post" and single["status"] == "draft"

    thread = created_posts(
        await client.send(
            ops.create_post(
                {"text": "A thread 1/3", "is_thread": True, "thread_tweets": ["2/3", "3/3"]}
            )
        )
    )[0]
    assert thread["is_thread"] is True and thread["thread_tweets"] == ["2/3", "3/3"]

    bulk = created_posts(
        await client.send(
            ops.create_post(
                {"posts": [{"text": "bulk one"}, {"text": "bulk two", "scheduled_date": future()}]}
            )
        )
    )
    assert [p["text"] for p in bulk] == ["bulk one", "bulk two"]
    assert [p["status"] for p in bulk] == ["draft", "scheduled"]

    now = await client.send(ops.create_post({"text": "Out right away", "publish_now": True}))
    state = publish_state(now)
    status, x_post_id, url = state.status, state.x_post_id, state.url
    assert status == "posted" and state.posted
    assert x_post_id is not None and x_post_id.isdigit()
    assert url is not None and url.startswith("https://x.com/") and url.endswith(x_post_id)

    creates = logged(sandbox, "/api/v1/posts", "POST")
    assert len(creates) == 4 and all(r["status"] == 201 for r in creates)
    assert creates[1]["body"]["thread_tweets"] == ["2/3", "3/3"]
    assert creates[3]["body"]["publish_now"] is True


async def test_list_get_update_schedule_publish(
    client: OpenTweetClient, sandbox: SandboxHandle
) -> None:
    first = await draft(client, "first draft")
    second = await draft(client, "second draft")

    listed = await client.send(ops.list_posts(status="draft", page=1, limit=1))
    assert [p["id"] for p in listed["posts"]] == [second]  # newest first
    assert listed["pagination"]["total"] == 2
    assert logged(sandbox, "/api/v1/posts", "GET")[0]["query"] == "status=draft&page=1&limit=1"

    got = unwrap_post(await client.send(ops.get_post(second)))
    assert got["id"] == second and got["text"] == "second draft"

    updated = unwrap_post(await client.send(ops.update_post(second, {"text": "second, edited"})))
    assert updated["text"] == "second, edited"
    assert logged(sandbox, f"/api/v1/posts/{second}", "PUT")[0]["body"] == {
        "text": "second, edited"
    }

    when = future(48)
    scheduled = unwrap_post(await client.send(ops.schedule_post(first, {"scheduled_date": when})))
    assert scheduled["status"] == "scheduled"
    assert scheduled["scheduled_date"][:16] == when[:16]

    published = await client.send(ops.publish_post(second))
    state = publish_state(published)
    status, x_post_id, url = state.status, state.x_post_id, state.url
    assert state.posted and status == "posted" and x_post_id and url and x_post_id in url
    assert unwrap_post(published)["id"] == second
    again = unwrap_post(await client.send(ops.get_post(second)))
    assert again["status"] == "posted" and again["x_post_id"] == x_post_id


async def test_batch_schedule(client: OpenTweetClient, sandbox: SandboxHandle) -> None:
    ids = [await draft(client, f"batch {n}") for n in range(2)]
    answer = await client.send(
        ops.batch_schedule_posts(
            {
                "schedules": [
                    {"post_id": i, "scheduled_date": future(24 + n)} for n, i in enumerate(ids)
                ]
            }
        )
    )
    assert answer["scheduled"] == 2 and answer["failed"] == []
    assert [p["id"] for p in created_posts(answer)] == ids
    listed = await client.send(ops.list_posts(status="scheduled"))
    assert sorted(p["id"] for p in listed["posts"]) == sorted(ids)
    assert len(logged(sandbox, "/api/v1/posts/batch-schedule", "POST")) == 1


async def test_delete_from_x_both_ways(client: OpenTweetClient, sandbox: SandboxHandle) -> None:
    ids = []
    for text in ("delete me from X too", "delete me here only"):
        created = await client.send(ops.create_post({"text": text, "publish_now": True}))
        ids.append(created_posts(created)[0]["id"])

    gone = await client.send(ops.delete_post(ids[0], delete_from_x=True))
    assert gone["deleted"] is True and gone["id"] == ids[0] and gone["x_deleted"] is True
    kept = await client.send(ops.delete_post(ids[1], delete_from_x=False))
    assert kept["deleted"] is True and kept["x_deleted"] is False

    assert logged(sandbox, f"/api/v1/posts/{ids[0]}", "DELETE")[0]["query"] == "delete_from_x=true"
    assert logged(sandbox, f"/api/v1/posts/{ids[1]}", "DELETE")[0]["query"] == (
        "delete_from_x=false"
    )
    with pytest.raises(NotFound):
        await client.send(ops.get_post(ids[0]))


async def test_upload_then_fetch_the_returned_url(
    client: OpenTweetClient, sandbox: SandboxHandle
) -> None:
    png = tiny_png()
    answer = await client.send(ops.upload_media("dot.png", png, "image/png"))
    assert answer["type"] == "image/png" and answer["size"] == len(png)
    assert answer["url"].startswith(f"{sandbox.base_url}/media/")
    async with httpx2.AsyncClient() as http:
        fetched = await http.get(answer["url"])
    assert fetched.status_code == 200
    assert fetched.content == png
    assert fetched.headers["content-type"].startswith("image/png")
    (entry,) = logged(sandbox, "/api/v1/upload", "POST")
    assert entry["status"] == 201


async def test_evergreen_lifecycle(client: OpenTweetClient, sandbox: SandboxHandle) -> None:
    settings = await client.send(ops.get_evergreen_settings())
    assert settings["settings"]["enabled"] is False
    assert settings["limits"]["pool_size"] == 10

    changed = await client.send(
        ops.update_evergreen_settings(
            {"enabled": True, "posts_per_day": 5, "posting_times": ["18:00", "00:00"]}
        )
    )
    assert changed["settings"]["enabled"] is True
    assert changed["settings"]["posts_per_day"] == 2  # clamped to the pro plan
    assert changed["settings"]["posting_times"] == ["00:00", "18:00"]

    source = await draft(client, "An evergreen tip from a draft")
    mode1 = unwrap_post(
        await client.send(ops.add_to_evergreen({"post_id": source, "cooldown_days": 7}))
    )
    assert mode1["id"] == source and is_evergreen(mode1) and mode1["cooldown_days"] == 7
    mode2 = unwrap_post(
        await client.send(
            ops.add_to_evergreen({"text": "A brand new evergreen tip", "category": "Tips"})
        )
    )
    assert is_evergreen(mode2) and mode2["category"] == "Tips" and mode2["id"] != source

    pool = await client.send(ops.list_evergreen_posts(paused=False))
    assert sorted(p["id"] for p in pool["posts"]) == sorted([source, mode2["id"]])
    assert all(is_evergreen(p) for p in pool["posts"])
    assert logged(sandbox, "/api/v1/evergreen/posts", "GET")[0]["query"] == "paused=false"

    paused = unwrap_post(
        await client.send(ops.update_evergreen_post(mode2["id"], {"paused": True}))
    )
    assert paused["paused"] is True
    assert [
        p["id"] for p in (await client.send(ops.list_evergreen_posts(paused=True)))["posts"]
    ] == [mode2["id"]]

    one = await client.send(ops.get_evergreen_post(source))
    assert unwrap_post(one)["id"] == source and one["recent_posts"] == []

    result = sandbox.state.run_scheduler(datetime.now(UTC).replace(hour=23, minute=59))
    assert result["evergreen_clones"] == 1
    history = await client.send(ops.get_evergreen_history(source_id=source))
    assert [h["source_id"] for h in history["history"]] == [source]
    assert history["history"][0]["status"] == "posted"
    assert (await client.send(ops.get_evergreen_history(source_id=mode2["id"])))["history"] == []

    removed = unwrap_post(await client.send(ops.remove_from_evergreen(source)))
    assert removed["id"] == source and not is_evergreen(removed)
    assert removed["status"] == "draft"
    with pytest.raises(NotFound):
        await client.send(ops.get_evergreen_post(source))


async def test_search_inspiration_and_repurpose(
    client: OpenTweetClient, sandbox: SandboxHandle
) -> None:
    found = await client.send(
        ops.search_inspiration(
            "AI agents", max_results=10, sort_order="relevancy", has_media=True, min_likes=100
        )
    )
    assert found["meta"]["query"] == "AI agents"
    assert found["data"] and all(t["has_media"] is True for t in found["data"])
    assert all(t["like_count"] >= 100 for t in found["data"])
    assert found["usage"]["searches_used"] == 1
    (entry,) = logged(sandbox, "/api/v1/inspiration/search")
    assert "has_media=true" in entry["query"] and "q=AI+agents" in entry["query"]

    answer = await client.send(
        ops.repurpose_tweet(
            {"tweet_text": "Consistency beats virality.", "tone": "bold", "save_as_draft": True}
        )
    )
    assert answer["repurposed"]["text"].startswith("Hot take: Consistency")
    saved = unwrap_post({"post": answer["draft"]})
    assert unwrap_post(await client.send(ops.get_post(saved["id"])))["status"] == "draft"


async def test_analytics_on_the_advanced_plan(sandbox: SandboxHandle) -> None:
    sandbox.config(analysis_delay=0.0)
    async with make_client(sandbox, ADVANCED_KEY) as client:
        before = await client.send(ops.get_best_times())
        assert before["mode"] == "frequency_only" and before["insufficient_data"] is True
        ids = []
        for n in range(3):
            created = await client.send(
                ops.create_post({"text": f"published {n}", "publish_now": True})
            )
            ids.append(created_posts(created)[0]["id"])

        overview = await client.send(ops.get_analytics_overview())
        assert overview["stats"]["published"] == 3 and overview["streaks"]["current"] == 1

        tweets = await client.send(ops.get_tweet_analytics(period=30))
        assert tweets["period"] == "30"
        assert sorted(t["id"] for t in tweets["tweets"]) == sorted(ids)
        assert logged(sandbox, "/api/v1/analytics/tweets")[0]["query"] == "period=30"

        started = await client.send(ops.analyze_best_times())
        assert started["profile"]["status"] in ("analyzing", "ready")
        assert logged(sandbox, "/api/v1/analytics/best-times/analyze")[0]["body"] == {}
        ready = await client.send(ops.get_best_times())
        assert ready["mode"] == "engagement_weighted" and len(ready["heatmap"]) == 7

        with pytest.raises(RateLimited) as caught:
            await client.send(ops.analyze_best_times())
    error = caught.value
    assert error.next_available_at and error.next_available_at.endswith("Z")
    assert "cooling down" in (error.hint or "") and error.next_available_at in (error.hint or "")
    assert len(logged(sandbox, "/api/v1/analytics/best-times/analyze")) == 2


# --- retries and outcomes --------------------------------------------------------------------


async def test_429_with_retry_after_is_retried_for_get(
    client: OpenTweetClient, sandbox: SandboxHandle, sleeps: Sleeps
) -> None:
    sandbox.fault(path="/api/v1/me", status=429, headers={"Retry-After": "1"}, times=1)
    me = await client.send(ops.get_account())
    assert me["authenticated"] is True
    assert [r["status"] for r in logged(sandbox, "/api/v1/me")] == [429, 200]
    assert sleeps.calls == [1.0]  # waited what Retry-After said, not the backoff


async def test_429_on_publish_is_not_retried(
    client: OpenTweetClient, sandbox: SandboxHandle, sleeps: Sleeps
) -> None:
    post_id = await draft(client)
    path = f"/api/v1/posts/{post_id}/publish"
    sandbox.fault(path=path, status=429, headers={"Retry-After": "1"}, times=1)
    with pytest.raises(RateLimited) as caught:
        await client.send(ops.publish_post(post_id))
    assert caught.value.status == 429 and caught.value.retry_after == 1.0
    assert len(logged(sandbox, path)) == 1
    assert sleeps.calls == []
    assert unwrap_post(await client.send(ops.get_post(post_id)))["status"] == "draft"


async def test_503_on_get_is_retried(
    client: OpenTweetClient, sandbox: SandboxHandle, sleeps: Sleeps
) -> None:
    sandbox.fault(path="/api/v1/posts", method="GET", status=503, times=1)
    listed = await client.send(ops.list_posts())
    assert listed["posts"] == []
    assert [r["status"] for r in logged(sandbox, "/api/v1/posts", "GET")] == [503, 200]
    assert len(sleeps.calls) == 1


async def test_503_on_get_that_persists_ends_in_server_error(
    client: OpenTweetClient, sandbox: SandboxHandle
) -> None:
    sandbox.fault(path="/api/v1/accounts", status=503, times=10)
    with pytest.raises(ServerError) as caught:
        await client.send(ops.list_accounts())
    assert caught.value.status == 503 and caught.value.upstream_message == "injected 503"
    assert len(logged(sandbox, "/api/v1/accounts")) == 3


@pytest.mark.parametrize("status", [500, 502])
async def test_5xx_on_publish_is_outcome_unknown_after_one_request(
    client: OpenTweetClient, sandbox: SandboxHandle, sleeps: Sleeps, status: int
) -> None:
    post_id = await draft(client)
    path = f"/api/v1/posts/{post_id}/publish"
    sandbox.fault(path=path, method="POST", status=status, times=5)
    with pytest.raises(OutcomeUnknown) as caught:
        await client.send(ops.publish_post(post_id))
    assert caught.value.status == status
    assert caught.value.upstream_message == f"injected {status}"
    assert "list_posts" in (caught.value.hint or "")
    assert [r["status"] for r in logged(sandbox, path)] == [status]
    assert sleeps.calls == []


async def test_reset_after_publish_is_outcome_unknown_and_the_post_is_posted(
    client: OpenTweetClient, sandbox: SandboxHandle, sleeps: Sleeps
) -> None:
    post_id = await draft(client)
    path = f"/api/v1/posts/{post_id}/publish"
    sandbox.fault(path=path, action="reset_after", times=5)
    with pytest.raises(OutcomeUnknown) as caught:
        await client.send(ops.publish_post(post_id))
    assert caught.value.status is None and caught.value.method == "POST"
    (entry,) = logged(sandbox, path)
    assert entry["processed"] is True and entry["status"] == "reset"
    assert sleeps.calls == []
    reread = unwrap_post(await client.send(ops.get_post(post_id)))
    assert reread["status"] == "posted" and reread["x_post_id"]


async def test_reset_before_create_is_outcome_unknown_and_nothing_is_created(
    client: OpenTweetClient, sandbox: SandboxHandle
) -> None:
    sandbox.fault(path="/api/v1/posts", method="POST", action="reset_before", times=5)
    with pytest.raises(OutcomeUnknown):
        await client.send(ops.create_post({"text": "never created"}))
    (entry,) = logged(sandbox, "/api/v1/posts", "POST")
    assert entry["processed"] is False
    assert (await client.send(ops.list_posts()))["pagination"]["total"] == 0


@pytest.mark.parametrize("action", ["reset_before", "reset_after"])
async def test_reset_on_get_is_retried(
    client: OpenTweetClient, sandbox: SandboxHandle, action: str
) -> None:
    sandbox.fault(path="/api/v1/me", action=action, times=1)
    assert (await client.send(ops.get_account()))["authenticated"] is True
    assert [r["status"] for r in logged(sandbox, "/api/v1/me")] == ["reset", 200]


async def test_connection_refused_on_post_is_retried_then_unavailable(
    sandbox: SandboxHandle, sleeps: Sleeps
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with make_client(sandbox, sleeps=sleeps, base_url=f"http://127.0.0.1:{port}") as client:
        with pytest.raises(UpstreamUnavailable) as caught:
            await client.send(ops.create_post({"text": "nobody listens"}))
    assert caught.value.attempts == 3 and caught.value.reason == "could not connect"
    assert len(sleeps.calls) == 2  # a POST that never left is safe to try again
    assert "Nothing was applied" in (caught.value.hint or "")


# --- unreadable bodies -----------------------------------------------------------------------


@pytest.mark.parametrize("action", ["malformed", "empty", "wrong_shape"])
async def test_unreadable_body_on_get(
    client: OpenTweetClient, sandbox: SandboxHandle, action: str
) -> None:
    sandbox.fault(path="/api/v1/me", action=action, times=1)
    with pytest.raises(BadResponse) as caught:
        await client.send(ops.get_account())
    assert caught.value.write is False and caught.value.status == 200
    assert len(logged(sandbox, "/api/v1/me")) == 1


@pytest.mark.parametrize("action", ["malformed", "empty", "wrong_shape"])
async def test_unreadable_body_on_post_is_a_write_that_was_applied(
    client: OpenTweetClient, sandbox: SandboxHandle, action: str
) -> None:
    sandbox.fault(path="/api/v1/posts", method="POST", action=action, times=1)
    with pytest.raises(BadResponse) as caught:
        await client.send(ops.create_post({"text": "created behind a broken answer"}))
    assert caught.value.write is True
    assert "probably applied" in (caught.value.hint or "")
    (entry,) = logged(sandbox, "/api/v1/posts", "POST")
    assert entry["processed"] is True
    listed = await client.send(ops.list_posts())
    assert [p["text"] for p in listed["posts"]] == ["created behind a broken answer"]


# --- a slow upstream -------------------------------------------------------------------------


async def test_slow_get_is_retried_and_succeeds(sandbox: SandboxHandle, sleeps: Sleeps) -> None:
    sandbox.fault(path="/api/v1/me", action="delay", delay=1.0, times=1)
    async with make_client(sandbox, sleeps=sleeps, timeout=0.3) as client:
        started = time.monotonic()
        me = await client.send(ops.get_account())
        elapsed = time.monotonic() - started
    assert me["authenticated"] is True
    assert 0.3 <= elapsed < 1.0  # gave up on the stalled answer instead of waiting for it
    assert len(logged(sandbox, "/api/v1/me")) == 2
    assert len(sleeps.calls) == 1
    wait_processed(sandbox, "/api/v1/me", 2)


async def test_slow_post_is_outcome_unknown(sandbox: SandboxHandle, sleeps: Sleeps) -> None:
    sandbox.fault(path="/api/v1/posts", method="POST", action="delay", delay=1.0, times=1)
    async with make_client(sandbox, sleeps=sleeps, timeout=0.3) as client:
        with pytest.raises(OutcomeUnknown) as caught:
            await client.send(ops.create_post({"text": "slow to create"}))
    assert caught.value.reason == "timed out waiting for the response"
    assert sleeps.calls == []
    assert len(logged(sandbox, "/api/v1/posts", "POST")) == 1
    # The upstream finishes the work after the client gave up: the outcome really was unknown.
    wait_processed(sandbox, "/api/v1/posts", 1)
    user_posts = sandbox.state.store.posts(sandbox.state.user(KEY).id)
    assert [p["text"] for p in user_posts] == ["slow to create"]


# --- the sandbox's 4xx answers as error classes ----------------------------------------------


async def test_401_for_a_malformed_key(sandbox: SandboxHandle) -> None:
    with pytest.raises(ValueError):
        OpenTweetClient("", sandbox.base_url)
    async with make_client(sandbox, "pro_sk two words") as client:
        with pytest.raises(AuthError) as caught:
            await client.send(ops.get_account())
    error = caught.value
    assert error.status == 401 and error.code == "unauthorized"
    assert "Authorization header" in (error.upstream_message or "")
    assert "OPENTWEET_API_KEY" in (error.hint or "")
    assert len(logged(sandbox, "/api/v1/me")) == 1


async def test_403_scheduling_without_a_subscription(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox, NOSUB_KEY) as client:
        post_id = await draft(client)  # drafts are free
        with pytest.raises(Forbidden) as caught:
            await client.send(ops.schedule_post(post_id, {"scheduled_date": future()}))
    error = caught.value
    assert error.status == 403 and error.code == "subscription_required"
    assert "subscription is required" in (error.upstream_message or "")
    assert "subscription" in (error.hint or "") and "drafts work" in (error.hint or "")


async def test_403_tweet_analytics_below_advanced(client: OpenTweetClient) -> None:
    with pytest.raises(Forbidden) as caught:
        await client.send(ops.get_tweet_analytics())
    assert caught.value.code == "plan_required"
    assert "Advanced" in (caught.value.hint or "")


async def test_404_for_an_unknown_post(client: OpenTweetClient, sandbox: SandboxHandle) -> None:
    with pytest.raises(NotFound) as caught:
        await client.send(ops.get_post(MISSING_ID))
    error = caught.value
    assert error.status == 404 and MISSING_ID in (error.upstream_message or "")
    assert "list_posts" in (error.hint or "")
    assert len(logged(sandbox, f"/api/v1/posts/{MISSING_ID}")) == 1  # a 404 is not retried


async def test_409_publishing_twice(client: OpenTweetClient, sandbox: SandboxHandle) -> None:
    post_id = await draft(client)
    await client.send(ops.publish_post(post_id))
    with pytest.raises(Conflict) as caught:
        await client.send(ops.publish_post(post_id))
    error = caught.value
    assert error.status == 409 and error.code == "already_posted"
    assert "already published" in (error.upstream_message or "")
    assert "get_post" in (error.hint or "")
    assert len(logged(sandbox, f"/api/v1/posts/{post_id}/publish")) == 2


async def test_429_url_limit_says_the_post_was_saved_as_draft(sandbox: SandboxHandle) -> None:
    async with make_client(sandbox, TRIAL_KEY) as client:
        ids = [await draft(client, f"read https://example.com/{n}") for n in range(3)]
        for post_id in ids[:2]:  # the trial's cap: two posts with links a day
            await client.send(ops.publish_post(post_id))
        with pytest.raises(RateLimited) as caught:
            await client.send(ops.publish_post(ids[2]))
        reread = unwrap_post(await client.send(ops.get_post(ids[2])))
    error = caught.value
    assert error.code == "url_limit"
    assert error.url_limit == {"limit": 2, "used": 2, "saved_as_draft": True}
    assert "saved as a draft" in (error.hint or "")
    assert reread["status"] == "draft"
    assert len(logged(sandbox, f"/api/v1/posts/{ids[2]}/publish")) == 1


async def test_400_for_a_past_date_sent_raw(
    client: OpenTweetClient, sandbox: SandboxHandle
) -> None:
    request = ops.create_post({"text": "too late", "scheduled_date": "2020-01-01T00:00:00Z"})
    with pytest.raises(BadRequest) as caught:
        await client.send(request)
    error = caught.value
    assert error.status == 400 and error.code == "date_in_past"
    assert error.upstream_message == "scheduled_date must be in the future"
    assert error.method == "POST" and error.path == "/api/v1/posts"
    assert "invalid" in (error.hint or "")
    assert (await client.send(ops.list_posts()))["pagination"]["total"] == 0


async def test_413_for_an_oversized_image(client: OpenTweetClient) -> None:
    big = tiny_png() + b"\x00" * (5 * 1024 * 1024)
    with pytest.raises(PayloadTooLarge) as caught:
        await client.send(ops.upload_media("big.png", big, "image/png"))
    assert caught.value.status == 413 and "5 MB" in (caught.value.hint or "")


# --- the key never leaks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "status", "kind"),
    [("GET", 401, AuthError), ("GET", 500, ServerError), ("POST", 500, OutcomeUnknown)],
)
async def test_echoed_key_is_redacted_everywhere(
    sandbox: SandboxHandle,
    caplog: pytest.LogCaptureFixture,
    method: str,
    status: int,
    kind: type[Exception],
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("opentweet_mcp", "httpx2", "httpcore2"):
        caplog.set_level(logging.DEBUG, logger=name)
    sandbox.fault(path="/api/v1/", action="echo_auth", status=status, times=10)
    async with make_client(sandbox) as client:
        with pytest.raises(kind) as caught:
            if method == "GET":
                await client.send(ops.get_account())
            else:
                await client.send(ops.create_post({"text": "echo"}))
    error: Any = caught.value
    assert len(sandbox.requests()) >= 1
    assert "[REDACTED]" in json.dumps(error.body)  # the key really was echoed, then blanked
    assert KEY not in str(error) and KEY not in repr(error)
    assert KEY not in json.dumps(error.body)
    assert KEY not in (error.upstream_message or "")
    if isinstance(error, ApiError):
        assert KEY not in (error.hint or "")
    assert caplog.records, "expected DEBUG records from the client"
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in str(record.args)
    assert KEY not in caplog.text
