"""Who a tool call acts for: the upstream client of its API key, and the digest that binds
approvals, budgets and idempotency results to that key at that API root."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from opentweet_mcp.api.client import OpenTweetClient


def key_digest(api_key: str, upstream: str) -> str:
    """sha256 of the upstream (its API root) and the key: one user at one deployment, never
    the key itself. The root is part of it so that state kept for staging is never found
    from production."""
    return hashlib.sha256(f"{upstream}\n{api_key}".encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """The key a call acts with, and its client; approvals and budgets bind to `key_digest`."""

    client: OpenTweetClient
    key_digest: str
    default_account: str | None

    def account(self, x_account_id: str | None) -> str | None:
        return x_account_id or self.default_account
