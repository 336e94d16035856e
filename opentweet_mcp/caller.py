"""Who a tool call acts for: the upstream client of its API key, and the digest that binds
approvals, budgets and idempotency results to that key at that API root."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentweet_mcp.api import operations as ops
from opentweet_mcp.long_posts import AccountFacts, TweetLimit
from opentweet_mcp.providers import Upstream


def key_digest(api_key: str, upstream: str) -> str:
    """sha256 of the upstream (its API root) and the key: one user at one deployment, never
    the key itself. The root is part of it so that state kept for staging is never found
    from production."""
    return hashlib.sha256(f"{upstream}\n{api_key}".encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """The key a call acts with, and its upstream (the provider's, `providers.py`); approvals
    and budgets bind to `key_digest`. `facts` is what the upstream said about the key's
    accounts; `long_posts` the setting."""

    client: Upstream
    key_digest: str
    default_account: str | None
    facts: AccountFacts = field(default_factory=AccountFacts)
    long_posts: bool = False

    def account(self, x_account_id: str | None) -> str | None:
        return x_account_id or self.default_account

    async def _list_accounts(self) -> dict[str, Any]:
        return await self.client.send(ops.list_accounts())

    async def accounts(self) -> list[Mapping[str, Any]]:
        """The key's X accounts as OpenTweet last listed them (read again every few minutes)."""
        return await self.facts.accounts(self._list_accounts)

    async def tweet_limit(self, account: str | None) -> TweetLimit:
        """The length limit of `account`'s tweets, asking OpenTweet when nothing is known."""
        return await self.facts.limit(account, self.long_posts, self._list_accounts)

    def known_tweet_limit(self, account: str | None) -> TweetLimit:
        """The same without a request: from the setting and what is already known."""
        return self.facts.known_limit(account, self.long_posts)
