"""Resources a client can attach as context: the account, the upcoming queue, the evergreen
pool. Each is read for the user of the request that reads it (README, "Hosting over HTTP"): the
SDK gives static resources no context, so the server hands it over in `READING` (see
`OpenTweetServer`)."""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError

from opentweet_mcp.api import operations as ops
from opentweet_mcp.api.errors import OpenTweetError
from opentweet_mcp.api.operations import ApiRequest
from opentweet_mcp.services import Services

READING: ContextVar[Context[Any, Any] | None] = ContextVar("reading", default=None)


def register_resources(server: MCPServer, state: dict[str, Services]) -> None:
    """Add the resources; `state["services"]` is filled by the lifespan before any read."""

    async def read(request: ApiRequest) -> str:
        try:
            client = state["services"].caller(READING.get()).client
            return json.dumps(await client.send(request))
        except OpenTweetError as exc:  # the reason, not the SDK's "Error reading resource"
            raise ResourceError(str(exc)) from exc

    @server.resource(
        "opentweet://account",
        name="account",
        description="The OpenTweet account: plan, today's limits, connected X accounts (/me)",
        mime_type="application/json",
    )
    async def account() -> str:
        return await read(ops.get_account())

    @server.resource(
        "opentweet://posts/scheduled",
        name="scheduled_posts",
        description="Upcoming scheduled posts (first 100)",
        mime_type="application/json",
    )
    async def scheduled_posts() -> str:
        return await read(ops.list_posts(status="scheduled", limit=100))

    @server.resource(
        "opentweet://evergreen",
        name="evergreen",
        description="Evergreen queue settings and pool stats",
        mime_type="application/json",
    )
    async def evergreen() -> str:
        return await read(ops.get_evergreen_settings())
