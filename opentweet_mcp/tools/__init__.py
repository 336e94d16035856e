"""The tools, grouped into toolsets (README, "Tools"): name → declarations."""

from __future__ import annotations

from opentweet_mcp.tools import account, analytics, compose, evergreen, inspiration, media, posts
from opentweet_mcp.tools.spec import ToolSpec

TOOLSETS: dict[str, list[ToolSpec]] = {
    "account": account.TOOLS,
    "posts": posts.TOOLS,
    "media": media.TOOLS,
    "evergreen": evergreen.TOOLS,
    "inspiration": inspiration.TOOLS,
    "analytics": analytics.TOOLS,
    "compose": compose.TOOLS,
}
