"""OpenTweetClient over real loopback sockets: request building, retries, errors, redaction.

Most tests use `ScriptedServer`, a raw HTTP/1.1 server written here so that each request can
be answered exactly as a failing upstream would (reset before or after reading, stalls,
broken bodies). The integration tests at the end run the same client against the sandbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from opentweet_mcp import __version__
from opentweet_mcp.api import operations as ops
from opentweet_mcp.api.client import OpenTweetClient
from opentweet_mcp.api.errors import (
    ApiError,
    AuthError,
    BadRequest,
    BadResponse,
    Conflict,
    Forbidden,
    NotFound,
    OpenTweetError,
    OutcomeUnknown,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    UpstreamUnavailable,
)
from opentweet_mcp.api.retry import RetryPolicy
from opentweet_mcp.api.shapes import created_posts, is_evergreen, publish_state, unwrap_post

KEY = "pro_sk_live_5f2c9a7e41d8b3f60c1e"
POST_ID = "507f1f77bcf86cd799439011"


# --- a scriptable upstream -----------------------------------------------------------------


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def json(self) -> Any:
        return json.loads(self.body)


Action = Callable[["Seen | None", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]


def reply(
    status: int = 200,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    delay: float = 0.0,
) -> Action:
    """Answer with `status` and a JSON (or raw) body, optionally after `delay` seconds."""

    async def act(seen: Seen | None, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if delay:
            await asyncio.sleep(delay)
        payload = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
        head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(payload)}"]
        if raw is None:
            head.append("Content-Type: application/json")
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await writer.drain()
        return True

    return act


def echo_auth(status: int = 200) -> Action:
    """Echo the Authorization header back, as a careless upstream might."""

    async def act(seen: Seen | None, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        assert seen is not None
        auth = seen.headers.get("authorization", "")
        body = {
            "error": f"Invalid header {auth}",
            "id": POST_ID,
            "debug": {"headers": {"Authorization": auth}, "key": auth.removeprefix("Bearer ")},
        }
        return await reply(status, body)(seen, r, w)

    return act


async def reset(seen: Seen | None, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Drop the connection with a TCP RST and no answer."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    return False


@dataclass
class ScriptedServer:
    """Loopback HTTP/1.1 server: each request consumes the next scripted action.

    `reset_before` drops a connection before reading the request, so `requests` only holds
    requests the server fully received (what it could have acted on).
    """

    actions: list[Action] = field(default_factory=list)
    reset_before: int = 0
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *actions: Action) -> None:
        self.actions.extend(actions)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if self.reset_before:
                self.reset_before -= 1
                await reset(None, reader, writer)
                return
            while True:
                seen = await self._read(reader)
                if seen is None:
                    break
                self.requests.append(seen)
                action = self.actions.pop(0) if self.actions else reply(200, {"ok": True})
                if not await action(seen, reader, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if not writer.transport.is_closing():
                writer.close()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Seen | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Seen(method, target, headers, body)


@pytest.fixture
async def upstream() -> AsyncIterator[ScriptedServer]:
    server = ScriptedServer()
    await server.start()
    yield server
    await server.stop()


class Sleeps:
    """Stands in for the retry sleep: records the delays, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make_client(sleeps: Sleeps) -> AsyncIterator[Callable[..., OpenTweetClient]]:
    made: list[OpenTweetClient] = []

    def make(base_url: str, **kwargs: Any) -> OpenTweetClient:
        kwargs.setdefault("retry", RetryPolicy(attempts=3, sleep=sleeps))
        kwargs.setdefault("rate_per_minute", 6000)
        kwargs.setdefault("timeout", 5.0)
        client = OpenTweetClient(KEY, base_url, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def client(
    upstream: ScriptedServer, make_client: Callable[..., OpenTweetClient]
) -> OpenTweetClient:
    return make_client(upstream.url)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert KEY not in text


# --- request values ------------------------------------------------------------------------


def test_builders_drop_none_and_spell_booleans() -> None:
    req = ops.list_posts(status="draft", page=2, limit=None, x_account_id=None)
    assert req == ops.ApiRequest(
        "GET", "/api/v1/posts", params=(("status", "draft"), ("page", "2"))
    )
    search = ops.search_inspiration("AI agents", has_media=False, min_likes=100)
    assert search.params == (("q", "AI agents"), ("has_media", "false"), ("min_likes", "100"))
    assert ops.list_evergreen_posts(paused=True).params == (("paused", "true"),)


def test_delete_always_says_whether_to_delete_from_x() -> None:
    assert ops.delete_post(POST_ID).params == (("delete_from_x", "true"),)
    assert ops.delete_post(POST_ID, False).params == (("delete_from_x", "false"),)
    assert ops.delete_post(POST_ID, False, "acc1").params == (
        ("delete_from_x", "false"),
        ("x_account_id", "acc1"),
    )


def test_ids_cannot_escape_their_path_segment() -> None:
    assert ops.get_post("../me").path == "/api/v1/posts/..%2Fme"
    assert ops.publish_post("a?b=c").path == "/api/v1/posts/a%3Fb%3Dc/publish"


def test_update_keeps_explicit_null() -> None:
    assert ops.update_post(POST_ID, {"scheduled_date": None}).json == {"scheduled_date": None}


def test_digest_is_canonical() -> None:
    a = ops.create_post({"text": "hi", "scheduled_date": "2030-01-01T00:00:00Z"})
    b = ops.create_post({"scheduled_date": "2030-01-01T00:00:00Z", "text": "hi"})
    assert a.digest() == b.digest()
    assert len(a.digest()) == 64
    assert a.digest() != ops.create_post({"text": "hi!"}).digest()
    assert ops.publish_post(POST_ID).digest() != ops.get_post(POST_ID).digest()
    p1 = ops.ApiRequest("GET", "/x", params=(("a", "1"), ("b", "2")))
    p2 = ops.ApiRequest("GET", "/x", params=(("b", "2"), ("a", "1")))
    assert p1.digest() == p2.digest()
    assert ops.delete_post(POST_ID, True).digest() != ops.delete_post(POST_ID, False).digest()


def test_digest_covers_upload_content() -> None:
    one = ops.upload_media("a.png", b"\x89PNG one", "image/png")
    two = ops.upload_media("a.png", b"\x89PNG two", "image/png")
    assert one.digest() != two.digest()
    assert one.digest() == ops.upload_media("a.png", b"\x89PNG one", "image/png").digest()
    assert "PNG" not in repr(one)  # content stays out of reprs and logs


def test_idempotency_by_method() -> None:
    assert ops.get_post(POST_ID).is_idempotent
    assert ops.update_post(POST_ID, {}).is_idempotent
    assert ops.delete_post(POST_ID).is_idempotent
    assert not ops.publish_post(POST_ID).is_idempotent
    assert not ops.schedule_post(POST_ID, {}).is_idempotent
    assert not ops.upload_media("a.png", b"x", "image/png").is_idempotent


# --- every operation reaches its endpoint --------------------------------------------------

BODY = {"text": "hello", "x_account_id": "acc1"}

OPERATIONS: list[tuple[str, tuple[Any, ...], dict[str, Any], str, str, str, Any]] = [
    # name, args, kwargs, method, path, query, json body
    ("get_account", (), {}, "GET", "/api/v1/me", "", None),
    ("list_accounts", (), {}, "GET", "/api/v1/accounts", "", None),
    ("create_post", (BODY,), {}, "POST", "/api/v1/posts", "", BODY),
    (
        "list_posts",
        ("scheduled", 1, 20, "acc1"),
        {},
        "GET",
        "/api/v1/posts",
        "status=scheduled&page=1&limit=20&x_account_id=acc1",
        None,
    ),
    ("get_post", (POST_ID,), {}, "GET", f"/api/v1/posts/{POST_ID}", "", None),
    (
        "update_post",
        (POST_ID, {"text": "x"}),
        {},
        "PUT",
        f"/api/v1/posts/{POST_ID}",
        "",
        {"text": "x"},
    ),
    (
        "delete_post",
        (POST_ID,),
        {"delete_from_x": False},
        "DELETE",
        f"/api/v1/posts/{POST_ID}",
        "delete_from_x=false",
        None,
    ),
    (
        "schedule_post",
        (POST_ID, {"scheduled_date": "2030-01-01T10:00:00Z"}),
        {},
        "POST",
        f"/api/v1/posts/{POST_ID}/schedule",
        "",
        {"scheduled_date": "2030-01-01T10:00:00Z"},
    ),
    ("publish_post", (POST_ID,), {}, "POST", f"/api/v1/posts/{POST_ID}/publish", "", None),
    (
        "batch_schedule_posts",
        ({"schedules": []},),
        {},
        "POST",
        "/api/v1/posts/batch-schedule",
        "",
        {"schedules": []},
    ),
    ("get_evergreen_settings", (), {}, "GET", "/api/v1/evergreen/settings", "", None),
    (
        "update_evergreen_settings",
        ({"enabled": True},),
        {},
        "PUT",
        "/api/v1/evergreen/settings",
        "",
        {"enabled": True},
    ),
    (
        "list_evergreen_posts",
        (1, 20, False),
        {},
        "GET",
        "/api/v1/evergreen/posts",
        "page=1&limit=20&paused=false",
        None,
    ),
    (
        "add_to_evergreen",
        ({"post_id": POST_ID},),
        {},
        "POST",
        "/api/v1/evergreen/posts",
        "",
        {"post_id": POST_ID},
    ),
    ("get_evergreen_post", (POST_ID,), {}, "GET", f"/api/v1/evergreen/posts/{POST_ID}", "", None),
    (
        "update_evergreen_post",
        (POST_ID, {"paused": True}),
        {},
        "PUT",
        f"/api/v1/evergreen/posts/{POST_ID}",
        "",
        {"paused": True},
    ),
    (
        "remove_from_evergreen",
        (POST_ID, "acc1"),
        {},
        "DELETE",
        f"/api/v1/evergreen/posts/{POST_ID}",
        "x_account_id=acc1",
        None,
    ),
    (
        "get_evergreen_history",
        (None, None, POST_ID),
        {},
        "GET",
        "/api/v1/evergreen/history",
        f"source_id={POST_ID}",
        None,
    ),
    (
        "search_inspiration",
        ("AI agents",),
        {"sort_order": "recency", "has_media": True},
        "GET",
        "/api/v1/inspiration/search",
        "q=AI+agents&sort_order=recency&has_media=true",
        None,
    ),
    (
        "repurpose_tweet",
        ({"tweet_text": "t"},),
        {},
        "POST",
        "/api/v1/inspiration/repurpose",
        "",
        {"tweet_text": "t"},
    ),
    ("get_analytics_overview", (), {}, "GET", "/api/v1/analytics/overview", "", None),
    ("get_tweet_analytics", ("all",), {}, "GET", "/api/v1/analytics/tweets", "period=all", None),
    (
        "get_best_times",
        ("acc1",),
        {},
        "GET",
        "/api/v1/analytics/best-times",
        "x_account_id=acc1",
        None,
    ),
    ("analyze_best_times", (), {}, "POST", "/api/v1/analytics/best-times/analyze", "", {}),
]


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "method", "path", "query", "body"),
    OPERATIONS,
    ids=[op[0] for op in OPERATIONS],
)
async def test_each_operation_reaches_its_endpoint(
    upstream: ScriptedServer,
    client: OpenTweetClient,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    method: str,
    path: str,
    query: str,
    body: Any,
) -> None:
    upstream.script(reply(200, {"answer": name}))
    result = await client.send(getattr(ops, name)(*args, **kwargs))
    assert result == {"answer": name}
    [seen] = upstream.requests
    assert (seen.method, seen.path, seen.query) == (method, path, query)
    if body is None:
        assert seen.body == b""
    else:
        assert seen.json() == body
        assert seen.headers["content-type"] == "application/json"


async def test_upload_is_multipart(upstream: ScriptedServer, client: OpenTweetClient) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    upstream.script(reply(200, {"url": "https://cdn.example/x.png"}))
    result = await client.send(ops.upload_media("cat.png", png, "image/png", x_account_id="acc1"))
    assert result == {"url": "https://cdn.example/x.png"}
    [seen] = upstream.requests
    assert (seen.method, seen.path) == ("POST", "/api/v1/upload")
    assert seen.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert png in seen.body
    assert b'name="file"; filename="cat.png"' in seen.body
    assert b"Content-Type: image/png" in seen.body
    assert b'name="x_account_id"' in seen.body


def test_one_builder_per_tool_named_after_it() -> None:
    """`api/operations.py` is the one catalog: grepping a tool's name finds its request."""
    from opentweet_mcp.tools import TOOLSETS

    builders = {
        name
        for name, value in vars(ops).items()
        if callable(value)
        and getattr(value, "__module__", "") == ops.__name__
        and not name.startswith("_")
        and name not in {"query", "ApiRequest", "UploadFile"}
    }
    assert builders == {op[0] for op in OPERATIONS} | {"upload_media"}
    upstream = {s.name for specs in TOOLSETS.values() for s in specs if s.open_world}
    assert builders == upstream - {"bulk_create_posts"}  # a bulk create is create_post's body
    assert not [name for name in vars(OpenTweetClient) if name in builders]  # no mirrors


# --- the request path ----------------------------------------------------------------------


async def test_headers_and_connection_reuse(
    upstream: ScriptedServer, client: OpenTweetClient
) -> None:
    await client.send(ops.get_account())
    await client.send(ops.list_accounts())
    await client.send(ops.create_post({"text": "hi"}))
    assert upstream.connections == 1  # one pooled connection for all calls
    for seen in upstream.requests:
        assert seen.headers["authorization"] == f"Bearer {KEY}"
        assert seen.headers["user-agent"] == f"opentweet-mcp/{__version__}"


async def test_http_client_is_lazy_and_closed(upstream: ScriptedServer) -> None:
    client = OpenTweetClient(KEY, upstream.url)
    assert client._http is None  # nothing built at construction: no TLS store on start-up
    async with client:
        await client.send(ops.get_account())
        http = client._http
        assert http is not None
        await client.send(ops.get_account())
        assert client._http is http
    assert client._http is None
    assert http.is_closed


async def test_quiets_httpx2_info_logs(upstream: ScriptedServer, client: OpenTweetClient) -> None:
    await client.send(ops.get_account())
    assert logging.getLogger("httpx2").getEffectiveLevel() >= logging.WARNING


def test_repr_and_digest_hide_the_key() -> None:
    client = OpenTweetClient(KEY, "http://127.0.0.1:1/")
    assert KEY not in repr(client)
    assert client.base_url == "http://127.0.0.1:1"
    assert len(client.api_key_digest) == 64
    assert client.api_key_digest != OpenTweetClient(KEY + "x").api_key_digest
    with pytest.raises(ValueError):
        OpenTweetClient("")


async def test_one_debug_line_per_attempt(
    upstream: ScriptedServer, client: OpenTweetClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="opentweet_mcp.api")
    upstream.script(reply(503), reply(200, {"ok": True}))
    await client.send(ops.get_post(POST_ID))
    lines = [r.getMessage() for r in caplog.records if r.name == "opentweet_mcp.api"]
    assert len(lines) == 2
    assert lines[0].startswith(f"GET /api/v1/posts/{POST_ID} -> 503 in ")
    assert lines[0].endswith("(attempt 1)")
    assert lines[1].startswith(f"GET /api/v1/posts/{POST_ID} -> 200 in ")
    assert lines[1].endswith("(attempt 2)")


async def test_204_is_an_empty_object(upstream: ScriptedServer, client: OpenTweetClient) -> None:
    upstream.script(reply(204, raw=b""))
    assert await client.send(ops.delete_post(POST_ID)) == {}


# --- error mapping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "cls", "hint_part"),
    [
        (400, {"error": "text is required"}, BadRequest, "invalid"),
        (422, {"message": "bad date"}, BadRequest, "invalid"),
        (401, {"error": "Invalid API key"}, AuthError, "OPENTWEET_API_KEY"),
        (403, {"error": "No active subscription"}, Forbidden, "subscription"),
        (403, {"error": "X account not connected"}, Forbidden, "Connect an X account"),
        (403, {"error": "Requires the Advanced plan"}, Forbidden, "higher plan"),
        (403, {"error": "Evergreen is not available on trial"}, Forbidden, "trial"),
        (404, {"error": "Post not found"}, NotFound, "list_posts"),
        (409, {"error": "Post already published"}, Conflict, "get_post"),
        (413, "File too large", PayloadTooLarge, "5 MB"),
        (418, {"error": "teapot"}, ApiError, "failed"),
    ],
)
async def test_error_status_mapping(
    upstream: ScriptedServer,
    client: OpenTweetClient,
    status: int,
    body: Any,
    cls: type[ApiError],
    hint_part: str,
) -> None:
    raw = body.encode() if isinstance(body, str) else None
    upstream.script(reply(status, body, raw=raw))
    with pytest.raises(cls) as caught:
        await client.send(ops.create_post({"text": "x"}))
    err = caught.value
    assert type(err) is cls
    assert err.status == status
    message = body if isinstance(body, str) else next(iter(body.values()))
    assert err.upstream_message == message
    assert (err.method, err.path) == ("POST", "/api/v1/posts")
    assert err.hint is not None and hint_part in err.hint
    text = str(err)
    assert str(status) in text and message in text and err.hint in text
    assert len(upstream.requests) == 1  # 4xx is final


async def test_error_code_and_nested_message(
    upstream: ScriptedServer, client: OpenTweetClient
) -> None:
    upstream.script(reply(400, {"error": {"message": "date in the past", "code": "PAST_DATE"}}))
    with pytest.raises(BadRequest) as caught:
        await client.send(ops.schedule_post(POST_ID, {"scheduled_date": "2000-01-01T00:00:00Z"}))
    assert caught.value.upstream_message == "date in the past"
    assert caught.value.code == "PAST_DATE"
    assert caught.value.body == {"error": {"message": "date in the past", "code": "PAST_DATE"}}


async def test_url_limit_429_says_draft(upstream: ScriptedServer, client: OpenTweetClient) -> None:
    body = {"error": "URL post limit reached", "urlLimit": {"used": 5, "limit": 5}}
    upstream.script(reply(429, body))
    with pytest.raises(RateLimited) as caught:
        await client.send(ops.create_post({"text": "see https://x.test", "publish_now": True}))
    assert caught.value.url_limit == {"used": 5, "limit": 5}
    assert "saved as a draft" in str(caught.value)
    assert len(upstream.requests) == 1


async def test_cooldown_429_says_when(upstream: ScriptedServer, client: OpenTweetClient) -> None:
    body = {"error": "Analysis cooldown", "next_available_at": "2030-01-01T12:00:00Z"}
    upstream.script(reply(429, body))
    with pytest.raises(RateLimited) as caught:
        await client.send(ops.analyze_best_times())
    assert caught.value.next_available_at == "2030-01-01T12:00:00Z"
    assert "2030-01-01T12:00:00Z" in str(caught.value)


async def test_429_on_get_is_retried_after_retry_after(
    upstream: ScriptedServer, client: OpenTweetClient, sleeps: Sleeps
) -> None:
    upstream.script(reply(429, {"error": "slow down"}, headers={"Retry-After": "7"}))
    upstream.script(reply(200, {"posts": []}))
    assert await client.send(ops.list_posts()) == {"posts": []}
    assert sleeps.delays == [7.0]
    assert len(upstream.requests) == 2


async def test_429_on_publish_is_not_retried(
    upstream: ScriptedServer, client: OpenTweetClient, sleeps: Sleeps
) -> None:
    upstream.script(reply(429, {"error": "Rate limit exceeded"}, headers={"Retry-After": "2"}))
    with pytest.raises(RateLimited) as caught:
        await client.send(ops.publish_post(POST_ID))
    assert caught.value.retry_after == 2.0
    assert "retry in 2 s" in str(caught.value)
    assert sleeps.delays == []
    assert len(upstream.requests) == 1


async def test_429_with_long_retry_after_is_given_back(
    upstream: ScriptedServer, client: OpenTweetClient, sleeps: Sleeps
) -> None:
    upstream.script(reply(429, {"error": "daily limit"}, headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimited):
        await client.send(ops.get_account())
    assert sleeps.delays == []
    assert len(upstream.requests) == 1


async def test_503_on_get_retries_until_exhausted(
    upstream: ScriptedServer, client: OpenTweetClient, sleeps: Sleeps
) -> None:
    upstream.script(*(reply(503, {"error": "maintenance"}) for _ in range(3)))
    with pytest.raises(ServerError) as caught:
        await client.send(ops.get_account())
    assert caught.value.status == 503
    assert len(upstream.requests) == 3
    assert len(sleeps.delays) == 2
    assert sleeps.delays[0] <= sleeps.delays[1] * 2  # exponential, jittered


async def test_500_on_get_is_not_retried(upstream: ScriptedServer, client: OpenTweetClient) -> None:
    upstream.script(reply(500, {"error": "boom"}))
    with pytest.raises(ServerError):
        await client.send(ops.get_account())
    assert len(upstream.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_on_publish_is_outcome_unknown(
    upstream: ScriptedServer, client: OpenTweetClient, sleeps: Sleeps, status: int
) -> None:
    upstream.script(reply(status, {"error": "upstream hiccup"}))
    with pytest.raises(OutcomeUnknown) as caught:
        await client.send(ops.publish_post(POST_ID))
    err = caught.value
    assert err.status == status
    assert "list_posts" in str(err) and str(status) in str(err) and "upstream hiccup" in str(err)
    assert len(upstream.requests) == 1
    assert sleeps.delays == []


async def test_put_retries_502(upstream: ScriptedServer, client: OpenTweetClient) -> None:
    upstream.script(reply(502), reply(200, {"id": POST_ID}))
    assert await client.send(ops.update_post(POST_ID, {"text": "new"})) == {"id": POST_ID}
    assert [s.json() for s in upstream.requests] == [{"text": "new"}] * 2


# --- failures in transit -------------------------------------------------------------------


async def test_reset_after_send_on_publish_is_outcome_unknown(
    upstream: ScriptedServer, client: OpenTweetClient
) -> None:
    upstream.script(reset)
    with pytest.raises(OutcomeUnknown) as caught:
        await client.send(ops.publish_post(POST_ID))
    assert caught.value.status is None
    assert len(upstream.requests) == 1  # it arrived; nothing was sent twice


async def test_reset_after_send_on_get_is_retried(
    upstream: ScriptedServer, client: OpenTweetClient
) -> None:
    upstream.script(reset, reply(200, {"id": POST_ID}))
    assert await client.send(ops.get_post(POST_ID)) == {"id": POST_ID}
    assert len(upstream.requests) == 2


async def test_reset_before_read_on_post_is_still_ambiguous(
    upstream: ScriptedServer, client: OpenTweetClient
) -> None:
    # The client cannot tell "dropped before reading" from "dropped after acting".
    upstream.reset_before = 1
    with pytest.raises(OutcomeUnknown):
        await client.send(ops.create_post({"text": "x"}))
    assert upstream.requests == []
    assert upstream.connections == 1


async def test_delete_404_after_lost_attempt_explains(
    upstream: ScriptedServer, client: OpenTweetClient
) -> None:
    upstream.script(reset, reply(404, {"error": "Post not found"}))
    with pytest.raises(NotFound) as caught:
        await client.send(ops.delete_post(POST_ID))
    assert "probably succeeded" in str(caught.value)


async def test_slow_get_times_out_and_is_retried(
    upstream: ScriptedServer, make_client: Callable[..., OpenTweetClient]
) -> None:
    client = make_client(upstream.url, timeout=0.2)
    upstream.script(reply(200, {"late": True}, delay=1.0), reply(200, {"id": POST_ID}))
    assert await client.send(ops.get_post(POST_ID)) == {"id": POST_ID}
    assert len(upstream.requests) == 2


async def test_slow_get_gives_up_after_attempts(
    upstream: ScriptedServer, make_client: Callable[..., OpenTweetClient]
) -> None:
    client = make_client(upstream.url, timeout=0.2)
    upstream.script(*(reply(200, {}, delay=1.0) for _ in range(3)))
    with pytest.raises(UpstreamUnavailable) as caught:
        await client.send(ops.get_account())
    assert caught.value.attempts == 3
    assert "timed out" in str(caught.value)


async def test_slow_publish_is_outcome_unknown(
    upstream: ScriptedServer, make_client: Callable[..., OpenTweetClient]
) -> None:
    client = make_client(upstream.url, timeout=0.2)
    upstream.script(reply(200, {"status": "posted"}, delay=1.0))
    with pytest.raises(OutcomeUnknown) as caught:
        await client.send(ops.publish_post(POST_ID))
    assert "timed out" in str(caught.value)
    assert len(upstream.requests) == 1


async def test_connection_refused_post_is_retried_then_unavailable(
    make_client: Callable[..., OpenTweetClient], sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="opentweet_mcp.api")
    client = make_client(f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(UpstreamUnavailable) as caught:
        await client.send(ops.publish_post(POST_ID))
    assert caught.value.attempts == 3
    assert len(sleeps.delays) == 2
    attempts = [r for r in caplog.records if "could not connect" in r.getMessage()]
    assert len(attempts) == 3
    assert "Nothing was applied" in str(caught.value)


async def test_connection_refused_then_up(
    upstream: ScriptedServer, make_client: Callable[..., OpenTweetClient]
) -> None:
    # First attempt against a closed port, then the server appears: the POST goes through once.
    port = closed_port()
    client = make_client(f"http://127.0.0.1:{port}")
    server = ScriptedServer()

    async def start_server(_: float) -> None:
        if server._server is None:
            server._server = await asyncio.start_server(server._serve, "127.0.0.1", port)

    client.retry = RetryPolicy(attempts=3, sleep=start_server)
    try:
        assert await client.send(ops.create_post({"text": "x"})) == {"ok": True}
        assert len(server.requests) == 1
    finally:
        if server._server is not None:
            await server.stop()


# --- unreadable success bodies -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b'{"id": "507f1f77', "not valid JSON"),
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"[1, 2]", "got list"),
        (b'"posted"', "got str"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
    ],
)
async def test_bad_success_body(
    upstream: ScriptedServer, client: OpenTweetClient, raw: bytes, detail: str
) -> None:
    upstream.script(reply(200, raw=raw), reply(200, raw=raw))
    with pytest.raises(BadResponse) as caught:
        await client.send(ops.publish_post(POST_ID))
    assert detail in str(caught.value)
    assert caught.value.write is True
    assert caught.value.status == 200
    assert "probably applied" in str(caught.value)
    with pytest.raises(BadResponse) as caught_read:
        await client.send(ops.get_account())
    assert caught_read.value.write is False
    assert len(upstream.requests) == 2  # a bad body is not retried


async def test_error_with_html_body(upstream: ScriptedServer, client: OpenTweetClient) -> None:
    upstream.script(reply(404, raw=b"<html>Not Found</html>"))
    with pytest.raises(NotFound) as caught:
        await client.send(ops.get_post(POST_ID))
    assert caught.value.body == "<html>Not Found</html>"


# --- the key never leaks -------------------------------------------------------------------


async def test_echoed_key_is_scrubbed_everywhere(
    upstream: ScriptedServer, client: OpenTweetClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream.script(echo_auth(401))
    with pytest.raises(AuthError) as caught:
        await client.send(ops.get_account())
    err = caught.value
    assert_no_key(str(err), repr(err), json.dumps(err.body), err.upstream_message or "")
    assert "[REDACTED]" in str(err)

    upstream.script(echo_auth(200))
    data = await client.send(ops.get_post(POST_ID))
    assert_no_key(json.dumps(data))
    assert data["id"] == POST_ID

    for status in (500, 403, 429):
        upstream.script(echo_auth(status))
        with pytest.raises(OpenTweetError) as caught_other:
            await client.send(ops.create_post({"text": "x"}))
        assert_no_key(str(caught_other.value), repr(caught_other.value))

    assert_no_key(caplog.text, *(r.getMessage() for r in caplog.records))
    assert_no_key(repr(client))


@pytest.mark.parametrize(
    "spelling",
    [
        KEY,  # as is
        "".join(f"\\u{ord(c):04x}" for c in KEY),  # every character escaped
        KEY[:3] + "\\u005f" + KEY[4:],  # one escape in the middle
    ],
    ids=["plain", "all-escaped", "one-escape"],
)
async def test_success_body_spelling_the_key_is_redacted(
    upstream: ScriptedServer, client: OpenTweetClient, spelling: str
) -> None:
    """The redaction walk is skipped for bodies that cannot hold the key; these all can."""
    raw = f'{{"id": "{POST_ID}", "text": "key: {spelling}", "{spelling}": 1}}'.encode()
    upstream.script(reply(200, raw=raw))
    data = await client.send(ops.get_post(POST_ID))
    assert_no_key(json.dumps(data))
    assert data["text"] == "key: [REDACTED]"
    assert "[REDACTED]" in data


def test_may_hold_sees_every_json_spelling_of_a_key() -> None:
    from opentweet_mcp.api.client import _may_hold

    for key in (KEY, "ab/cd_ef", 'ab"cd\\ef'):
        for body in (json.dumps({"t": key}), json.dumps({"t": key}, ensure_ascii=True)):
            assert _may_hold(body.encode(), key)
        slashed = json.dumps({"t": key}).replace("/", "\\/")
        assert json.loads(slashed)["t"] == key
        assert _may_hold(slashed.encode(), key)
    assert not _may_hold(b'{"t": "line\\nbreak"}', KEY)  # KEY has no escapable character


async def test_success_body_without_the_key_is_returned_whole(
    upstream: ScriptedServer, client: OpenTweetClient
) -> None:
    body = {"id": POST_ID, "text": "Bearer abcdefgh12345678 stays: it is user content"}
    upstream.script(reply(200, raw=json.dumps(body).encode()))
    assert await client.send(ops.get_post(POST_ID)) == body


async def test_log_filter_scrubs_a_live_key(caplog: pytest.LogCaptureFixture) -> None:
    client = OpenTweetClient(KEY, "http://127.0.0.1:1")
    caplog.set_level(logging.DEBUG, logger="opentweet_mcp.api")
    logging.getLogger("opentweet_mcp.api").debug("oops %s and Bearer abcdefgh1234", KEY)
    assert_no_key(caplog.text)
    assert "abcdefgh1234" not in caplog.text
    del client


# --- tolerant reading ----------------------------------------------------------------------

POST = {"id": POST_ID, "text": "hi", "status": "draft"}


@pytest.mark.parametrize(
    "data", [POST, {"post": POST}, {"data": POST}, {"success": True, "post": POST}]
)
def test_unwrap_post_shapes(data: Any) -> None:
    assert unwrap_post(data) == POST


def test_unwrap_post_accepts_mongo_id() -> None:
    assert unwrap_post({"_id": POST_ID})["id"] == POST_ID


@pytest.mark.parametrize("data", [[POST], "post", None, {"post": "x"}, {"ok": True}])
def test_unwrap_post_rejects(data: Any) -> None:
    request = ops.publish_post(POST_ID)
    with pytest.raises(BadResponse) as caught:
        unwrap_post(data, request=request)
    assert caught.value.write is True
    assert caught.value.path == request.path


def test_created_posts_shapes() -> None:
    two = [POST, {**POST, "id": "507f1f77bcf86cd799439012"}]
    assert created_posts({"posts": two}) == two
    assert created_posts({"data": two}) == two
    assert created_posts({"post": POST}) == [POST]
    assert created_posts(POST) == [POST]
    bads: list[Any] = [{"posts": []}, {"posts": [{"text": "no id"}]}, [], {"nothing": 1}]
    for bad in bads:
        with pytest.raises(BadResponse):
            created_posts(bad)


def _fields(data: Any) -> tuple[str | None, str | None, str | None, bool]:
    state = publish_state(data)
    return state.status, state.x_post_id, state.url, state.posted


def test_publish_state_reads_every_known_shape() -> None:
    url = "https://x.com/u/status/1"
    top = {"status": "posted", "x_post_id": "1", "url": url}
    done = ("posted", "1", url, True)
    assert _fields(top) == done
    assert _fields({"success": True, "post": {"id": POST_ID, **top}}) == done
    assert _fields({"data": top}) == done
    assert _fields({"posts": [{"id": POST_ID, **top}]}) == done
    assert _fields({"status": "failed", "post": {"x_post_id": 12}}) == ("failed", "12", None, False)
    assert _fields({}) == (None, None, None, False)
    # the live API's newer fields: posted/failed flags and per-network results
    results = [
        {"platform": "x", "status": "posted", "post_id": "9", "url": url},
        {"platform": "bluesky", "status": "failed", "error": "token expired"},
    ]
    state = publish_state(
        {"success": True, "post": {"id": POST_ID, "posted": True, "results": results}}
    )
    assert state.posted and state.url == url and state.post_id == POST_ID and not state.failed
    assert state.networks() == f"x: posted {url}; bluesky: failed (token expired)"
    # accepted, not yet on X: a 201 without a url is pending, whatever else it says
    pending = publish_state({"success": True, "posts": [{"id": POST_ID, "status": "scheduled"}]})
    assert pending.pending and not pending.posted and pending.post_id == POST_ID
    assert publish_state({"id": POST_ID, "status": "posted"}).pending  # no url: not proof
    failed = publish_state({"post": {"id": POST_ID, "status": "publishing", "failed": True}})
    assert failed.failed and not failed.pending
    x_failed = publish_state({"post": {"id": POST_ID, "results": [results[1] | {"platform": "x"}]}})
    assert x_failed.failed and x_failed.error == "token expired"
    # a post marked failed because another network failed is still on X
    mixed = {"id": POST_ID, "status": "failed", "failed": True, "results": results}
    assert publish_state(mixed).posted and not publish_state(mixed).failed
    with pytest.raises(BadResponse):
        publish_state(["posted"])


def test_is_evergreen() -> None:
    assert is_evergreen({"isEvergreen": True, "status": "draft"})
    assert is_evergreen({"isEvergreen": True, "status": "posted"})
    assert not is_evergreen({"isEvergreen": False, "status": "evergreen"})
    assert not is_evergreen({"status": "draft"})
