"""The declaration every tool makes: its function, title, behaviour hints (README, "Tools"), and
whether it is planned: a write whose function returns a `Plan` for the gate to carry out,
with an approval (`gated`) and/or an `idempotency_key`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mcp.types import ToolAnnotations

ToolFn = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class ToolSpec:
    """One tool: the async function (its docstring is the description) and its annotations."""

    fn: ToolFn
    title: str
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = True
    gated: bool = False  # takes confirmation_token; the gate asks for an approval when it arms
    idempotency_key: bool = False  # takes idempotency_key

    @property
    def planned(self) -> bool:
        """`fn` returns a Plan, which `tools.gating` hands to the gate."""
        return self.gated or self.idempotency_key

    @property
    def name(self) -> str:
        return self.fn.__name__

    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=self.open_world,
        )


def declare(
    registry: list[ToolSpec],
    title: str,
    *,
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
    open_world: bool = True,
    gated: bool = False,
    idempotency_key: bool = False,
) -> Callable[[ToolFn], ToolFn]:
    """Add the decorated function to a toolset's registry, unchanged."""

    def add(fn: ToolFn) -> ToolFn:
        registry.append(
            ToolSpec(
                fn,
                title,
                read_only=read_only,
                destructive=destructive and not read_only,
                idempotent=idempotent,
                open_world=open_world,
                gated=gated,
                idempotency_key=idempotency_key,
            )
        )
        return fn

    return add
