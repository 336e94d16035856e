"""Posting to X through the X API v2 client, against the simulator over real sockets: tweets
with a poll, a quote and media, threads that stop part way and continue without reposting,
and rate limits reported with their reset."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from opentweet_mcp.sandbox.faults import Fault
from opentweet_mcp.xapi.auth import TokenFile, XApp, login
from opentweet_mcp.xapi.client import CHUNK, ThreadBroken, TweetSpec, XClient, XError, XRateLimited
from tests.test_xapi_auth import browser_that_approves


@pytest.fixture
async def x(xsim_server: tuple[str, Any], tmp_path: Path) -> AsyncIterator[XClient]:
    base, app = xsim_server
    app.xsim.reset()
    x_app = XApp(
        "test-client", api_root=base, authorize_url=f"{base}/i/oauth2/authorize", redirect_port=0
    )
    tokens = TokenFile(tmp_path / "x-tokens.json", x_app)
    login(x_app, tokens, browser_that_approves, timeout=20)
    async with httpx2.AsyncClient(timeout=10) as http:
        yield XClient(tokens, http, tmp_path / "threads")


def tweets_on_x(xsim_server: tuple[str, Any]) -> list[dict[str, Any]]:
    return [
        r
        for r in xsim_server[1].xsim.store.requests()
        if r["method"] == "POST" and r["path"] == "/2/tweets" and r["status"] == 201
    ]


async def test_a_poll_a_quote_and_a_delete(x: XClient) -> None:
    poll = await x.post(TweetSpec("Which one?", poll_options=("a", "b"), poll_minutes=60))
    assert poll.url == f"https://x.com/sandbox_user/status/{poll.id}"
    quote = await x.post(TweetSpec("Worth reading", quote_tweet_id=poll.id))
    assert quote.id != poll.id and int(x.rate["x-rate-limit-remaining"]) == 98
    assert await x.delete(quote.id) is True


async def test_a_thread_that_fails_at_tweet_3_continues_without_reposting(
    x: XClient, xsim_server: tuple[str, Any]
) -> None:
    thread = [TweetSpec(f"{n}/4 a thread about retries") for n in range(1, 5)]
    xsim_server[1].xsim.configure(tweets_fail_after=2, tweets_fail_status=400)  # a refusal
    with pytest.raises(ThreadBroken) as broken:
        await x.post_thread(thread)
    assert broken.value.failed_at == 3 and len(broken.value.posted) == 2
    said = str(broken.value)
    assert "stopped at tweet 3 of 4" in said and "HTTP 400" in said
    assert "Not on X: tweets 3–4" in said and broken.value.posted[1].url in said
    assert len(tweets_on_x(xsim_server)) == 2

    xsim_server[1].xsim.configure(tweets_fail_after=None)
    posted = await x.post_thread(thread)  # the same thread again: it continues
    assert posted[:2] == broken.value.posted and len(posted) == 4
    created = tweets_on_x(xsim_server)
    assert len(created) == 4  # tweets 1 and 2 were not posted again
    assert [r["body"].get("reply", {}).get("in_reply_to_tweet_id") for r in created] == [
        None,
        *[p.id for p in posted[:3]],
    ]
    assert await x.post_thread(thread) == posted  # done: nothing more goes out
    assert len(tweets_on_x(xsim_server)) == 4


async def test_media_with_alt_text_goes_out_once_processed(
    x: XClient, xsim_server: tuple[str, Any]
) -> None:
    auth = {"Authorization": f"Bearer {x.tokens.access_token()}"}
    base = xsim_server[0]
    async with httpx2.AsyncClient(base_url=base, headers=auth) as http:
        uploaded = await http.post(
            "/1.1/media/upload.json", files={"media": ("a.png", b"\x89PNG" + b"0" * 64)}
        )
        media_id = uploaded.json()["media_id_string"]
        alt = {"media_id": media_id, "alt_text": {"text": "A chart of weekly posts"}}
        assert (await http.post("/1.1/media/metadata/create.json", json=alt)).status_code == 200
    posted = await x.post(TweetSpec("With a chart", media_ids=(media_id,)))
    assert posted.id


async def test_a_5xx_mid_thread_is_said_to_be_maybe_on_x_until_it_is_looked_for(
    x: XClient, xsim_server: tuple[str, Any]
) -> None:
    xsim_server[1].xsim.configure(tweets_fail_after=1)  # 503: X may or may not have it
    with pytest.raises(ThreadBroken) as broken:
        await x.post_thread([TweetSpec(f"{n}/3 unclear") for n in (1, 2, 3)])
    said = str(broken.value)
    assert broken.value.unsure and "tweet 2 of 3 MAY be on X (X answered HTTP 503" in said
    assert "On X for sure: tweet 1 https://x.com/" in said and "Not on X: tweet 3." in said


async def test_a_rate_limit_says_when_it_resets(x: XClient, xsim_server: tuple[str, Any]) -> None:
    xsim_server[1].xsim.configure(tweets_per_window=1)
    x.rate_wait = 0  # never wait: however near the window's end this runs
    await x.post(TweetSpec("the only one this window"))
    with pytest.raises(XRateLimited) as limited:
        await x.post(TweetSpec("one too many"))
    assert limited.value.reset is not None and limited.value.reset > time.time()
    assert "rate limit is reached until" in str(limited.value)


async def test_a_window_that_opens_soon_is_waited_out(
    x: XClient, xsim_server: tuple[str, Any]
) -> None:
    xsim_server[1].xsim.configure(tweets_per_window=1, window_seconds=2)
    first = await x.post(TweetSpec("the only one this window"))
    started = time.monotonic()
    second = await x.post(TweetSpec("the first of the next window"))  # waits, then goes out
    assert second.id != first.id and time.monotonic() - started < 5
    refused = [r for r in xsim_server[1].xsim.store.requests() if r["status"] == 429]
    assert len(refused) <= 1  # asked once in the full window, then once when it opened


async def test_a_video_is_uploaded_in_chunks_and_followed_until_ready(
    x: XClient, xsim_server: tuple[str, Any]
) -> None:
    xsim_server[1].xsim.configure(processing_delay=0.4)
    video = b"\0\0\0\x18ftypmp42" + b"v" * (CHUNK + 1000)  # two chunks
    media_id = await x.upload_media(video, "video/mp4", alt_text="The launch, in 10 seconds")
    assert xsim_server[1].xsim.get("media", media_id)["alt_text"] == "The launch, in 10 seconds"
    uploads = [
        r for r in xsim_server[1].xsim.store.requests() if r["path"] == "/1.1/media/upload.json"
    ]
    posts = [r for r in uploads if r["method"] == "POST"]
    statuses = [r for r in uploads if r["method"] == "GET" and "command=STATUS" in r["query"]]
    assert len(posts) == 4 and statuses  # INIT, two APPENDs, FINALIZE; then STATUS until ready
    posted = await x.post(TweetSpec("Launch day", media_ids=(media_id,)))
    assert posted.id


async def test_failed_processing_and_oversized_files_are_errors(
    x: XClient, xsim_server: tuple[str, Any]
) -> None:
    xsim_server[1].xsim.configure(processing_delay=0.1, processing_fails=True)
    with pytest.raises(XError, match=r"could not process media .*Unsupported video"):
        await x.upload_media(b"\0\0\0\x18ftypmp42" + b"v" * 100, "video/mp4")
    before = len(xsim_server[1].xsim.store.requests())
    with pytest.raises(XError, match="image/png files are 1 byte to 5 MB"):
        await x.upload_media(b"\x89PNG" + b"0" * (5 * 1024 * 1024), "image/png")
    with pytest.raises(XError, match="not 'application/pdf'"):
        await x.upload_media(b"%PDF", "application/pdf")
    assert len(xsim_server[1].xsim.store.requests()) == before  # refused before any request


async def test_a_tweet_whose_answer_was_lost_is_found_on_x_not_posted_twice(
    x: XClient, xsim_server: tuple[str, Any]
) -> None:
    xsim = xsim_server[1].xsim
    await x.username()  # signed in; then tweet 1 is taken by X and the connection drops
    xsim.faults.add(Fault.from_json({"action": "reset_after", "path": "/2/tweets", "times": 1}))
    thread = [TweetSpec(f"{n}/3 lost and found") for n in (1, 2, 3)]
    posted = await x.post_thread(thread)
    on_x = xsim.store.posts(await x.user_id())[::-1]  # oldest first
    assert [t["text"] for t in on_x] == [t.text for t in thread]  # none twice
    assert [p.id for p in posted] == [t["id"] for t in on_x]
    assert [t.get("in_reply_to_tweet_id") for t in on_x] == [None, on_x[0]["id"], on_x[1]["id"]]
    looked = [r for r in xsim.store.requests() if r["path"].startswith("/2/users/1")]
    assert len(looked) == 1  # the timeline, read once: after the lost answer
