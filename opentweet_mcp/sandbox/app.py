"""The simulated OpenTweet API: every endpoint of the upstream guide with its documented rules,
state in SQLite, plus `/_sandbox/` control endpoints for tests and demos (docs/sandbox.md)."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from opentweet_mcp.media_types import KINDS, VIDEO_LIMIT, sniff
from opentweet_mcp.sandbox import rules
from opentweet_mcp.sandbox.corpus import corpus
from opentweet_mcp.sandbox.faults import Fault, Faults, FaultsAndLog
from opentweet_mcp.sandbox.rules import Plan, Rejected, bad
from opentweet_mcp.sandbox.store import Store, key_hash, new_id
from opentweet_mcp.text.weighted import parse_tweet

DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
DEFAULT_EVERGREEN = {
    "enabled": False,
    "posts_per_day": 1,
    "posting_times": ["09:00"],
    "default_cooldown_days": 14,
}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class User:
    digest: str  # sha256 of the key: the key itself is never stored
    plan: Plan
    doc: dict[str, Any]

    @property
    def id(self) -> str:
        return self.digest[:16]

    @property
    def accounts(self) -> list[dict[str, Any]]:
        return list(self.doc["accounts"])

    def account(self, account_id: object) -> dict[str, Any]:
        if account_id in (None, ""):
            return self.accounts[0]
        for account in self.accounts:
            if account["id"] == account_id:
                return account
        raise Rejected(404, f"X account {account_id} is not connected", "account_not_found")


@dataclass
class Sandbox:
    """State and controls of one simulator; tests reach it as `app.state.sandbox`."""

    store: Store
    faults: Faults = field(default_factory=Faults)
    config: dict[str, Any] = field(default_factory=dict)
    base_url: str = ""
    _minute: dict[str, deque[float]] = field(default_factory=dict)

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "rate_per_minute": None,  # None: the plan's number
        "rate_per_day": None,  # None: the plan's number
        "analysis_delay": 1.0,  # seconds from analyze to profile "ready"
        "analysis_cooldown": 3600.0,  # seconds between two analyses
        "x_delete_fails": False,  # deleting a published post from X fails (x_delete_error)
        "scheduler_fails": False,  # the scheduler marks due posts "failed" instead of posting
        # seconds from a publish request to the tweet being on X; 0: done before the answer
        "publish_delay": 0.0,
        # publishing to X fails after the post is saved: 502 (or, delayed, status "failed")
        "publish_fails": False,
        # creates answer only {id, status} per post, as the live API does
        "lean_answers": False,
        # search ignores min_likes/min_retweets, as the live API is said to (client-side filters)
        "search_ignores_minimums": False,
    }

    def knob(self, name: str) -> Any:
        return self.config.get(name, self.DEFAULTS[name])

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Set knobs; an unknown name is a ValueError (a typo must not pass silently)."""
        unknown = set(knobs) - set(self.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown knobs: {sorted(unknown)}; known: {sorted(self.DEFAULTS)}")
        self.config.update(knobs)
        return {**self.DEFAULTS, **self.config}

    def requests(self) -> list[dict[str, Any]]:
        """The request log, oldest first."""
        return self.store.requests()

    def scheduler(self, now: datetime | str | None = None) -> dict[str, int]:
        """Run the scheduler as of `now` (an aware datetime or ISO string; default the clock)."""
        if isinstance(now, str):
            now = parse_iso(now)
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return self.run_scheduler(now or self.now())

    def reset(self) -> None:
        self.store.reset()
        self.faults.clear()
        self.config.clear()
        self._minute.clear()

    def add_fault(self, **rule: Any) -> None:
        """Add a fault rule (the fields of `POST /_sandbox/faults`); a bad rule: ValueError."""
        self.faults.add(Fault.from_json(rule))

    def clear_faults(self) -> None:
        self.faults.clear()

    def now(self) -> datetime:
        return datetime.now(UTC)

    # --- users, limits ---------------------------------------------------------------------

    def user(self, key: str) -> User:
        plan, traits = rules.key_traits(key)
        digest = key_hash(key)
        doc = self.store.user(digest)
        if doc is None:
            accounts = [
                {
                    "id": hashlib.sha256(f"{key}:{n}".encode()).hexdigest()[:24],
                    "x_handle": f"@sandbox_{digest[:4]}" + (f"_{n + 1}" if n else ""),
                    "x_name": f"Sandbox {digest[:4]}" + (f" {n + 1}" if n else ""),
                    "is_primary": n == 0,
                    "nickname": None,
                    "x_premium": "premium" in traits,
                    "cross_post": list(rules.CROSS_POST) if "crosspost" in traits else [],
                }
                for n in range(plan.accounts)
            ]
            doc = {
                "plan": plan.name,
                "accounts": accounts,
                "evergreen": dict(DEFAULT_EVERGREEN),
                "analysis": None,
            }
            self.store.save_user(digest, doc)
        return User(digest, plan, doc)

    def save_user(self, user: User) -> None:
        self.store.save_user(user.digest, user.doc)

    def check_daily(self, user: User, name: str, limit: int, what: str, code: str) -> int:
        """Today's count of `name`; a 429 once it has reached `limit`."""
        used = self.store.count(self.day_counter(user, name))
        if used >= limit:
            raise Rejected(
                429,
                f"Daily {what} limit of {limit} reached; it resets at 00:00 UTC",
                code,
                retry_after=self.until_midnight(),
            )
        return used

    def until_midnight(self) -> int:
        """Seconds until the daily counters reset (00:00 UTC): the Retry-After of daily caps."""
        now = self.now()
        midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
        return max(1, math.ceil((midnight - now).total_seconds()))

    def day_counter(self, user: User, name: str) -> str:
        return f"{user.id}:{name}:{self.now().date().isoformat()}"

    def rate_limit(self, user: User) -> None:
        per_minute = int(self.knob("rate_per_minute") or user.plan.per_minute)
        per_day = int(self.knob("rate_per_day") or user.plan.per_day)
        window = self._minute.setdefault(user.id, deque())
        now = time.monotonic()
        while window and now - window[0] >= 60:
            window.popleft()
        if len(window) >= per_minute:
            retry = max(1, math.ceil(60 - (now - window[0])))
            raise Rejected(
                429,
                f"Rate limit: {per_minute} requests per minute",
                "rate_limited",
                retry_after=retry,
            )
        self.check_daily(user, "requests", per_day, "request", "daily_rate_limited")
        window.append(now)
        self.store.bump(self.day_counter(user, "requests"))

    def require_subscription(self, user: User, what: str) -> None:
        if not user.plan.has_access:
            raise Rejected(
                403,
                f"An active subscription is required to {what}. Creating drafts is free.",
                "subscription_required",
            )

    # --- post lifecycle --------------------------------------------------------------------

    def new_post(
        self, user: User, fields: dict[str, Any], account: dict[str, Any]
    ) -> dict[str, Any]:
        now = iso(self.now())
        post = {
            "id": new_id(),
            "text": fields["text"],
            "status": "draft",
            "scheduled_date": None,
            "posted_date": None,
            "is_thread": bool(fields.get("is_thread") or fields.get("thread_tweets")),
            "thread_tweets": fields.get("thread_tweets") or [],
            "media_urls": fields.get("media_urls") or [],
            "thread_media": fields.get("thread_media") or [],
            "x_account_id": account["id"],
            "platforms": fields.get("platforms"),  # None: the account's cross-post setting
            "x_post_id": None,
            "url": None,
            "posted": False,
            "failed": False,
            "results": [],
            "community_id": fields.get("community_id"),
            "share_with_followers": bool(fields.get("share_with_followers", False)),
            "auto_retweet_enabled": bool(fields.get("auto_retweet_enabled", False)),
            "auto_retweet_offset_minutes": fields.get("auto_retweet_offset_minutes"),
            "isEvergreen": False,
            "category": fields.get("category"),
            "created_at": now,
            "updated_at": now,
        }
        return self.store.save_post(user.id, post)

    def check_room(self, user: User, wanted: int) -> None:
        """Refuse up front (429) when `wanted` more posts would pass today's post limit."""
        used = self.store.count(self.day_counter(user, "posts"))
        if used + wanted > user.plan.daily_posts:
            raise Rejected(
                429,
                f"Daily post limit of {user.plan.daily_posts} reached "
                f"({used} used today, {wanted} requested)",
                "daily_post_limit",
                retry_after=self.until_midnight(),
            )

    def tweets_of(self, post: dict[str, Any]) -> list[str]:
        return [post["text"], *(post.get("thread_tweets") or [])]

    def _quota(self, user: User, post: dict[str, Any]) -> None:
        """Daily post limit, then the URL-post cap (which saves the post as a draft)."""
        self.check_daily(user, "posts", user.plan.daily_posts, "post", "daily_post_limit")
        if rules.has_url(self.tweets_of(post)):
            urls = self.store.count(self.day_counter(user, "url_posts"))
            if urls >= user.plan.daily_url_posts:
                post.update(status="draft", scheduled_date=None, updated_at=iso(self.now()))
                self.store.save_post(user.id, post)
                raise Rejected(
                    429,
                    "Daily limit for posts with links reached; the post was saved as a draft",
                    "url_limit",
                    retry_after=self.until_midnight(),
                    urlLimit={
                        "limit": user.plan.daily_url_posts,
                        "used": urls,
                        "saved_as_draft": True,
                    },
                    post=post,
                )
            self.store.bump(self.day_counter(user, "url_posts"))
        self.store.bump(self.day_counter(user, "posts"))

    def schedule(self, user: User, post: dict[str, Any], when: str) -> dict[str, Any]:
        self.require_subscription(user, "schedule posts")
        self._check_editable(post)
        if post.get("status") != "scheduled":
            self._quota(user, post)
        post.update(status="scheduled", scheduled_date=when, updated_at=iso(self.now()))
        return self.store.save_post(user.id, post)

    def publish(self, user: User, post: dict[str, Any]) -> dict[str, Any]:
        self.require_subscription(user, "publish posts")
        if post.get("isEvergreen"):
            raise bad(
                "Evergreen source posts cannot be published directly; the scheduler "
                "publishes clones",
                "evergreen_source",
            )
        if post.get("status") in ("posted", "publishing"):
            said = "published" if post["status"] == "posted" else "being published"
            raise Rejected(409, f"Post is already {said}", "already_posted")
        if post.get("status") != "scheduled":
            self._quota(user, post)
        delay = float(self.knob("publish_delay"))
        if delay > 0:  # accepted now, on X later: a read after the delay shows the outcome
            due = self.now() + timedelta(seconds=delay)
            post.update(status="publishing", publish_due=iso(due), updated_at=iso(self.now()))
            return self.store.save_post(user.id, post)
        if self.knob("publish_fails"):
            self._mark_failed(user, post, self.now())
            self.store.save_post(user.id, post)
            raise Rejected(
                502,
                "The post was saved, but publishing it to X failed",
                "publish_failed",
                post=post,
            )
        self._mark_posted(user, post)
        return self.store.save_post(user.id, post)

    def settle(self, user: User, post: dict[str, Any]) -> dict[str, Any]:
        """A post whose delayed publish is due, as it stands now: posted, or failed."""
        due = post.get("publish_due")
        if post.get("status") != "publishing" or not due or parse_iso(due) > self.now():
            return post
        post.pop("publish_due")
        if self.knob("publish_fails"):
            self._mark_failed(user, post, self.now())
        else:
            self._mark_posted(user, post)
        return self.store.save_post(user.id, post)

    def _mark_failed(self, user: User, post: dict[str, Any], at: datetime) -> None:
        error = "X API error: the post could not be published (simulated)"
        post.update(status="failed", failed=True, error=error, updated_at=iso(at))
        post["results"] = [
            {"platform": name, "status": "failed", "post_id": None, "url": None, "error": error}
            for name in self._targets(user, post)
        ]

    def _targets(self, user: User, post: dict[str, Any]) -> list[str]:
        """Where a post goes: the networks its requests named, else X plus whatever the
        account cross-posts to."""
        named = post.get("platforms")
        if named:
            return list(named)
        return ["x", *(user.account(post.get("x_account_id")).get("cross_post") or [])]

    def _mark_posted(self, user: User, post: dict[str, Any], at: datetime | None = None) -> None:
        account = user.account(post.get("x_account_id"))
        x_post_id = str(1_800_000_000_000_000_000 + secrets.randbelow(10**17))
        now = iso(at or self.now())
        post.pop("error", None)  # a failed post published after all
        handle = account["x_handle"].lstrip("@")
        url = f"https://x.com/{handle}/status/{x_post_id}"
        elsewhere = {
            "bluesky": f"https://bsky.app/profile/{handle}.bsky.social/post/{x_post_id[-13:]}",
            "linkedin": f"https://www.linkedin.com/feed/update/urn:li:share:{x_post_id[-19:]}",
        }
        targets = self._targets(user, post)
        post.update(
            status="posted",
            posted=True,
            failed=False,
            x_post_id=x_post_id if "x" in targets else None,
            url=url if "x" in targets else None,
            posted_date=now,
            updated_at=now,
            results=[
                {
                    "platform": name,
                    "status": "posted",
                    "post_id": x_post_id,
                    "url": url if name == "x" else elsewhere[name],
                }
                for name in targets
            ],
        )

    def _check_editable(self, post: dict[str, Any]) -> None:
        if post.get("status") in ("posted", "publishing"):
            raise Rejected(409, "Published posts cannot be changed", "already_posted")
        if post.get("isEvergreen"):
            raise bad(
                "Evergreen source posts are managed by the evergreen queue", "evergreen_source"
            )

    def get_post(self, user: User, post_id: str) -> dict[str, Any]:
        post = self.store.post(user.id, rules.check_id(post_id))
        if post is None:
            raise Rejected(404, f"Post {post_id} not found", "not_found")
        return self.settle(user, post)

    # --- scheduler -------------------------------------------------------------------------

    def run_scheduler(self, now: datetime) -> dict[str, int]:
        published = clones = failed = 0
        for digest, doc in self.store.users():
            user = User(digest, rules.PLANS[doc["plan"]], doc)
            for post in self.store.posts(user.id):
                due = post.get("scheduled_date")
                if post.get("status") == "scheduled" and due and parse_iso(due) <= now:
                    if self.knob("scheduler_fails"):
                        self._mark_failed(user, post, now)
                        failed += 1
                    else:
                        self._mark_posted(user, post, now)
                        published += 1
                    self.store.save_post(user.id, post)
            clones += self._evergreen_run(user, now)
        return {"published": published, "failed": failed, "evergreen_clones": clones}

    def _evergreen_run(self, user: User, now: datetime) -> int:
        settings = user.doc["evergreen"]
        if not settings.get("enabled"):
            return 0
        runs: list[str] = user.doc.setdefault("evergreen_runs", [])
        today = now.date().isoformat()
        done_today = sum(1 for r in runs if r.startswith(today))
        made = 0
        for slot in settings["posting_times"]:
            label = f"{today} {slot}"
            if label in runs or slot > now.strftime("%H:%M"):
                continue
            if done_today + made >= settings["posts_per_day"]:
                break
            source = self._next_evergreen(user, now)
            runs.append(label)
            if source is None:
                continue
            clone = self.new_post(user, source, user.account(source.get("x_account_id")))
            clone["source_id"] = source["id"]
            self._mark_posted(user, clone, now)
            self.store.save_post(user.id, clone)
            source.update(
                last_posted_at=clone["posted_date"],
                times_posted=int(source.get("times_posted") or 0) + 1,
            )
            self.store.save_post(user.id, source)
            made += 1
        self.save_user(user)
        return made

    def _next_evergreen(self, user: User, now: datetime) -> dict[str, Any] | None:
        ready = []
        for post in self.store.posts(user.id):
            if not post.get("isEvergreen") or post.get("paused"):
                continue
            last = post.get("last_posted_at")
            if last and parse_iso(last) + timedelta(days=post["cooldown_days"]) > now:
                continue
            ready.append(post)
        ready.sort(key=lambda p: p.get("last_posted_at") or "")
        return ready[0] if ready else None


Handler = Callable[[Sandbox, User, Request], Awaitable[Any]]


def error(status: int, message: str, code: str, **extra: Any) -> JSONResponse:
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra.pop("retry_after"))
    return JSONResponse({"error": message, "code": code, **extra}, status, headers=headers)


def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, rate-limit, run the handler, and turn `Rejected` into an error answer."""

    async def endpoint(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        auth = request.headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or not key or " " in key.strip():
            return error(
                401, "Missing or invalid Authorization header (Bearer <api key>)", "unauthorized"
            )
        user = sandbox.user(key.strip())
        try:
            sandbox.rate_limit(user)
            # "Add x_account_id to any ... GET query parameter": it must name one of the
            # user's accounts wherever it appears; the handlers that filter by it do so.
            user.account(request.query_params.get("x_account_id"))
            result = await handler(sandbox, user, request)
        except Rejected as exc:
            return error(exc.status, exc.message, exc.code, **exc.extra)
        if isinstance(result, Response):
            return result
        status, body = result if isinstance(result, tuple) else (200, result)
        return JSONResponse(body, status)

    return endpoint


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise bad("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad("Request body must be a JSON object")
    return body


def page_args(request: Request) -> tuple[int, int]:
    try:
        page = int(request.query_params.get("page", "1"))
        limit = int(request.query_params.get("limit", "20"))
    except ValueError:
        raise bad("page and limit must be whole numbers") from None
    if page < 1 or not 1 <= limit <= 100:
        raise bad("page must be ≥ 1 and limit 1–100")
    return page, limit


def pagination_of(total: int, page: int, limit: int) -> dict[str, int]:
    return {"page": page, "limit": limit, "total": total, "pages": max(1, math.ceil(total / limit))}


def paginate(items: list[Any], page: int, limit: int) -> tuple[list[Any], dict[str, int]]:
    return items[(page - 1) * limit : page * limit], pagination_of(len(items), page, limit)


# --- account ---------------------------------------------------------------------------------


async def me(sb: Sandbox, user: User, request: Request) -> Any:
    posts = sb.store.posts(user.id)
    used = sb.store.count(sb.day_counter(user, "posts"))
    counts = {
        s: sum(1 for p in posts if p["status"] == s and not p.get("isEvergreen"))
        for s in ("draft", "scheduled", "posted", "failed")
    }
    counts["evergreen"] = sum(1 for p in posts if p.get("isEvergreen"))
    status = {"trial": "trialing", "none": "inactive"}.get(user.plan.name, "active")
    return {
        "authenticated": True,
        "subscription": {
            "plan": user.plan.name,
            "status": status,
            "has_access": user.plan.has_access,
            "is_trialing": user.plan.name == "trial",
        },
        "limits": {
            "can_post": user.plan.has_access and used < user.plan.daily_posts,
            "daily_limit": user.plan.daily_posts,
            "posts_today": used,
            "remaining_posts_today": max(0, user.plan.daily_posts - used),
            "url_posts_today": sb.store.count(sb.day_counter(user, "url_posts")),
            "url_daily_limit": user.plan.daily_url_posts,
            "requests_per_minute": user.plan.per_minute,
        },
        "post_counts": counts,
        "stats": {
            "total_posts": len(posts),
            "scheduled_posts": counts["scheduled"],
            "posted_posts": counts["posted"],
            "draft_posts": counts["draft"],
        },
        "x_accounts": user.accounts,
    }


async def accounts(sb: Sandbox, user: User, request: Request) -> Any:
    return {"accounts": user.accounts}


# --- posts -----------------------------------------------------------------------------------


def tweet_limit(account: dict[str, Any]) -> int:
    return rules.MAX_LONG_TWEET if account.get("x_premium") else rules.MAX_TWEET


def post_fields(raw: dict[str, Any], now: datetime, account: dict[str, Any]) -> dict[str, Any]:
    """Validate one post's fields (the rules of the guide, the account's length limit and
    networks) and return them cleaned."""
    limit = tweet_limit(account)
    fields: dict[str, Any] = {"text": rules.check_text(raw.get("text"), limit=limit)}
    tweets = raw.get("thread_tweets")
    if tweets is not None:
        if not isinstance(tweets, list):
            raise bad("thread_tweets must be a list of strings")
        fields["thread_tweets"] = [
            rules.check_text(t, f"thread_tweets[{i}]", limit) for i, t in enumerate(tweets)
        ]
    fields["platforms"] = rules.check_platforms(raw.get("platforms"), connected(account))
    if raw.get("is_thread") and not fields.get("thread_tweets"):
        raise bad("is_thread requires thread_tweets")
    fields["is_thread"] = bool(raw.get("is_thread") or fields.get("thread_tweets"))
    fields["media_urls"] = rules.check_media(raw.get("media_urls"))
    media = raw.get("thread_media")
    if media is not None:
        if not isinstance(media, list) or len(media) != len(fields.get("thread_tweets") or []):
            raise bad("thread_media must have one list per thread tweet")
        fields["thread_media"] = [
            rules.check_media(m, f"thread_media[{i}]") for i, m in enumerate(media)
        ]
    if raw.get("scheduled_date") is not None:
        fields["scheduled_date"] = rules.parse_date(raw["scheduled_date"], now)
    offset = raw.get("auto_retweet_offset_minutes")
    if offset is not None:
        fields["auto_retweet_offset_minutes"] = rules.check_int(
            offset, "auto_retweet_offset_minutes", 1, 10080
        )
    elif raw.get("auto_retweet_enabled"):
        fields["auto_retweet_offset_minutes"] = 60
    for name in ("community_id", "share_with_followers", "auto_retweet_enabled", "category"):
        if raw.get(name) is not None:
            fields[name] = raw[name]
    return fields


def connected(account: dict[str, Any]) -> list[str]:
    return ["x", *(account.get("cross_post") or [])]


def lean(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Posts as the live API's create answers name them: id and status only."""
    return [{"id": post["id"], "status": post["status"]} for post in posts]


async def create_posts(sb: Sandbox, user: User, request: Request) -> Any:
    body = await json_body(request)
    now = sb.now()
    account = user.account(body.get("x_account_id"))
    if "posts" in body:
        items = body["posts"]
        if body.get("publish_now"):
            raise bad("publish_now cannot be used with bulk posts")
        if not isinstance(items, list) or not 1 <= len(items) <= rules.MAX_BULK:
            raise bad(f"posts must be a list of 1 to {rules.MAX_BULK} posts", "bulk_limit")
        if not all(isinstance(i, dict) for i in items):
            raise bad("each entry of posts must be an object")
        checked = [
            post_fields(
                item | {"platforms": item.get("platforms", body.get("platforms"))}, now, account
            )
            for item in items
        ]
        wanted = sum(1 for f in checked if f.get("scheduled_date"))
        if wanted:
            sb.require_subscription(user, "schedule posts")
            sb.check_room(user, wanted)
        created, limited = [], []
        for fields in checked:
            post = sb.new_post(user, fields, account)
            if fields.get("scheduled_date"):
                try:
                    post = sb.schedule(user, post, fields["scheduled_date"])
                except Rejected as exc:
                    if exc.code != "url_limit":
                        raise
                    limited.append(post["id"])
            created.append(post)
        shown = lean(created) if sb.knob("lean_answers") else created
        answer: dict[str, Any] = {"success": True, "count": len(created), "posts": shown}
        if limited:
            answer["url_limited"] = limited
        return 201, answer

    fields = post_fields(body, now, account)
    publish_now = bool(body.get("publish_now"))
    if publish_now and fields.get("scheduled_date"):
        raise bad("publish_now cannot be combined with scheduled_date")
    if publish_now or fields.get("scheduled_date"):
        sb.require_subscription(user, "schedule or publish posts")
        sb.check_room(user, 1)  # refused before anything is saved
    post = sb.new_post(user, fields, account)
    if fields.get("scheduled_date"):
        post = sb.schedule(user, post, fields["scheduled_date"])
    if sb.knob("lean_answers"):
        if publish_now:
            post = sb.publish(user, post)
        return 201, {"success": True, "posts": lean([post])}
    if publish_now:
        post = sb.publish(user, post)
        return 201, {"success": True, "count": 1, "posts": [post], **published(post)}
    return 201, {"success": True, "count": 1, "posts": [post]}


def published(post: dict[str, Any]) -> dict[str, Any]:
    """The top-level fields of a publish answer; no url or x_post_id until the tweet exists."""
    said = {"status": post["status"]}
    if post["status"] == "posted":
        said |= {"x_post_id": post["x_post_id"], "url": post["url"]}
    return said


async def list_posts(sb: Sandbox, user: User, request: Request) -> Any:
    page, limit = page_args(request)
    status = request.query_params.get("status")
    if status not in (None, "scheduled", "posted", "draft", "failed", "evergreen"):
        raise bad("status must be scheduled, posted, draft, failed or evergreen")
    account = request.query_params.get("x_account_id")
    if account:
        user.account(account)
    if status is None and not account:  # nothing to filter: page in SQLite
        items, total = sb.store.posts_page(user.id, limit, (page - 1) * limit)
        items = [sb.settle(user, p) for p in items]
        return {"posts": items, "pagination": pagination_of(total, page, limit)}
    posts = [
        p
        for p in (sb.settle(user, p) for p in sb.store.posts(user.id))
        if (not account or p["x_account_id"] == account)
        and (
            p.get("isEvergreen")
            if status == "evergreen"
            else (status is None or (p["status"] == status and not p.get("isEvergreen")))
        )
    ]
    items, pagination = paginate(posts, page, limit)
    return {"posts": items, "pagination": pagination}


async def get_post(sb: Sandbox, user: User, request: Request) -> Any:
    return {"success": True, "post": sb.get_post(user, request.path_params["id"])}


async def update_post(sb: Sandbox, user: User, request: Request) -> Any:
    post = sb.get_post(user, request.path_params["id"])
    body = await json_body(request)
    if post.get("status") in ("posted", "publishing"):
        raise Rejected(409, "Published posts cannot be updated", "already_posted")
    if body.get("x_account_id"):
        post["x_account_id"] = user.account(body["x_account_id"])["id"]
    account = user.account(post["x_account_id"])
    if "text" in body:
        post["text"] = rules.check_text(body["text"], limit=tweet_limit(account))
    if "platforms" in body:
        post["platforms"] = rules.check_platforms(body["platforms"], connected(account))
    if "media_urls" in body:
        post["media_urls"] = rules.check_media(body["media_urls"])
    if "auto_retweet_offset_minutes" in body:
        post["auto_retweet_offset_minutes"] = rules.check_int(
            body["auto_retweet_offset_minutes"], "auto_retweet_offset_minutes", 1, 10080
        )
    if "auto_retweet_enabled" in body:
        post["auto_retweet_enabled"] = bool(body["auto_retweet_enabled"])
        if post["auto_retweet_enabled"] and not post.get("auto_retweet_offset_minutes"):
            post["auto_retweet_offset_minutes"] = 60
    if "thread_tweets" in body or "thread_media" in body:
        merged = {
            "text": post["text"],
            "thread_tweets": body.get("thread_tweets", post.get("thread_tweets")),
            "thread_media": body.get("thread_media", post.get("thread_media") or None),
        }
        checked = post_fields(merged, sb.now(), account)
        post.update(
            thread_tweets=checked.get("thread_tweets") or [],
            thread_media=checked.get("thread_media") or [],
            is_thread=checked["is_thread"],
        )
    for name in ("community_id", "share_with_followers", "category"):
        if name in body:
            post[name] = body[name]
    post["updated_at"] = iso(sb.now())
    if "scheduled_date" in body:
        if body["scheduled_date"] is None:
            post.update(status="draft", scheduled_date=None)
        else:
            when = rules.parse_date(body["scheduled_date"], sb.now())
            return {"success": True, "post": sb.schedule(user, post, when)}
    return {"success": True, "post": sb.store.save_post(user.id, post)}


async def delete_post(sb: Sandbox, user: User, request: Request) -> Any:
    post = sb.get_post(user, request.path_params["id"])
    flag = request.query_params.get("delete_from_x", "true").lower()
    if flag not in ("true", "false"):
        raise bad("delete_from_x must be true or false")
    answer: dict[str, Any] = {"success": True, "deleted": True, "id": post["id"]}
    on_x = post.get("status") == "posted" and flag == "true"
    if on_x and sb.knob("x_delete_fails"):
        on_x = False
        answer["x_delete_error"] = "X API error: the tweet could not be deleted (simulated)"
    sb.store.delete_post(user.id, post["id"])
    answer["x_deleted"] = on_x
    return answer


async def schedule_post(sb: Sandbox, user: User, request: Request) -> Any:
    post = sb.get_post(user, request.path_params["id"])
    body = await json_body(request)
    if body.get("scheduled_date") is None:
        raise bad("scheduled_date is required")
    user.account(body.get("x_account_id"))
    sb.require_subscription(user, "schedule posts")
    when = rules.parse_date(body["scheduled_date"], sb.now())
    take_platforms(user, post, body)
    return {"success": True, "post": sb.schedule(user, post, when)}


def take_platforms(user: User, post: dict[str, Any], body: dict[str, Any]) -> None:
    """The networks a schedule or publish request names replace the post's own."""
    named = rules.check_platforms(
        body.get("platforms"), connected(user.account(post.get("x_account_id")))
    )
    if named is not None:
        post["platforms"] = named


async def publish_post(sb: Sandbox, user: User, request: Request) -> Any:
    post = sb.get_post(user, request.path_params["id"])
    body = await json_body(request)
    user.account(body.get("x_account_id"))
    take_platforms(user, post, body)
    post = sb.publish(user, post)
    return {"success": True, **published(post), "post": post}


async def batch_schedule(sb: Sandbox, user: User, request: Request) -> Any:
    body = await json_body(request)
    sb.require_subscription(user, "schedule posts")
    items = body.get("schedules")
    if not isinstance(items, list) or not 1 <= len(items) <= rules.MAX_BULK:
        raise bad(f"schedules must be a list of 1 to {rules.MAX_BULK} entries", "bulk_limit")
    now = sb.now()
    plan = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("post_id"), str):
            raise bad("each schedule needs post_id and scheduled_date")
        plan.append((item["post_id"], rules.parse_date(item.get("scheduled_date"), now)))
    if body.get("x_account_id"):
        user.account(body["x_account_id"])
    done, failed = [], []
    for post_id, when in plan:
        try:
            post = sb.get_post(user, post_id)
            for name in ("community_id", "share_with_followers"):
                if body.get(name) is not None:
                    post[name] = body[name]
            take_platforms(user, post, body)
            done.append(sb.schedule(user, post, when))
        except Rejected as exc:
            failed.append({"post_id": post_id, "error": exc.message, "code": exc.code})
    return {"success": not failed, "scheduled": len(done), "posts": done, "failed": failed}


# --- media -----------------------------------------------------------------------------------

UPLOAD_OVERHEAD = 64 * 1024  # room for the multipart framing around a file at the size limit


async def upload(sb: Sandbox, user: User, request: Request) -> Any:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise bad("use multipart/form-data with a file field")
    too_large = Rejected(
        413, "files may be at most 5 MB (images) or 20 MB (videos)", "file_too_large"
    )
    if int(request.headers.get("content-length") or 0) > VIDEO_LIMIT + UPLOAD_OVERHEAD:
        raise too_large
    try:
        async with request.form(max_part_size=VIDEO_LIMIT + 1) as form:
            file = form.get("file")
            if file is None or isinstance(file, str):
                raise bad("the file field is missing")
            data = await file.read()
    except HTTPException as exc:  # the multipart parser's complaints
        if "maximum size" in str(exc.detail):
            raise too_large from None
        raise bad(f"malformed multipart body: {exc.detail}") from None
    kind = sniff(data[:16])
    if kind is None:
        raise bad("unsupported file type: JPG, PNG, GIF, WebP, MP4 or MOV", "unsupported_media")
    extension, content_type, limit = KINDS[kind]
    if len(data) > limit:
        raise Rejected(
            413, f"{kind} files may be at most {limit // (1024 * 1024)} MB", "file_too_large"
        )
    name = f"{new_id()}.{extension}"
    sb.store.save_upload(name, content_type, data)
    base = sb.base_url or str(request.base_url).rstrip("/")
    return 201, {
        "success": True,
        "url": f"{base}/media/{name}",
        "type": content_type,
        "size": len(data),
    }


async def media(request: Request) -> Response:
    found = request.app.state.sandbox.store.upload(request.path_params["name"])
    if found is None:
        return error(404, "no such media", "not_found")
    return Response(found[1], media_type=found[0])


# --- evergreen -------------------------------------------------------------------------------


def evergreen_allowed(sb: Sandbox, user: User) -> None:
    sb.require_subscription(user, "use the evergreen queue")
    if user.plan.evergreen_pool == 0:
        raise Rejected(
            403, "The evergreen queue is not available during the trial", "plan_required"
        )


def evergreen_state(sb: Sandbox, user: User) -> dict[str, Any]:
    pool = [p for p in sb.store.posts(user.id) if p.get("isEvergreen")]
    return {
        "success": True,
        "settings": user.doc["evergreen"],
        "pool": {
            "total": len(pool),
            "active": sum(1 for p in pool if not p.get("paused")),
            "paused": sum(1 for p in pool if p.get("paused")),
        },
        "limits": {
            "pool_size": user.plan.evergreen_pool,
            "posts_per_day": user.plan.evergreen_per_day,
        },
    }


async def evergreen_settings(sb: Sandbox, user: User, request: Request) -> Any:
    evergreen_allowed(sb, user)
    if request.method == "PUT":
        body = await json_body(request)
        settings = user.doc["evergreen"]
        if "enabled" in body:
            settings["enabled"] = bool(body["enabled"])
        if "posts_per_day" in body:
            wanted = rules.check_int(body["posts_per_day"], "posts_per_day", 1, 1000)
            settings["posts_per_day"] = min(wanted, user.plan.evergreen_per_day)
        if "posting_times" in body:
            settings["posting_times"] = rules.check_times(body["posting_times"])
        if "default_cooldown_days" in body:
            settings["default_cooldown_days"] = rules.check_int(
                body["default_cooldown_days"], "default_cooldown_days", 1, 90
            )
        sb.save_user(user)
    return evergreen_state(sb, user)


def evergreen_source(sb: Sandbox, user: User, post_id: str) -> dict[str, Any]:
    post = sb.get_post(user, post_id)
    if not post.get("isEvergreen"):
        raise Rejected(404, f"Post {post_id} is not in the evergreen pool", "not_found")
    return post


async def evergreen_posts(sb: Sandbox, user: User, request: Request) -> Any:
    evergreen_allowed(sb, user)
    if request.method == "POST":
        return await add_evergreen(sb, user, request)
    page, limit = page_args(request)
    paused = request.query_params.get("paused")
    if paused not in (None, "true", "false"):
        raise bad("paused must be true or false")
    account = _account_param(user, request)
    pool = [
        p
        for p in sb.store.posts(user.id)
        if p.get("isEvergreen")
        and (paused is None or str(bool(p.get("paused"))).lower() == paused)
        and (not account or p["x_account_id"] == account)
    ]
    items, pagination = paginate(pool, page, limit)
    return {"posts": items, "pagination": pagination}


async def add_evergreen(sb: Sandbox, user: User, request: Request) -> Any:
    body = await json_body(request)
    if ("post_id" in body) == ("text" in body):
        raise bad("give either post_id (mode 1) or text (mode 2)")
    account = user.account(body.get("x_account_id"))
    pool = [p for p in sb.store.posts(user.id) if p.get("isEvergreen")]
    if len(pool) >= user.plan.evergreen_pool:
        raise Rejected(
            429,
            f"Evergreen pool is full ({user.plan.evergreen_pool} posts)",
            "evergreen_pool_full",
            retry_after=86400,
        )
    cooldown = rules.check_int(
        body.get("cooldown_days", user.doc["evergreen"]["default_cooldown_days"]),
        "cooldown_days",
        1,
        90,
    )
    if "post_id" in body:
        post = sb.get_post(user, str(body["post_id"]))
        if post.get("isEvergreen"):
            raise Rejected(409, "Post is already in the evergreen pool", "already_evergreen")
        take_platforms(user, post, body)
    else:
        fields = post_fields(body, sb.now(), account)
        fields.pop("scheduled_date", None)
        post = sb.new_post(user, fields, account)
    if post.get("status") != "posted":  # a template never publishes itself; a tweet on X stays
        post.update(status="draft", scheduled_date=None)
    post.update(
        isEvergreen=True,
        cooldown_days=cooldown,
        paused=False,
        times_posted=int(post.get("times_posted") or 0),
        last_posted_at=post.get("last_posted_at"),
        updated_at=iso(sb.now()),
    )
    if body.get("category"):
        post["category"] = body["category"]
    return 201, {"success": True, "post": sb.store.save_post(user.id, post)}


async def evergreen_post(sb: Sandbox, user: User, request: Request) -> Any:
    evergreen_allowed(sb, user)
    post = evergreen_source(sb, user, request.path_params["id"])
    if request.method == "PUT":
        body = await json_body(request)
        if "cooldown_days" in body:
            post["cooldown_days"] = rules.check_int(body["cooldown_days"], "cooldown_days", 1, 90)
        if "paused" in body:
            post["paused"] = bool(body["paused"])
        post["updated_at"] = iso(sb.now())
        return {"success": True, "post": sb.store.save_post(user.id, post)}
    if request.method == "DELETE":
        post.update(isEvergreen=False, paused=False, updated_at=iso(sb.now()))
        if post.get("status") != "posted":
            post["status"] = "draft"
        sb.store.save_post(user.id, post)
        return {
            "success": True,
            "post": post,
            "message": "Removed from the evergreen pool and converted back to a draft",
        }
    clones = [
        p
        for p in sb.store.posts(user.id)
        if p.get("source_id") == post["id"] and p["status"] == "posted"
    ]
    return {"success": True, "post": post, "recent_posts": clones[:5]}


async def evergreen_history(sb: Sandbox, user: User, request: Request) -> Any:
    evergreen_allowed(sb, user)
    page, limit = page_args(request)
    source = request.query_params.get("source_id")
    if source is not None:
        rules.check_id(source)
    account = _account_param(user, request)
    clones = [
        p
        for p in sb.store.posts(user.id)
        if p.get("source_id")
        and (source is None or p["source_id"] == source)
        and (not account or p["x_account_id"] == account)
    ]
    items, pagination = paginate(clones, page, limit)
    return {"history": items, "pagination": pagination}


# --- inspiration -----------------------------------------------------------------------------


async def search(sb: Sandbox, user: User, request: Request) -> Any:
    sb.require_subscription(user, "search inspiration")
    params = request.query_params
    q = (params.get("q") or "").strip()
    if not q:
        raise bad("q is required")
    sb.check_daily(user, "searches", user.plan.searches_per_day, "search", "search_limit")
    try:
        max_results = int(params.get("max_results", "10"))
        min_likes = int(params.get("min_likes", "0"))
        min_retweets = int(params.get("min_retweets", "0"))
    except ValueError:
        raise bad("max_results, min_likes and min_retweets must be whole numbers") from None
    if sb.knob("search_ignores_minimums"):
        min_likes = min_retweets = 0
    if not 10 <= max_results <= 100:
        raise bad("max_results must be 10–100")
    sort_order = params.get("sort_order", "relevancy")
    if sort_order not in ("relevancy", "recency"):
        raise bad("sort_order must be relevancy or recency")
    words = {w for w in re.findall(r"\w+", q.lower()) if len(w) > 1}
    now = sb.now()
    found = []
    for tweet in corpus():
        score = len(words & set(re.findall(r"\w+", tweet["text"].lower())))
        if not score or tweet["like_count"] < min_likes or tweet["retweet_count"] < min_retweets:
            continue
        if params.get("lang") and tweet["lang"] != params["lang"]:
            continue
        if params.get("has_media") and str(tweet["has_media"]).lower() != params["has_media"]:
            continue
        found.append((score, tweet))
    if sort_order == "recency":
        found.sort(key=lambda pair: pair[1]["days_ago"])
    else:
        found.sort(key=lambda pair: (-pair[0], -pair[1]["like_count"]))
    data = []
    for _, tweet in found[:max_results]:
        item = {k: v for k, v in tweet.items() if k != "days_ago"}
        item["created_at"] = iso(now - timedelta(days=tweet["days_ago"]))
        data.append(item)
    used = sb.store.bump(sb.day_counter(user, "searches"))
    limit = user.plan.searches_per_day
    return {
        "data": data,
        "meta": {"result_count": len(data), "query": q},
        "usage": {"searches_used": used, "remaining": max(0, limit - used), "daily_limit": limit},
    }


TONES = {"casual": "Honestly: ", "professional": "", "witty": "Plot twist: ", "bold": "Hot take: "}
CATEGORIES = {
    "ai": "AI",
    "agent": "AI",
    "growth": "Growth",
    "pricing": "Business",
    "hiring": "Business",
    "write": "Writing",
    "thread": "Writing",
    "design": "Design",
}


async def repurpose(sb: Sandbox, user: User, request: Request) -> Any:
    sb.require_subscription(user, "repurpose tweets")
    body = await json_body(request)
    original = body.get("tweet_text")
    if not isinstance(original, str) or not original.strip():
        raise bad("tweet_text is required")
    sb.check_daily(user, "ai", user.plan.ai_per_day, "AI generation", "ai_quota")
    sb.store.bump(sb.day_counter(user, "ai"))
    core = " ".join(original.split())
    text = TONES.get(str(body.get("tone") or "").lower(), "") + core
    instructions = str(body.get("instructions") or "").lower()
    if "call to action" in instructions or "cta" in instructions:
        text += " What would you add?"
    if "punch" in instructions:
        text = text.split(". ")[0].rstrip(".") + "."
    while parse_tweet(text).weighted_length > rules.MAX_TWEET:
        text = text.rsplit(" ", 1)[0].rstrip(",;:") + "…"
    lowered = core.lower()
    category = next((c for k, c in CATEGORIES.items() if k in lowered), "General")
    topics = sorted(
        {w.strip(".,!?:;").lower() for w in core.split() if len(w) > 5}, key=lambda w: (-len(w), w)
    )[:3]
    answer: dict[str, Any] = {
        "success": True,
        "repurposed": {"text": text, "category": category, "key_topics": topics},
    }
    if body.get("save_as_draft", True):
        account = user.account(body.get("x_account_id"))
        answer["draft"] = sb.new_post(user, {"text": text, "category": category}, account)
    return answer


# --- analytics -------------------------------------------------------------------------------


def engagement(post: dict[str, Any]) -> dict[str, Any]:
    """Deterministic pseudo-engagement derived from the post id."""
    h = int(hashlib.sha256(post["id"].encode()).hexdigest()[:12], 16)
    likes, retweets, replies = h % 400, (h >> 9) % 80, (h >> 17) % 40
    impressions = 1000 + (h >> 23) % 20000
    return {
        "likes": likes,
        "retweets": retweets,
        "replies": replies,
        "quotes": (h >> 29) % 10,
        "bookmarks": (h >> 33) % 30,
        "impressions": impressions,
        "engagement_rate": round((likes + retweets + replies) / impressions * 100, 2),
    }


def posted(sb: Sandbox, user: User, account: str | None) -> list[dict[str, Any]]:
    return [
        p
        for p in sb.store.posts(user.id)
        if p["status"] == "posted" and (not account or p["x_account_id"] == account)
    ]


def _account_param(user: User, request: Request) -> str | None:
    account = request.query_params.get("x_account_id")
    if account:
        user.account(account)
    return account


async def overview(sb: Sandbox, user: User, request: Request) -> Any:
    account = _account_param(user, request)
    everything = [
        p
        for p in sb.store.posts(user.id)
        if not p.get("isEvergreen") and (not account or p["x_account_id"] == account)
    ]
    done = posted(sb, user, account)
    moments = [parse_iso(p["posted_date"]) for p in done]
    days = sorted({m.date() for m in moments})
    today = sb.now().date()
    streak = 0
    while today - timedelta(days=streak) in days:
        streak += 1
    longest = run = 0
    for index, day in enumerate(days):
        run = run + 1 if index and (day - days[index - 1]).days == 1 else 1
        longest = max(longest, run)

    def count_between(start: int, end: int) -> int:
        return sum(1 for m in moments if start <= (today - m.date()).days < end)

    weeks = max(1.0, ((today - days[0]).days + 1) / 7) if days else 1.0
    months: dict[str, int] = {}
    for m in moments:
        months[m.strftime("%Y-%m")] = months.get(m.strftime("%Y-%m"), 0) + 1
    categories: dict[str, int] = {}
    for p in done:
        categories[p.get("category") or "Uncategorized"] = (
            categories.get(p.get("category") or "Uncategorized", 0) + 1
        )
    return {
        "success": True,
        "stats": {
            "total_posts": len(everything),
            "published": len(done),
            "publishing_rate": round(len(done) / len(everything), 2) if everything else 0,
            "active_days": len(days),
            "avg_posts_per_week": round(len(done) / weeks, 2),
            "most_active_day": max(
                DAYS, key=lambda d: sum(1 for m in moments if DAYS[(m.weekday() + 1) % 7] == d)
            )
            if moments
            else None,
            "most_active_hour": max(range(24), key=lambda h: sum(1 for m in moments if m.hour == h))
            if moments
            else None,
            "threads": sum(1 for p in done if p.get("is_thread")),
            "media_posts": sum(1 for p in done if p.get("media_urls")),
        },
        "streaks": {"current": streak, "longest": longest},
        "trends": {
            "this_week": count_between(0, 7),
            "last_week": count_between(7, 14),
            "this_month": count_between(0, 30),
            "last_month": count_between(30, 60),
            "best_month": max(months, key=lambda m: (months[m], m)) if months else None,
        },
        "categories": categories,
        "recent_activity": {
            "last_7_days": [count_between(d, d + 1) for d in range(7)],
            "last_30_days": [count_between(d, d + 1) for d in range(30)],
        },
    }


async def tweet_analytics(sb: Sandbox, user: User, request: Request) -> Any:
    if not user.plan.tweet_analytics:
        raise Rejected(403, "Tweet engagement analytics require the Advanced plan", "plan_required")
    period = request.query_params.get("period", "30")
    if period != "all" and not (period.isdigit() and 7 <= int(period) <= 365):
        raise bad('period must be 7–365 days or "all"')
    account = _account_param(user, request)
    now = sb.now()
    tweets = []
    for p in posted(sb, user, account):
        if period == "all" or parse_iso(p["posted_date"]) >= now - timedelta(days=int(period)):
            tweets.append(
                {
                    "id": p["id"],
                    "text": p["text"],
                    "url": p["url"],
                    "posted_date": p["posted_date"],
                    "content_type": "thread"
                    if p.get("is_thread")
                    else ("media" if p.get("media_urls") else "text"),
                    **engagement(p),
                }
            )
    ranked = sorted(tweets, key=lambda t: (-t["likes"], t["id"]))
    kinds: dict[str, list[dict[str, Any]]] = {"text": [], "thread": [], "media": []}
    timeline: dict[str, dict[str, int]] = {}
    for t in tweets:
        kinds[t["content_type"]].append(t)
        day = timeline.setdefault(t["posted_date"][:10], {"posts": 0, "likes": 0, "retweets": 0})
        day["posts"] += 1
        day["likes"] += t["likes"]
        day["retweets"] += t["retweets"]
    return {
        "success": True,
        "period": period,
        "summary": {
            "tweets": len(tweets),
            **{
                f"total_{name}": sum(t[name] for t in tweets)
                for name in ("likes", "retweets", "replies", "impressions")
            },
        },
        "tweets": tweets,
        "top_performers": ranked[:3],
        "worst_performers": ranked[-3:][::-1],
        "content_type_stats": {
            kind: {
                "count": len(items),
                "avg_likes": round(sum(t["likes"] for t in items) / len(items), 1) if items else 0,
            }
            for kind, items in kinds.items()
        },
        "engagement_timeline": [{"date": d, **v} for d, v in sorted(timeline.items())],
        "best_hours": sorted({parse_iso(t["posted_date"]).hour for t in ranked[:3]}),
        "best_days": list(
            dict.fromkeys(DAYS[(parse_iso(t["posted_date"]).weekday() + 1) % 7] for t in ranked)
        )[:3],
    }


def frequency(done: list[dict[str, Any]]) -> dict[str, Any]:
    moments = [parse_iso(p["posted_date"]) for p in done]
    hours = {str(h): sum(1 for m in moments if m.hour == h) for h in range(24)}
    days = {d: sum(1 for m in moments if DAYS[(m.weekday() + 1) % 7] == d) for d in DAYS}
    return {
        "hour_distribution": hours,
        "day_distribution": days,
        "best_hours": sorted(range(24), key=lambda h: -hours[str(h)])[:3],
        "best_days": sorted(DAYS, key=lambda d: -days[d])[:3],
    }


def analysis_status(sb: Sandbox, user: User) -> str:
    analysis = user.doc.get("analysis")
    if not analysis:
        return "none"
    if analysis["status"] == "analyzing" and time.time() >= analysis["ready_at"]:
        analysis["status"] = "ready"
        sb.save_user(user)
    return str(analysis["status"])


async def best_times(sb: Sandbox, user: User, request: Request) -> Any:
    account = _account_param(user, request)
    done = posted(sb, user, account)
    status = analysis_status(sb, user)
    legacy = frequency(done)
    if status == "ready":
        heatmap = [[0.0] * 24 for _ in DAYS]
        for p in done:
            m = parse_iso(p["posted_date"])
            e = engagement(p)
            heatmap[(m.weekday() + 1) % 7][m.hour] += e["likes"] + 2 * e["retweets"]
        cells = sorted(((heatmap[d][h], d, h) for d in range(7) for h in range(24)), reverse=True)
        best, worst = cells[0], cells[-1]
        return {
            "success": True,
            "mode": "engagement_weighted",
            "profile": {"status": "ready"},
            "heatmap": heatmap,
            "confidence": round(min(1.0, len(done) / 30), 2),
            "top_windows": [{"day": DAYS[d], "hour": h, "score": s} for s, d, h in cells[:5]],
            "best_day": DAYS[best[1]],
            "best_hour": best[2],
            "worst_day": DAYS[worst[1]],
            "worst_hour": worst[2],
            "insights": [f"Your posts on {DAYS[best[1]]} around {best[2]}:00 do best."],
            **legacy,
        }
    answer = {"success": True, "mode": "frequency_only", "profile": {"status": status}, **legacy}
    if len(done) < 3:
        answer["insufficient_data"] = True
        answer["message"] = "Best times need at least 3 published posts"
    return answer


async def analyze(sb: Sandbox, user: User, request: Request) -> Any:
    body = await json_body(request)
    if body.get("x_account_id"):
        user.account(body["x_account_id"])
    analysis = user.doc.get("analysis")
    cooldown = float(sb.knob("analysis_cooldown"))
    if analysis and time.time() < analysis["started"] + cooldown:
        next_at = datetime.fromtimestamp(analysis["started"] + cooldown, UTC)
        raise Rejected(
            429,
            "A recent analysis is still fresh",
            "analysis_cooldown",
            next_available_at=iso(next_at),
            retry_after=max(1, math.ceil(analysis["started"] + cooldown - time.time())),
        )
    if len(posted(sb, user, body.get("x_account_id"))) < 3:
        return {
            "success": True,
            "profile": {
                "status": "insufficient_posts",
                "message": "needs at least 3 published posts",
            },
        }
    user.doc["analysis"] = {
        "status": "analyzing",
        "started": time.time(),
        "ready_at": time.time() + float(sb.knob("analysis_delay")),
    }
    sb.save_user(user)
    return {"success": True, "profile": {"status": analysis_status(sb, user)}}


# --- control endpoints -----------------------------------------------------------------------


async def control_faults(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    if request.method == "DELETE":
        sandbox.faults.clear()
        return JSONResponse({"success": True})
    try:
        sandbox.add_fault(**(await json_body(request)))
    except Rejected as exc:
        return error(exc.status, exc.message, "invalid_fault")
    except (ValueError, TypeError) as exc:
        return error(400, str(exc), "invalid_fault")
    return JSONResponse({"success": True}, 201)


async def control_requests(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    public = [
        {k: v for k, v in r.items() if not k.startswith("_")} for r in sandbox.store.requests()
    ]
    return JSONResponse({"requests": public})


async def control_reset(request: Request) -> Response:
    request.app.state.sandbox.reset()
    return JSONResponse({"success": True})


async def control_scheduler(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        body = await json_body(request)
        now = body.get("now")
        return JSONResponse({"success": True, **sandbox.scheduler(str(now) if now else None)})
    except ValueError:
        return error(400, "now must be an ISO 8601 date", "invalid_request")
    except Rejected as exc:
        return error(exc.status, exc.message, exc.code)


async def control_config(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        config = sandbox.configure(**(await json_body(request)))
    except Rejected as exc:
        return error(exc.status, exc.message, exc.code)
    except ValueError as exc:
        return error(400, str(exc), "invalid_config")
    return JSONResponse({"success": True, "config": config})


class SandboxApp(Starlette):
    """The Starlette app with fault injection and the request log wrapped around everything,
    Starlette's own middleware included, so a fault can reach uvicorn's transport to drop the
    connection for real (faults.py)."""

    def __init__(self, sandbox: Sandbox, routes: list[Route]) -> None:
        super().__init__(routes=routes, exception_handlers={HTTPException: http_error})
        self.state.sandbox = sandbox
        self._front = FaultsAndLog(super().__call__, store=sandbox.store, faults=sandbox.faults)

    @property
    def sandbox(self) -> Sandbox:
        sandbox: Sandbox = self.state.sandbox
        return sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._front(scope, receive, send)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (unknown path, wrong method) in the API's error shape."""
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error(exc.status_code, str(exc.detail), codes.get(exc.status_code, "invalid_request"))


def create_app(db: str = ":memory:") -> SandboxApp:
    """The simulator on a SQLite file, or in memory with ":memory:"."""
    sandbox = Sandbox(Store(db))
    v1 = "/api/v1"
    routes = [
        Route(f"{v1}/me", api(me)),
        Route(f"{v1}/accounts", api(accounts)),
        Route(f"{v1}/posts", api(create_posts), methods=["POST"]),
        Route(f"{v1}/posts", api(list_posts), methods=["GET"]),
        Route(f"{v1}/posts/batch-schedule", api(batch_schedule), methods=["POST"]),
        Route(f"{v1}/posts/{{id}}", api(get_post), methods=["GET"]),
        Route(f"{v1}/posts/{{id}}", api(update_post), methods=["PUT"]),
        Route(f"{v1}/posts/{{id}}", api(delete_post), methods=["DELETE"]),
        Route(f"{v1}/posts/{{id}}/schedule", api(schedule_post), methods=["POST"]),
        Route(f"{v1}/posts/{{id}}/publish", api(publish_post), methods=["POST"]),
        Route(f"{v1}/upload", api(upload), methods=["POST"]),
        Route(f"{v1}/evergreen/settings", api(evergreen_settings), methods=["GET", "PUT"]),
        Route(f"{v1}/evergreen/posts", api(evergreen_posts), methods=["GET", "POST"]),
        Route(
            f"{v1}/evergreen/posts/{{id}}", api(evergreen_post), methods=["GET", "PUT", "DELETE"]
        ),
        Route(f"{v1}/evergreen/history", api(evergreen_history)),
        Route(f"{v1}/inspiration/search", api(search)),
        Route(f"{v1}/inspiration/repurpose", api(repurpose), methods=["POST"]),
        Route(f"{v1}/analytics/overview", api(overview)),
        Route(f"{v1}/analytics/tweets", api(tweet_analytics)),
        Route(f"{v1}/analytics/best-times", api(best_times)),
        Route(f"{v1}/analytics/best-times/analyze", api(analyze), methods=["POST"]),
        Route("/media/{name}", media),
        Route("/_sandbox/faults", control_faults, methods=["POST", "DELETE"]),
        Route("/_sandbox/requests", control_requests),
        Route("/_sandbox/reset", control_reset, methods=["POST"]),
        Route("/_sandbox/scheduler", control_scheduler, methods=["POST"]),
        Route("/_sandbox/config", control_config, methods=["PUT"]),
    ]
    return SandboxApp(sandbox, routes)
