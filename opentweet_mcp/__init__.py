"""opentweet-mcp: an MCP server for the OpenTweet API with guardrails the agent cannot skip."""

__version__ = "0.1.0"
