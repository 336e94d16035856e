"""What every tool call reaches through its context: settings, the upstream client for the
caller's key, and the guard. Built once in the server's lifespan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from mcp.server.mcpserver import Context

from opentweet_mcp.api.client import OpenTweetClient
from opentweet_mcp.api.errors import OpenTweetError
from opentweet_mcp.api.retry import SharedRateLimiter
from opentweet_mcp.caller import Caller, key_digest
from opentweet_mcp.config import Settings, api_root, is_wildcard
from opentweet_mcp.guard.confirm import Guard
from opentweet_mcp.long_posts import AccountFacts

if TYPE_CHECKING:
    from opentweet_mcp.approvals.page import PageListener

KEY_HEADER = "x-opentweet-key"
RATE_PER_MINUTE = 60  # SPEC §7 default: the Pro plan's rate, within every plan's limit


class NoApiKey(OpenTweetError):
    """The call has no OpenTweet key to act with (HTTP mode without a per-request key)."""


@dataclass
class Services:
    """What every call reaches: the settings, the gate, an upstream client per API key, and
    the approvals page (started on first need when the server has no HTTP app of its own)."""

    settings: Settings
    guard: Guard
    _clients: dict[str, tuple[OpenTweetClient, AccountFacts]] = field(default_factory=dict)
    _pages: PageListener | None = None

    def __post_init__(self) -> None:
        self.guard.page = self.approval_page

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
        """The caller of this request: its per-request key (HTTP), else the configured key."""
        api_key = self._api_key(ctx)
        digest = key_digest(api_key, self.settings.upstream)
        known = self._clients.get(api_key)
        if known is None:
            shared = (
                SharedRateLimiter(self.guard.ledger, digest, RATE_PER_MINUTE)
                if self.settings.redis_url
                else None  # one process: the client's own token bucket
            )
            client = OpenTweetClient(
                api_key,
                base_url=self.settings.base_url,
                timeout=self.settings.timeout,
                rate_per_minute=RATE_PER_MINUTE,
                limiter=shared,
            )
            known = self._clients[api_key] = (client, AccountFacts())
        client, facts = known
        return Caller(client, digest, self.settings.x_account_id, facts, self.settings.long_posts)

    def _api_key(self, ctx: Context[Any, Any] | None) -> str:
        headers = ctx.headers if ctx is not None and self.settings.transport != "stdio" else None
        if headers is not None:
            per_request = headers.get(KEY_HEADER)
            if per_request:
                return str(per_request)
        if self.settings.api_key:
            return self.settings.api_key
        raise NoApiKey(
            "no OpenTweet API key: set OPENTWEET_API_KEY, or send it in the X-OpenTweet-Key header"
        )

    async def aclose(self) -> None:
        for client, _ in self._clients.values():
            await client.aclose()
        self._clients.clear()
        if self._pages is not None:
            await self._pages.aclose()


def services(ctx: Context[Any, Any]) -> Services:
    return cast(Services, ctx.request_context.lifespan_context)
