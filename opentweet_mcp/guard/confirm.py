"""The gate every gated tool goes through (SPEC §6, §7).

A gated tool describes its call as a `Plan`: the exact upstream request, a preview a person can
judge, and how to perform it. The gate then confirms it one of two ways.

Token mode: a call without a token makes no write; it answers `confirmation_required` with a
token bound to the request, the tool, the caller's key and an expiry. The same call with the
token is checked before any request, its nonce consumed before the write goes out, and the
result remembered, so a replay returns it instead of writing again.

Elicitation mode: the tool's approval parameter is filled by a resolver (`asks_person`) that
shows the preview to the person through the client (`Elicit`), which works in both protocol
eras; only an accepted answer performs the write.

Writes that need no confirmation pass through `once` for their idempotency keys.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, Elicit
from mcp.types import CallToolResult, TextContent
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field

from opentweet_mcp.api.errors import ApiError, OpenTweetError, UpstreamUnavailable
from opentweet_mcp.api.operations import ApiRequest
from opentweet_mcp.config import Settings
from opentweet_mcp.guard.ledger import (
    ConfirmationReplay,
    DailyLimitReached,
    DailyPublishBudget,
    IdempotencyConflict,
    IdempotencyStore,
    Ledger,
)
from opentweet_mcp.guard.tokens import ConfirmationRefused, ConfirmationTokens
from opentweet_mcp.services import Caller
from opentweet_mcp.validate import InvalidArguments

log = logging.getLogger("opentweet_mcp.guard")

Perform = Callable[[], Awaitable[CallToolResult]]
Mode = Literal["token", "elicit", "refuse"]


@dataclass
class Preview:
    """What a person needs to judge a gated call: the action, readable lines, the details."""

    action: str
    lines: list[str]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """One tool call, fully decided before anything is written."""

    tool: str
    caller: Caller
    request: ApiRequest
    account: str | None
    perform: Perform
    preview: Callable[[], Awaitable[Preview]] | None = None  # reads it may need, gated only
    tweets: int = 0  # tweets this call publishes, for the daily publish budget
    gated: bool = True  # create_post only needs confirmation with publish_now

    async def show(self) -> Preview:
        return await self.preview() if self.preview else Preview(self.tool, [])

    def digest(self) -> str:
        """The request digest bound to the account it acts as (SPEC §6.2)."""
        return hashlib.sha256(
            f"{self.request.digest()}|{self.account or 'primary'}".encode()
        ).hexdigest()


class Approval(BaseModel):
    """The form a person answers in elicitation mode (primitive fields only)."""

    approve: bool = Field(description="Approve this action?")


Answer = ElicitationResult[Approval]


def _dump(result: CallToolResult) -> str:
    return result.model_dump_json(by_alias=True, exclude_none=True)


def _replayed(stored: str, why: str) -> CallToolResult:
    result = CallToolResult.model_validate_json(stored)
    note = TextContent(type="text", text=f"(Replayed: {why}; no new request was made.)")
    return result.model_copy(update={"content": [*result.content, note]})


def can_elicit(ctx: Context[Any, Any]) -> bool:
    """Whether the client can be asked: it declared elicitation and there is a way to ask."""
    caps = ctx.client_capabilities
    if caps is None or caps.elicitation is None:
        return False
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return True  # rides InputRequiredResult, no back-channel needed
    session = ctx.session
    return bool(session is not None and session.can_send_request)


class Guard:
    """Confirmation, idempotency keys and the daily publish budget, in one place."""

    def __init__(self, settings: Settings, tokens: ConfirmationTokens, ledger: Ledger) -> None:
        self.settings = settings
        self.tokens = tokens
        self.ledger = ledger
        self.idempotency = IdempotencyStore(ledger)
        self.confirmations = ConfirmationReplay(ledger)
        self.budget = DailyPublishBudget(ledger, settings.daily_publish_limit)
        self._handles: dict[tuple[str, str | None], str] = {}

    def mode(self, ctx: Context[Any, Any]) -> Mode:
        if self.settings.confirm == "token":
            return "token"
        if can_elicit(ctx):
            return "elicit"
        return "refuse" if self.settings.confirm == "elicit" else "token"

    async def ask(self, ctx: Context[Any, Any], plan: Plan) -> Elicit[Approval] | Approval:
        """The resolver's half: in elicitation mode, put the preview to the person."""
        if not plan.gated or self.mode(ctx) != "elicit":
            return Approval(approve=False)  # not asked; `confirmed` knows from the mode
        await self.budget.check(plan.caller.key_digest, plan.tweets)
        shown = await plan.show()
        handle = await self.account_label(plan.caller, plan.account)
        message = "\n".join(
            [f"Approve: {shown.action}, as {handle}?", *shown.lines, "This cannot be undone."]
        )
        return Elicit(message, Approval)

    async def confirmed(
        self,
        ctx: Context[Any, Any],
        plan: Plan,
        *,
        token: str | None,
        idempotency_key: str | None,
        approval: Answer | None = None,
    ) -> CallToolResult:
        """Perform `plan` once it is confirmed; otherwise answer what confirmation needs."""
        if not plan.gated:
            return await self._once(plan, idempotency_key)
        mode = self.mode(ctx)
        if mode == "refuse":
            raise ConfirmationRefused(
                "this server requires a person to approve this action (--confirm elicit), "
                "but the client cannot show confirmation prompts (no elicitation support)",
                "elicitation_unavailable",
            )
        if mode == "elicit":
            if isinstance(approval, AcceptedElicitation) and approval.data.approve:
                return await self._once(plan, idempotency_key)
            # accepting the form with approve=false is a decline too
            outcome = (
                "cancelled" if approval is not None and approval.action == "cancel" else "declined"
            )
            return CallToolResult(
                content=[
                    TextContent(
                        type="text",
                        text=f"NOT DONE — the user {outcome} ({plan.tool}). Nothing was sent.",
                    )
                ],
                structured_content={"status": outcome, "action": plan.tool},
            )
        return await self._token_flow(plan, token, idempotency_key)

    async def _token_flow(
        self, plan: Plan, token: str | None, idempotency_key: str | None
    ) -> CallToolResult:
        digest = plan.digest()
        key_digest = plan.caller.key_digest
        if token is None:
            if idempotency_key is not None:
                stored = await self.idempotency.peek(key_digest, plan.tool, idempotency_key, digest)
                if stored is not None:
                    return _replayed(stored, "this idempotency_key was already carried out")
            await self.budget.check(key_digest, plan.tweets)
            return await self._confirmation_required(plan, await plan.show())

        verified = self.tokens.verify(token, plan.tool, digest, key_digest)
        replay = await self.confirmations.begin(verified.nonce)  # consumes the token
        if replay is not None:
            return _replayed(replay.result, "this confirmation token was already carried out")
        try:
            result = await self._once(plan, idempotency_key)
        except Exception as exc:
            if provably_not_done(exc):
                await self.confirmations.abandon(verified.nonce)  # the token may be used again
            else:
                await self.confirmations.mark_unknown(verified.nonce)
            raise
        await self.confirmations.complete(verified.nonce, _dump(result))
        return result

    async def once(self, plan: Plan, idempotency_key: str | None) -> CallToolResult:
        """Perform a write that needs no confirmation, at most once per idempotency key."""
        return await self._once(plan, idempotency_key)

    async def _once(self, plan: Plan, key: str | None) -> CallToolResult:
        key_digest = plan.caller.key_digest
        digest = plan.digest()
        if key is not None:
            replay = await self.idempotency.begin(key_digest, plan.tool, key, digest)
            if replay is not None:
                return _replayed(replay.result, "this idempotency_key was already carried out")
        await self.budget.reserve(key_digest, plan.tweets)
        try:
            result = await plan.perform()
        except Exception as exc:
            if provably_not_done(exc):
                await self.budget.release(key_digest, plan.tweets)
                if key is not None:
                    await self.idempotency.abandon(key_digest, plan.tool, key)
            elif key is not None:
                await self.idempotency.mark_unknown(key_digest, plan.tool, key, digest)
            raise
        if key is not None:
            await self.idempotency.complete(key_digest, plan.tool, key, digest, _dump(result))
        return result

    async def _confirmation_required(self, plan: Plan, shown: Preview) -> CallToolResult:
        minted = self.tokens.mint(plan.tool, plan.digest(), plan.caller.key_digest)
        handle = await self.account_label(plan.caller, plan.account)
        data = {
            "status": "confirmation_required",
            "action": shown.action,
            "preview": {"action": shown.action, "account": handle, **shown.details},
            "confirmation_token": minted.token,
            "expires_at": minted.expires_at_iso,
        }
        text = "\n".join(
            [
                "NOT DONE YET — confirmation required. Nothing was sent.",
                f"Action: {shown.action}, as {handle}.",
                *shown.lines,
                "Show this preview to the user. Only if they agree, call "
                f"{plan.tool} again with the same arguments plus "
                f'confirmation_token="{minted.token}" (valid until {minted.expires_at_iso}).',
            ]
        )
        return CallToolResult(
            content=[TextContent(type="text", text=text)], structured_content=data
        )

    async def account_label(self, caller: Caller, account: str | None) -> str:
        """The @handle a write acts as, looked up once per key and account, then cached."""
        cache_key = (caller.key_digest, account)
        if cache_key not in self._handles:
            fallback = f"account {account}" if account else "the primary account"
            try:
                data = await caller.client.accounts()
            except OpenTweetError:
                return fallback
            accounts = data.get("accounts") or []
            match = next(
                (
                    a
                    for a in accounts
                    if (a.get("id") == account if account else a.get("is_primary"))
                ),
                None,
            )
            if match is None:
                return fallback
            self._handles[cache_key] = str(match.get("x_handle") or match.get("id"))
        return self._handles[cache_key]


def provably_not_done(exc: Exception) -> bool:
    """Whether a failed write certainly did not happen, so it may be tried again.

    Local refusals and 4xx answers were never applied, and an unreachable upstream never got
    the request; a 5xx, a lost answer or anything unexpected may have been applied.
    """
    if isinstance(exc, ApiError):
        return exc.status < 500
    return isinstance(
        exc,
        UpstreamUnavailable
        | InvalidArguments
        | ConfirmationRefused
        | IdempotencyConflict
        | DailyLimitReached,
    )


Planner = Callable[..., Awaitable[Plan]]


def asks_person(planner: Planner) -> Callable[..., Awaitable[Elicit[Approval] | Approval]]:
    """A resolver for a gated tool's approval parameter, taking the planner's parameters.

    The SDK runs it before the tool body with the validated arguments it names; in
    elicitation mode it returns `Elicit(preview)`, which the SDK delivers in either protocol
    era, otherwise a plain value that means "not asked".
    """
    from opentweet_mcp.results import tool_errors
    from opentweet_mcp.services import services

    @functools.wraps(planner)
    async def resolver(ctx: Context[Any, Any], **arguments: Any) -> Elicit[Approval] | Approval:
        return await services(ctx).guard.ask(ctx, await planner(ctx, **arguments))

    # The SDK matches resolver parameters to tool arguments by name, so the resolver shows
    # the planner's own signature; only the return type differs.
    resolver.__signature__ = inspect.signature(planner).replace(  # type: ignore[attr-defined]
        return_annotation=Elicit[Approval] | Approval
    )
    resolver.__annotations__ = {
        **planner.__annotations__,
        "return": Elicit[Approval] | Approval,
    }
    return tool_errors(resolver)
