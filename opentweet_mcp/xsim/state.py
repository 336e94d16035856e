"""The X API simulator's state: users, codes, tokens, media and counters in the sandbox's
SQLite store, the knobs, rate limits, and the error shapes of the X API."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from starlette.requests import Request

from opentweet_mcp.sandbox.faults import Faults
from opentweet_mcp.sandbox.knobs import Knobs
from opentweet_mcp.sandbox.store import Store

DAY = 86_400.0
WINDOW = 900.0  # X's rate-limit window: 15 minutes
SCOPES_NEEDED = {"tweet.read", "users.read"}
VIDEO_TYPES = {"video/mp4", "video/quicktime"}
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
REPLY_SETTINGS = {"following", "mentionedUsers", "subscribers", "verified"}


class Refused(Exception):
    """An answer other than success: status, body and extra headers."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(str(body))
        self.status, self.body, self.headers = status, body, headers or {}


def problem(status: int, title: str, detail: str) -> Refused:
    """A v2 error: RFC 7807 problem JSON, as the X API answers."""
    return Refused(
        status, {"title": title, "detail": detail, "type": "about:blank", "status": status}
    )


def oauth_error(error: str, description: str, status: int = 400) -> Refused:
    return Refused(status, {"error": error, "error_description": description})


def v1_error(status: int, code: int, message: str) -> Refused:
    return Refused(status, {"errors": [{"code": code, "message": message}]})


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class XSim(Knobs):
    """The simulator's state and knobs; tests reach it as `app.state.xsim`."""

    store: Store
    faults: Faults = field(default_factory=Faults)
    config: dict[str, Any] = field(default_factory=dict)
    clock: Any = time.time

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "access_token_ttl": 7200.0,  # seconds an access token lives
        "processing_delay": 1.0,  # seconds a video takes to process
        "processing_fails": False,  # video processing ends in "failed"
        "tweets_per_window": 100,  # POST /2/tweets per user per 15 minutes
        "requests_per_window": 900,  # any other request per user per 15 minutes
        "tweets_fail_after": None,  # after this many tweets, creating one fails, unprocessed,
        "tweets_fail_status": 503,  # with this status (503: unclear to a client; 400: a refusal)
        "window_seconds": WINDOW,  # the length of a rate-limit window
    }

    def reset(self) -> None:
        self.store.reset()
        self.faults.clear()
        self.config.clear()

    # records live in the store's document table under a kind prefix
    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.store.user(f"{kind}:{key}")

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        self.store.save_user(f"{kind}:{key}", doc)

    def drop(self, kind: str, key: str) -> None:
        self.store.delete_user(f"{kind}:{key}")

    def new_id(self) -> str:
        return str(1_900_000_000_000_000_000 + self.store.bump("xsim:ids"))

    # --- who calls ------------------------------------------------------------------------

    def user_of(self, request: Request) -> dict[str, Any]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        record = self.get("access", digest(token.strip())) if scheme.lower() == "bearer" else None
        if record is None:
            raise problem(401, "Unauthorized", "Unauthorized")
        if record["expires_at"] <= self.clock():
            raise problem(401, "Unauthorized", "Unauthorized: the access token has expired")
        user = self.get("user", record["user"])
        assert user is not None
        return user | {"scopes": record["scopes"]}

    def count(self, user: dict[str, Any], name: str, limit: int) -> dict[str, str]:
        """Spend one request of `name` in the user's window; the rate-limit headers, or 429."""
        now = self.clock()
        length = float(self.knob("window_seconds"))
        window = int(now // length)
        reset = str(math.ceil((window + 1) * length))
        used = self.store.bump(f"rate:{user['id']}:{name}:{window}")
        headers = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(0, limit - used)),
            "x-rate-limit-reset": reset,
        }
        if used > limit:
            raise Refused(
                429,
                {
                    "title": "Too Many Requests",
                    "detail": "Too Many Requests",
                    "type": "about:blank",
                    "status": 429,
                },
                headers,
            )
        return headers
