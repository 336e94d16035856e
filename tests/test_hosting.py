"""Hosted use: the server as a real HTTP process (streamable HTTP and SSE), its bearer token,
Host protection, and per-request OpenTweet keys with confirmation tokens bound to each key."""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.harness import data, future, text

AUTH = "hosting-test-token-0123456789abcdef"  # 32+ characters, as a bind needs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(base_url: str, *flags: str, env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if k != "OPENTWEET_API_KEY"},  # multi-user
        "OPENTWEET_BASE_URL": base_url,
        "OPENTWEET_MCP_AUTH_TOKEN": AUTH,
        "OPENTWEET_MCP_SECRET": "shared-secret",
        **(env or {}),
    }
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


PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
MCP = {"Accept": "application/json, text/event-stream"}


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
                headers={
                    "Authorization": f"Bearer {AUTH}",
                    "X-OpenTweet-Key": "pro_someone",
                    "Host": "evil.example",
                },
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
        async with http(None) as keyless:  # multi-user: no request acts without its own key
            for headers in ({}, {"X-OpenTweet-Key": ""}):
                refused = await keyless.post(f"{url}/mcp", json=PING, headers=MCP | headers)
                assert refused.status_code == 401, refused.text
                assert "X-OpenTweet-Key" in refused.json()["message"]
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


@asynccontextmanager
async def user(url: str, key: str) -> AsyncIterator[Client]:
    async with (
        http(key) as transport,
        Client(streamable_http_client(f"{url}/mcp", http_client=transport), mode="legacy") as c,
    ):
        yield c


async def resource(client: Client, uri: str) -> Any:
    read = await client.read_resource(uri)
    return json.loads(read.contents[0].text)  # type: ignore[union-attr]


async def test_two_users_never_see_each_others_resources_or_results(sandbox: Any) -> None:
    with running_server(sandbox.base_url, "--transport", "http", "--stateless") as url:
        async with user(url, "pro_alice_key") as alice, user(url, "pro_bob_key") as bob:
            post = {"text": "Alice's plan", "scheduled_date": future(), "idempotency_key": "k1"}
            done = await alice.call_tool("create_post", post)
            token = data(done)["confirmation_token"]
            made = data(await alice.call_tool("create_post", post | {"confirmation_token": token}))
            alice_post = made["posts"][0]["id"]
            assert [
                p["id"] for p in (await resource(alice, "opentweet://posts/scheduled"))["posts"]
            ] == [alice_post]
            assert (await resource(bob, "opentweet://posts/scheduled"))["posts"] == []
            alice_me = await resource(alice, "opentweet://account")
            bob_me = await resource(bob, "opentweet://account")
            assert alice_me["x_accounts"] != bob_me["x_accounts"]
            # the same idempotency key is Bob's own: he gets a preview, not Alice's result
            bobs = await bob.call_tool("create_post", post | {"text": "Bob's plan"})
            assert data(bobs)["status"] == "confirmation_required"
            again = await bob.call_tool("create_post", post)  # even with Alice's arguments
            assert data(again)["status"] == "confirmation_required"
            assert alice_post not in text(again)


async def test_a_single_user_server_acts_only_with_its_own_key(sandbox: Any) -> None:
    owner = "pro_owner_key_0001"
    env = {"OPENTWEET_API_KEY": owner}
    with running_server(sandbox.base_url, "--transport", "http", env=env) as url:
        async with user(url, "") as anyone:  # no key of its own: the server's
            me = await resource(anyone, "opentweet://account")
            assert me["authenticated"] is True
        async with user(url, owner) as same:
            assert not (await same.call_tool("get_account", {})).is_error
        async with http("pro_intruder_key") as other:
            refused = await other.post(f"{url}/mcp", json=PING, headers=MCP)
            assert (
                refused.status_code == 401 and "one OpenTweet account" in refused.json()["message"]
            )
    prefixes = {r["key_prefix"][:9] for r in sandbox.requests()}
    assert prefixes == {"pro_owner"}


async def test_a_huge_request_does_not_hold_up_another_user(sandbox: Any) -> None:
    """A 4 MiB create_post (650,000 thread tweets) is refused in one cheap pass; another
    user's get_account meanwhile answers as fast as ever. Past 4 MiB the body is refused."""
    huge = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {
            "name": "create_post",
            "arguments": {"text": "hi", "thread_tweets": ["ab"] * 650_000},
        },
    }
    body = json.dumps(huge).encode()
    assert 3.5 * 2**20 < len(body) <= 4 * 2**20
    flags = ("--transport", "http", "--stateless")
    with running_server(sandbox.base_url, *flags) as url:
        async with (
            http("pro_mallory_key") as mallory,
            user(url, "pro_carol_key") as carol,
        ):
            assert not (await carol.call_tool("get_account", {})).is_error  # warm

            async def flood() -> httpx2.Response:
                headers = MCP | {"Content-Type": "application/json"}
                return await mallory.post(f"{url}/mcp", content=body, headers=headers)

            sending = asyncio.ensure_future(flood())
            await asyncio.sleep(0.05)
            started = time.monotonic()
            assert not (await carol.call_tool("get_account", {})).is_error
            waited = time.monotonic() - started
            answer = await sending
            assert waited < 0.5, waited
            assert "650,000 items" in answer.text and "nothing was sent" in answer.text
            bigger = await mallory.post(
                f"{url}/mcp",
                content=body + b" " * 2**20,
                headers=MCP | {"Content-Type": "application/json"},
            )
            assert bigger.status_code == 413


def test_a_weak_bearer_token_stops_the_server_at_start() -> None:
    env = {**os.environ, "OPENTWEET_MCP_AUTH_TOKEN": "short-token"}
    proc = subprocess.run(
        [sys.executable, "-m", "opentweet_mcp", "--transport", "http", "--host", "0.0.0.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert "is 11 characters; a bearer token must have at least 32" in proc.stderr


def children_of(command_part: str) -> list[int]:
    """The pids of the processes whose parent's command line holds `command_part` (Linux)."""
    parents, children = set(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if command_part in cmdline and "opentweet_mcp" in cmdline:
            parents.add(int(stat.parent.name))
        children.append((int(stat.parent.name), ppid))
    return [pid for pid, ppid in children if ppid in parents]


async def test_workers_serve_one_deployment_with_one_secret_and_ledger(
    sandbox: Any, tmp_path: Path
) -> None:
    """`--workers 2`: two processes of one stateless app; a token minted by either confirms on
    either (one generated secret), and what was done is known to both (the ledger file)."""
    env = {"XDG_STATE_HOME": str(tmp_path), "OPENTWEET_MCP_SECRET": ""}  # the parent makes one
    flags = ("--transport", "http", "--stateless", "--workers", "2")
    with running_server(sandbox.base_url, *flags, env=env) as url:
        port = urlsplit(url).port
        deadline = time.monotonic() + 20
        while len(children_of(f"--port {port}")) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(children_of(f"--port {port}")) >= 2
        async with user(url, "pro_workers_key") as client:
            post = {"text": "Served by two processes", "publish_now": True}
            for _ in range(4):  # previews and confirmations land on either worker
                token = data(await client.call_tool("create_post", post))["confirmation_token"]
            done = await client.call_tool("create_post", post | {"confirmation_token": token})
            assert text(done).startswith("Published to X"), text(done)
            again = await client.call_tool("create_post", post | {"confirmation_token": token})
            assert data(again) == data(done)  # replayed, on whichever worker took it
    posted = [r for r in sandbox.requests() if r["method"] == "POST"]
    assert len(posted) == 1
