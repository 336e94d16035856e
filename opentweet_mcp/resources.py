"""Resources a client can attach as context: the account, the upcoming queue, the evergreen
pool. Static resources get no request context, so they act with the configured key."""

from __future__ import annotations

import json
from typing import Any

from mcp.server import MCPServer

from opentweet_mcp.services import Services


def register_resources(server: MCPServer, state: dict[str, Services]) -> None:
    """Add the resources; `state["services"]` is filled by the lifespan before any read."""

    def caller() -> Any:
        return state["services"].caller(None).client

    @server.resource(
        "opentweet://account",
        name="account",
        description="The OpenTweet account: plan, today's limits, connected X accounts (/me)",
        mime_type="application/json",
    )
    async def account() -> str:
        return json.dumps(await caller().me())

    @server.resource(
        "opentweet://posts/scheduled",
        name="scheduled_posts",
        description="Upcoming scheduled posts (first 100)",
        mime_type="application/json",
    )
    async def scheduled_posts() -> str:
        return json.dumps(await caller().list_posts(status="scheduled", limit=100))

    @server.resource(
        "opentweet://evergreen",
        name="evergreen",
        description="Evergreen queue settings and pool stats",
        mime_type="application/json",
    )
    async def evergreen() -> str:
        return json.dumps(await caller().get_evergreen_settings())
