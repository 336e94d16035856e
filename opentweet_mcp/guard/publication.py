"""What a gated call makes go out on X (docs/approvals.md): the publication a person approves.

It is computed from the request and from the live state the call reads (a post's own
account, text, thread and media), never from what the agent says. Its digest is what an
approval binds to, and the preview is rendered from it, so the person sees exactly what the
digest covers: account, every tweet's exact text, media per tweet, community and sharing,
auto-retweet, when, and the networks it goes to.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opentweet_mcp.validate import iso_z

NOW = "now"
EVERGREEN = "evergreen"


@dataclass(frozen=True)
class Tweet:
    text: str
    media: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outgoing:
    """One post as it will go out."""

    post_id: str | None  # None: a post this call creates
    account: str | None  # the X account id; None: the primary account
    tweets: tuple[Tweet, ...]
    when: str | None  # NOW, a UTC time (YYYY-MM-DDTHH:MM:SSZ), EVERGREEN, or None: a draft
    was: str | None = None  # when it was armed for before this call (a time or EVERGREEN)
    moved_from: str | None = None  # the account it belonged to, when this call moves it
    community_id: str | None = None
    share_with_followers: bool = False
    auto_retweet: bool = False
    auto_retweet_minutes: int | None = None
    cooldown_days: int | None = None  # evergreen: the least number of days between repeats
    # the networks it goes to; () when the request names none: the account's cross-post setting
    platforms: tuple[str, ...] = ()
    # what only the X provider posts with the first tweet
    poll: tuple[str, ...] = ()
    poll_minutes: int | None = None
    quote_tweet_id: str | None = None
    reply_settings: str | None = None

    @property
    def armed(self) -> bool:
        return self.when is not None


@dataclass(frozen=True)
class Removal:
    """One post a call deletes, as it stands when the call reads it."""

    post_id: str
    account: str | None
    status: str | None
    url: str | None
    tweets: tuple[Tweet, ...]
    from_x: bool  # the published tweet is deleted from X as well
    kept_by: str = "OpenTweet"  # where the post itself is deleted from (the provider's store)
    maybe_on_x: str | None = None  # a tweet X's answer did not say it took (--provider x)


@dataclass(frozen=True)
class Publication:
    """Everything one gated call makes go out, or takes down."""

    action: str  # a sentence for the person; not part of the digest (the tool is bound)
    posts: tuple[Outgoing, ...] = ()
    removals: tuple[Removal, ...] = ()

    @functools.cached_property
    def digest(self) -> str:
        """sha256 of every field of every post and removal (not the action sentence)."""
        text = json.dumps(
            {"posts": self.posts, "removals": self.removals},
            default=_fields,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def tweets_per_day(self, now: datetime) -> dict[str, int]:
        """Tweets this call arms, per UTC day they go out: each thread tweet counts. Posting
        now and evergreen (the queue may post it today) count against today. A post that was
        armed for the same day already (an edit that keeps its time) was counted then."""

        def day(when: str) -> str:
            return now.strftime("%Y-%m-%d") if when in (NOW, EVERGREEN) else when[:10]

        def counted_already(post: Outgoing) -> bool:
            if post.was is None or post.when is None:
                return False
            if EVERGREEN in (post.was, post.when):
                return post.was == post.when
            return day(post.was) == day(post.when)

        counts: dict[str, int] = {}
        for post in self.posts:
            if post.when is not None and not counted_already(post):
                counts[day(post.when)] = counts.get(day(post.when), 0) + len(post.tweets)
        return counts


def _fields(value: Any) -> dict[str, Any]:
    """A dataclass as JSON sees it, field by field (its tuples become lists)."""
    return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}


# --- reading posts and request bodies ------------------------------------------------------


def utc(value: str) -> str:
    """An ISO 8601 time as `YYYY-MM-DDTHH:MM:SSZ`; what cannot be read is kept as given."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso_z(moment)


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return ()
    return tuple(str(item) for item in value)


def tweets_of(post: Mapping[str, Any]) -> tuple[Tweet, ...]:
    """The tweets of a post or of a create body: the text and its media, then each thread
    tweet with its own media list."""
    texts = [str(post.get("text") or ""), *_strings(post.get("thread_tweets"))]
    per_tweet = post.get("thread_media")
    media = [_strings(post.get("media_urls"))]
    media += [
        _strings(per_tweet[i]) if isinstance(per_tweet, list) and i < len(per_tweet) else ()
        for i in range(len(texts) - 1)
    ]
    return tuple(Tweet(text, urls) for text, urls in zip(texts, media, strict=True))


def armed_at(post: Mapping[str, Any]) -> str | None:
    """When something will publish a post as OpenTweet holds it: EVERGREEN for a source of the
    queue, its time if scheduled, else None (a draft, or already on X)."""
    if post.get("isEvergreen") is True or post.get("is_evergreen") is True:
        return EVERGREEN
    if post.get("status") == "scheduled" and post.get("scheduled_date"):
        return utc(str(post["scheduled_date"]))
    return None


def outgoing(
    post: Mapping[str, Any],
    when: str | None,
    *,
    post_id: str | None = None,
    was: str | None = None,
    moved_from: str | None = None,
    cooldown_days: int | None = None,
) -> Outgoing:
    """A post (as OpenTweet holds it, or as a create body describes it) going out `when`."""
    offset = post.get("auto_retweet_offset_minutes")
    account = post.get("x_account_id")
    given = post.get("poll")
    poll: Mapping[str, Any] = given if isinstance(given, Mapping) else {}  # the X provider's
    community = post.get("community_id")
    return Outgoing(
        post_id=post_id,
        account=str(account) if account else None,
        tweets=tweets_of(post),
        when=when,
        was=was,
        moved_from=moved_from,
        community_id=str(community) if community else None,
        share_with_followers=post.get("share_with_followers") is True,
        auto_retweet=post.get("auto_retweet_enabled") is True,
        auto_retweet_minutes=(
            offset if isinstance(offset, int) and post.get("auto_retweet_enabled") else None
        ),
        cooldown_days=cooldown_days,
        platforms=_strings(post.get("platforms")),
        poll=_strings(poll.get("options")),
        poll_minutes=poll.get("duration_minutes") if poll else None,
        quote_tweet_id=str(post["quote_tweet_id"]) if post.get("quote_tweet_id") else None,
        reply_settings=str(post["reply_settings"]) if post.get("reply_settings") else None,
    )
