"""The simulated X API v2, in the sandbox's style: a real HTTP app with SQLite state, fault
injection and a request log, so the X provider can be built and tested without an account.

What it does, from the X API posting guide:
- OAuth 2.0 authorization code with PKCE (S256 only): `GET /i/oauth2/authorize` (a consent
  page, or, in test mode, `approve=1` redirects at once with the code and the `state`), and
  `POST /2/oauth2/token` for the code (verifier checked, redirect_uri matched, code used once)
  and for refresh tokens, which rotate: each one works once. Access tokens expire (2 h).
- `GET /2/users/me`; `POST /2/tweets` (text, media ids, poll, quote, reply, reply_settings),
  `GET`/`DELETE /2/tweets/{id}`; duplicate text within a day is refused, as X does.
- `POST /1.1/media/upload.json`: a simple upload, or INIT / APPEND / FINALIZE with videos
  processed (`STATUS` shows pending, in_progress, succeeded or failed);
  `POST /1.1/media/metadata/create.json` sets alt text.
- Per-user rate limits with `x-rate-limit-limit/-remaining/-reset` on every answer; 429 past
  them. Errors in the guide's shapes: v2 problem JSON (`title`, `detail`, `type`, `status`),
  v1.1 `{"errors": [{"code", "message"}]}`, OAuth `{"error", "error_description"}`.
- A user whose name starts with `premium_` may post 25,000 weighted characters, else 280.

Control endpoints under `/_xsim/`: `config` (knobs), `reset`, `requests`, `faults` (the
sandbox's fault rules).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from opentweet_mcp.sandbox.faults import Fault, FaultsAndLog
from opentweet_mcp.sandbox.store import Store
from opentweet_mcp.text.weighted import V3, parse_tweet
from opentweet_mcp.xsim.oauth import authorize, token
from opentweet_mcp.xsim.state import (
    DAY,
    IMAGE_TYPES,
    REPLY_SETTINGS,
    VIDEO_TYPES,
    Refused,
    XSim,
    digest,
    problem,
    v1_error,
)

# --- users and tweets ------------------------------------------------------------------------


async def users_me(xsim: XSim, request: Request) -> Response:
    user = xsim.user_of(request)
    headers = xsim.count(user, "users_me", int(xsim.knob("requests_per_window")))
    data = {"id": user["id"], "name": user["name"], "username": user["username"]}
    if "verified_type" in request.query_params.get("user.fields", ""):
        data["verified_type"] = "blue" if user["username"].startswith("premium_") else "none"
    return JSONResponse({"data": data}, headers=headers)


def _limit(user: dict[str, Any]) -> int:
    return 25_000 if user["username"].startswith("premium_") else V3.max_weighted_length


def _check_tweet(xsim: XSim, user: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The fields of a new tweet, checked as X checks them (problem JSON otherwise)."""
    text = body.get("text")
    media_ids = (body.get("media") or {}).get("media_ids") or []
    poll = body.get("poll")
    if not isinstance(text, str) or (not text.strip() and not media_ids):
        raise problem(
            400, "Invalid Request", "One or more parameters to your request was invalid: text"
        )
    limit = _limit(user)
    length = parse_tweet(text, V3._replace(max_weighted_length=limit)).weighted_length
    if length > limit:
        raise problem(
            400,
            "Invalid Request",
            f"Tweet text too long: {length} weighted characters, the limit is {limit}",
        )
    tweet: dict[str, Any] = {"text": text, "author_id": user["id"]}
    if media_ids:
        if poll is not None:
            raise problem(400, "Invalid Request", "media and poll cannot be combined")
        for media_id in media_ids:
            media = xsim.get("media", str(media_id))
            if media is None or media.get("owner") != user["id"]:
                raise problem(400, "Invalid Request", f"media id {media_id} was not found")
            if _processing(xsim, media)["state"] != "succeeded":
                raise problem(400, "Invalid Request", f"media id {media_id} is not ready to post")
        tweet["media_ids"] = [str(m) for m in media_ids]
    if poll is not None:
        options = poll.get("options") if isinstance(poll, dict) else None
        minutes = poll.get("duration_minutes") if isinstance(poll, dict) else None
        if (
            not isinstance(options, list)
            or not 2 <= len(options) <= 4
            or not all(isinstance(o, str) and 1 <= len(o) <= 25 for o in options)
        ):
            raise problem(
                400, "Invalid Request", "poll.options: 2 to 4 choices of 1 to 25 characters"
            )
        if not isinstance(minutes, int) or not 5 <= minutes <= 10080:
            raise problem(400, "Invalid Request", "poll.duration_minutes: 5 to 10080")
        tweet["poll"] = {"options": options, "duration_minutes": minutes}
    for name in ("quote_tweet_id",):
        if body.get(name) is not None:
            tweet[name] = str(body[name])
    reply = body.get("reply")
    if reply is not None:
        parent = str((reply or {}).get("in_reply_to_tweet_id") or "")
        if xsim.store.post(user["id"], parent) is None:
            raise problem(
                403,
                "Forbidden",
                "You attempted to reply to a Tweet that is deleted or not visible to you.",
            )
        tweet["in_reply_to_tweet_id"] = parent
    if body.get("reply_settings") is not None:
        if body["reply_settings"] not in REPLY_SETTINGS:
            raise problem(
                400, "Invalid Request", f"reply_settings must be one of {sorted(REPLY_SETTINGS)}"
            )
        tweet["reply_settings"] = body["reply_settings"]
    return tweet


async def create_tweet(xsim: XSim, request: Request) -> Response:
    user = xsim.user_of(request)
    if "tweet.write" not in user["scopes"]:
        raise problem(403, "Forbidden", "You are not permitted to perform this action.")
    headers = xsim.count(user, "create_tweet", int(xsim.knob("tweets_per_window")))
    try:
        body = await request.json()
    except ValueError:
        raise problem(400, "Invalid Request", "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise problem(400, "Invalid Request", "The request body must be a JSON object")
    tweet = _check_tweet(xsim, user, body)
    fail_after = xsim.knob("tweets_fail_after")
    if fail_after is not None and xsim.store.count(f"tweets:{user['id']}") >= int(fail_after):
        status = int(xsim.knob("tweets_fail_status"))
        raise problem(status, HTTPStatus(status).phrase, HTTPStatus(status).phrase)
    said = " ".join(tweet["text"].split()).casefold()
    recent = xsim.get("said", digest(f"{user['id']}\n{said}"))
    if said and recent is not None and recent["at"] > xsim.clock() - DAY:
        raise problem(
            403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."
        )
    tweet_id = xsim.new_id()
    tweet |= {"id": tweet_id, "edit_history_tweet_ids": [tweet_id], "created_at": xsim.clock()}
    xsim.store.save_post(user["id"], tweet)
    xsim.store.bump(f"tweets:{user['id']}")
    if said:
        xsim.put("said", digest(f"{user['id']}\n{said}"), {"at": xsim.clock()})
    data = {"id": tweet_id, "text": tweet["text"], "edit_history_tweet_ids": [tweet_id]}
    return JSONResponse({"data": data}, 201, headers=headers)


async def get_tweet(xsim: XSim, request: Request) -> Response:
    user = xsim.user_of(request)
    headers = xsim.count(user, "get_tweet", int(xsim.knob("requests_per_window")))
    tweet = xsim.store.post(user["id"], request.path_params["id"])
    if tweet is None:
        raise problem(
            404, "Not Found Error", f"Could not find tweet with id: [{request.path_params['id']}]."
        )
    return JSONResponse(
        {"data": {k: v for k, v in tweet.items() if k != "created_at"}}, headers=headers
    )


async def user_tweets(xsim: XSim, request: Request) -> Response:
    """The user's timeline, newest first (`max_results` 5–100); `tweet.fields` may ask for
    `created_at` and `referenced_tweets` (what each replies to or quotes)."""
    user = xsim.user_of(request)
    headers = xsim.count(user, "user_tweets", int(xsim.knob("requests_per_window")))
    if request.path_params["id"] != user["id"]:
        raise problem(403, "Forbidden", "You can only read your own timeline here.")
    try:
        count = int(request.query_params.get("max_results", "10"))
    except ValueError:
        count = 0
    if not 5 <= count <= 100:
        raise problem(400, "Invalid Request", "max_results must be between 5 and 100")
    fields = request.query_params.get("tweet.fields", "").split(",")
    data = []
    for tweet in xsim.store.posts(user["id"])[:count]:
        item: dict[str, Any] = {"id": tweet["id"], "text": tweet["text"]}
        if "created_at" in fields:
            at = datetime.fromtimestamp(tweet["created_at"], UTC)
            item["created_at"] = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        referenced = [
            {"type": kind, "id": tweet[key]}
            for kind, key in (("replied_to", "in_reply_to_tweet_id"), ("quoted", "quote_tweet_id"))
            if tweet.get(key)
        ]
        if "referenced_tweets" in fields and referenced:
            item["referenced_tweets"] = referenced
        data.append(item)
    return JSONResponse({"data": data, "meta": {"result_count": len(data)}}, headers=headers)


async def delete_tweet(xsim: XSim, request: Request) -> Response:
    user = xsim.user_of(request)
    headers = xsim.count(user, "delete_tweet", int(xsim.knob("requests_per_window")))
    tweet_id = request.path_params["id"]
    if xsim.store.post(user["id"], tweet_id) is None:
        raise problem(404, "Not Found Error", f"Could not find tweet with id: [{tweet_id}].")
    xsim.store.delete_post(user["id"], tweet_id)
    return JSONResponse({"data": {"deleted": True}}, headers=headers)


# --- media -----------------------------------------------------------------------------------


def _processing(xsim: XSim, media: dict[str, Any]) -> dict[str, Any]:
    """Where a media's processing stands now: images are ready at once, videos after the
    processing delay (or failed, with the knob)."""
    if media.get("finalized_at") is None:
        return {"state": "pending"}
    if media["type"] not in VIDEO_TYPES:
        return {"state": "succeeded", "progress_percent": 100}
    waited = xsim.clock() - media["finalized_at"]
    delay = float(xsim.knob("processing_delay"))
    if waited < delay:
        left = max(1, math.ceil(delay - waited))
        return {
            "state": "in_progress",
            "check_after_secs": left,
            "progress_percent": int(100 * waited / delay),
        }
    if xsim.knob("processing_fails"):
        return {
            "state": "failed",
            "error": {"code": 1, "name": "InvalidMedia", "message": "Unsupported video"},
        }
    return {"state": "succeeded", "progress_percent": 100}


def _media_answer(
    media_id: str, media: dict[str, Any], state: dict[str, Any] | None
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "media_id": int(media_id),
        "media_id_string": media_id,
        "size": media.get("size", 0),
    }
    if state is not None:
        answer["processing_info"] = state
    return answer


async def upload_media(xsim: XSim, request: Request) -> Response:
    user = xsim.user_of(request)
    headers = xsim.count(user, "media", int(xsim.knob("requests_per_window")))
    if request.method == "GET":
        media_id = request.query_params.get("media_id", "")
        media = xsim.get("media", media_id)
        if request.query_params.get("command") != "STATUS" or media is None:
            raise v1_error(400, 324, "Invalid media id or command")
        return JSONResponse(
            _media_answer(media_id, media, _processing(xsim, media)), headers=headers
        )
    async with request.form(max_part_size=600 * 1024 * 1024) as form:
        fields = {k: v for k, v in form.items()}
        command = str(fields.get("command") or "")
        upload = fields.get("media")
        data = await upload.read() if upload is not None and hasattr(upload, "read") else b""
    if command == "INIT":
        media_type = str(fields.get("media_type") or "")
        if media_type not in VIDEO_TYPES | IMAGE_TYPES:
            raise v1_error(400, 323, f"Unsupported media_type {media_type!r}")
        total = int(str(fields.get("total_bytes") or 0))
        caps = {"image/gif": 15 * 1024 * 1024} | dict.fromkeys(VIDEO_TYPES, 512 * 1024 * 1024)
        cap = caps.get(media_type, 5 * 1024 * 1024)
        if not 0 < total <= cap:
            raise v1_error(400, 324, f"total_bytes must be 1 to {cap} for {media_type}")
        media_id = xsim.new_id()
        xsim.put(
            "media",
            media_id,
            {
                "owner": user["id"],
                "type": media_type,
                "total": total,
                "size": 0,
                "finalized_at": None,
            },
        )
        return JSONResponse(
            _media_answer(media_id, {"size": 0}, None) | {"expires_after_secs": 86400},
            202,
            headers=headers,
        )
    if command in ("APPEND", "FINALIZE"):
        media_id = str(fields.get("media_id") or "")
        media = xsim.get("media", media_id)
        if media is None or media.get("owner") != user["id"] or media["finalized_at"] is not None:
            raise v1_error(400, 324, "Invalid media id")
        if command == "APPEND":
            media["size"] += len(data)
            xsim.put("media", media_id, media)
            return Response(status_code=204, headers=headers)
        if media["size"] != media["total"]:
            raise v1_error(
                400, 324, f"File size {media['size']} does not match total_bytes {media['total']}"
            )
        media["finalized_at"] = xsim.clock()
        xsim.put("media", media_id, media)
        # a video is queued for processing: X answers "pending", STATUS tells the rest
        state = (
            {"state": "pending", "check_after_secs": 1} if media["type"] in VIDEO_TYPES else None
        )
        return JSONResponse(_media_answer(media_id, media, state), headers=headers)
    if not data:
        raise v1_error(400, 324, "media is required (or a command: INIT, APPEND, FINALIZE)")
    if len(data) > 5 * 1024 * 1024:
        raise v1_error(400, 324, "Images may be 5 MB at most; use the chunked upload for videos")
    media_id = xsim.new_id()
    media = {
        "owner": user["id"],
        "type": "image/jpeg",
        "total": len(data),
        "size": len(data),
        "finalized_at": xsim.clock(),
    }
    xsim.put("media", media_id, media)
    return JSONResponse(_media_answer(media_id, media, None), headers=headers)


async def media_metadata(xsim: XSim, request: Request) -> Response:
    user = xsim.user_of(request)
    headers = xsim.count(user, "media", int(xsim.knob("requests_per_window")))
    body = await request.json()
    media_id = str(body.get("media_id") or "")
    media = xsim.get("media", media_id)
    alt = (body.get("alt_text") or {}).get("text")
    if media is None or media.get("owner") != user["id"]:
        raise v1_error(400, 324, "Invalid media id")
    if not isinstance(alt, str) or not 1 <= len(alt) <= 1000:
        raise v1_error(400, 324, "alt_text.text must be 1 to 1000 characters")
    xsim.put("media", media_id, media | {"alt_text": alt})
    return Response(status_code=200, headers=headers)


# --- control and the app ---------------------------------------------------------------------


async def control(xsim: XSim, request: Request) -> Response:
    what = request.path_params["what"]
    if what == "reset" and request.method == "POST":
        xsim.reset()
        return JSONResponse({"success": True})
    if what == "requests":
        return JSONResponse({"requests": xsim.store.requests()})
    if what == "config" and request.method == "PUT":
        try:
            return JSONResponse(
                {"success": True, "config": xsim.configure(**(await request.json()))}
            )
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
    if what == "faults" and request.method == "POST":
        try:
            xsim.faults.add(Fault.from_json(await request.json()))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse({"success": True}, 201)
    return JSONResponse({"error": "unknown control"}, 404)


def _endpoint(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        xsim: XSim = request.app.state.xsim
        try:
            response: Response = await handler(xsim, request)
        except Refused as refused:
            return JSONResponse(refused.body, refused.status, headers=refused.headers)
        return response

    return endpoint


class XSimApp(Starlette):
    """The app, with the sandbox's fault injection and request log around everything."""

    def __init__(self, xsim: XSim, routes: list[Route]) -> None:
        super().__init__(routes=routes)
        self.state.xsim = xsim
        self._front = FaultsAndLog(
            super().__call__, store=xsim.store, faults=xsim.faults, api=("/2/", "/1.1/", "/i/")
        )

    @property
    def xsim(self) -> XSim:
        xsim: XSim = self.state.xsim
        return xsim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._front(scope, receive, send)


def create_x_app(db: str = ":memory:") -> XSimApp:
    """The X API simulator on a SQLite file, or in memory with ":memory:"."""
    routes = [
        Route("/i/oauth2/authorize", _endpoint(authorize)),
        Route("/2/oauth2/token", _endpoint(token), methods=["POST"]),
        Route("/2/users/me", _endpoint(users_me)),
        Route("/2/users/{id}/tweets", _endpoint(user_tweets)),
        Route("/2/tweets", _endpoint(create_tweet), methods=["POST"]),
        Route("/2/tweets/{id}", _endpoint(get_tweet), methods=["GET"]),
        Route("/2/tweets/{id}", _endpoint(delete_tweet), methods=["DELETE"]),
        Route("/1.1/media/upload.json", _endpoint(upload_media), methods=["GET", "POST"]),
        Route("/1.1/media/metadata/create.json", _endpoint(media_metadata), methods=["POST"]),
        Route("/_xsim/{what}", _endpoint(control), methods=["GET", "POST", "PUT"]),
    ]
    return XSimApp(XSim(Store(db)), routes)
