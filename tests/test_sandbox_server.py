"""The sandbox as a server: the runner (a file database surviving a restart, the banner,
keep-alive latency) and the HTTP plumbing's answers to unknown routes and bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx2

from opentweet_mcp.sandbox.runner import DEMO_KEY, SandboxServer, banner
from tests import sandbox_helpers
from tests.sandbox_helpers import auth

http = sandbox_helpers.http  # the shared client fixture (an import by name would trip ruff F811)


def test_file_database_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.sqlite3")
    with SandboxServer(db=db) as first:
        created = httpx2.post(
            f"{first.base_url}/api/v1/posts", json={"text": "persisted"}, headers=auth()
        )
        post_id = created.json()["posts"][0]["id"]
    with SandboxServer(db=db) as second:
        again = httpx2.get(f"{second.base_url}/api/v1/posts/{post_id}", headers=auth())
        assert again.json()["post"]["text"] == "persisted"


def test_banner_names_the_url_and_demo_key() -> None:
    server = SandboxServer()
    try:
        text = banner(server, ":memory:")
    finally:
        server.stop()
    assert server.base_url in text and DEMO_KEY in text and DEMO_KEY == "pro_sandbox_demo"


async def test_keep_alive_requests_are_fast(http: httpx2.AsyncClient) -> None:
    """Regression: without TCP_NODELAY every keep-alive answer waited ~40 ms (delayed ACK)."""
    await http.get("/api/v1/accounts", headers=auth())
    start = datetime.now(UTC)
    for _ in range(20):
        await http.get("/api/v1/accounts", headers=auth())
    assert (datetime.now(UTC) - start).total_seconds() < 0.5


async def test_unknown_routes_answer_json(http: httpx2.AsyncClient) -> None:
    missing = await http.get("/api/v1/nothing", headers=auth())
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong = await http.patch("/api/v1/posts", headers=auth())
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
    garbled = await http.post(
        "/api/v1/posts",
        content=b"{not json",
        headers={**auth(), "content-type": "application/json"},
    )
    assert garbled.status_code == 400 and "JSON" in garbled.json()["error"]
