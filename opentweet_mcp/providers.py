"""Where posts go: through OpenTweet (its REST API), or straight to X (the X API v2, with drafts
and the schedule kept locally, `xapi/`).

The tools speak one catalog of upstream operations (`api/operations.py`), and each provider
serves all of it that it can through one method, `send`: `OpenTweetClient` over HTTP, and
`XUpstream` from the local store and the X API. So nothing in a tool asks which provider it
runs on; what a provider cannot serve at all is a whole toolset, left unregistered, and
`opentweet-mcp tools` says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from opentweet_mcp.api.operations import ApiRequest

if TYPE_CHECKING:
    from opentweet_mcp.config import Settings


class Upstream(Protocol):
    """What a tool calls: one operation in, the parsed JSON answer out (or an OpenTweetError).
    `name` says where its posts are kept ("deleted from OpenTweet")."""

    name: str

    def media_note(self, url: str) -> str | None:
        """What a preview should say of a media URL beside the URL (None: nothing known)."""
        ...

    async def send(self, request: ApiRequest) -> dict[str, Any]: ...


# toolset → why the provider has no such thing
UNSERVED: dict[str, dict[str, str]] = {
    "opentweet": {},
    "x": {
        "evergreen": "the evergreen queue is OpenTweet's; X has none",
        "inspiration": "search and AI rewriting are OpenTweet's; the X API tiers this server "
        "uses do not search",
        "analytics": "the analytics are OpenTweet's; X's own need a paid API tier",
    },
}

# parameters a provider has no use for: left out of its tools/list, refused if sent
LACKS: dict[str, frozenset[str]] = {
    "opentweet": frozenset(
        {"alt_text", "poll_options", "poll_minutes", "quote_tweet_id", "reply_settings"}
    ),
    "x": frozenset(
        {
            "community_id",
            "share_with_followers",
            "auto_retweet_enabled",
            "auto_retweet_offset_minutes",
        }
    ),
}
WHY_LACKS = {
    "opentweet": "OpenTweet's API has no such field (--provider x posts it)",
    "x": "an OpenTweet feature, which --provider x does not have",
}

# how the server's instructions name where posts go
THROUGH = {
    "opentweet": "through OpenTweet",
    "x": "directly through the X API (drafts and scheduled posts are kept on this computer)",
}


def media_origin(settings: Settings) -> str:
    """Where the provider's own uploads live (`upload_media`'s URLs): OpenTweet's API host, or
    the X provider's local files."""
    if settings.provider == "x":
        from opentweet_mcp.xapi.media import ORIGIN

        return ORIGIN
    return urlsplit(settings.base_url)._replace(path="").geturl()
