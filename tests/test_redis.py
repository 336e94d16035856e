"""Shared state in Redis: the ledger against a real redis-server, and two HTTP replicas that
honour one confirmation token exactly once between them."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import pexpect
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitResult

from tests.harness import data, text
from tests.test_hosting import AUTH, free_port, running_server


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("OPENTWEET_REQUIRE_REDIS"):
            pytest.fail("redis-server is required (CI installs it) but is not on PATH")
        pytest.skip("REDIS-SERVER NOT INSTALLED: the shared-state tests did not run")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
async def ledger(redis_url: str) -> AsyncIterator[Any]:
    from opentweet_mcp.guard.redis_ledger import RedisLedger

    store = RedisLedger(redis_url, prefix=f"test-{time.monotonic_ns()}:")
    yield store
    await store.aclose()


async def test_claim_is_single_use_across_connections(ledger: Any, redis_url: str) -> None:
    from opentweet_mcp.guard.redis_ledger import RedisLedger

    other = RedisLedger(redis_url, prefix=ledger._prefix)
    try:
        results = await asyncio.gather(
            *[(ledger if n % 2 else other).claim("nonce", 5) for n in range(20)]
        )
        assert results.count(True) == 1
    finally:
        await other.aclose()


async def test_claim_all_is_all_or_nothing(ledger: Any) -> None:
    assert await ledger.claim_all(["a", "b"], 5, "me")
    assert not await ledger.claim_all(["c", "b"], 5)
    assert await ledger.get_result("c") is None and await ledger.get_result("a") == "me"
    await ledger.delete("a", "b")
    assert await ledger.claim_all(["c", "b"], 5)
    won = await asyncio.gather(*[ledger.claim_all(["x", "y", "z"], 5) for _ in range(20)])
    assert won.count(True) == 1


async def test_results_counters_and_expiry(ledger: Any) -> None:
    await ledger.put_result("r", "first", 5)
    assert await ledger.get_result("r") == "first"
    await ledger.delete("r")
    assert await ledger.get_result("r") is None

    assert await ledger.reserve("c", 2, 3, 5) == 2
    assert await ledger.reserve("c", 2, 3, 5) is None
    assert await ledger.peek("c") == 2
    await ledger.release("c", 5)
    assert await ledger.peek("c") == 0
    totals = await asyncio.gather(*[ledger.reserve("d", 1, 10, 5) for _ in range(25)])
    assert sorted(t for t in totals if t is not None) == list(range(1, 11))

    assert await ledger.claim("short", 0.05)
    await asyncio.sleep(0.15)
    assert await ledger.claim("short", 0.05)  # expired, so it can be claimed again


async def test_two_replicas_honour_a_token_once(sandbox: Any, redis_url: str) -> None:
    env = {"OPENTWEET_MCP_REDIS_URL": redis_url}
    headers = {"Authorization": f"Bearer {AUTH}", "X-OpenTweet-Key": "pro_replicated_user"}
    with (
        running_server(sandbox.base_url, "--transport", "http", env=env) as one,
        running_server(sandbox.base_url, "--transport", "http", env=env) as two,
    ):

        async def session(url: str) -> Any:
            http = httpx2.AsyncClient(headers=headers, timeout=30)
            return http, Client(
                streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy"
            )

        http_a, client_a = await session(one)
        http_b, client_b = await session(two)
        async with http_a, http_b, client_a as a, client_b as b:
            post_id = data(await a.call_tool("create_post", {"text": "Replicated"}))["posts"][0][
                "id"
            ]
            token = data(await a.call_tool("publish_post", {"id": post_id}))["confirmation_token"]
            done = await b.call_tool("publish_post", {"id": post_id, "confirmation_token": token})
            assert data(done)["status"] == "posted"
            again = await a.call_tool("publish_post", {"id": post_id, "confirmation_token": token})
            assert data(again)["url"] == data(done)["url"] and "Replayed" in text(again)
    assert len([r for r in sandbox.requests() if r["path"].endswith("/publish")]) == 1


async def test_replicas_share_one_rate_limit(ledger: Any) -> None:
    from opentweet_mcp.api.retry import SharedRateLimiter

    slept: list[float] = []
    now = [60 * 16_667 + 20.0]  # 20 s into a clock minute

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    replicas = [
        SharedRateLimiter(ledger, "key-digest", 3, clock=lambda: now[0], sleep=sleep)
        for _ in range(2)
    ]
    waits = [await replicas[n % 2].acquire() for n in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(40.0) and slept == [pytest.approx(40.0)]


async def test_scan_finds_a_prefix_and_nothing_else(ledger: Any) -> None:
    await ledger.put_result("approval:a*1", "one", 5)
    await ledger.put_result("approval:b", "two", 5)
    await ledger.put_result("approvals-other", "three", 5)
    assert await ledger.scan("approval:") == [("approval:a*1", "one"), ("approval:b", "two")]
    assert await ledger.scan("approval:a*") == [("approval:a*1", "one")]  # no wildcards


async def test_replicas_share_pending_approvals(sandbox: Any, redis_url: str) -> None:
    """Asked on one replica, answered in the terminal, carried out by another replica once;
    the first replica's next call learns the result."""
    env = {"OPENTWEET_MCP_REDIS_URL": redis_url, "OPENTWEET_MCP_APPROVAL_WAIT": "0"}
    headers = {"Authorization": f"Bearer {AUTH}", "X-OpenTweet-Key": "pro_replicated_person"}
    post = {"text": "Approved once, anywhere", "publish_now": True}
    flags = ("--transport", "http", "--confirm", "person")
    with (
        running_server(sandbox.base_url, *flags, env=env) as one,
        running_server(sandbox.base_url, *flags, env=env) as two,
    ):
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http_a,
            httpx2.AsyncClient(headers=headers, timeout=30) as http_b,
            Client(streamable_http_client(f"{one}/mcp", http_client=http_a), mode="legacy") as a,
            Client(streamable_http_client(f"{two}/mcp", http_client=http_b), mode="legacy") as b,
        ):
            approval_id = data(await a.call_tool("create_post", post))["approval_id"]

            def approve_at_a_terminal() -> None:
                child = pexpect.spawn(
                    sys.executable,
                    ["-m", "opentweet_mcp", "approvals", "approve", approval_id],
                    env={**os.environ, **env, "OPENTWEET_BASE_URL": sandbox.base_url},
                    encoding="utf-8",
                    timeout=30,
                )
                child.expect_exact("[y/N]: ")
                child.sendline("y")
                child.expect(pexpect.EOF)
                child.close()
                assert child.exitstatus == 0, child.before

            await anyio.to_thread.run_sync(approve_at_a_terminal)
            done = await b.call_tool("create_post", {**post, "approval_id": approval_id})
            assert data(done)["status"] == "posted", text(done)
            again = await a.call_tool("create_post", {**post, "approval_id": approval_id})
            assert "Replayed" in text(again) and data(again)["url"] == data(done)["url"]
    posted = [
        r for r in sandbox.requests() if r["method"] == "POST" and r["path"] == "/api/v1/posts"
    ]
    assert len(posted) == 1


class Alternating(httpx2.AsyncBaseTransport):
    """Sends each request to the next replica in turn, as a load balancer without sticky
    sessions may: a 2026-era retry then lands on another replica than the first request."""

    def __init__(self, ports: list[int]) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.ports = itertools.cycle(ports)
        self.sent: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = next(self.ports)
        self.sent.append(port)
        request.url = request.url.copy_with(port=port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def elicited_publish(one: str, two: str) -> tuple[Any, list[int]]:
    """A 2026-era client publishing with a person's form answer, its requests alternating
    between the two replicas; the result and the ports each request went to."""
    ports = [int(urlsplit(url).port or 0) for url in (one, two)]
    transport = Alternating(ports)
    headers = {"Authorization": f"Bearer {AUTH}", "X-OpenTweet-Key": "pro_elicited_user"}

    async def accept(ctx: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"approve": True})

    async with (
        httpx2.AsyncClient(headers=headers, timeout=30, transport=transport) as http,
        Client(
            streamable_http_client(f"{one}/mcp", http_client=http), elicitation_callback=accept
        ) as client,
    ):
        draft = data(await client.call_tool("create_post", {"text": "Asked on one, done on two"}))
        result = await client.call_tool("publish_post", {"id": draft["posts"][0]["id"]})
    return result, transport.sent


async def test_an_elicitation_answer_may_land_on_another_replica(
    sandbox: Any, redis_url: str
) -> None:
    """The SDK seals a 2026-era round trip's state; sealed with a key derived from
    OPENTWEET_MCP_SECRET, any replica opens it. (With the SDK's per-process key the retry
    fails on the other replica: that is what a replica without the shared secret shows.)"""
    env = {"OPENTWEET_MCP_REDIS_URL": redis_url}
    flags = ("--transport", "http", "--stateless")
    with (
        running_server(sandbox.base_url, *flags, env=env) as one,
        running_server(sandbox.base_url, *flags, env=env) as two,
    ):
        result, sent = await elicited_publish(one, two)
        assert data(result)["status"] == "posted", text(result)
    assert len(set(sent)) == 2
    publishes = [r for r in sandbox.requests() if r["path"].endswith("/publish")]
    assert len(publishes) == 1
