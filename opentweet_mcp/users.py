"""Who a request acts for, and what is kept per user (README, "Hosting over HTTP").

A server is single-user or multi-user, never both. With `OPENTWEET_API_KEY` set (and always on
stdio) every request acts with that key, and a request that brings another key in
`X-OpenTweet-Key` is refused. Without it every request must bring its own key. No request ever
acts with another user's key or the operator's. With `--provider x` there is no key: every
request acts for the one person signed in to X on this computer (`opentweet-mcp login x`).

What is kept per key (its upstream client with its rate limiter, and what OpenTweet said about
its accounts) lives in a bounded cache: least recently used first out, idle entries expire, so
memory stays flat however many distinct keys arrive.
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from opentweet_mcp.api.errors import OpenTweetError
from opentweet_mcp.config import Settings

KEY_HEADER = "x-opentweet-key"
SIGNED_IN_TO_X = "x-provider"  # who every request acts for with --provider x
MAX_KEYS = 1024  # users whose state is kept at once
IDLE_SECONDS = 900.0  # a user's state is dropped after this long without a request


class NoApiKey(OpenTweetError):
    """The request has no OpenTweet key to act with."""


class ForeignApiKey(OpenTweetError):
    """A single-user server was sent another key than its own."""


def multi_user(settings: Settings) -> bool:
    """Every request brings its own key: HTTP without a configured key, through OpenTweet."""
    return settings.transport != "stdio" and not settings.api_key and settings.provider != "x"


def api_key_for(settings: Settings, headers: Mapping[str, str] | None) -> str:
    """The key a request acts with, by the rule above; refused requests raise."""
    if settings.provider == "x":
        return SIGNED_IN_TO_X
    if settings.transport == "stdio" or headers is None:
        given = None
    else:
        given = (headers.get(KEY_HEADER) or "").strip() or None
    own = settings.api_key
    if own:
        if given is not None and not hmac.compare_digest(given.encode(), own.encode()):
            raise ForeignApiKey(
                "this server acts for one OpenTweet account (its OPENTWEET_API_KEY) and does not "
                "take another key in X-OpenTweet-Key",
                hint="Leave X-OpenTweet-Key out, or use a deployment without a server key.",
            )
        return own
    if given is None:
        raise NoApiKey(
            "no OpenTweet API key: this server serves many users, so every request must carry "
            "its own key in the X-OpenTweet-Key header",
            hint="Add X-OpenTweet-Key: <your OpenTweet API key> to the client's headers.",
        )
    return given


T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    value: T
    used: float


@dataclass
class PerKey(Generic[T]):
    """A bounded map from API key to state, least recently used first out, idle entries
    dropped. Nothing needs closing when an entry goes: the connection pool is shared."""

    make: Callable[[str], T]
    max_keys: int = MAX_KEYS
    idle: float = IDLE_SECONDS
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[str, _Entry[T]] = field(default_factory=OrderedDict)

    def get(self, api_key: str) -> T:
        now = self.clock()
        while self._entries:  # the oldest first: stop at the first one still in use
            oldest = next(iter(self._entries.values()))
            if now - oldest.used <= self.idle:
                break
            self._entries.popitem(last=False)
        entry = self._entries.get(api_key)
        if entry is None:
            entry = self._entries[api_key] = _Entry(self.make(api_key), now)
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)
        else:
            entry.used = now
            self._entries.move_to_end(api_key)
        return entry.value

    def __len__(self) -> int:
        return len(self._entries)

    def values(self) -> list[T]:
        return [entry.value for entry in self._entries.values()]

    def clear(self) -> None:
        self._entries.clear()
