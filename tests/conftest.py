"""Shared fixtures: the sandbox served over a real loopback socket, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from opentweet_mcp.sandbox.app import Sandbox
from opentweet_mcp.sandbox.runner import SandboxServer


@dataclass
class SandboxHandle:
    """What a test needs of the sandbox: its URL, and its controls in Python."""

    server: SandboxServer

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def state(self) -> Sandbox:
        return self.server.sandbox

    def fault(self, **rule: Any) -> None:
        self.state.add_fault(**rule)

    def requests(self) -> list[dict[str, Any]]:
        return self.state.store.requests()

    def config(self, **knobs: Any) -> None:
        self.state.config.update(knobs)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxHandle]:
    sandbox_server.sandbox.reset()
    yield SandboxHandle(sandbox_server)
    sandbox_server.sandbox.reset()
