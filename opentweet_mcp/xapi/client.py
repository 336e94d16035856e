"""Posting to X through the X API v2: tweets, and threads as reply chains that never repost.

A thread goes out one tweet at a time, each a reply to the one before. What is already on X is
written down after every tweet (`ThreadLog`, a file per thread in the state folder), so when
tweet k fails the error says exactly which tweets are on X (ids and urls) and which are not,
and calling again with the same thread continues from tweet k: nothing is posted twice.

Every answer's rate-limit headers are read; a 429 is reported with the moment the window
resets. X's error shapes (problem JSON, v1.1 `errors`) become one message.
"""

from __future__ import annotations

import hashlib
import html
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2

from opentweet_mcp.xapi.auth import SignInError, TokenFile, write_private

UPLOAD_PATH = "/1.1/media/upload.json"
CHUNK = 4 * 1024 * 1024  # bytes per APPEND (the guide sends 5 MB; X takes up to 5 MB)
MIB = 1024 * 1024
RATE_WAIT = 60.0  # seconds of a rate-limit window worth waiting out rather than failing
# X's limits per type (the X guide): images 5 MB, GIFs 15 MB, videos 512 MB
MEDIA_LIMITS = {
    "image/jpeg": 5 * MIB,
    "image/png": 5 * MIB,
    "image/webp": 5 * MIB,
    "image/gif": 15 * MIB,
    "video/mp4": 512 * MIB,
    "video/quicktime": 512 * MIB,
}


class XError(Exception):
    """X refused or failed a request; `status` is its HTTP status (None: no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class XRateLimited(XError):
    """429: `reset` is when the window opens again (epoch seconds), when X said."""

    def __init__(self, message: str, reset: int | None) -> None:
        super().__init__(message, 429)
        self.reset = reset


class XAbsent(XError):
    """X refused a tweet an earlier attempt left in doubt, and its timeline does not show
    that earlier one either: it is not on X."""


class XUnreachable(XError):
    """X could not be reached: the request never left."""


class XOutcomeUnknown(XError):
    """The request may have reached X, but its answer was lost (or was a 5xx)."""


class XNotShown(XError):
    """A tweet whose answer did not say was looked for on the user's timeline, and is not
    there: taken as not posted (should X show it later, posting it again finds it)."""


@dataclass(frozen=True)
class Posted:
    id: str
    url: str


class ThreadBroken(XError):
    """A thread stopped at tweet `failed_at` (1-based): `posted` are on X; the rest are not,
    except that tweet `failed_at` itself may be when X's answer was lost (`unsure`)."""

    def __init__(
        self, posted: Sequence[Posted], failed_at: int, total: int, cause: Exception
    ) -> None:
        said = str(cause).rstrip(".")
        self.unsure = isinstance(cause, XOutcomeUnknown | XNotShown)
        if self.unsure:
            on_x = "; ".join(f"tweet {n} {p.url}" for n, p in enumerate(posted, 1)) or "none"
            later = (
                f" Not on X: tweets {failed_at + 1}–{total}."
                if failed_at + 1 < total
                else f" Not on X: tweet {total}."
                if failed_at < total
                else ""
            )
            message = (
                f"tweet {failed_at} of {total} MAY be on X ({said}). On X for sure: {on_x}."
                f"{later} Publishing it again looks for it on X first, and never posts it twice."
            )
        elif not posted:  # nothing of it is on X: X's refusal is the whole story
            message = f"X refused tweet 1 of {total}: {said}" if total > 1 else said
        else:
            on_x = "; ".join(f"tweet {n} {p.url}" for n, p in enumerate(posted, 1))
            rest = f"tweets {failed_at}–{total}" if failed_at < total else f"tweet {total}"
            message = (
                f"the thread stopped at tweet {failed_at} of {total}: {said}. On X: {on_x}. "
                f"Not on X: {rest}. Posting the same thread again continues from tweet "
                f"{failed_at}; nothing already on X is posted again."
            )
        super().__init__(message, cause.status if isinstance(cause, XError) else None)
        self.posted = list(posted)
        self.failed_at = failed_at
        self.cause = cause


@dataclass(frozen=True)
class TweetSpec:
    """One tweet as the X API takes it."""

    text: str
    media_ids: tuple[str, ...] = ()
    poll_options: tuple[str, ...] = ()
    poll_minutes: int | None = None
    quote_tweet_id: str | None = None
    reply_settings: str | None = None

    def body(self, reply_to: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"text": self.text}
        if self.media_ids:
            body["media"] = {"media_ids": list(self.media_ids)}
        if self.poll_options:
            body["poll"] = {
                "options": list(self.poll_options),
                "duration_minutes": self.poll_minutes,
            }
        if self.quote_tweet_id:
            body["quote_tweet_id"] = self.quote_tweet_id
        if self.reply_settings:
            body["reply_settings"] = self.reply_settings
        if reply_to:
            body["reply"] = {"in_reply_to_tweet_id": reply_to}
        return body


@dataclass
class ThreadLog:
    """What of one thread is on X, kept in a file of the user's alone across calls and
    restarts. A thread is named by `key` (a scheduled post's id), else by its content: the
    same tweets posted again are the same thread."""

    folder: Path
    tweets: Sequence[TweetSpec]
    key: str | None = None
    posted: list[Posted] = field(default_factory=list)
    # the tweet (0-based) whose answer did not say whether X took it, and since when
    unsure: int | None = None
    unsure_since: float | None = None

    def __post_init__(self) -> None:
        canonical = json.dumps([t.body(None) for t in self.tweets], sort_keys=True)
        name = self.key or canonical
        self.path = self.folder / f"thread-{hashlib.sha256(name.encode()).hexdigest()[:24]}.json"
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            posted = [Posted(**item) for item in saved["posted"]]
        except FileNotFoundError:
            return
        except (ValueError, TypeError, KeyError):
            raise XError(
                f"{self.path} (what of this post is on X) is unreadable: nothing more of it is "
                "posted until the file is repaired or removed"
            ) from None
        self.posted = posted
        self.unsure, self.unsure_since = saved.get("unsure"), saved.get("unsure_since")

    def add(self, posted: Posted) -> None:
        self.posted.append(posted)
        self.unsure = self.unsure_since = None
        self._save()

    def lost(self, index: int, since: float) -> None:
        """Tweet `index`, sent at `since`, may be on X: the next attempt looks for it first."""
        if self.unsure != index:  # the first attempt's time: the tweet is no older
            self.unsure, self.unsure_since = index, since
        self._save()

    def settled(self) -> None:
        """The tweet that was being sent is known not to be on X (X refused it, or it never
        left)."""
        self.unsure = self.unsure_since = None
        self._save()

    def keep(self, posted: Sequence[Posted]) -> None:
        """What is left on X after some of it was deleted."""
        self.posted = list(posted)
        self.unsure = self.unsure_since = None
        self._save()

    def _save(self) -> None:
        saved = {
            "posted": [p.__dict__ for p in self.posted],
            "unsure": self.unsure,
            "unsure_since": self.unsure_since,
        }
        write_private(self.path, saved)


SKEW = 60.0  # seconds this computer's clock may be behind X's


def _not_sent(error: BaseException) -> bool:
    """Whether a failed tweet is known not to be on X: X refused it, or it never left (no
    connection, no token). Anything else may have reached X."""
    if isinstance(error, SignInError):
        return True
    return isinstance(error, XError) and not isinstance(error, XOutcomeUnknown | XNotShown)


def _posted_at(item: dict[str, Any]) -> float:
    """When X says a tweet was created (epoch seconds); 0 when it does not say."""
    try:
        return datetime.fromisoformat(str(item["created_at"]).replace("Z", "+00:00")).timestamp()
    except (KeyError, ValueError):
        return 0.0


def _as_sent(item: dict[str, Any]) -> str:
    """A tweet's text as it was sent, from how X lists it: X shortens links to t.co (the
    `entities` give them back), adds a t.co link for attached media, and escapes `&<>`."""
    text = str(item.get("text", ""))
    for link in (item.get("entities") or {}).get("urls") or []:
        short = str(link.get("url", ""))
        if short:
            original = "" if link.get("media_key") else str(link.get("expanded_url") or short)
            text = text.replace(short, original)
    return " ".join(html.unescape(text).split())


def _message(answer: httpx2.Response) -> str:
    """The human part of any of X's error shapes."""
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200] or f"HTTP {answer.status_code}"
    if isinstance(body, dict):
        if body.get("detail"):
            return str(body["detail"])
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message") or errors[0])
        if body.get("error_description"):
            return str(body["error_description"])
    return f"HTTP {answer.status_code}"


class XClient:
    """The X API for one signed-in user (its tokens in `tokens`)."""

    def __init__(self, tokens: TokenFile, http: httpx2.AsyncClient, state: Path) -> None:
        self.tokens = tokens
        self.http = http
        self.state = state
        self.rate: dict[str, str] = {}  # the last rate-limit headers X sent
        self._me: dict[str, Any] | None = None
        self.rate_wait = RATE_WAIT

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One request; a 429 whose window opens within RATE_WAIT seconds is waited out once
        (X took nothing, so asking again is safe), a later one is reported with its reset."""
        for attempt in range(2):
            # a refresh (every 2 h) is a blocking request under a file lock: off the loop
            token = await anyio.to_thread.run_sync(self.tokens.access_token)
            headers = {"Authorization": f"Bearer {token}"}
            try:
                answer = await self.http.request(
                    method, f"{self.tokens.app.api_root}{path}", headers=headers, **kwargs
                )
            except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout) as exc:
                raise XUnreachable(f"X could not be reached: {exc}") from None  # never sent
            except httpx2.HTTPError as exc:
                lost = f"X's answer was lost: {exc!r}"
                raise (XOutcomeUnknown(lost) if method == "POST" else XError(lost)) from None
            self.rate = {k: v for k, v in answer.headers.items() if k.startswith("x-rate-limit-")}
            if answer.status_code != 429:
                break
            raw = self.rate.get("x-rate-limit-reset")
            reset = int(raw) if raw and raw.isdigit() else None
            wait = reset - time.time() if reset is not None else None
            if attempt or wait is None or wait > self.rate_wait:
                when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reset)) if reset else None
                raise XRateLimited(f"X's rate limit is reached until {when or 'later'}", reset)
            await anyio.sleep(max(wait, 0) + 1)
        if answer.status_code >= 400:
            said = _message(answer)
            if "duplicate content" in said:
                said += " (X takes a text from you once: word it differently)"
            failed = f"X answered HTTP {answer.status_code}: {said}"
            if answer.status_code >= 500 and method == "POST":  # it may have done it first
                raise XOutcomeUnknown(failed, answer.status_code)
            raise XError(failed, answer.status_code)
        if answer.status_code == 204 or not answer.content:
            return {}
        try:
            data = answer.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):  # X took the request; what it did is unreadable
            unreadable = f"X answered HTTP {answer.status_code} with an unreadable body"
            raise (XOutcomeUnknown if method == "POST" else XError)(unreadable)
        return data

    async def me(self) -> dict[str, Any]:
        """The signed-in user (id, username, name, verified_type), asked once."""
        if self._me is None:
            answer = await self._call("GET", "/2/users/me", params={"user.fields": "verified_type"})
            self._me = dict(answer["data"])
        return self._me

    async def username(self) -> str:
        return str((await self.me())["username"])

    async def user_id(self) -> str:
        return str((await self.me())["id"])

    async def post(
        self, tweet: TweetSpec, reply_to: str | None = None, *, maybe_since: float | None = None
    ) -> Posted:
        """Post one tweet. When X's answer does not say whether it took it (lost, unreadable,
        5xx), the user's tweets since this attempt are read, and the one found there (same
        text, replying to the same tweet) is taken as posted rather than posted twice. So too
        when X refuses it as a duplicate after an earlier attempt, at `maybe_since`, ended
        that way."""
        # the handle first: nothing may fail between X taking the tweet and the log noting it
        username = await self.username()
        started = time.time()
        try:
            data = (await self._call("POST", "/2/tweets", json=tweet.body(reply_to)))["data"]
        except XOutcomeUnknown as lost:
            data = {"id": await self._found_or(lost, tweet, reply_to, started)}
        except XError as refused:
            if maybe_since is None or isinstance(refused, XRateLimited | XUnreachable):
                raise
            # X refuses a text it already has: after an earlier unclear answer, it may be ours
            duplicate = refused.status == 403 and "duplicate content" in str(refused)
            if duplicate:
                data = {"id": await self._found_or(refused, tweet, reply_to, maybe_since)}
            else:  # refused for another reason: is the earlier attempt's tweet there?
                try:
                    found = await self.find(tweet.text, reply_to, maybe_since)
                except XError:
                    raise refused from None
                if found is None:
                    raise XAbsent(str(refused), refused.status) from None
                data = {"id": found}
        return Posted(str(data["id"]), f"https://x.com/{username}/status/{data['id']}")

    async def _found_or(
        self, failure: XError, tweet: TweetSpec, reply_to: str | None, since: float
    ) -> str:
        """The tweet's id if the user's tweets since `since` show it, else why not: unknown
        stays unknown when they cannot be read; not shown is said as such."""
        try:
            found = await self.find(tweet.text, reply_to, since)
        except XError:
            if isinstance(failure, XOutcomeUnknown):
                raise failure from None
            raise XNotShown(  # refused as a duplicate: strong sign it is there after all
                "X refuses it as a duplicate, so an earlier attempt probably posted it; X's "
                "timeline cannot be read to be sure",
                failure.status,
            ) from None
        if found is not None:
            return found
        if isinstance(failure, XOutcomeUnknown):
            raise XNotShown(f"{failure}, and X's timeline does not show it", failure.status)
        raise XNotShown(  # a duplicate of an earlier attempt's tweet that X does not list
            "X refuses it as a duplicate, so an earlier attempt probably posted it, though "
            "X's timeline does not show it",
            failure.status,
        )

    async def find(self, text: str, reply_to: str | None, since: float) -> str | None:
        """The id of the user's tweet posted since `since` (a minute's clock skew allowed)
        with this text, replying to `reply_to` (a quote is not a reply), and not already
        another post's (the threads' logs), if any."""
        taken = self._known_tweets()
        query = {"max_results": "20", "tweet.fields": "referenced_tweets,created_at,entities"}
        recent = await self._call("GET", f"/2/users/{await self.user_id()}/tweets", params=query)
        for item in recent.get("data") or []:
            parents = [
                r.get("id")
                for r in item.get("referenced_tweets") or []
                if r.get("type") == "replied_to"
            ]
            same_parent = parents[:1] == [reply_to] if reply_to else not parents
            if (
                same_parent
                and str(item.get("id")) not in taken
                and _posted_at(item) >= since - SKEW
                and _as_sent(item) == " ".join(text.split())
            ):
                return str(item["id"])
        return None

    async def upload_media(
        self,
        content: bytes,
        media_type: str,
        *,
        alt_text: str | None = None,
        wait: float = 60.0,
        still_ours: Callable[[], None] = lambda: None,
    ) -> str:
        """Upload a file as the guide says, checked against X's limits first: an image in one
        request; a video (or a GIF) in chunks, then its processing followed until it is ready
        (at most `wait` seconds), `still_ours` called between its steps; then its alt text.
        The media id to attach."""
        limit = MEDIA_LIMITS.get(media_type)
        if limit is None:
            raise XError(f"X takes {', '.join(sorted(MEDIA_LIMITS))}, not {media_type!r}", 400)
        if not content or len(content) > limit:
            limit_mb = limit // (1024 * 1024)
            raise XError(f"{media_type} files are 1 byte to {limit_mb} MB on X", 400)
        if media_type.startswith("image/") and media_type != "image/gif":
            file = {"media": ("media", content, media_type)}
            answer = await self._call("POST", UPLOAD_PATH, files=file)
            media_id = str(answer["media_id_string"])
        else:
            media_id = await self._chunked(content, media_type, wait, still_ours)
        if alt_text:
            body = {"media_id": media_id, "alt_text": {"text": alt_text}}
            await self._call("POST", "/1.1/media/metadata/create.json", json=body)
        return media_id

    async def _chunked(
        self, content: bytes, media_type: str, wait: float, still_ours: Callable[[], None]
    ) -> str:
        category = "tweet_gif" if media_type == "image/gif" else "tweet_video"
        init = {
            "command": "INIT",
            "total_bytes": str(len(content)),
            "media_type": media_type,
            "media_category": category,
        }
        media_id = str((await self._call("POST", UPLOAD_PATH, data=init))["media_id_string"])
        for index, start in enumerate(range(0, len(content), CHUNK)):
            still_ours()
            await self._call(
                "POST",
                UPLOAD_PATH,
                data={"command": "APPEND", "media_id": media_id, "segment_index": str(index)},
                files={"media": ("chunk", content[start : start + CHUNK])},
            )
        final = {"command": "FINALIZE", "media_id": media_id}
        info = (await self._call("POST", UPLOAD_PATH, data=final)).get("processing_info")
        deadline = time.monotonic() + wait
        while info and info.get("state") in ("pending", "in_progress"):
            if time.monotonic() > deadline:
                raise XError(f"media {media_id} is still processing after {wait:.0f} s")
            await anyio.sleep(min(float(info.get("check_after_secs") or 1), 5.0))
            still_ours()
            status = {"command": "STATUS", "media_id": media_id}
            info = (await self._call("GET", UPLOAD_PATH, params=status)).get("processing_info")
        if info and info.get("state") == "failed":
            said = (info.get("error") or {}).get("message") or "processing failed"
            raise XError(f"X could not process media {media_id}: {said}")
        return media_id

    async def delete(self, tweet_id: str) -> bool:
        """Take a tweet off X; one X no longer has counts as deleted (an earlier attempt may
        have done it)."""
        try:
            return bool((await self._call("DELETE", f"/2/tweets/{tweet_id}"))["data"]["deleted"])
        except XError as exc:
            if exc.status == 404:
                return True
            raise

    async def post_thread(
        self,
        tweets: Sequence[TweetSpec],
        key: str | None = None,
        still_ours: Callable[[], None] | None = None,
    ) -> list[Posted]:
        """Post `tweets` as a reply chain, continuing a thread (named by `key`, else by its
        content) that stopped part way; `still_ours` is called before each tweet, and stops
        the thread by raising (the post is no longer this caller's to publish)."""
        log = ThreadLog(self.state, tweets, key)
        for index in range(len(log.posted), len(tweets)):
            reply_to = log.posted[-1].id if log.posted else None
            since = log.unsure_since if log.unsure == index else None
            try:
                if still_ours is not None:
                    still_ours()
                await self.username()  # asked before the mark: its failure sends no tweet
                # written ahead: should this process stop before X's answer is noted, the
                # tweet may be on X, and the next attempt looks for it before posting it
                log.lost(index, time.time())
                posted = await self.post(tweets[index], reply_to, maybe_since=since)
            except Exception as exc:  # whatever stopped it, say what is on X
                # this attempt's doubt ends with a refusal; an earlier one's only once X's
                # timeline shows that tweet is not there
                if _not_sent(exc) and (since is None or isinstance(exc, XAbsent)):
                    log.settled()
                raise ThreadBroken(log.posted, index + 1, len(tweets), exc) from exc
            log.add(posted)
        return list(log.posted)

    def _known_tweets(self) -> set[str]:
        """The ids of every tweet a thread's log says is on X: each is some post's own."""
        known: set[str] = set()
        for path in self.state.glob("thread-*.json"):
            try:
                saved = json.loads(path.read_text(encoding="utf-8"))
                known |= {str(item["id"]) for item in saved["posted"]}
            except (OSError, ValueError, TypeError, KeyError):
                raise XError(f"{path} is unreadable: no tweet is taken as ours") from None
        return known

    def thread_so_far(self, key: str) -> ThreadLog:
        """What of the thread named `key` is on X (and which tweet may be), as its log says."""
        return ThreadLog(self.state, (), key)
