"""Shared fixtures.

Sandbox fixtures: the OpenTweet simulator served over a real loopback socket for the whole
session (`sandbox_server`), reset before and after each test (`sandbox`)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette

from opentweet_mcp.config import Settings
from opentweet_mcp.sandbox.app import Sandbox
from opentweet_mcp.sandbox.runner import SandboxServer
from opentweet_mcp.xsim.app import XSimApp, create_x_app


@pytest.fixture(autouse=True, scope="session")
def state_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Servers and commands started by the tests keep their state in a folder of the tests,
    never in the user's own state folder."""
    before = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    yield
    if before is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = before


# --- sandbox -----------------------------------------------------------------------------------


@dataclass
class SandboxHandle:
    """What a test needs of the sandbox: its URL, its app, and its controls in Python (sync)."""

    server: SandboxServer

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def app(self) -> Starlette:
        return self.server.app

    @property
    def state(self) -> Sandbox:
        return self.server.sandbox

    def faults(self, *rules: dict[str, Any], **rule: Any) -> None:
        """Add fault rules, as dicts and/or one rule as keywords (the fields of
        `POST /_sandbox/faults`: path, method, times, and one action). Unknown fields raise."""
        for each in (*rules, *([rule] if rule else [])):
            self.state.add_fault(**each)

    def fault(self, **rule: Any) -> None:
        """Add one fault rule (same as `faults(**rule)`)."""
        self.state.add_fault(**rule)

    def clear_faults(self) -> None:
        """Remove every fault rule (`DELETE /_sandbox/faults`)."""
        self.state.clear_faults()

    def requests(self) -> list[dict[str, Any]]:
        """The request log, oldest first (same entries as `GET /_sandbox/requests`)."""
        return self.state.requests()

    def scheduler(self, now: datetime | str | None = None) -> dict[str, int]:
        """Publish due scheduled posts and evergreen clones as of `now` (default: the clock)."""
        return self.state.scheduler(now)

    def config(self, **knobs: Any) -> None:
        """Set knobs (see `Sandbox.DEFAULTS`); unknown names raise ValueError."""
        self.state.configure(**knobs)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxHandle]:
    sandbox_server.sandbox.reset()
    yield SandboxHandle(sandbox_server)
    sandbox_server.sandbox.reset()


@pytest.fixture
def x_settings(xsim_server: tuple[str, XSimApp], tmp_path: Path) -> Settings:
    """Settings for `--provider x` on the simulator, signed in through its test mode, with
    the provider's files in the test's own folder."""
    from opentweet_mcp.xsim.runner import signed_in
    from tests.harness import TEST_SECRET

    xsim_server[1].xsim.reset()
    base = Settings(provider="x", secret=TEST_SECRET, confirm="token", timeout=5)
    return signed_in(base, xsim_server[0], tmp_path / "x")


@pytest.fixture(scope="session")
def xsim_server() -> Iterator[tuple[str, XSimApp]]:
    """The X API simulator (opentweet_mcp/xsim) on a free loopback port, for the session."""
    app = create_x_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    server.should_exit = True
    thread.join(10)
    sock.close()
