"""The preview a person reads before approving: the publication, readable (docs/approvals.md).

Everything the digest covers is shown: every post, every tweet's full text (never cut),
its media, the real @handle it goes out as, community, auto-retweet, the time in UTC. Hidden
characters are shown as ⟨U+XXXX⟩ and every line of tweet text starts with "│", so no text
can pass for a line of the preview itself. Warnings are part of it. The same data comes back
structured for clients that draw their own approval card.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opentweet_mcp.guard.publication import EVERGREEN, NOW, Outgoing, Publication, Removal, Tweet
from opentweet_mcp.long_posts import LONG, STANDARD
from opentweet_mcp.text.visible import visible
from opentweet_mcp.text.weighted import ParsedTweet, parse_tweet

SOON = timedelta(minutes=10)
NETWORK_NAMES = {"x": "X", "bluesky": "Bluesky", "linkedin": "LinkedIn"}
MEDIA_WARNING = (
    "media are fetched from their addresses when the post goes out: what an address serves "
    "then may differ from what it shows now, so approve only media you uploaded or trust"
)


@dataclass(frozen=True)
class Preview:
    action: str
    lines: list[str]  # the readable preview, made safe to show
    data: dict[str, Any]  # the same, structured


class Handles:
    """X account ids → "@handle", with the primary account's for posts that name none; and
    what the provider says of a media URL (the X provider's files: type, size, alt text)."""

    def __init__(
        self,
        handles: Mapping[str, str],
        primary: str | None,
        media: Callable[[str], str | None] = lambda url: None,
    ) -> None:
        self._handles = handles
        self._primary = primary
        self.media = media

    def __call__(self, account: str | None) -> str:
        if account is None:
            return self._primary or "the primary account"
        return self._handles.get(account) or f"account {account}"


def _when(post: Outgoing) -> str:
    if post.when is None:
        return "stays a draft (not scheduled)"
    if post.when == NOW:
        said = "goes out on X now"
    elif post.when == EVERGREEN:
        every = f" at most every {post.cooldown_days} days" if post.cooldown_days else ""
        said = f"in the evergreen queue: published again and again{every}"
        if post.was != EVERGREEN:
            said = f"joins the evergreen queue: published again and again{every}"
    else:
        said = f"scheduled for {_time(post.when)}"
    if post.was not in (None, post.when):
        before = "the evergreen queue" if post.was == EVERGREEN else _time(post.was)
        said += f" (until now: {before})"
    return said


def _limit(length: int) -> int:
    """The limit a tweet was held to: past 280 only on an account allowed long posts (the
    call was refused otherwise before any preview)."""
    return STANDARD if length <= STANDARD else LONG


def _networks(platforms: tuple[str, ...]) -> str:
    if not platforms:
        return "the account's cross-post setting (X, and maybe others)"
    if platforms == ("x",):
        return "X only"
    return _field(", ".join(NETWORK_NAMES.get(name, name) for name in platforms))


def _field(value: object) -> str:
    """A value from a request or from OpenTweet, on one line with nothing hidden: only tweet
    text spans lines in a preview, each behind its "│"."""
    return visible(str(value), newlines=False)


def _time(iso: str) -> str:
    return _field(f"{iso[:10]} {iso[11:19]} UTC" if len(iso) >= 19 else iso)


def _media(url: str, handles: Handles) -> str:
    """A media URL as a person reads it: with what the provider knows of the file."""
    note = handles.media(url)
    return f"{_field(url)} ({_field(note)})" if note else _field(url)


def _tweet_lines(
    tweets: tuple[Tweet, ...],
    parses: list[ParsedTweet],
    shown: list[str],
    warnings: list[str],
    label: str,
    handles: Handles,
) -> list[str]:
    lines: list[str] = []
    for number, (tweet, parsed, text) in enumerate(zip(tweets, parses, shown, strict=True), 1):
        where = f"tweet {number} of {label}" if len(tweets) > 1 else label
        lines.append(
            f"  Tweet {number} of {len(tweets)} "
            f"({parsed.weighted_length}/{_limit(parsed.weighted_length)}):"
        )
        lines += [f"    │ {line}" for line in text.split("\n")]
        for url in tweet.media:
            lines.append(f"    Media: {_media(url, handles)}")
        remote = [url for url in tweet.media if handles.media(url) is None]
        if remote and MEDIA_WARNING not in warnings:  # fetched when it goes out, not kept
            warnings.append(MEDIA_WARNING)
        links = len(parsed.url_spans)
        if links:
            plural = "s" if links > 1 else ""
            warnings.append(f"{where} has {links} link{plural}, each counted as 23 characters")
        if text != tweet.text:
            warnings.append(f"{where} holds hidden characters, shown above as ⟨U+…⟩")
    return lines


def _tweet_data(
    tweets: tuple[Tweet, ...], parsed: list[ParsedTweet], shown: list[str], handles: Handles
) -> list[dict[str, Any]]:
    """Each tweet's text, weighted length and media (left out when it has none) with what the
    provider says of each file, and the text with its hidden characters shown, when it has any
    (for cards to draw as is)."""
    data = []
    for tweet, each, text in zip(tweets, parsed, shown, strict=True):
        item: dict[str, Any] = {"text": tweet.text, "length": each.weighted_length}
        if tweet.media:
            item["media"] = [_field(url) for url in tweet.media]
            notes = [handles.media(url) for url in tweet.media]
            if any(notes):
                item["media_notes"] = [_field(note) if note else "" for note in notes]
        if text != tweet.text:
            item["shown"] = text
        data.append(item)
    return data


def _post(
    post: Outgoing, handles: Handles, now: datetime, warnings: list[str]
) -> tuple[list[str], dict[str, Any]]:
    """The lines and the data of one post that goes out."""
    label = f"post {post.post_id}" if post.post_id else "the new post"
    handle = handles(post.account)
    parsed = [parse_tweet(tweet.text) for tweet in post.tweets]
    shown = [visible(tweet.text) for tweet in post.tweets]
    lines = [f"{label[0].upper()}{label[1:]} — as {_field(handle)} — {_when(post)}"]
    if post.moved_from is not None:
        moved = f"from {_field(handles(post.moved_from))} to {_field(handle)}"
        lines.append(f"  Moves {moved}")
        warnings.append(f"{label} moves {moved}")
    lines += _tweet_lines(post.tweets, parsed, shown, warnings, label, handles)
    if post.when is not None:
        lines.append(f"  Networks: {_networks(post.platforms)}")
        others = [name for name in post.platforms if name != "x"]
        if others:
            warnings.append(f"{label} also goes out on {_field(', '.join(others))}")
        elif not post.platforms:
            warnings.append(
                f"{label} names no networks: OpenTweet sends it wherever the account "
                "cross-posts, which may be more than X"
            )
    if post.community_id:
        shared = ", also shared with followers" if post.share_with_followers else ""
        lines.append(f"  Posted to X community {_field(post.community_id)}{shared}")
    if post.poll:
        lines.append(
            f"  Poll: {' / '.join(_field(o) for o in post.poll)}, open {post.poll_minutes} minutes"
        )
    if post.quote_tweet_id:
        lines.append(f"  Quotes tweet {_field(post.quote_tweet_id)}")
    if post.reply_settings:
        lines.append(f"  Who may reply: {_field(post.reply_settings)}")
    if post.auto_retweet:
        delay = (
            f"{post.auto_retweet_minutes} minutes"
            if post.auto_retweet_minutes
            else "OpenTweet's default delay"
        )
        lines.append(f"  Auto-retweet {delay} after posting")
    if post.when == NOW:
        warnings.append(f"{label} is published the moment this is approved; it cannot be undone")
    elif post.when not in (None, EVERGREEN):
        moment = datetime.fromisoformat(post.when.replace("Z", "+00:00"))
        if moment - now <= SOON:
            warnings.append(f"{label} goes out within the next 10 minutes")
    data = {
        "id": post.post_id,
        "account": _field(handle),
        "account_id": post.account,
        "when": post.when,
        "was": post.was,
        "moved_from": _field(handles(post.moved_from)) if post.moved_from else None,
        "tweets": _tweet_data(post.tweets, parsed, shown, handles),
        "community_id": post.community_id,
        "share_with_followers": post.share_with_followers,
        "auto_retweet": post.auto_retweet,
        "auto_retweet_minutes": post.auto_retweet_minutes,
        "cooldown_days": post.cooldown_days,
        "platforms": list(post.platforms) or None,
        "poll": list(post.poll) or None,
        "poll_minutes": post.poll_minutes,
        "quote_tweet_id": post.quote_tweet_id,
        "reply_settings": post.reply_settings,
    }
    return lines, _compact(data)


def _removal(
    removal: Removal, handles: Handles, warnings: list[str]
) -> tuple[list[str], dict[str, Any]]:
    """The lines and the data of one post that is deleted."""
    label = f"post {removal.post_id}"
    handle = handles(removal.account)
    # on X: published, or part of a thread, or a tweet that may be (--provider x)
    on_x = removal.status == "posted" or bool(removal.url or removal.maybe_on_x)
    kept = removal.kept_by
    if on_x and removal.from_x:
        where = f"deleted from {kept} and from X"
        warnings.append(f"{label} is live on X: the tweet is deleted from X; this cannot be undone")
    elif on_x:
        where = f"deleted from {kept} only; the tweet stays live on X"
    else:
        where = f"deleted from {kept} (status {_field(removal.status)}; never published)"
    lines = [f"Post {removal.post_id} — as {_field(handle)} — {where}"]
    if removal.url:
        lines.append(f"  On X: {_field(removal.url)}")
    if removal.maybe_on_x:
        lines.append(
            f"  May be on X: {_field(removal.maybe_on_x)}; it is looked for there and, "
            + ("if found, deleted too" if removal.from_x else "if found, left there")
        )
    parsed = [parse_tweet(tweet.text) for tweet in removal.tweets]
    shown = [visible(tweet.text) for tweet in removal.tweets]
    lines += _tweet_lines(removal.tweets, parsed, shown, [], label, handles)
    data = {
        "id": removal.post_id,
        "account": _field(handle),
        "status": _field(removal.status),
        "url": _field(removal.url) if removal.url else None,
        "from_x": removal.from_x,
        "maybe_on_x": removal.maybe_on_x,
        "kept_by": removal.kept_by,
        "tweets": _tweet_data(removal.tweets, parsed, shown, handles),
    }
    return lines, _compact(data)


def render(
    publication: Publication, handles: Handles, now: datetime, named: str | None = None
) -> Preview:
    """The preview of `publication` as of `now`; `named` is the account the call named."""
    warnings: list[str] = []
    lines = [f"Action: {_field(publication.action)}"]
    posts: list[dict[str, Any]] = []
    for post in publication.posts:
        post_lines, post_data = _post(post, handles, now, warnings)
        lines += post_lines
        posts.append(post_data)
        if named is not None and post.account not in (None, named):
            warnings.append(
                f"post {post.post_id} goes out as {_field(handles(post.account))}, its own "
                f"account, not as {_field(handles(named))} (the account named in the call)"
            )
    removals: list[dict[str, Any]] = []
    for removal in publication.removals:
        removal_lines, removal_data = _removal(removal, handles, warnings)
        lines += removal_lines
        removals.append(removal_data)
    if warnings:
        lines.append("Warnings:")
        lines += [f"  - {warning}" for warning in warnings]
    first = (publication.posts or publication.removals or (None,))[0]
    data: dict[str, Any] = {
        "action": _field(publication.action),
        "account": _field(handles(first.account) if first is not None else handles(None)),
        "posts": posts,
        "removals": removals,
        "warnings": warnings,
        "tweets_per_day": publication.tweets_per_day(now),
        "max_length": _limit(
            max((tweet["length"] for post in posts for tweet in post["tweets"]), default=0)
        ),
        "ref": publication.digest[:12],
    }
    return Preview(publication.action, lines, data)


def _compact(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if value not in (None, False)}
