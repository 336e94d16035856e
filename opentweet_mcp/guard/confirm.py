"""The gate every write goes through (SPEC §6, §7): what goes out is what was approved.

A tool describes its call as a `Plan`: how to read what the call would make go out (the
`Publication`, from the request and live state) and how to perform it. The gate reads it,
under a lock on the posts involved, right before the write. A call that arms nothing (a
draft, an edit of an unarmed draft) is performed at once; any other needs an approval that
covers exactly that publication:

- token mode: without a token nothing is written; the answer is `confirmation_required` with
  the preview and a token bound to the tool, every argument, the caller's key and the
  publication's digest. With the token, the gate checks the call before any request, reads
  again, and acts only if the digest is unchanged; otherwise it answers a fresh preview.
- elicitation mode: the person is shown the preview through the client (`Shown`); once they
  accept, the gate reads again and acts only if nothing changed while they read.

Every write is done at most once: approvals are consumed before the request and results are
kept for replays, and idempotency keys return the first result (`IdempotencyStore`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, Elicit
from mcp.types import CallToolResult, TextContent
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python

from opentweet_mcp.api.errors import ApiError, OpenTweetError, UpstreamUnavailable
from opentweet_mcp.caller import Caller
from opentweet_mcp.config import Settings
from opentweet_mcp.guard.ledger import (
    ConfirmationReplay,
    DailyLimitReached,
    DailyPublishBudget,
    IdempotencyConflict,
    IdempotencyStore,
    Ledger,
    PostBusy,
    PostLocks,
)
from opentweet_mcp.guard.preview import Handles, Preview, render
from opentweet_mcp.guard.publication import Publication
from opentweet_mcp.guard.tokens import ConfirmationRefused, ConfirmationTokens, VerifiedToken
from opentweet_mcp.validate import InvalidArguments, StateRefused

log = logging.getLogger("opentweet_mcp.guard")

Perform = Callable[[], Awaitable[CallToolResult]]
Reader = Callable[[], Awaitable[Publication | None]]
Mode = Literal["token", "elicit", "refuse"]
HANDLES_TTL = 300.0  # seconds an account's @handles are trusted before they are read again
MAX_CACHED_KEYS = 1024


@dataclass(frozen=True)
class Plan:
    """One tool call, decided before anything is written."""

    tool: str
    caller: Caller
    perform: Perform
    read: Reader | None = None  # what the call would make go out; None: it never arms anything
    posts: tuple[str, ...] = ()  # existing posts it reads and writes: locked from read to write
    named_account: str | None = None  # the account the call named, for the preview


@dataclass(frozen=True)
class Call:
    """A planned call with what approvals bind to: every argument but the token itself."""

    plan: Plan
    arguments: Mapping[str, Any]
    token: str | None = None
    idempotency_key: str | None = None

    @functools.cached_property
    def arguments_digest(self) -> str:
        canonical = json.dumps(
            to_jsonable_python(dict(self.arguments)),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Shown:
    """What the person was asked to approve (elicitation mode)."""

    publication: Publication
    preview: Preview


class Approval(BaseModel):
    """The form a person answers in elicitation mode (primitive fields only)."""

    approve: bool = Field(description="Approve exactly this?")


Answer = ElicitationResult[Approval]


def _dump(result: CallToolResult) -> str:
    return result.model_dump_json(by_alias=True, exclude_none=True)


def _replayed(stored: str, why: str) -> CallToolResult:
    result = CallToolResult.model_validate_json(stored)
    note = TextContent(type="text", text=f"(Replayed: {why}; no new request was made.)")
    return result.model_copy(update={"content": [*result.content, note]})


def _not_done(text: str, status: str, tool: str) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content={"status": status, "action": tool},
    )


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
    """Approval, idempotency keys, post locks and the daily publish budget, in one place."""

    def __init__(self, settings: Settings, tokens: ConfirmationTokens, ledger: Ledger) -> None:
        self.settings = settings
        self.tokens = tokens
        self.ledger = ledger
        self.idempotency = IdempotencyStore(ledger)
        self.confirmations = ConfirmationReplay(ledger)
        # A person's accepted answer is spent once like a token: a 2026-era client may send the
        # round that carries it again (a retry, or on purpose), and each would write.
        self.elicited = ConfirmationReplay(ledger, ttl=tokens.ttl_seconds)
        self.budget = DailyPublishBudget(ledger, settings.daily_publish_limit)
        self.locks = PostLocks(ledger)
        self._handles: dict[str, tuple[float, Handles]] = {}

    def mode(self, ctx: Context[Any, Any]) -> Mode:
        if self.settings.confirm == "token":
            return "token"
        if can_elicit(ctx):
            return "elicit"
        return "refuse" if self.settings.confirm == "elicit" else "token"

    # --- elicitation: the resolvers' half -------------------------------------------------

    async def shown(self, ctx: Context[Any, Any], call: Call) -> Shown | None:
        """What to put to the person now, or None when nobody is asked: not elicitation
        mode, nothing armed, or an idempotency key whose result is already kept."""
        plan = call.plan
        if plan.read is None or self.mode(ctx) != "elicit" or await self._kept(call):
            return None
        publication = await plan.read()
        if publication is None or await self.elicited.peek(_answer_id(call, publication)):
            return None  # nothing goes out, or this very approval was carried out already
        await self.budget.check(plan.caller.key_digest, publication.tweets_per_day(_now()))
        return Shown(publication, await self._preview(plan, publication))

    @staticmethod
    def ask(shown: Shown | None) -> Elicit[Approval] | Approval:
        """The question for the person, or a plain value that means "not asked"."""
        if shown is None:
            return Approval(approve=False)
        message = "\n".join(
            [
                "Approve exactly this? Nothing is sent unless you do.",
                *shown.preview.lines,
                f"(preview {shown.preview.data['ref']})",
            ]
        )
        return Elicit(message, Approval)

    # --- the gate --------------------------------------------------------------------------

    async def run(
        self,
        ctx: Context[Any, Any],
        call: Call,
        *,
        shown: Shown | None = None,
        approval: Answer | None = None,
    ) -> CallToolResult:
        """Perform `call` if it arms nothing or an approval covers what it makes go out;
        otherwise answer what approval needs. Nothing is sent before the checks pass."""
        plan = call.plan
        kept = await self._kept(call)
        if kept is not None:
            return kept
        mode = self.mode(ctx)
        verified: VerifiedToken | None = None
        if mode == "token" and call.token is not None:
            verified = self.tokens.verify(
                call.token, plan.tool, call.arguments_digest, plan.caller.key_digest
            )
            replay = await self.confirmations.peek(verified.nonce)
            if replay is not None:
                return _replayed(replay.result, "this confirmation token was already carried out")
        async with self.locks.holding(plan.caller.key_digest, plan.posts):
            publication = await plan.read() if plan.read is not None else None
            if publication is None:
                return await self._once(call, {})
            if mode == "refuse":
                raise ConfirmationRefused(
                    "this server requires a person to approve this action (--confirm elicit), "
                    "but the client cannot show confirmation prompts (no elicitation support)",
                    "elicitation_unavailable",
                )
            if mode == "elicit":
                return await self._elicited(call, publication, shown, approval)
            return await self._by_token(call, publication, verified)

    async def _elicited(
        self,
        call: Call,
        publication: Publication,
        shown: Shown | None,
        approval: Answer | None,
    ) -> CallToolResult:
        tool = call.plan.tool
        answer = _answer_id(call, publication)
        replay = await self.elicited.peek(answer)
        if replay is not None:
            return _replayed(replay.result, "this approval was already carried out")
        if shown is None or shown.publication.digest != publication.digest:
            return _not_done(
                "NOT DONE — what this call would send changed while the person was being "
                f"asked (the post was edited, or its state changed). Nothing was sent. Call {tool} "
                "again to show them the current version.",
                "changed",
                tool,
            )
        if isinstance(approval, AcceptedElicitation) and approval.data.approve:
            per_day = publication.tweets_per_day(_now())
            return await self._spent_once(self.elicited, answer, call, per_day)
        # accepting the form with approve=false is a decline too
        outcome = (
            "cancelled" if approval is not None and approval.action == "cancel" else "declined"
        )
        return _not_done(
            f"NOT DONE — the person {outcome} ({tool}), or the client could not show them the "
            "request. Nothing was sent.",
            outcome,
            tool,
        )

    async def _by_token(
        self, call: Call, publication: Publication, verified: VerifiedToken | None
    ) -> CallToolResult:
        plan = call.plan
        per_day = publication.tweets_per_day(_now())
        changed = verified is not None and not self.tokens.content_matches(
            verified, publication.digest
        )
        if verified is None or changed:
            await self.budget.check(plan.caller.key_digest, per_day)
            return await self._confirmation_required(call, publication, changed=changed)
        return await self._spent_once(self.confirmations, verified.nonce, call, per_day)

    async def _spent_once(
        self, approvals: ConfirmationReplay, nonce: str, call: Call, per_day: Mapping[str, int]
    ) -> CallToolResult:
        """Carry out `call` under an approval that is spent before the request goes out, its
        result kept, so that using the approval again answers the first result."""
        replay = await approvals.begin(nonce)
        if replay is not None:
            return _replayed(replay.result, "this approval was already carried out")
        try:
            result = await self._once(call, per_day)
        except Exception as exc:
            if provably_not_done(exc):
                await approvals.abandon(nonce)  # nothing happened: the approval still stands
            else:
                await approvals.mark_unknown(nonce)
            raise
        await approvals.complete(nonce, _dump(result))
        return result

    async def _kept(self, call: Call) -> CallToolResult | None:
        """The kept result of an idempotency key already carried out with these arguments."""
        if call.idempotency_key is None:
            return None
        stored = await self.idempotency.peek(
            call.plan.caller.key_digest,
            call.plan.tool,
            call.idempotency_key,
            call.arguments_digest,
        )
        if stored is None:
            return None
        return _replayed(stored, "this idempotency_key was already carried out")

    async def _once(self, call: Call, per_day: Mapping[str, int]) -> CallToolResult:
        plan, key = call.plan, call.idempotency_key
        key_digest, fingerprint = plan.caller.key_digest, call.arguments_digest
        if key is not None:
            replay = await self.idempotency.begin(key_digest, plan.tool, key, fingerprint)
            if replay is not None:
                return _replayed(replay.result, "this idempotency_key was already carried out")
        try:
            await self.budget.reserve(key_digest, per_day)
        except DailyLimitReached:
            if key is not None:
                await self.idempotency.abandon(key_digest, plan.tool, key)
            raise
        try:
            result = await plan.perform()
        except Exception as exc:
            if provably_not_done(exc):
                await self.budget.release(key_digest, per_day)
                if key is not None:
                    await self.idempotency.abandon(key_digest, plan.tool, key)
            elif key is not None:
                await self.idempotency.mark_unknown(key_digest, plan.tool, key, fingerprint)
            raise
        if key is not None:
            await self.idempotency.complete(key_digest, plan.tool, key, fingerprint, _dump(result))
        return result

    async def _confirmation_required(
        self, call: Call, publication: Publication, *, changed: bool
    ) -> CallToolResult:
        plan = call.plan
        preview = await self._preview(plan, publication)
        minted = self.tokens.mint(
            plan.tool, call.arguments_digest, plan.caller.key_digest, publication.digest
        )
        head = "NOT DONE YET — confirmation required. Nothing was sent."
        if changed:
            head += (
                " What this call would send changed since the preview the token was issued "
                "for (the post was edited, or its state changed): this is a fresh preview; the "
                "old token no longer applies."
            )
        text = "\n".join(
            [
                head,
                *preview.lines,
                "Show this whole preview to the user. Only if they agree, call "
                f"{plan.tool} again with the same arguments plus "
                f'confirmation_token="{minted.token}" (valid until {minted.expires_at_iso}).',
            ]
        )
        data: dict[str, Any] = {
            "status": "confirmation_required",
            "action": preview.action,
            "preview": preview.data,
            "confirmation_token": minted.token,
            "expires_at": minted.expires_at_iso,
        }
        if changed:
            data["changed_since_preview"] = True
        return CallToolResult(
            content=[TextContent(type="text", text=text)], structured_content=data
        )

    async def _preview(self, plan: Plan, publication: Publication) -> Preview:
        return render(publication, await self.handles(plan.caller), _now(), plan.named_account)

    async def handles(self, caller: Caller) -> Handles:
        """The @handles of the caller's X accounts, read at most every few minutes."""
        cached = self._handles.get(caller.key_digest)
        if cached is not None and time.monotonic() - cached[0] < HANDLES_TTL:
            return cached[1]
        try:
            data = await caller.client.accounts()
        except OpenTweetError:
            return Handles({}, None)  # the preview says "account <id>" instead
        accounts = [a for a in data.get("accounts") or [] if isinstance(a, dict) and a.get("id")]
        by_id = {str(a["id"]): str(a.get("x_handle") or a["id"]) for a in accounts}
        primary = next((by_id[str(a["id"])] for a in accounts if a.get("is_primary")), None)
        handles = Handles(by_id, primary)
        if len(self._handles) >= MAX_CACHED_KEYS:
            self._handles.pop(next(iter(self._handles)))
        self._handles[caller.key_digest] = (time.monotonic(), handles)
        return handles


def _now() -> datetime:
    return datetime.now(UTC)


def _answer_id(call: Call, publication: Publication) -> str:
    """What identifies one person's approval: this caller, tool, arguments and content."""
    parts = (call.plan.caller.key_digest, call.plan.tool, call.arguments_digest)
    joined = "\n".join((*parts, publication.digest))
    return "elicited:" + hashlib.sha256(joined.encode()).hexdigest()


def provably_not_done(exc: Exception) -> bool:
    """Whether a failed write certainly did not happen, so it may be tried again.

    Local refusals and 4xx answers were never applied, and an unreachable upstream never got
    the request; a 5xx, a lost answer or anything unexpected may have been applied.
    """
    if isinstance(exc, ApiError):
        return exc.status < 500
    if isinstance(exc, UpstreamUnavailable):
        return not exc.maybe_applied
    return isinstance(
        exc,
        InvalidArguments
        | StateRefused
        | ConfirmationRefused
        | IdempotencyConflict
        | DailyLimitReached
        | PostBusy,
    )
