"""Hosted use: the server as a real HTTP process (streamable HTTP and SSE), its bearer token,
Host protection, and per-request OpenTweet keys with confirmation tokens bound to each key."""

from __future__ import annotations

import html
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.harness import data, text

AUTH = "hosting-test-token-0123456789abcdef"  # 32+ characters, as a bind needs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(base_url: str, *flags: str, env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    environment = {
        **os.environ,
        "OPENTWEET_BASE_URL": base_url,
        "OPENTWEET_MCP_AUTH_TOKEN": AUTH,
        "OPENTWEET_MCP_SECRET": "shared-secret",
        **(env or {}),
    }
    environment.pop("OPENTWEET_API_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "opentweet_mcp", "--port", str(port), *flags],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


def http(key: str | None, token: str = AUTH) -> httpx2.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["X-OpenTweet-Key"] = key
    return httpx2.AsyncClient(headers=headers, timeout=30)


async def test_token_required_with_www_authenticate(sandbox: Any) -> None:
    with running_server(sandbox.base_url, "--transport", "http") as url:
        async with httpx2.AsyncClient() as raw:
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                response = await raw.post(
                    f"{url}/mcp",
                    json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                    headers={**headers, "Accept": "application/json, text/event-stream"},
                )
                assert response.status_code == 401
                assert response.headers["www-authenticate"].startswith("Bearer")
            rebinding = await raw.post(
                f"{url}/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={"Authorization": f"Bearer {AUTH}", "Host": "evil.example"},
            )
            assert rebinding.status_code in (400, 421)


@pytest.mark.parametrize("flags", [(), ("--stateless",)])
async def test_per_request_keys_and_bound_tokens(sandbox: Any, flags: tuple[str, ...]) -> None:
    with running_server(sandbox.base_url, "--transport", "http", *flags) as url:
        async with (
            http("pro_alice_key") as alice_http,
            Client(
                streamable_http_client(f"{url}/mcp", http_client=alice_http), mode="legacy"
            ) as alice,
        ):
            draft = data(await alice.call_tool("create_post", {"text": "Alice's draft"}))
            post_id = draft["posts"][0]["id"]
            token = data(await alice.call_tool("publish_post", {"id": post_id}))[
                "confirmation_token"
            ]
        async with (
            http("pro_bob_key") as bob_http,
            Client(
                streamable_http_client(f"{url}/mcp", http_client=bob_http), mode="legacy"
            ) as bob,
        ):
            stolen = await bob.call_tool(
                "publish_post", {"id": post_id, "confirmation_token": token}
            )
            assert stolen.is_error and "confirmation refused" in text(stolen)
        async with (
            http(None) as keyless_http,
            Client(
                streamable_http_client(f"{url}/mcp", http_client=keyless_http), mode="legacy"
            ) as keyless,
        ):
            result = await keyless.call_tool("get_account", {})
            assert result.is_error and "X-OpenTweet-Key" in text(result)
    prefixes = {r["key_prefix"] for r in sandbox.requests()}
    assert any(p.startswith("pro_alice") for p in prefixes)
    assert not [r for r in sandbox.requests() if r["path"].endswith("/publish")]


async def test_sse_transport(sandbox: Any) -> None:
    with running_server(sandbox.base_url, "--transport", "sse") as url:
        headers = {"Authorization": f"Bearer {AUTH}", "X-OpenTweet-Key": "pro_sse_user"}
        async with Client(sse_client(f"{url}/sse", headers=headers), mode="legacy") as client:
            tools = (await client.list_tools()).tools
            model_facing = [
                t for t in tools if (t.meta or {}).get("ui", {}).get("visibility") != ["app"]
            ]
            assert len(model_facing) == 28
            me = await client.call_tool("get_account", {})
            assert data(me)["authenticated"] is True


async def test_the_approvals_page_is_served_by_the_same_app(sandbox: Any, tmp_path: Path) -> None:
    """Multi-user HTTP with a person approving: the agent learns only the approval's id; the
    operator's `approvals open` hands the person's browser the link; the page's routes need no
    bearer token (the link's secret authorises them) but pass the Host and Origin checks; an
    answer is taken once, and only its own user's next call carries it out."""
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    remember = f"import sys, pathlib\npathlib.Path({str(opened)!r}).write_text(sys.argv[1])\n"
    browser.write_text(f"#!{sys.executable}\n{remember}")
    browser.chmod(0o755)
    env = {"OPENTWEET_MCP_APPROVAL_WAIT": "0"}
    post = {"text": "Approved in a browser", "publish_now": True}
    with running_server(
        sandbox.base_url, "--transport", "http", "--confirm", "person", env=env
    ) as url:
        async with (
            http("pro_alice_key") as alice_http,
            Client(
                streamable_http_client(f"{url}/mcp", http_client=alice_http), mode="legacy"
            ) as alice,
        ):
            asked = await alice.call_tool("create_post", post)
            assert data(asked)["status"] == "approval_pending", text(asked)
            approval_id = data(asked)["approval_id"]
            command = subprocess.run(
                [sys.executable, "-m", "opentweet_mcp", "approvals", "open", approval_id],
                env={**os.environ, "OPENTWEET_BASE_URL": sandbox.base_url, "BROWSER": str(browser)},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert command.returncode == 0, command.stdout + command.stderr
            handed = Path(urlsplit(opened.read_text()).path)  # what the browser's argv shows
            assert handed.stat().st_mode & 0o777 == 0o600 and "#" not in str(handed)
            refresh = re.search(r'content="0;url=([^"]+)"', handed.read_text())
            assert refresh is not None
            link = html.unescape(refresh.group(1))
            page, secret = link.split("#")
            assert page == f"{url}/approvals/{approval_id}"
            dumped = asked.model_dump_json()
            assert secret not in dumped and "/approvals/" not in dumped
            async with httpx2.AsyncClient(timeout=30) as browser_http:  # no bearer token
                shell = await browser_http.get(page)
                assert shell.status_code == 200 and 'data-mode="page"' in shell.text
                assert (await browser_http.get(f"{page}/view")).status_code == 403
                view = await browser_http.get(f"{page}/view", headers={"X-Approval-Secret": secret})
                assert view.status_code == 200 and view.json()["state"] == "pending"
                assert "Approved in a browser" in json.dumps(view.json()["preview"])
                rebound = await browser_http.get(
                    f"{page}/view", headers={"X-Approval-Secret": secret, "Host": "evil.example"}
                )
                assert rebound.status_code == 421
                answer = {"verdict": "approved", "secret": secret, "csrf": view.json()["csrf"]}
                for origin in ("http://evil.example", "http://localhost:1"):
                    refused = await browser_http.post(
                        f"{page}/answer", json=answer, headers={"Origin": origin}
                    )
                    assert refused.status_code == 403
                approved = await browser_http.post(
                    f"{page}/answer", json=answer, headers={"Origin": url}
                )
                assert approved.status_code == 200, approved.text
                again = await browser_http.post(
                    f"{page}/answer", json=answer, headers={"Origin": url}
                )
                assert again.status_code == 409
            async with (
                http("pro_bob_key") as bob_http,
                Client(
                    streamable_http_client(f"{url}/mcp", http_client=bob_http), mode="legacy"
                ) as bob,
            ):
                stolen = await bob.call_tool("create_post", {**post, "approval_id": approval_id})
                assert stolen.is_error, text(stolen)
            done = await alice.call_tool("create_post", {**post, "approval_id": approval_id})
            assert data(done)["status"] == "posted", text(done)
    posted = [
        r for r in sandbox.requests() if r["method"] == "POST" and r["path"] == "/api/v1/posts"
    ]
    assert [r["key_prefix"][:9] for r in posted] == ["pro_alice"]


async def test_the_page_address_is_spelled_as_a_browser_sends_its_origin() -> None:
    """The page checks an answer's Origin against the address it handed out: that address
    must be spelled as browsers spell origins (no default port), or every answer is refused."""
    from opentweet_mcp.config import Settings
    from opentweet_mcp.guard.confirm import Guard
    from opentweet_mcp.guard.ledger import MemoryLedger
    from opentweet_mcp.guard.tokens import ConfirmationTokens
    from opentweet_mcp.services import Services

    def page_of(**settings: Any) -> Any:
        chosen = Settings(api_key="k", base_url="http://127.0.0.1:9", **settings)
        ledger = MemoryLedger()
        tokens = ConfirmationTokens.from_secret(None, scope=ledger.identity)
        return Services(chosen, Guard(chosen, tokens, ledger)).approval_page()

    assert await page_of(transport="http", host="0.0.0.0", port=80) == "http://127.0.0.1"
    assert await page_of(transport="http", host="::1", port=8000) == "http://[::1]:8000"
    public = "https://mcp.example.com"
    assert await page_of(transport="http", port=80, public_url=public) == public
