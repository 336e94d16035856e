"""The X API v2 simulator over real sockets: OAuth 2.0 with PKCE and rotating refresh tokens,
tweets (polls, quotes, replies as threads, duplicates), media (chunked video processing, alt
text), rate limits and the error shapes of the guide."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from opentweet_mcp.xsim.app import XSimApp

CLIENT = "test-client-id"
REDIRECT = "http://127.0.0.1:8976/callback"
SCOPES = "tweet.read tweet.write users.read offline.access media.write"


@pytest.fixture
async def x(xsim_server: tuple[str, XSimApp]) -> AsyncIterator[httpx2.AsyncClient]:
    base, app = xsim_server
    app.xsim.reset()
    async with httpx2.AsyncClient(base_url=base, timeout=10) as http:
        yield http


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


async def authorized(
    x: httpx2.AsyncClient, login: str = "sandbox_user", verifier: str | None = None
) -> dict[str, Any]:
    """The whole authorization code flow, as `opentweet-mcp login x` will do it."""
    good, challenge = pkce()
    state = secrets.token_urlsafe(8)
    params = {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "scope": SCOPES,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login": login,
    }
    page = await x.get("/i/oauth2/authorize", params=params)
    assert page.status_code == 200 and 'id="authorize"' in page.text  # what a person sees
    approved = await x.get("/i/oauth2/authorize", params=params | {"approve": "1"})
    assert approved.status_code == 302
    back = parse_qs(urlsplit(approved.headers["location"]).query)
    assert back["state"] == [state]
    basic = base64.b64encode(f"{CLIENT}:secret".encode()).decode()
    answer = await x.post(
        "/2/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": back["code"][0],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier or good,
        },
        headers={"Authorization": f"Basic {basic}"},
    )
    return {"status": answer.status_code, **answer.json()}


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_pkce_login_and_single_use_refresh_tokens(x: httpx2.AsyncClient) -> None:
    tokens = await authorized(x)
    assert tokens["status"] == 200 and tokens["expires_in"] == 7200
    assert set(tokens["scope"].split()) == set(SCOPES.split())
    me = (await x.get("/2/users/me", headers=bearer(tokens))).json()["data"]
    assert me["username"] == "sandbox_user" and me["id"].isdigit()

    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    renewed = await x.post("/2/oauth2/token", data=refresh | {"client_id": CLIENT})
    assert renewed.status_code == 200 and renewed.json()["refresh_token"] != tokens["refresh_token"]
    again = await x.post("/2/oauth2/token", data=refresh | {"client_id": CLIENT})
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_request",
        "error_description": "Value passed for the token was invalid.",
    }
    assert (await x.get("/2/users/me", headers=bearer(renewed.json()))).status_code == 200


async def test_a_wrong_verifier_or_reused_code_gets_no_token(x: httpx2.AsyncClient) -> None:
    wrong = await authorized(x, verifier=secrets.token_urlsafe(32))
    assert wrong["status"] == 400 and "code_verifier" in wrong["error_description"]
    plain = await x.get(
        "/i/oauth2/authorize",
        params={"response_type": "code", "client_id": CLIENT, "redirect_uri": REDIRECT,
                "scope": SCOPES, "code_challenge": "x", "code_challenge_method": "plain"},
    )  # fmt: skip
    assert plain.status_code == 400 and "S256" in plain.json()["error_description"]


async def test_access_tokens_expire(x: httpx2.AsyncClient, xsim_server: Any) -> None:
    xsim_server[1].xsim.configure(access_token_ttl=0.2)
    tokens = await authorized(x)
    assert (await x.get("/2/users/me", headers=bearer(tokens))).status_code == 200
    await asyncio.sleep(0.3)
    expired = await x.get("/2/users/me", headers=bearer(tokens))
    assert expired.status_code == 401 and expired.json()["title"] == "Unauthorized"


async def test_tweets_polls_quotes_threads_and_duplicates(x: httpx2.AsyncClient) -> None:
    auth = bearer(await authorized(x))
    first = await x.post("/2/tweets", json={"text": "1/ a thread"}, headers=auth)
    assert first.status_code == 201
    head = first.json()["data"]
    assert head["edit_history_tweet_ids"] == [head["id"]]
    assert int(first.headers["x-rate-limit-remaining"]) == 99
    reply = {"text": "2/ the rest", "reply": {"in_reply_to_tweet_id": head["id"]}}
    second = (await x.post("/2/tweets", json=reply, headers=auth)).json()["data"]
    stored = (await x.get(f"/2/tweets/{second['id']}", headers=auth)).json()["data"]
    assert stored["in_reply_to_tweet_id"] == head["id"]
    poll = {"text": "Which?", "poll": {"options": ["a", "b"], "duration_minutes": 60}}
    assert (await x.post("/2/tweets", json=poll, headers=auth)).status_code == 201
    quote = {"text": "Worth a read", "quote_tweet_id": head["id"], "reply_settings": "following"}
    assert (await x.post("/2/tweets", json=quote, headers=auth)).status_code == 201

    duplicate = await x.post("/2/tweets", json={"text": "1/  A THREAD"}, headers=auth)
    assert duplicate.status_code == 403
    assert duplicate.json()["detail"] == (
        "You are not allowed to create a Tweet with duplicate content."
    )
    orphan = {"text": "to nowhere", "reply": {"in_reply_to_tweet_id": "1"}}
    assert (await x.post("/2/tweets", json=orphan, headers=auth)).status_code == 403
    bad_poll = {"text": "?", "poll": {"options": ["only one"], "duration_minutes": 60}}
    assert (await x.post("/2/tweets", json=bad_poll, headers=auth)).status_code == 400
    too_long = await x.post("/2/tweets", json={"text": "a" * 281}, headers=auth)
    assert too_long.status_code == 400 and "the limit is 280" in too_long.json()["detail"]

    gone = await x.delete(f"/2/tweets/{second['id']}", headers=auth)
    assert gone.json() == {"data": {"deleted": True}}
    assert (await x.get(f"/2/tweets/{second['id']}", headers=auth)).status_code == 404


async def test_premium_users_post_long_tweets(x: httpx2.AsyncClient) -> None:
    auth = bearer(await authorized(x, login="premium_writer"))
    me = await x.get("/2/users/me", params={"user.fields": "verified_type"}, headers=auth)
    assert me.json()["data"]["verified_type"] == "blue"
    assert (await x.post("/2/tweets", json={"text": "a" * 1000}, headers=auth)).status_code == 201


async def test_chunked_video_is_processed_before_it_posts(
    x: httpx2.AsyncClient, xsim_server: Any
) -> None:
    xsim_server[1].xsim.configure(processing_delay=0.4)
    auth = bearer(await authorized(x))
    video = b"\0\0\0\x18ftypmp42" + b"v" * 5000
    init = await x.post(
        "/1.1/media/upload.json",
        data={"command": "INIT", "total_bytes": str(len(video)), "media_type": "video/mp4"},
        headers=auth,
    )
    media_id = init.json()["media_id_string"]
    for index, start in enumerate(range(0, len(video), 2048)):
        appended = await x.post(
            "/1.1/media/upload.json",
            data={"command": "APPEND", "media_id": media_id, "segment_index": str(index)},
            files={"media": ("chunk", video[start : start + 2048])},
            headers=auth,
        )
        assert appended.status_code == 204
    final = await x.post(
        "/1.1/media/upload.json", data={"command": "FINALIZE", "media_id": media_id}, headers=auth
    )
    assert final.json()["processing_info"]["state"] == "pending"
    early = {"text": "Watch this", "media": {"media_ids": [media_id]}}
    assert (await x.post("/2/tweets", json=early, headers=auth)).status_code == 400
    status = {"command": "STATUS", "media_id": media_id}
    seen = [(await x.get("/1.1/media/upload.json", params=status, headers=auth)).json()]
    await asyncio.sleep(0.5)
    seen.append((await x.get("/1.1/media/upload.json", params=status, headers=auth)).json())
    assert [s["processing_info"]["state"] for s in seen] == ["in_progress", "succeeded"]
    alt = {"media_id": media_id, "alt_text": {"text": "A short clip of the launch"}}
    assert (
        await x.post("/1.1/media/metadata/create.json", json=alt, headers=auth)
    ).status_code == 200
    assert (await x.post("/2/tweets", json=early, headers=auth)).status_code == 201


async def test_rate_limits_answer_429_with_the_reset(
    x: httpx2.AsyncClient, xsim_server: Any
) -> None:
    xsim_server[1].xsim.configure(tweets_per_window=2)
    auth = bearer(await authorized(x))
    for n in range(2):
        assert (await x.post("/2/tweets", json={"text": f"n{n}"}, headers=auth)).status_code == 201
    limited = await x.post("/2/tweets", json={"text": "n2"}, headers=auth)
    assert limited.status_code == 429 and limited.json()["title"] == "Too Many Requests"
    assert limited.headers["x-rate-limit-remaining"] == "0"
    assert int(limited.headers["x-rate-limit-reset"]) > time.time()
    assert (await x.post("/2/tweets", json={"text": "no auth"})).status_code == 401


async def test_two_refreshes_racing_get_one_new_pair(x: httpx2.AsyncClient) -> None:
    """A refresh token works once, even when two processes present it at the same moment."""
    tokens = await authorized(x)
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    answers = await asyncio.gather(
        *(x.post("/2/oauth2/token", data=refresh | {"client_id": CLIENT}) for _ in range(2))
    )
    assert sorted(a.status_code for a in answers) == [200, 400]
