"""The simulated OpenTweet API: every endpoint of the upstream guide with its documented rules,
state in SQLite, plus `/_sandbox/` control endpoints for tests and demos (docs/sandbox.md).

This module holds only the route table. The state and its rules are in state.py, the HTTP
plumbing in http.py, the endpoints in `endpoints/` (one module per tool domain, each handler
named after its MCP tool) and the controls in control.py. `Sandbox` and `SandboxApp` are
re-exported here, where runner.py and the tests import them from."""

from __future__ import annotations

from starlette.routing import Route

from opentweet_mcp.sandbox import control
from opentweet_mcp.sandbox.endpoints import (
    account,
    analytics,
    evergreen,
    inspiration,
    media,
    posts,
)
from opentweet_mcp.sandbox.plumbing import SandboxApp, api
from opentweet_mcp.sandbox.state import Sandbox
from opentweet_mcp.sandbox.store import Store

__all__ = ["Sandbox", "SandboxApp", "create_app"]


def create_app(db: str = ":memory:") -> SandboxApp:
    """The simulator on a SQLite file, or in memory with ":memory:"."""
    sandbox = Sandbox(Store(db))
    v1 = "/api/v1"
    routes = [
        Route(f"{v1}/me", api(account.get_account)),
        Route(f"{v1}/accounts", api(account.list_accounts)),
        Route(f"{v1}/posts", api(posts.create_post), methods=["POST"]),
        Route(f"{v1}/posts", api(posts.list_posts), methods=["GET"]),
        Route(f"{v1}/posts/batch-schedule", api(posts.batch_schedule_posts), methods=["POST"]),
        Route(f"{v1}/posts/{{id}}", api(posts.get_post), methods=["GET"]),
        Route(f"{v1}/posts/{{id}}", api(posts.update_post), methods=["PUT"]),
        Route(f"{v1}/posts/{{id}}", api(posts.delete_post), methods=["DELETE"]),
        Route(f"{v1}/posts/{{id}}/schedule", api(posts.schedule_post), methods=["POST"]),
        Route(f"{v1}/posts/{{id}}/publish", api(posts.publish_post), methods=["POST"]),
        Route(f"{v1}/upload", api(media.upload_media), methods=["POST"]),
        Route(f"{v1}/evergreen/settings", api(evergreen.get_evergreen_settings), methods=["GET"]),
        Route(
            f"{v1}/evergreen/settings", api(evergreen.update_evergreen_settings), methods=["PUT"]
        ),
        Route(f"{v1}/evergreen/posts", api(evergreen.list_evergreen_posts), methods=["GET"]),
        Route(f"{v1}/evergreen/posts", api(evergreen.add_to_evergreen), methods=["POST"]),
        Route(f"{v1}/evergreen/posts/{{id}}", api(evergreen.get_evergreen_post), methods=["GET"]),
        Route(
            f"{v1}/evergreen/posts/{{id}}", api(evergreen.update_evergreen_post), methods=["PUT"]
        ),
        Route(
            f"{v1}/evergreen/posts/{{id}}",
            api(evergreen.remove_from_evergreen),
            methods=["DELETE"],
        ),
        Route(f"{v1}/evergreen/history", api(evergreen.get_evergreen_history)),
        Route(f"{v1}/inspiration/search", api(inspiration.search_inspiration)),
        Route(f"{v1}/inspiration/repurpose", api(inspiration.repurpose_tweet), methods=["POST"]),
        Route(f"{v1}/analytics/overview", api(analytics.get_analytics_overview)),
        Route(f"{v1}/analytics/tweets", api(analytics.get_tweet_analytics)),
        Route(f"{v1}/analytics/best-times", api(analytics.get_best_times)),
        Route(
            f"{v1}/analytics/best-times/analyze",
            api(analytics.analyze_best_times),
            methods=["POST"],
        ),
        Route("/media/{name}", media.serve_media),
        Route("/_sandbox/faults", control.control_faults, methods=["POST", "DELETE"]),
        Route("/_sandbox/requests", control.control_requests),
        Route("/_sandbox/reset", control.control_reset, methods=["POST"]),
        Route("/_sandbox/scheduler", control.control_scheduler, methods=["POST"]),
        Route("/_sandbox/config", control.control_config, methods=["PUT"]),
    ]
    return SandboxApp(sandbox, routes)
