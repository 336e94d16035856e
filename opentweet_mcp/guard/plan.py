"""What a tool hands the gate: its call, decided before anything is written (`Plan`), and
that plan with every argument an approval binds to (`Call`)."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcp.types import CallToolResult
from pydantic_core import to_jsonable_python

from opentweet_mcp.caller import Caller
from opentweet_mcp.guard.publication import Publication

Perform = Callable[[], Awaitable[CallToolResult]]
Reader = Callable[[], Awaitable[Publication | None]]


@dataclass(frozen=True)
class Plan:
    """One tool call, decided before anything is written."""

    tool: str
    caller: Caller
    perform: Perform
    read: Reader | None = None  # what the call would make go out; None: it never arms anything
    posts: tuple[str, ...] = ()  # existing posts it reads and writes: locked from read to write
    named_account: str | None = None  # the account the call named, for the preview
    texts: tuple[str, ...] = ()  # every tweet it sends: checked against the account's limit


@dataclass(frozen=True)
class Call:
    """A planned call with what approvals bind to: every argument but the approval's own
    (`confirmation_token`, `approval_id`)."""

    plan: Plan
    arguments: Mapping[str, Any]
    token: str | None = None
    idempotency_key: str | None = None
    approval_id: str | None = None

    @functools.cached_property
    def arguments_json(self) -> dict[str, Any]:
        jsonable: dict[str, Any] = to_jsonable_python(dict(self.arguments))
        return jsonable

    @functools.cached_property
    def arguments_digest(self) -> str:
        canonical = json.dumps(
            self.arguments_json, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
