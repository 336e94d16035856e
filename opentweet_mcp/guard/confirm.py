"""The gate every write goes through (docs/approvals.md): what goes out is what was approved.

A tool describes its call as a `Plan`: how to read what the call would make go out (the
`Publication`, from the request and live state) and how to perform it. The gate reads it,
under a lock on the posts involved, right before the write. A call that arms nothing (a
draft, an edit of an unarmed draft) is performed at once; any other needs an approval that
covers exactly that publication, given in one of these ways (`ways.py`):

- a person, outside the conversation: an MCP Apps card, a page the client opens, or the
  approvals page and `opentweet-mcp approvals`. The call leaves a pending approval
  (`approvals.py`); the person's answer is taken once, and the write is carried out once by
  the waiting call, the card, or the agent's next call with `approval_id`;
- a person, through a form the client shows (elicitation): once they accept, the gate reads
  again and acts only if nothing changed while they read;
- an agent-held token: without a token nothing is written; the answer is
  `confirmation_required` with the preview and a token bound to the tool, every argument, the
  caller's key and the publication's digest. With the token, the gate checks the call before
  any request, reads again, and acts only if the digest is unchanged.

Every write is done at most once: approvals are spent before the request and results are
kept for replays, and idempotency keys return the first result (`IdempotencyStore`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, Elicit
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from opentweet_mcp.api.errors import ApiError, OpenTweetError, UpstreamUnavailable
from opentweet_mcp.caller import Caller
from opentweet_mcp.config import Settings
from opentweet_mcp.guard import answers
from opentweet_mcp.guard.approvals import (
    ApprovalRefused,
    Approvals,
    Decision,
    PendingApproval,
)
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
from opentweet_mcp.guard.plan import Call, Plan
from opentweet_mcp.guard.preview import Handles, Preview, render
from opentweet_mcp.guard.publication import Publication
from opentweet_mcp.guard.tokens import ConfirmationRefused, ConfirmationTokens, VerifiedToken
from opentweet_mcp.guard.ways import Way, choose
from opentweet_mcp.validate import InvalidArguments, StateRefused, check_lengths, over_standard

log = logging.getLogger("opentweet_mcp.guard")

PageLink = Callable[[], Awaitable[str | None]]


@dataclass(frozen=True)
class Shown:
    """What the person was asked to approve in a form (elicitation)."""

    publication: Publication
    preview: Preview


class Approval(BaseModel):
    """The form a person answers in elicitation mode (primitive fields only)."""

    approve: bool = Field(description="Approve exactly this?")


Answer = ElicitationResult[Approval]


class Guard:
    """Approval, idempotency keys, post locks and the daily publish budget, in one place."""

    def __init__(
        self,
        settings: Settings,
        tokens: ConfirmationTokens,
        ledger: Ledger,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.ledger = ledger
        self.idempotency = IdempotencyStore(ledger)
        self.confirmations = ConfirmationReplay(ledger)
        # A person's accepted answer is spent once like a token: a 2026-era client may send the
        # round that carries it again (a retry, or on purpose), and each would write.
        self.elicited = ConfirmationReplay(ledger, ttl=tokens.ttl_seconds)
        self.approvals = Approvals(ledger, ttl=tokens.ttl_seconds)
        self.carried_out = ConfirmationReplay(ledger)  # pending approvals, by id
        self.budget = DailyPublishBudget(ledger, settings.daily_publish_limit)
        self.locks = PostLocks(ledger)
        # where the approvals page is served (started on first need); set by `Services`
        self.page: PageLink | None = None

    def way(self, ctx: Context[Any, Any]) -> Way:
        return choose(self.settings.confirm, ctx)

    # --- elicitation: the resolvers' half -------------------------------------------------

    async def shown(self, ctx: Context[Any, Any], call: Call) -> Shown | None:
        """What to put to the person in a form now, or None when no form is shown: another
        way of approving, nothing armed, or a result already kept for this call."""
        plan = call.plan
        if plan.read is None or call.approval_id is not None or self.way(ctx) != "form":
            return None
        if await self._kept(call):
            return None
        publication = await self.publication(plan)
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
        if call.approval_id is not None:
            return await self._by_approval_id(call)
        way = self.way(ctx)
        verified: VerifiedToken | None = None
        if way == "token" and call.token is not None:
            verified = self.tokens.verify(
                call.token, plan.tool, call.arguments_digest, plan.caller.key_digest
            )
            replay = await self.confirmations.peek(verified.nonce)
            if replay is not None:
                return answers.replayed(
                    replay.result, "this confirmation token was already carried out"
                )
        async with self.locks.holding(plan.caller.key_digest, plan.posts):
            publication = await self.publication(plan)
            if publication is None:
                return await self._once(call, {})
            if way == "refuse":
                raise ConfirmationRefused(
                    "this server requires a person to approve this action (--confirm elicit), "
                    "but the client cannot show confirmation prompts (no elicitation support)",
                    "elicitation_unavailable",
                )
            if way == "form":
                return await self._elicited(call, publication, shown, approval)
            if way == "token":
                return await self._by_token(call, publication, verified)
        # a person's way: nothing is written now, so the posts need not stay locked
        await self.budget.check(plan.caller.key_digest, publication.tweets_per_day(_now()))
        return await self._ask_person(ctx, call, await self._pending(call, publication), way)

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
            return answers.replayed(replay.result, "this approval was already carried out")
        if shown is None or shown.publication.digest != publication.digest:
            return answers.changed(tool, while_asked=True)
        if isinstance(approval, AcceptedElicitation) and approval.data.approve:
            per_day = publication.tweets_per_day(_now())
            return await self._spent_once(self.elicited, answer, call, per_day)
        # accepting the form with approve=false is a decline too; a cancel is the person's own
        if approval is not None and approval.action == "cancel":
            return answers.declined(tool, "they dismissed the client's form")
        return answers.not_shown(
            tool, "in the client's form", await self._pending(call, publication)
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
            preview = await self._preview(plan, publication)
            minted = self.tokens.mint(
                plan.tool, call.arguments_digest, plan.caller.key_digest, publication.digest
            )
            return answers.confirmation_required(plan.tool, preview, minted, changed=changed)
        return await self._spent_once(self.confirmations, verified.nonce, call, per_day)

    # --- a person, outside the conversation -------------------------------------------------

    async def _pending(self, call: Call, publication: Publication) -> PendingApproval:
        plan = call.plan
        preview = await self._preview(plan, publication)
        page = await self.page() if self.page is not None else None
        return await self.approvals.create(
            tool=plan.tool,
            arguments=call.arguments_json,
            arguments_digest=call.arguments_digest,
            publication_digest=publication.digest,
            preview=preview.data,
            lines=preview.lines,
            key_digest=plan.caller.key_digest,
            page=page,
        )

    async def _ask_person(
        self, ctx: Context[Any, Any], call: Call, approval: PendingApproval, way: Way
    ) -> CallToolResult:
        """Put the pending approval to the person, and wait a while for their answer."""
        if way == "card":
            return answers.pending(approval, way, waited=False)  # the card shows it
        if way == "url":
            link = approval.link
            if link is None:
                return answers.pending(approval, "page", waited=False)
            outcome = await ctx.elicit_url(
                f"Approve or decline what {call.plan.tool} would send, on this page.",
                link,
                approval.id,
            )
            if outcome.action != "accept":  # the page was not opened: it waits for the terminal
                return answers.not_shown(approval.tool, "asked to open the approval page", approval)
        decision = await self._wait(ctx, approval)
        if way == "url" and decision is not None and ctx.session is not None:
            await ctx.session.send_elicit_complete(approval.id)
        if decision is None:
            return answers.pending(approval, way, waited=True)
        return await self._outcome(replace(call, approval_id=approval.id), approval, decision)

    async def _wait(self, ctx: Context[Any, Any], approval: PendingApproval) -> Decision | None:
        """The person's decision, if it comes within `approval_wait` seconds."""
        limit = self.settings.approval_wait

        async def progress(waited: float) -> None:
            await ctx.report_progress(waited, limit, "waiting for the person's answer")

        return await self.approvals.wait(approval.id, limit, progress)

    async def _by_approval_id(self, call: Call) -> CallToolResult:
        """The outcome of a pending approval, carrying it out once if it was approved."""
        plan, approval_id = call.plan, call.approval_id or ""
        approval = await self.approvals.get(approval_id)
        if (
            approval is None
            or approval.key_digest != plan.caller.key_digest
            or (approval.tool, approval.arguments_digest) != (plan.tool, call.arguments_digest)
        ):
            raise ApprovalRefused(
                f"approval_id {approval_id!r} does not belong to this {plan.tool} call: repeat "
                "exactly the arguments it was issued for, or call again without approval_id",
                "unknown",
            )
        return await self._outcome(call, approval, await self.approvals.decision(approval.id))

    async def _outcome(
        self, call: Call, approval: PendingApproval, decision: Decision | None
    ) -> CallToolResult:
        """What became of `approval` (this call's own): carried out once if it was approved."""
        plan = call.plan
        replay = await self.carried_out.peek(approval.id)
        if replay is not None:
            return answers.replayed(replay.result, "this approval was already carried out")
        if self.approvals.expired(approval, decision):
            return answers.expired(plan.tool)
        if decision is None:
            return answers.pending(approval, "page", waited=True)
        if decision.verdict == "declined":
            return answers.declined(plan.tool, decision.channel)
        async with self.locks.holding(plan.caller.key_digest, plan.posts):
            publication = await self.publication(plan)
            if publication is None or publication.digest != approval.publication_digest:
                await self.approvals.changed(approval.id)  # for the person's page to say
                return answers.changed(plan.tool)
            per_day = publication.tweets_per_day(_now())
            return await self._spent_once(self.carried_out, approval.id, call, per_day)

    async def state(self, approval: PendingApproval) -> tuple[str, CallToolResult | None]:
        """Where a pending approval stands, for the people answering it: pending, approved
        (waiting to be carried out), declined, expired, changed (approved, but what it would
        send changed since: nothing sent), carrying out, done (with the result) or unknown
        (the write may or may not have happened)."""
        carried = await self.carried_out.status(approval.id)
        if carried is not None:
            status, result = carried
            if status == "done" and result is not None:
                return "done", CallToolResult.model_validate_json(result)
            return ("carrying out" if status == "pending" else "unknown"), None
        decision = await self.approvals.decision(approval.id)
        if self.approvals.expired(approval, decision):
            return "expired", None
        if decision is not None and await self.approvals.was_changed(approval.id):
            return "changed", None
        return (decision.verdict if decision is not None else "pending"), None

    # --- at most once ----------------------------------------------------------------------

    async def _spent_once(
        self, approvals: ConfirmationReplay, nonce: str, call: Call, per_day: Mapping[str, int]
    ) -> CallToolResult:
        """Carry out `call` under an approval that is spent before the request goes out, its
        result kept, so that using the approval again answers the first result."""
        replay = await approvals.begin(nonce)
        if replay is not None:
            return answers.replayed(replay.result, "this approval was already carried out")
        try:
            result = await self._once(call, per_day)
        except Exception as exc:
            if provably_not_done(exc):
                await approvals.abandon(nonce)  # nothing happened: the approval still stands
            else:
                await approvals.mark_unknown(nonce)
            raise
        await approvals.complete(nonce, answers.dump(result))
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
        return answers.replayed(stored, "this idempotency_key was already carried out")

    async def _once(self, call: Call, per_day: Mapping[str, int]) -> CallToolResult:
        plan, key = call.plan, call.idempotency_key
        key_digest, fingerprint = plan.caller.key_digest, call.arguments_digest
        if key is not None:
            replay = await self.idempotency.begin(key_digest, plan.tool, key, fingerprint)
            if replay is not None:
                return answers.replayed(
                    replay.result, "this idempotency_key was already carried out"
                )
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
            await self.idempotency.complete(
                key_digest, plan.tool, key, fingerprint, answers.dump(result)
            )
        return result

    # --- what goes out ---------------------------------------------------------------------

    @staticmethod
    async def publication(plan: Plan) -> Publication | None:
        """What the call would make go out, read now, with every tweet held to the limit of
        the account it goes out as (its own, which may not be the one the call named)."""
        if plan.read is None:
            return None
        publication = await plan.read()
        for post in publication.posts if publication is not None else ():
            texts = [tweet.text for tweet in post.tweets]
            if post.armed and over_standard(texts):
                check_lengths(texts, await plan.caller.tweet_limit(post.account))
        return publication

    # --- the preview -----------------------------------------------------------------------

    async def _preview(self, plan: Plan, publication: Publication) -> Preview:
        return render(publication, await self.handles(plan.caller), _now(), plan.named_account)

    async def handles(self, caller: Caller) -> Handles:
        """The @handles of the caller's X accounts, read at most every few minutes."""
        try:
            listed = await caller.accounts()
        except OpenTweetError:
            return Handles({}, None, caller.client.media_note)  # "account <id>" instead
        accounts = [a for a in listed if a.get("id")]
        by_id = {str(a["id"]): str(a.get("x_handle") or a["id"]) for a in accounts}
        primary = next((by_id[str(a["id"])] for a in accounts if a.get("is_primary")), None)
        return Handles(by_id, primary, caller.client.media_note)


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
        | ApprovalRefused
        | IdempotencyConflict
        | DailyLimitReached
        | PostBusy,
    )
