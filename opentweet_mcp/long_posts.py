"""Which length limit a tweet has: 280 weighted characters, or 25,000 on an account known to
allow long posts (X Premium) — by the setting (`OPENTWEET_LONG_POSTS`), or because OpenTweet
reports it for the account in `/accounts` or `/me` (docs/architecture.md).

Every place that judges a length asks here, so validation, `check_post`, `split_thread` and
the preview agree, and each says which limit it applied and why.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

STANDARD = 280
LONG = 25_000
FRESH_FOR = 300.0  # seconds what OpenTweet said about the accounts is trusted

# How OpenTweet (or a future version of it) may say that an account has long posts: the
# public guide names no field, so every likely spelling is read, and none means "not known".
_FLAGS = ("long_posts", "x_premium", "is_premium", "premium", "is_blue_verified")
_MAXIMA = ("max_post_length", "max_tweet_length", "max_characters", "character_limit")
_KINDS = ("x_subscription", "subscription_type", "verified_type")
_PREMIUM_KINDS = {"premium", "premium_plus", "premiumplus", "blue"}


ReadAccounts = Callable[[], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class TweetLimit:
    chars: int
    why: str

    def __str__(self) -> str:
        return f"{self.chars:,} ({self.why})"


SET_ON = TweetLimit(LONG, "long posts on: OPENTWEET_LONG_POSTS / --long-posts")
UNKNOWN = TweetLimit(
    STANDARD,
    "the standard X limit; whether this account has long posts (X Premium, up to 25,000) is "
    "not known yet: list_accounts tells, or set OPENTWEET_LONG_POSTS",
)


def reports_long_posts(account: Mapping[str, Any]) -> bool | None:
    """Whether an account object says it may post long tweets; None when it does not say."""
    for key in _FLAGS:
        value = account.get(key)
        if isinstance(value, bool):
            return value
    for key in _MAXIMA:
        value = account.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value > STANDARD
    for key in _KINDS:
        value = account.get(key)
        if isinstance(value, str):
            return value.strip().lower() in _PREMIUM_KINDS
    return None


class AccountFacts:
    """What OpenTweet last said about one key's X accounts (handles, long posts), learnt from
    any `/me` or `/accounts` answer and trusted for `FRESH_FOR` seconds."""

    def __init__(self) -> None:
        self._accounts: list[Mapping[str, Any]] | None = None
        self._learnt = 0.0

    def learn(self, data: Mapping[str, Any]) -> None:
        accounts = data.get("accounts")
        if not isinstance(accounts, list):
            accounts = data.get("x_accounts")
        if isinstance(accounts, list):
            self._accounts = [a for a in accounts if isinstance(a, Mapping)]
            self._learnt = time.monotonic()

    def _fresh(self) -> list[Mapping[str, Any]] | None:
        if self._accounts is None or time.monotonic() - self._learnt > FRESH_FOR:
            return None
        return self._accounts

    def known_limit(self, account_id: str | None, setting: bool) -> TweetLimit:
        """The limit from the setting and what is known now, without asking OpenTweet."""
        if setting:
            return SET_ON
        accounts = self._fresh()
        if accounts is None:
            return UNKNOWN
        account = _pick(accounts, account_id)
        if account is None:
            return UNKNOWN
        handle = str(account.get("x_handle") or account.get("id") or "the account")
        if reports_long_posts(account):
            return TweetLimit(LONG, f"OpenTweet reports long posts (X Premium) for {handle}")
        return TweetLimit(STANDARD, f"OpenTweet reports no long posts for {handle}")

    async def accounts(self, read: ReadAccounts) -> list[Mapping[str, Any]]:
        """The accounts, read from OpenTweet (`read`) when nothing fresh is known."""
        fresh = self._fresh()
        if fresh is None:
            self.learn(await read())
            fresh = self._accounts or []
        return fresh

    async def limit(self, account_id: str | None, setting: bool, read: ReadAccounts) -> TweetLimit:
        """The limit for an account, reading `/accounts` first when nothing fresh is known."""
        if not setting:
            await self.accounts(read)
        return self.known_limit(account_id, setting)


def _pick(accounts: list[Mapping[str, Any]], account_id: str | None) -> Mapping[str, Any] | None:
    if account_id:
        return next((a for a in accounts if a.get("id") == account_id), None)
    primary = next((a for a in accounts if a.get("is_primary") is True), None)
    return primary or (accounts[0] if accounts else None)
