"""The stdio transport (`opentweet_mcp/stdio.py`) in real child processes: framing, large
messages, stray output kept off the wire, the SDK's transport where stdout is not a pipe, the
descriptors given back on exit, and a host that goes away."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

SERVER = """\
import logging, os, subprocess, sys
from opentweet_mcp.server import OpenTweetServer

logging.basicConfig(stream=sys.stderr, level=logging.DEBUG, format="%(name)s %(message)s")
server = OpenTweetServer("stdio-test")


@server.tool()
async def echo(text: str) -> str:
    \"\"\"Return the text.\"\"\"
    return text


@server.tool()
async def echo_file(data_base64: str) -> str:
    \"\"\"Return the file: a file's base64 is the one argument with no length bound.\"\"\"
    return data_base64


@server.tool()
async def stray() -> str:
    \"\"\"Write to stdout three ways, as a careless library or child process would.\"\"\"
    print("stray print", flush=True)
    os.write(1, b"stray os.write\\n")
    subprocess.run(["echo", "stray child"], check=True)
    return "done"


server.run()
print("server.run returned", file=sys.stderr)
try:
    os.write(1, b"after\\n")  # the wire is ours again once the server is done
except BrokenPipeError:
    pass
print(f"blocking stdin={os.get_blocking(0)} stdout={os.get_blocking(1)}", file=sys.stderr)
"""

INIT = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "t", "version": "1"},
}


def message(id_: int, method: str, params: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}).encode()


def call(id_: int, tool: str, arguments: dict[str, Any]) -> bytes:
    return message(id_, "tools/call", {"name": tool, "arguments": arguments})


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "server.py"
    path.write_text(SERVER)
    return path


async def spawn(script: Path, stdout: Any) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        stdin=asyncio.subprocess.PIPE,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
        limit=2**24,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )


async def send(proc: asyncio.subprocess.Process, *lines: bytes) -> None:
    assert proc.stdin is not None
    proc.stdin.write(b"".join(line + b"\n" for line in lines))
    await proc.stdin.drain()


async def answer(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    """The next line on stdout, which must be a JSON-RPC message."""
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    parsed: dict[str, Any] = json.loads(line)  # stray output here would fail the parse
    return parsed


async def finish(proc: asyncio.subprocess.Process) -> tuple[bytes, str]:
    """Close stdin (the host's way to stop a server); the rest of stdout and all of stderr."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.close()
    rest, err = await asyncio.wait_for(asyncio.gather(proc.stdout.read(), proc.stderr.read()), 30)
    assert await proc.wait() == 0, err.decode()
    return rest, err.decode()


async def test_pipes_are_served_on_the_event_loop(script: Path) -> None:
    proc = await spawn(script, asyncio.subprocess.PIPE)
    await send(proc, message(1, "initialize", INIT))
    assert (await answer(proc))["result"]["serverInfo"]["name"] == "stdio-test"
    await send(proc, json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode())

    await send(proc, call(2, "stray", {}))
    assert (await answer(proc))["result"]["content"][0]["text"] == "done"

    big = "é" * (3 * 1024 * 1024)  # 6 MiB of UTF-8 in one line each way
    await send(proc, call(3, "echo_file", {"data_base64": big}), call(4, "echo", {"text": "small"}))
    answers = {a["id"]: a for a in [await answer(proc), await answer(proc)]}
    assert answers[3]["result"]["content"][0]["text"] == big
    assert answers[4]["result"]["content"][0]["text"] == "small"

    await send(proc, b"{not json", call(5, "echo", {"text": "still serving"}))
    assert (await answer(proc))["result"]["content"][0]["text"] == "still serving"

    rest, err = await finish(proc)
    assert rest == b"after\n"
    assert "pipes served on the event loop" in err
    for stray in ("stray print", "stray os.write", "stray child"):
        assert stray in err  # sent to stderr while the server held the wire
    assert "blocking stdin=True stdout=True" in err
    assert "Traceback" not in err


async def test_a_file_as_stdout_gets_the_sdk_transport(script: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "out.jsonl"
    with out_path.open("wb") as out:
        proc = await spawn(script, out)
        await send(proc, message(1, "initialize", INIT), call(2, "echo", {"text": "to a file"}))
        for _ in range(300):  # until both answers are written
            if out_path.read_bytes().count(b"\n") >= 2:
                break
            await asyncio.sleep(0.05)
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.close()
        err = (await asyncio.wait_for(proc.stderr.read(), 30)).decode()
        assert await proc.wait() == 0, err
    lines = out_path.read_bytes().splitlines()
    answers = [json.loads(line) for line in lines[:2]]
    assert answers[1]["result"]["content"][0]["text"] == "to a file"
    assert lines[2:] == [b"after"]
    assert "the SDK's threaded transport" in err


async def test_a_host_that_stops_reading_ends_the_session(script: Path) -> None:
    proc = await spawn(script, asyncio.subprocess.PIPE)
    await send(proc, message(1, "initialize", INIT))
    await answer(proc)
    transport: Any = proc._transport  # type: ignore[attr-defined]
    transport.get_pipe_transport(1).close()  # the host closes its end of our stdout
    await send(proc, call(2, "echo", {"text": "nobody reads this"}))
    assert proc.stderr is not None
    err = (await asyncio.wait_for(proc.stderr.read(), 30)).decode()
    assert await asyncio.wait_for(proc.wait(), 30) == 0, err
    assert "server.run returned" in err
    assert "Traceback" not in err


async def test_the_server_asks_and_reports_progress_over_its_pipes(sandbox: Any) -> None:
    """Messages the server starts (an elicitation, progress) travel the same pipes."""
    from mcp import ClientSession, StdioServerParameters, stdio_client
    from mcp.types import ElicitResult

    asked: list[str] = []

    async def approve(ctx: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    env = {
        **os.environ,
        "OPENTWEET_API_KEY": "pro_stdio_asker",
        "OPENTWEET_BASE_URL": sandbox.base_url,
        "OPENTWEET_MCP_CONFIRM": "auto",
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "opentweet_mcp"], env=env)
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write, elicitation_callback=approve) as client,
    ):
        await client.initialize()
        posts = [{"text": f"Asked over stdio {i}"} for i in range(3)]
        result = await client.call_tool(
            "bulk_create_posts", {"posts": posts}, progress_callback=on_progress
        )
        assert not result.is_error, result.content
    assert asked and "3" in asked[0]
    assert progress  # at least one progress notification arrived
    created = [
        r for r in sandbox.requests() if r["method"] == "POST" and r["path"] == "/api/v1/posts"
    ]
    assert len(created) == 1


def test_a_response_under_way_at_eof_is_written_whole(script: Path) -> None:
    """stdin closes while part of an answer still waits for a host that reads late: a 100 kB
    answer fills the 64 kB pipe and leaves the rest queued, below asyncio's default high-water
    mark, where drain() would not wait for it."""
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    assert proc.stdin is not None and proc.stdout is not None
    big = "y" * 50_000  # the answer carries it twice (text and structured)
    proc.stdin.write(
        message(1, "initialize", INIT) + b"\n" + call(2, "echo", {"text": big}) + b"\n"
    )
    proc.stdin.flush()
    time.sleep(1.0)  # the pipe is full by now and the rest of the answer queued
    proc.stdin.close()
    time.sleep(1.5)  # the session ends meanwhile; the server must still write it all
    received = b""
    while chunk := os.read(proc.stdout.fileno(), 65536):
        received += chunk
    assert proc.wait(30) == 0
    proc.stdout.close()
    lines = received.split(b"\n")
    assert json.loads(lines[1])["result"]["content"][0]["text"] == big
    assert lines[2:] == [b"after", b""]


async def test_invalid_utf8_still_gets_an_answer(script: Path) -> None:
    proc = await spawn(script, asyncio.subprocess.PIPE)
    await send(proc, message(1, "initialize", INIT))
    await answer(proc)
    await send(proc, call(2, "echo", {"text": "caf"}).replace(b'"caf"', b'"caf\xe9"'))
    assert (await answer(proc))["result"]["content"][0]["text"] == "caf\ufffd"
    await finish(proc)


def test_one_socket_for_stdin_and_stdout_gets_the_sdk_transport(script: Path) -> None:
    """inetd-style: the same socket on fd 0 and 1 (asyncio's pipe transports cannot share it)."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        proc = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=theirs,
            stdout=theirs,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
        )
        theirs.close()
        reader = ours.makefile("rb")
        ours.sendall(message(1, "initialize", INIT) + b"\n")
        assert json.loads(reader.readline())["id"] == 1
        ours.sendall(call(2, "echo", {"text": "one socket"}) + b"\n")  # after the first answer
        assert json.loads(reader.readline())["result"]["content"][0]["text"] == "one socket"
        ours.shutdown(socket.SHUT_WR)
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        proc.stderr.close()
        assert proc.wait(30) == 0, err
        reader.close()
    assert "the SDK's threaded transport" in err
