"""What every tool call reaches through its context: settings, the caller (its key's upstream
client), and the guard. Built once in the server's lifespan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import httpx2
from mcp.server.mcpserver import Context

from opentweet_mcp.api.client import OpenTweetClient, shared_http
from opentweet_mcp.api.retry import RetryPolicy, SharedRateLimiter
from opentweet_mcp.caller import Caller, key_digest
from opentweet_mcp.config import Settings, api_root, is_wildcard
from opentweet_mcp.guard.confirm import Guard
from opentweet_mcp.long_posts import AccountFacts
from opentweet_mcp.users import PerKey, api_key_for

if TYPE_CHECKING:
    from opentweet_mcp.approvals.page import PageListener
    from opentweet_mcp.xapi.upstream import XUpstream


@dataclass
class Services:
    """What every call reaches: the settings, the gate, each user's caller (kept per key in a
    bounded cache, over one shared connection pool), and the approvals page (started on
    first need when the server has no HTTP app of its own)."""

    settings: Settings
    guard: Guard
    retry: RetryPolicy | None = None  # the clients' retry policy (tests make it fast)
    _pages: PageListener | None = None
    _http: httpx2.AsyncClient | None = None
    _callers: PerKey[Caller] = field(init=False)
    _x: XUpstream | None = None

    def __post_init__(self) -> None:
        self.guard.page = self.approval_page
        self._callers = PerKey(self._new_caller)

    async def approval_page(self) -> str | None:
        """Where people answer pending approvals: the HTTP app's own routes, or a loopback
        listener of this process (stdio)."""
        settings = self.settings
        if settings.transport != "stdio":
            host = "127.0.0.1" if is_wildcard(settings.host) else settings.host
            netloc = f"[{host}]" if ":" in host else host
            # one spelling (no :80), as the browser's Origin header will give it
            return settings.public_url or api_root(f"http://{netloc}:{settings.port}")
        if self._pages is None:
            from opentweet_mcp.approvals.page import PageListener

            self._pages = PageListener(lambda: self.guard)
        return await self._pages.url()

    def caller(self, ctx: Context[Any, Any] | None) -> Caller:
        """The caller of this request: the server's key, or the request's own (users.py)."""
        headers = ctx.headers if ctx is not None else None
        return self._callers.get(api_key_for(self.settings, headers))

    def _new_caller(self, api_key: str) -> Caller:
        settings = self.settings
        digest = key_digest(api_key, settings.upstream)
        if settings.provider == "x":  # the one seam: which upstream serves the operations
            from opentweet_mcp.xapi.upstream import open_x_upstream

            if self._x is None:  # one person's posts: opened once, whatever the key cache does
                self._http = httpx2.AsyncClient(timeout=settings.timeout)
                self._x = open_x_upstream(settings, self._http)
            return Caller(self._x, digest, None, AccountFacts(), settings.long_posts)
        if self._http is None:
            self._http = shared_http(settings.base_url, timeout=settings.timeout)
        client = OpenTweetClient(
            api_key,
            base_url=settings.base_url,
            timeout=settings.timeout,
            rate_per_minute=settings.rate_per_minute,
            # processes serving one key share its rate through the ledger (Redis, or the file
            # the workers share); one process keeps its own bucket
            limiter=(
                SharedRateLimiter(self.guard.ledger, digest, settings.rate_per_minute)
                if settings.redis_url or settings.workers > 1
                else None
            ),
            http=self._http,
            retry=self.retry,
        )
        return Caller(client, digest, settings.x_account_id, AccountFacts(), settings.long_posts)

    async def aclose(self) -> None:
        self._callers.clear()
        if self._x is not None:
            self._x.store.close()
            self._x = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._pages is not None:
            await self._pages.aclose()


def services(ctx: Context[Any, Any]) -> Services:
    return cast(Services, ctx.request_context.lifespan_context)
