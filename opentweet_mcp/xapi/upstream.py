"""The X provider's side of the operation catalog: every operation the posts, media and account
tools make (`api/operations.py`), served from the local store and the X API.

The answers have the shapes OpenTweet's do (a post with `id`, `status`, `scheduled_date`, `url`
once on X), and refusals are the same `ApiError`s with a status and a hint, so the tools, the
approval gate and the results work unchanged whichever provider runs. What only OpenTweet does
(auto-retweets, communities, other networks, links to media) is refused, saying so; nothing is
quietly dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx2

from opentweet_mcp.api.errors import ApiError, RateLimited, error_for_status
from opentweet_mcp.api.operations import ApiRequest
from opentweet_mcp.config import Settings
from opentweet_mcp.guard.publication import tweets_of
from opentweet_mcp.guard.sqlite_ledger import state_folder
from opentweet_mcp.media_types import KINDS, sniff
from opentweet_mcp.xapi.auth import SignInError, TokenFile, XApp
from opentweet_mcp.xapi.client import Posted, ThreadLog, XClient, XError, XRateLimited
from opentweet_mcp.xapi.media import MediaFolder
from opentweet_mcp.xapi.publish import give_up_stale, publish, publish_due
from opentweet_mcp.xapi.schedule import ARMABLE, GRACE, PASS_EVERY, LocalSchedule

OPENTWEET_ONLY = (
    "community_id",
    "share_with_followers",
    "auto_retweet_enabled",
    "auto_retweet_offset_minutes",
    "category",
)
POST_FIELDS = (
    "text",
    "thread_tweets",
    "media_urls",
    "thread_media",
    "poll",
    "quote_tweet_id",
    "reply_settings",
)
NO_SCHEDULER = (
    "no scheduler is running, so this post will not go out at its time: start "
    "`opentweet-mcp scheduler` (or serve HTTP with --scheduler) and keep it running"
)

Handler = Callable[..., Awaitable[dict[str, Any]]]


class Refused(Exception):
    """A request this provider turns down: the HTTP status and message OpenTweet would give."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _epoch(value: Any, now: float) -> float:
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Refused(400, f"scheduled_date {value!r} is not an ISO 8601 date") from None
    if when.tzinfo is None:
        raise Refused(400, "scheduled_date needs a time zone offset, e.g. Z or +02:00")
    epoch = when.timestamp()
    if epoch <= now:
        raise Refused(400, "scheduled_date must be in the future")
    return epoch


class XUpstream:
    """The operations for one signed-in X user: posts in `store`, files in `media`."""

    name = "the local drafts"

    def __init__(self, x: XClient, store: LocalSchedule, media: MediaFolder) -> None:
        self.x = x
        self.store = store
        self.media = media
        # each post's fields as this process last read or wrote them: what the gate approved
        # is what a write here may replace or publish (another process may have changed it)
        self._seen: dict[str, dict[str, Any]] = {}

    def media_note(self, url: str) -> str | None:
        """A kept file as a preview names it: its type, size and alt text (which goes out
        with it); None for any URL that is not one of them."""
        stored = self.media.load(url)
        if stored is None:
            return None
        alt = f"alt text: “{stored.alt_text}”" if stored.alt_text else "no alt text"
        size = len(stored.content)
        shown = f"{size:,} bytes" if size < 1024 else f"{size / 1024:,.0f} KiB"
        return f"{stored.content_type}, {shown}, {alt}"

    async def send(self, request: ApiRequest) -> dict[str, Any]:
        # a claim whose process stopped is freed here too, not only by a scheduler's pass
        give_up_stale(self.store, self.x)
        for method, pattern, handler in ROUTES:
            found = re.fullmatch(pattern, request.path)
            if found and request.method == method:
                try:
                    answer: dict[str, Any] = await handler(self, request, *found.groups())
                except Refused as exc:
                    raise _error(exc.status, str(exc)) from None
                except XRateLimited as exc:
                    raise _rate_limited(exc) from None
                except SignInError as exc:
                    raise _error(401, str(exc)) from None
                except XError as exc:
                    raise _error(exc.status or 502, str(exc)) from None
                return answer
        raise _error(404, "--provider x has no such operation")

    # --- what a post looks like -----------------------------------------------------------

    def shape(self, row: Mapping[str, Any], running: bool | None = None) -> dict[str, Any]:
        """A stored post as OpenTweet shows one; `running`: whether a scheduler runs, when
        the caller already knows."""
        fields, result = row["fields"], row["result"] or {}
        post: dict[str, Any] = {
            "id": row["id"],
            "text": fields["text"],
            "is_thread": bool(fields.get("thread_tweets")),
            "thread_tweets": fields.get("thread_tweets") or [],
            "media_urls": fields.get("media_urls") or [],
            "thread_media": fields.get("thread_media") or [],
            "platforms": ["x"],
            "status": row["status"],
            "scheduled_date": iso(row["due"]),
            "created_at": iso(row["created"]),
        }
        post |= {k: fields[k] for k in ("poll", "quote_tweet_id", "reply_settings") if k in fields}
        tweets = result.get("tweets") or []
        if row["status"] == "posted" and tweets:
            post |= {"x_post_id": tweets[0]["id"], "url": tweets[0]["url"], "tweets": tweets}
        elif tweets:  # part of a thread that stopped: on X all the same
            post["on_x"] = [t["url"] for t in tweets]
        if result.get("error") and row["status"] in ("failed", "missed", "scheduled"):
            post["error"] = result["error"]  # the last attempt's (a draft's was edited away)
        if result.get("unsure"):
            post["may_be_on_x"] = f"tweet {result['unsure']} (X's answer did not say)"
        if row["status"] == "scheduled" and row["retry_at"]:  # X asked it to wait
            post["next_attempt"] = iso(row["retry_at"])
        if row["status"] == "scheduled" and not (
            self.store.scheduler_running() if running is None else running
        ):
            post["warning"] = NO_SCHEDULER
        return post

    def _row(self, post_id: str) -> dict[str, Any]:
        row = self.store.get(post_id)
        if row is None:
            raise Refused(404, f"post {post_id} not found")
        return row

    def _shown(self, row: Mapping[str, Any], running: bool | None = None) -> dict[str, Any]:
        """A post as a read answers it, remembered as what this process was shown."""
        self._seen[row["id"]] = row["fields"]
        return self.shape(row, running)

    async def _account(self, body: Mapping[str, Any]) -> None:
        """An x_account_id, when given, must be the signed-in user's own."""
        named = body.get("x_account_id")
        if named and named != await self.x.user_id():
            raise Refused(404, f"X account {named} is not the one signed in (see list_accounts)")

    def _fields(self, body: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
        """A post's fields after `body` changes them, checked for what X can take."""
        for name in OPENTWEET_ONLY:
            if body.get(name) not in (None, False):
                raise Refused(400, f"{name} is an OpenTweet feature; --provider x has none")
        platforms = body.get("platforms")
        if platforms is not None and list(platforms) != ["x"]:
            raise Refused(400, 'with --provider x, posts go to X alone: platforms ["x"]')
        fields = dict(base)
        for name in POST_FIELDS:
            if name in body:
                fields[name] = body[name]
        if not isinstance(fields.get("text"), str):
            raise Refused(400, "text is required")
        media = [fields.get("media_urls") or [], *(fields.get("thread_media") or [])]
        for url in (url for urls in media for url in urls or []):
            if self.media.load(url) is None:
                raise Refused(
                    400,
                    f"{url} is not a file uploaded here: X takes files, not links, so upload "
                    "it with upload_media and attach the URL that gives",
                )
        return fields

    # --- posts ----------------------------------------------------------------------------

    async def create_post(self, request: ApiRequest) -> dict[str, Any]:
        body = request.json or {}
        await self._account(body)
        now = self.store.clock()
        checked = []  # every post checked before any is kept: a refusal keeps none
        for item in body.get("posts", [body]):
            due = item.get("scheduled_date")
            fields = self._fields({"platforms": body.get("platforms")} | item, {})
            checked.append((fields, _epoch(due, now) if due else None))
        created = [self.store.add(fields, due) for fields, due in checked]
        if body.get("publish_now"):
            return await self._publish(created[0])
        posts = [self._shown(self._row(post_id)) for post_id in created]
        return {"success": True, "count": len(posts), "posts": posts}

    async def list_posts(self, request: ApiRequest) -> dict[str, Any]:
        query = dict(request.params)
        await self._account(query)
        page, limit = int(query.get("page", 1)), int(query.get("limit", 20))
        status = query.get("status")
        rows: list[dict[str, Any]] = []
        total = 0
        if status != "evergreen":  # X has no evergreen pool: none of its sources here
            rows, total = self.store.page(status, (page - 1) * limit, limit)
        pages = max(1, math.ceil(total / limit))
        running = self.store.scheduler_running()  # asked once for the page, not per post
        return {
            "posts": [self._shown(row, running) for row in rows],
            "pagination": {"page": page, "limit": limit, "total": total, "pages": pages},
        }

    async def get_post(self, request: ApiRequest, post_id: str) -> dict[str, Any]:
        return {"success": True, "post": self._shown(self._row(post_id))}

    async def update_post(self, request: ApiRequest, post_id: str) -> dict[str, Any]:
        body = request.json or {}
        await self._account(body)
        row = self._row(post_id)
        fields = self._fields(body, row["fields"])
        due, status = row["due"], row["status"]
        if "scheduled_date" in body:  # a date the gate had approved with this content
            when = body["scheduled_date"]
            due = _epoch(when, self.store.clock()) if when is not None else None
            status = "scheduled" if due is not None else "draft"
        elif status in ("failed", "missed"):  # changed, it is a draft: armed again only by
            due, status = None, "draft"  # a schedule or a publish that a person approves
        return self._change(row, fields, due, status)

    def _change(
        self, row: Mapping[str, Any], fields: Mapping[str, Any], due: float | None, status: str
    ) -> dict[str, Any]:
        thread = self.x.thread_so_far(row["id"])
        # the tweets on X, and one that may be, are what they are: they cannot change
        frozen = len(thread.posted) + (thread.unsure is not None)
        if frozen and _tweets(fields)[:frozen] != _tweets(row["fields"])[:frozen]:
            raise Refused(
                409,
                f"tweets 1–{frozen} of post {row['id']} are on X already (or may be) and "
                "cannot change: publish it as it is, or delete it (which takes them off X) "
                "and create the post anew",
            )
        if not self.store.change(row["id"], fields, due, status, self._seen.get(row["id"])):
            raise self._changed_meanwhile(row["id"])
        return {"success": True, "post": self._shown(self._row(row["id"]))}

    def _changed_meanwhile(self, post_id: str) -> Refused:
        """Why a write found the post other than this process last saw it."""
        seen = self._seen.get(post_id)
        row = self._row(post_id)
        if row["status"] not in ARMABLE:
            return Refused(409, f"post {post_id} is {row['status']}: it cannot change")
        if seen is not None and seen != row["fields"]:
            return Refused(
                409,
                f"post {post_id} was changed meanwhile (by another process); nothing was sent: "
                "read it again and ask for approval of what it holds now",
            )
        return Refused(409, f"post {post_id} could not be claimed; nothing was sent")

    async def schedule_post(self, request: ApiRequest, post_id: str) -> dict[str, Any]:
        body = request.json or {}
        await self._account(body)
        row = self._row(post_id)
        fields = self._fields(body, row["fields"])
        if body.get("scheduled_date") is None:
            raise Refused(400, "scheduled_date is required")
        return self._change(
            row, fields, _epoch(body["scheduled_date"], self.store.clock()), "scheduled"
        )

    async def batch_schedule_posts(self, request: ApiRequest) -> dict[str, Any]:
        body = request.json or {}
        await self._account(body)
        now = self.store.clock()
        plan = [
            (item["post_id"], _epoch(item["scheduled_date"], now)) for item in body["schedules"]
        ]
        done, failed = [], []
        for post_id, due in plan:
            try:
                row = self._row(post_id)
                fields = self._fields({"platforms": body.get("platforms")} | body, row["fields"])
                done.append(self._change(row, fields, due, "scheduled")["post"])
            except Refused as exc:
                failed.append({"post_id": post_id, "error": str(exc)})
        return {"success": not failed, "scheduled": len(done), "posts": done, "failed": failed}

    async def publish_post(self, request: ApiRequest, post_id: str) -> dict[str, Any]:
        body = request.json or {}
        await self._account(body)
        row = self._row(post_id)
        self._fields(body, row["fields"])
        return await self._publish(post_id)

    async def _publish(self, post_id: str) -> dict[str, Any]:
        owner = self.store.claim(post_id, self._seen.get(post_id))
        if owner is None:
            raise self._changed_meanwhile(post_id)
        claimed = self._row(post_id) | {"owner": owner}
        await publish(self.store, self.x, self.media, claimed)
        post = self.shape(self._row(post_id))
        said: dict[str, Any] = {
            k: post[k]
            for k in ("status", "url", "x_post_id", "error", "on_x", "may_be_on_x")
            if k in post
        }
        return {"success": post["status"] == "posted", **said, "post": post}

    async def delete_post(self, request: ApiRequest, post_id: str) -> dict[str, Any]:
        row = self._row(post_id)
        if row["status"] == "publishing":
            raise Refused(409, f"post {post_id} is being published this moment: try again soon")
        answer: dict[str, Any] = {"success": True, "deleted": True, "id": post_id}
        wanted = dict(request.params).get("delete_from_x", "true") == "true"
        thread = self.x.thread_so_far(post_id)
        tweets = list(thread.posted)
        if wanted and thread.unsure is not None:  # look for the tweet that may be on X
            maybe = await self._unsure_tweet(row, thread)
            tweets += [maybe] if maybe is not None else []
        answer["x_deleted"] = False
        if wanted and tweets:  # the preview showed them on X (a whole post, or part of one)
            left = list(tweets)
            try:
                for tweet in reversed(tweets):  # the replies first: never an orphaned reply
                    await self.x.delete(tweet.id)
                    left.pop()
            except XError as exc:  # keep the post, with what is still on X
                thread.keep(left)
                on_x = [asdict(t) for t in left]
                self.store.note(post_id, {"error": str(exc), "tweets": on_x})
                still = ", ".join(t.url for t in left)
                raise Refused(
                    502,
                    f"deleting from X failed ({exc}); still on X: {still}. The post is kept: "
                    "delete it again to take the rest off X",
                ) from None
            thread.keep([])
            answer["x_deleted"] = True
        if not self.store.delete(post_id):
            raise Refused(409, f"post {post_id} is being published this moment: try again soon")
        return answer

    async def _unsure_tweet(self, row: Mapping[str, Any], thread: ThreadLog) -> Posted | None:
        """The tweet whose answer did not say, if X's timeline shows it; None if it does not.
        Unreadable, nothing is deleted: it may be there."""
        index = thread.unsure or 0
        text = tweets_of(row["fields"])[index].text
        reply_to = thread.posted[-1].id if thread.posted else None
        try:
            found = await self.x.find(text, reply_to, thread.unsure_since or 0.0)
        except XError as exc:
            raise Refused(
                503,
                f"tweet {index + 1} of post {row['id']} may be on X, and X's timeline cannot be "
                f"read now ({exc}); nothing was deleted: try again",
            ) from None
        if found is None:
            return None
        return Posted(found, f"https://x.com/{await self.x.username()}/status/{found}")

    # --- media and account ----------------------------------------------------------------

    async def upload(self, request: ApiRequest) -> dict[str, Any]:
        upload = request.files
        if upload is None:
            raise Refused(400, "no file")
        kind = sniff(upload.content[:16])
        if kind is None:
            raise Refused(400, "not a JPG, PNG, GIF, WebP, MP4 or MOV file")
        extension, content_type, _ = KINDS[kind]
        alt = dict(request.form).get("alt_text")
        url = self.media.save(upload.content, extension, content_type, alt)
        return {"success": True, "url": url, "alt_text": alt}

    async def account(self) -> dict[str, Any]:
        me = await self.x.me()
        premium = me.get("verified_type") not in (None, "none")
        return {
            "id": me["id"],
            "x_handle": f"@{me['username']}",
            "name": me.get("name"),
            "is_primary": True,
            "x_premium": premium,
        }

    async def get_account(self, request: ApiRequest) -> dict[str, Any]:
        counts = {
            s: self.store.page(s, 0, 1)[1]
            for s in ("draft", "scheduled", "posted", "failed", "missed")
        }
        running = self.store.scheduler_running()
        return {
            "authenticated": True,
            "subscription": {"plan": "X API (direct)", "status": "active", "has_access": True},
            "stats": {
                "total_posts": sum(counts.values()),
                "scheduled_posts": counts["scheduled"],
                "posted_posts": counts["posted"],
                "draft_posts": counts["draft"],
            },
            "post_counts": counts,
            "scheduler": "running" if running else NO_SCHEDULER.split(", so")[0],
            "x_rate_limit": self.x.rate,
            "x_accounts": [await self.account()],
        }

    async def list_accounts(self, request: ApiRequest) -> dict[str, Any]:
        return {"accounts": [await self.account()]}


def _tweets(fields: Mapping[str, Any]) -> list[Any]:
    """A post's tweets as they go out: each one's text and media (`tweets_of`, as the gate
    reads them); the first's poll and the rest with it."""
    extras = [fields.get(k) for k in ("poll", "quote_tweet_id", "reply_settings")]
    return [(tweet, extras if i == 0 else None) for i, tweet in enumerate(tweets_of(fields))]


# what to do about a refusal, said for X (error_for_status's own hints speak of OpenTweet)
HINTS = {
    400: "Refused as invalid: fix what the message names, then try again.",
    401: "Sign in to X again: run `opentweet-mcp login x` in a terminal, then try again.",
    403: "X refused it, for the reason it gives; nothing was posted by this request.",
    404: "No such post here: find it with list_posts.",
    409: "It cannot be done to the post as it stands: the message says why; get_post shows it.",
}


def _error(status: int, message: str) -> ApiError:
    # no method and path in the message: no HTTP request was made to those OpenTweet paths
    error = error_for_status(status, {"error": message}, method="", path="")
    error.hint = HINTS.get(status, "X failed to answer; nothing more was sent. Try again later.")
    return error


def _rate_limited(exc: XRateLimited) -> ApiError:
    wait = max(0.0, exc.reset - datetime.now(UTC).timestamp()) if exc.reset else None
    when = iso(exc.reset) if exc.reset else "later"
    return RateLimited(
        429,
        upstream_message=f"X's rate limit is reached until {when}",
        retry_after=wait,
        hint=f"X takes requests again at {when}; nothing more was sent. Try then.",
    )


ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/api/v1/me", XUpstream.get_account),
    ("GET", "/api/v1/accounts", XUpstream.list_accounts),
    ("POST", "/api/v1/posts", XUpstream.create_post),
    ("GET", "/api/v1/posts", XUpstream.list_posts),
    ("POST", "/api/v1/posts/batch-schedule", XUpstream.batch_schedule_posts),
    ("GET", "/api/v1/posts/([^/]+)", XUpstream.get_post),
    ("PUT", "/api/v1/posts/([^/]+)", XUpstream.update_post),
    ("DELETE", "/api/v1/posts/([^/]+)", XUpstream.delete_post),
    ("POST", "/api/v1/posts/([^/]+)/schedule", XUpstream.schedule_post),
    ("POST", "/api/v1/posts/([^/]+)/publish", XUpstream.publish_post),
    ("POST", "/api/v1/upload", XUpstream.upload),
)


def open_x_upstream(settings: Settings, http: httpx2.AsyncClient) -> XUpstream:
    """The X provider for the person signed in on this computer (`opentweet-mcp login x`):
    the sign-in, the posts, the files and the threads' logs, all in one folder of theirs."""
    folder = settings.x_state or state_folder()
    tokens = TokenFile(folder / "x-tokens.json", XApp.from_settings(settings))
    return XUpstream(
        XClient(tokens, http, folder / "x-threads"),
        LocalSchedule(folder / "x-posts.sqlite3"),
        MediaFolder(folder / "x-media"),
    )


async def run_scheduler(
    upstream: XUpstream,
    *,
    grace: float = GRACE,
    once: bool = False,
    report: Callable[[dict[str, list[str]]], None] | None = None,
) -> None:
    """Publish what is due every PASS_EVERY seconds (or once), saying what each pass did."""
    while True:
        done = await publish_due(upstream.store, upstream.x, upstream.media, grace)
        if report is not None and (once or any(done.values())):
            report(done)
        if once:
            return
        await anyio.sleep(PASS_EVERY)
