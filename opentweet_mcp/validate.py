"""Shared parameter types and cross-field checks, applied before any request is made.

Field types are `Annotated` aliases, so the SDK validates them while parsing the arguments and
the JSON schema the model sees carries the same constraints. Checks that span several fields
(thread media against thread tweets, duplicate texts in a bulk call) raise `InvalidArguments`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from opentweet_mcp.addresses import internal_host
from opentweet_mcp.long_posts import LONG, STANDARD, TweetLimit
from opentweet_mcp.text.visible import visible
from opentweet_mcp.text.weighted import V3, parse_tweet

MAX_BULK = 50
MAX_THREAD_TWEETS = 24  # X threads are 1–25 tweets: the first tweet plus 24 more
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v")
_OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_APPROVAL_ID = re.compile(r"[A-Za-z0-9_-]{16}")


class InvalidArguments(ValueError):
    """Arguments that fail a check spanning several fields; the message says what to change."""


class StateRefused(Exception):
    """Well-formed arguments that the target's current state rules out (a post already
    published, an evergreen source, a post scheduled for later); nothing was sent."""


def check_object_id(value: str) -> str:
    if not _OBJECT_ID.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a post id: ids are 24-character hex ObjectIds "
            "such as 507f1f77bcf86cd799439011 (take them from list_posts or a create result)"
        )
    return value.lower()


def check_tweet(text: str) -> str:
    """Non-empty, within the longest limit X has (25,000 with long posts), and only
    characters X accepts. Whether this account may go past 280 is `check_lengths`' to say."""
    if not text.strip():
        raise ValueError("tweet text is empty")
    parsed = parse_tweet(text, V3._replace(max_weighted_length=LONG))
    if parsed.weighted_length > LONG:
        raise ValueError(
            f"tweet is {parsed.weighted_length:,} weighted characters; no X account may post "
            f"more than {LONG:,} (URLs count 23, emoji and CJK 2; split_thread can help)"
        )
    if not parsed.valid:
        raise ValueError("tweet contains characters X does not accept (U+FFFE, U+FEFF, U+FFFF)")
    return text


def check_lengths(texts: Sequence[str], limit: TweetLimit) -> None:
    """Refuse the first tweet over the account's limit, saying which limit applied and why."""
    for index, text in enumerate(texts):
        length = parse_tweet(text).weighted_length
        if length > limit.chars:
            raise InvalidArguments(
                f"tweet {index + 1} is {length:,} weighted characters; the limit is {limit} "
                "(split_thread can make a thread of it)"
            )


def over_standard(texts: Sequence[str]) -> bool:
    """Whether any tweet is longer than every account may post (280)."""
    return any(parse_tweet(text).weighted_length > STANDARD for text in texts)


def parse_future_date(value: str, *, now: datetime | None = None) -> str:
    """Parse an ISO 8601 date with an offset that lies in the future; return it in UTC ("Z")."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"{value!r} is not an ISO 8601 date; use e.g. 2026-05-01T10:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(
            f"{value!r} has no UTC offset; add one, e.g. 2026-05-01T10:00:00Z or +02:00"
        )
    moment = moment.astimezone(UTC)
    if moment <= (now or datetime.now(UTC)):
        raise ValueError(f"{value!r} is in the past; scheduled dates must lie in the future")
    return iso_z(moment)


def iso_z(moment: datetime) -> str:
    """The one spelling of a moment in what we send and say: UTC, to the second, with Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


UPLOAD_ORIGIN: ContextVar[str | None] = ContextVar("upload_origin", default=None)
"""The configured API's own origin (scheme://host[:port]), set by the server for each call:
media it hosts (under /media/) may be plain http on loopback (the sandbox); every other media
URL is https to a public host, since OpenTweet fetches it server-side."""

_MAX_URL = 2048


def check_media_url(url: str) -> str:
    """A media URL OpenTweet may fetch: https to a public host, or the API's own upload host."""
    if len(url) > _MAX_URL or any(c.isspace() or c == "\\" or ord(c) < 32 for c in url):
        raise ValueError(f"{url[:80]!r} is not a valid media URL; upload files with upload_media")
    shown = visible(url, newlines=False)
    if shown != url:  # a person checks the address: it may hide nothing (bidi, zero-width…)
        raise ValueError(f"{shown[:120]!r} holds hidden characters; media URLs may not")
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        raise ValueError(f"{url!r} is not a valid media URL") from None
    if scheme not in ("http", "https") or not host:
        raise ValueError(f"{url!r} is not a URL; upload files with upload_media first")
    if "@" in parts.netloc:
        raise ValueError(f"{url!r} carries credentials; media URLs may not")
    netloc = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    origin = f"{scheme}://{netloc}" + (f":{port}" if port not in (None, default) else "")
    if origin == UPLOAD_ORIGIN.get() and parts.path.startswith("/media/"):
        return url
    if scheme != "https":
        raise ValueError(f"{url!r} is not https; media URLs must be https (or from upload_media)")
    try:
        internal = internal_host(host)
    except ValueError as exc:
        raise ValueError(f"{url!r}: its host {exc}") from None
    if internal:
        raise ValueError(
            f"{url!r} points at a loopback, private or link-local address; media URLs must "
            "be public (upload files with upload_media)"
        )
    return url


def check_media_urls(urls: list[str]) -> list[str]:
    for url in urls:
        check_media_url(url)
    videos = sum(1 for url in urls if url.lower().split("?")[0].endswith(VIDEO_SUFFIXES))
    if videos > 1 or (videos and len(urls) > 1):
        raise ValueError("a tweet takes up to 4 images or 1 video, not both")
    if len(urls) > 4:
        raise ValueError(f"a tweet takes at most 4 images, got {len(urls)}")
    return urls


Platform = Literal["x", "bluesky", "linkedin"]


def platforms_field(chosen: Sequence[str] | None) -> dict[str, list[str]]:
    """The `platforms` every publishing request carries: the caller's choice, else X alone
    (a request naming none would follow the account's cross-post setting, docs/architecture.md)."""
    return {"platforms": list(chosen or ("x",))}


def check_platforms(value: list[Platform]) -> list[Platform]:
    """X and any other networks, each once, in the order given: this server posts to X, so a
    publish that leaves X out is not one it makes."""
    if "x" not in value:
        raise ValueError('platforms must include "x", e.g. ["x"] or ["x", "bluesky"]')
    return list(dict.fromkeys(value))


def check_idempotency_key(value: str) -> str:
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise ValueError("idempotency_key is 1–128 characters of letters, digits and . _ : -")
    return value


# tools/list is paid for in the model's context on every turn, so a parameter's description is
# a few words, given once here for a type every tool shares: not every host passes the server
# instructions (where ids, dates and media URLs are explained) to the model. The validators
# still check each value before any request.
PostId = Annotated[str, AfterValidator(check_object_id), Field(description="Post id")]
TweetText = Annotated[str, AfterValidator(check_tweet)]
FutureDate = Annotated[
    str, AfterValidator(parse_future_date), Field(description="ISO 8601, future")
]
# undescribed: it is also the item of ThreadMedia, where a description would be repeated
MediaList = Annotated[list[str], AfterValidator(check_media_urls)]
MediaUrls = Annotated[MediaList, Field(description="From upload_media")]
FirstTweet = Annotated[TweetText, Field(description="First tweet")]
ThreadTweets = Annotated[list[TweetText], Field(description="Later tweets")]
ThreadMedia = Annotated[list[MediaList], Field(description="Per thread tweet")]


def check_account_id(value: str) -> str:
    if not 1 <= len(value) <= 64:
        raise ValueError("x_account_id is 1–64 characters: an id from list_accounts")
    return value


def check_community_id(value: str) -> str:
    if not value.isascii() or not value.isdigit() or len(value) > 32:
        raise ValueError("community_id is the numeric id of an X community, e.g. 1234567890")
    return value


def check_approval_id(value: str) -> str:
    if not _APPROVAL_ID.fullmatch(value):
        raise ValueError("approval_id is the 16-character id a pending approval answered with")
    return value


def check_token_length(value: str) -> str:
    if len(value) > 512:
        raise ValueError("confirmation_token is too long to be one this server issued")
    return value


# Checked by validators that add nothing to the schema but their description.
AccountId = Annotated[
    str, AfterValidator(check_account_id), Field(description="From list_accounts")
]
CommunityId = Annotated[str, AfterValidator(check_community_id), Field(description="X community")]
ShareWithFollowers = Annotated[bool, Field(description="Also to followers")]
IsThread = Annotated[bool, Field(description="Implied by thread_tweets")]
AutoRetweet = Annotated[bool, Field(description="Retweet it later")]
RetweetOffset = Annotated[int, Field(ge=1, le=10080, description="Minutes after posting")]
Page = Annotated[int, Field(ge=1, description="Page number")]
Limit = Annotated[int, Field(ge=1, le=100, description="Per page")]
CooldownDays = Annotated[int, Field(ge=1, le=90, description="Days between repeats")]
IdempotencyKey = Annotated[
    str, AfterValidator(check_idempotency_key), Field(description="Retry key")
]
ApprovalId = Annotated[
    str, AfterValidator(check_approval_id), Field(description="Pending approval")
]
ConfirmationToken = Annotated[
    str, AfterValidator(check_token_length), Field(description="From the preview")
]
# What only the X provider posts (providers.LACKS hides them from OpenTweet's listing).
PollOptions = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=25)]],
    Field(min_length=2, max_length=4, description="2–4 choices"),
]
PollMinutes = Annotated[int, Field(ge=5, le=10080, description="Default 1440")]
QuoteTweetId = Annotated[str, Field(pattern="^[0-9]{1,19}$", description="Tweet to quote")]
ReplySettings = Annotated[
    Literal["following", "mentionedUsers", "subscribers", "verified"],
    Field(description="Who may reply"),
]


def check_alt_text(value: str) -> str:
    """Alt text is read aloud and shown as is: no control characters that could hide words."""
    if any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 for c in value):
        raise ValueError("alt_text holds control characters; give plain text")
    if visible(value) != value:
        raise ValueError("alt_text holds hidden characters (bidi or zero-width); give plain text")
    return value


AltText = Annotated[
    str,
    Field(min_length=1, max_length=1000, description="For screen readers"),
    AfterValidator(check_alt_text),
]
# The networks a publish goes to: sent as ["x"] when not given, since a request that names none
# follows the account's cross-post setting and may reach other networks too.
Platforms = Annotated[
    list[Platform], AfterValidator(check_platforms), Field(description="Default x only")
]


def check_thread(
    is_thread: bool | None,
    thread_tweets: Sequence[str] | None,
    thread_media: Sequence[Sequence[str]] | None,
) -> None:
    """A thread needs its tweets; per-tweet media must line up with them one to one."""
    tweets = list(thread_tweets or [])
    if len(tweets) > MAX_THREAD_TWEETS:
        raise InvalidArguments(
            f"a thread has at most {MAX_THREAD_TWEETS + 1} tweets; got {len(tweets) + 1}"
        )
    if is_thread and not tweets:
        raise InvalidArguments("is_thread is true but thread_tweets is empty")
    if tweets and is_thread is False:
        raise InvalidArguments("thread_tweets given but is_thread is false")
    if thread_media is not None:
        if not tweets:
            raise InvalidArguments("thread_media needs thread_tweets")
        if len(thread_media) != len(tweets):
            raise InvalidArguments(
                f"thread_media has {len(thread_media)} lists but thread_tweets has "
                f"{len(tweets)} tweets; give one list per thread tweet ([] for none)"
            )


def check_no_duplicates(texts: Sequence[str], what: str = "posts") -> None:
    seen: dict[str, int] = {}
    for index, text in enumerate(texts):
        key = " ".join(text.split()).casefold()
        if key in seen:
            raise InvalidArguments(
                f"{what}[{index}] repeats the text of {what}[{seen[key]}]; "
                "X rejects duplicate tweets"
            )
        seen[key] = index


MAX_ITEMS = 100  # the longest list any tool takes is 50 posts; a thread is 25 tweets
MAX_STRING = 100_000  # characters in one string (a 25,000-character tweet, links included)
MAX_TEXT = 400_000  # characters in all the strings of one call (50 threads of 25 full tweets)
UNBOUNDED = frozenset({"data_base64"})  # a file, bounded by its own size check


def argument_problem(arguments: Any) -> str | None:
    """What no call may carry, found in one cheap pass before validation: a list longer than
    MAX_ITEMS (refused before its items are read), a string longer than MAX_STRING, more than
    MAX_TEXT characters in all, or a lone surrogate (JSON's "\\ud800" escapes decode to one;
    such text cannot be encoded as UTF-8, so no request could carry it). None: nothing."""
    budget = [MAX_TEXT]

    def walk(value: Any, where: str) -> str | None:
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                return (
                    f"{where} is {len(value):,} characters; one value holds {MAX_STRING:,} at most"
                )
            budget[0] -= len(value)
            if budget[0] < 0:
                return (
                    f"the arguments hold more than {MAX_TEXT:,} characters of text; split the "
                    "work into several calls"
                )
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return (
                        f"{where} holds a lone surrogate (\\ud800–\\udfff), which is not valid "
                        "Unicode text"
                    )
            return None
        if isinstance(value, dict):
            for key, item in value.items():
                problem = walk(key, where) or (
                    None if key in UNBOUNDED else walk(item, f"{where}.{key}")
                )
                if problem:
                    return problem
        elif isinstance(value, list):
            if len(value) > MAX_ITEMS:
                return f"{where} has {len(value):,} items; no argument takes more than {MAX_ITEMS}"
            for index, item in enumerate(value):
                problem = walk(item, f"{where}[{index}]")
                if problem:
                    return problem
        return None

    return walk(arguments, "arguments")


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    """The request body: fields the caller did not give are not sent as changes."""
    return {key: value for key, value in values.items() if value is not None}
