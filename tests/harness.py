"""Driving the MCP server in tests: a real MCP client session against the sandbox over HTTP."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from mcp import Client
from mcp.client.extension import ClientExtension
from mcp.types import CallToolResult

from opentweet_mcp.api.retry import RetryPolicy
from opentweet_mcp.config import Settings
from opentweet_mcp.server import OpenTweetServer, build_server

TEST_SECRET = b"test-secret-for-confirmation-tokens"
PRO_KEY = "pro_test_key_0001"
MODES = ("legacy", "auto")
PNG = base64.b64encode(  # a 1×1 image
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d49444154789c6360000002000100ffff03000006000557bfabd400000000"
        "49454e44ae426082"
    )
).decode()


def settings_for(base_url: str, **overrides: Any) -> Settings:
    base = Settings(
        api_key=PRO_KEY, base_url=base_url, secret=TEST_SECRET, confirm="token", timeout=5
    )
    return replace(base, **overrides)


@asynccontextmanager
async def session(
    base_url: str,
    mode: str = "legacy",
    *,
    client_options: dict[str, Any] | None = None,
    retry: RetryPolicy | None = None,
    **overrides: Any,
) -> AsyncIterator[Client]:
    async with served(base_url, mode, client_options=client_options, retry=retry, **overrides) as (
        client,
        _,
    ):
        yield client


@asynccontextmanager
async def served(
    base_url: str,
    mode: str = "legacy",
    *,
    client_options: dict[str, Any] | None = None,
    retry: RetryPolicy | None = None,
    **overrides: Any,
) -> AsyncIterator[tuple[Client, OpenTweetServer]]:
    """A client session and the server it talks to (for what a person does beside it)."""
    server = build_server(settings_for(base_url, **overrides), retry=retry)
    async with Client(server, mode=mode, **(client_options or {})) as client:  # type: ignore[arg-type]
        yield client, server


class AppsSupport(ClientExtension):
    """What a host that draws MCP Apps declares."""

    identifier = "io.modelcontextprotocol/ui"

    def settings(self) -> dict[str, Any]:
        return {"mimeTypes": ["text/html;profile=mcp-app"]}


def text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    return result.structured_content


async def confirmed(client: Client, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    """A gated call made as an agent with an approving user makes it: the preview (which must
    have written nothing), then the same call with its token."""
    first = await client.call_tool(tool, arguments)
    preview = data(first)
    assert preview["status"] == "confirmation_required", text(first)
    assert text(first).startswith("NOT DONE YET — confirmation required")
    return await client.call_tool(
        tool, {**arguments, "confirmation_token": preview["confirmation_token"]}
    )


def future(hours: float = 24) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def writes(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requests that could change state (everything but reads)."""
    return [r for r in requests if r["method"] != "GET"]


# For suites that make hundreds of calls: millisecond backoff, and no practical client-side
# rate limit (pass both to `session`: `retry=FAST_RETRY, rate_per_minute=UNLIMITED`).
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05)
UNLIMITED = 10**9
