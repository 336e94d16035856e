"""What the `--provider x` tests share: a session on a server signed in to the simulator, the
provider's folder, the X client a separate scheduler process would have, and what X took."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client

from opentweet_mcp.config import Settings
from opentweet_mcp.sandbox.faults import Fault
from opentweet_mcp.server import build_server
from opentweet_mcp.xapi.auth import TokenFile, XApp
from opentweet_mcp.xapi.client import XClient


def folder(settings: Settings) -> Path:
    assert settings.x_state is not None
    return settings.x_state


@asynccontextmanager
async def session(settings: Settings) -> AsyncIterator[Client]:
    async with Client(build_server(settings), mode="legacy") as client:
        yield client


@asynccontextmanager
async def scheduler_client(settings: Settings) -> AsyncIterator[XClient]:
    """The X client a separate `opentweet-mcp scheduler` process would have."""
    tokens = TokenFile(folder(settings) / "x-tokens.json", XApp.from_settings(settings))
    async with httpx2.AsyncClient(timeout=5) as http:
        yield XClient(tokens, http, folder(settings) / "x-threads")


def tweets(xsim_server: tuple[str, Any]) -> list[dict[str, Any]]:
    """What X took: every tweet created, oldest first."""
    return [
        r["body"]
        for r in xsim_server[1].xsim.store.requests()
        if r["method"] == "POST" and r["path"] == "/2/tweets" and r["status"] == 201
    ]


VIDEO = base64.b64encode(b"\0\0\0\x18ftypmp42" + b"v" * 5000).decode()  # a tiny MP4


async def upload_video(client: Client) -> str:
    """A video uploaded with upload_media: the URL to attach it by."""
    done = await client.call_tool("upload_media", {"data_base64": VIDEO, "filename": "v.mp4"})
    assert not done.is_error and done.structured_content is not None
    return str(done.structured_content["url"])


def lose_answer_and_timeline(xsim_server: tuple[str, Any]) -> None:
    """The next tweet is taken by X but its answer is lost, and the timeline that could show
    it cannot be read once."""
    faults = xsim_server[1].xsim.faults
    faults.add(Fault.from_json({"action": "reset_after", "path": "/2/tweets", "method": "POST"}))
    faults.add(Fault.from_json({"status": 503, "path": "/2/users/[0-9]+/tweets", "method": "GET"}))
