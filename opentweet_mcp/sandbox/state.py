"""The simulator's state and the rules that act on it: the `User` a key stands for, and the
`Sandbox` that holds the store, the fault rules and the knobs, enforces the request and post
limits, takes posts from draft to posted, and runs the scheduler with its evergreen clones.

It imports nothing of HTTP (its refusals are `Rejected`, which http.py turns into answers):
endpoints (`endpoints/`) call into it and the `/_sandbox/` controls (control.py) drive it, so it
sits at the bottom of the import graph."""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from opentweet_mcp.sandbox import rules
from opentweet_mcp.sandbox.faults import Fault, Faults
from opentweet_mcp.sandbox.knobs import Knobs
from opentweet_mcp.sandbox.rules import Rejected, Subscription, bad
from opentweet_mcp.sandbox.store import Store, key_hash, new_id

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
    plan: Subscription
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
class Sandbox(Knobs):
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
