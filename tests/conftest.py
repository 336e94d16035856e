"""Shared fixtures.

Sandbox fixtures: the OpenTweet simulator served over a real loopback socket for the whole
session (`sandbox_server`), reset before and after each test (`sandbox`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from starlette.applications import Starlette

from opentweet_mcp.sandbox.app import Sandbox
from opentweet_mcp.sandbox.runner import SandboxServer


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
