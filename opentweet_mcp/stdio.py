"""MCP over stdio without a thread hop per line.

The SDK's `stdio_server` reads and writes through `anyio.wrap_file`, so every message in and
every write and flush out waits for a worker thread: on the development machine that is about
half of a whole tool-call round trip (an echo tool: 1.1 ms with it, 0.6 ms without). When
stdin and stdout are pipes or sockets (as an MCP host spawns us) this transport reads and
writes them on the event loop instead.
Anywhere else — a terminal, a file, Windows, another async backend — it uses the SDK's.

Like the SDK it claims the standard descriptors while serving: it works on private duplicates
and points fd 0 at the null device and fd 1 at stderr, so stray output from a library or a
child process cannot corrupt the protocol stream. Both are restored on exit.
"""

import asyncio
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage

logger = logging.getLogger(__name__)

# A message is one line of any length, as with the SDK's transport (the host that spawned us
# is trusted; an upload carries up to 20 MiB as base64 inside one line).
_NO_LINE_LIMIT = sys.maxsize // 2


def _fast_path_available() -> bool:
    """Pipes or sockets on both sides, and not one socket for both: asyncio's write transport
    takes a socket turning readable for its peer closing, which a shared socket always does."""
    if sys.platform == "win32":
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # not the asyncio backend
        return False
    try:
        into, out = os.fstat(0), os.fstat(1)
    except OSError:
        return False
    if not all(stat.S_ISFIFO(s.st_mode) or stat.S_ISSOCK(s.st_mode) for s in (into, out)):
        return False
    return (into.st_dev, into.st_ino) != (out.st_dev, out.st_ino)


@asynccontextmanager
async def _claimed_fds() -> AsyncIterator[tuple[int, int]]:
    """Private duplicates of fd 0 and 1; the originals point at /dev/null and stderr meanwhile."""
    import fcntl

    wire_in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    wire_out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    # The event loop makes the descriptions non-blocking, which the host may share: put back
    # what they were.
    blocking = os.get_blocking(wire_in), os.get_blocking(wire_out)
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            os.dup2(null, 0)
        finally:
            os.close(null)
        os.dup2(2, 1)
        yield wire_in, wire_out
    finally:
        for wire, fd, was_blocking in ((wire_in, 0, blocking[0]), (wire_out, 1, blocking[1])):
            os.set_blocking(wire, was_blocking)
            os.dup2(wire, fd)
            os.close(wire)


@asynccontextmanager
async def _pipe_streams() -> AsyncIterator[tuple[Any, Any]]:
    loop = asyncio.get_running_loop()
    async with _claimed_fds() as (wire_in, wire_out):
        reader = asyncio.StreamReader(limit=_NO_LINE_LIMIT)
        # The transports own (and close) duplicates of their own; the claim keeps the originals.
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(os.dup(wire_in), "rb", 0)
        )
        write_transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(os.dup(wire_out), "wb", 0)
        )
        # drain() then waits until a message is wholly written, not just below 64 KiB queued:
        # nothing is left in a buffer when the session ends and the loop stops.
        write_transport.set_write_buffer_limits(high=0)
        writer = asyncio.StreamWriter(write_transport, protocol, None, loop)

        read_sender, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        write_stream, write_receiver = anyio.create_memory_object_stream[SessionMessage](0)

        async def read_lines() -> None:
            async with read_sender:
                while line := await reader.readline():
                    # Invalid UTF-8 is replaced, as the SDK does, so the request still gets
                    # an answer (an error naming the field, if it matters) rather than silence.
                    text = line.decode("utf-8", errors="replace")
                    try:
                        message = mcp_types.jsonrpc_message_adapter.validate_json(
                            text, by_name=False
                        )
                    except Exception as exc:  # the session reports a malformed message
                        await read_sender.send(exc)
                        continue
                    await read_sender.send(SessionMessage(message))

        async def write_lines() -> None:
            async with write_receiver:
                async for session_message in write_receiver:
                    data = session_message.message.model_dump_json(
                        by_alias=True, exclude_unset=True
                    )
                    try:
                        writer.write(data.encode() + b"\n")
                        await writer.drain()
                    except (BrokenPipeError, ConnectionResetError):
                        # The host is gone: stop reading and end the session as on EOF.
                        read_transport.close()
                        reader.feed_eof()
                        return

        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(read_lines)
                tasks.start_soon(write_lines)
                yield read_stream, write_stream
        finally:
            read_transport.close()
            write_transport.close()


@asynccontextmanager
async def serve_stdio() -> AsyncIterator[tuple[Any, Any]]:
    """The read and write streams of an MCP session over this process's stdin and stdout."""
    if _fast_path_available():
        logger.debug("stdio: pipes served on the event loop")
        async with _pipe_streams() as streams:
            yield streams
    else:
        logger.debug(
            "stdio: the SDK's threaded transport (no pipes, a shared socket, or not asyncio)"
        )
        async with stdio_server() as streams:
            yield streams
