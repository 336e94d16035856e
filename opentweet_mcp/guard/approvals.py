"""Pending approvals: gated calls waiting for a person's answer (docs/approvals.md).

When a person approves through a channel the agent cannot answer for it — an MCP Apps card,
a page the host opens (URL elicitation), the approvals page or `opentweet-mcp approvals` — the
call leaves a record here: what it is (tool, every argument, the key it acts for), what it
would send (the publication digest, and the preview the person is shown), and two handles:
the public `id`, which the agent holds to ask for the outcome, and the `secret`, which only
the person's channel carries (the card's result metadata, the page link), never the model.

The person's answer is claimed once: the first decision stands. The write itself is carried
out once, by whichever request holds the call, after reading again that nothing changed
(`Guard`). Records live in the ledger, so every replica and the command line see them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import anyio

from opentweet_mcp.guard.ledger import RESULT_TTL, Ledger

Verdict = Literal["approved", "declined"]
Channel = Literal["card", "url", "page", "cli"]
PAGE_PATH = "/approvals/"  # where the approvals page serves each request, under its base
RECORD = "approval:"
DECISION = "approval-decision:"
CHANGED = "approval-changed:"  # approved, then found changed when it was to be carried out
ASKED = "approval-asked:"  # the open approval of one call, so asking again shows no duplicate
OPENED = "approvals-opened:"  # per key: how many were asked for in the current window
MAX_OPEN = 50  # approvals one key may ask for per `ttl` window: a person answers fewer
POLL = 0.25  # seconds between looks at the ledger for an answer another process took
PROGRESS = 5.0  # seconds between progress notifications while a call waits


class ApprovalRefused(Exception):
    """An answer or an approval_id that cannot be taken; nothing was sent.

    `code`: `unknown` (no such approval, or not this call's), `forged` (wrong secret),
    `expired`, `decided` (answered already), `busy` (too many wait for an answer)."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.code = code


ID_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    """16 letters and digits (95 bits): nothing a shell or an argument parser reads as more
    than a word (an id starting with "-" would pass for an option of `opentweet-mcp
    approvals`)."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(16))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PendingApproval:
    id: str
    secret: str = field(repr=False)
    tool: str
    arguments: dict[str, Any]  # every argument as JSON, the approval's own ones left out
    arguments_digest: str
    publication_digest: str
    preview: dict[str, Any]  # what the card and the page draw
    lines: list[str]  # the preview as text, for the terminal
    key_digest: str
    created_at: float
    expires_at: float  # unanswered after this, it has expired
    csrf: str = field(repr=False)  # what the page's answer must carry besides the secret
    page: str | None = None  # where the approvals page that shows it is served, if anywhere

    def dump(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def load(cls, raw: str) -> PendingApproval:
        return cls(**json.loads(raw))

    @property
    def link(self) -> str | None:
        """Its approval page, if a page serves it: the secret rides in the fragment, which a
        browser never sends to a server, so it stays out of logs and Referer headers."""
        if self.page is None:
            return None
        return f"{self.page}{PAGE_PATH}{self.id}#{self.secret}"

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret.encode(), secret.encode())


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    channel: Channel
    at: float


class Approvals:
    """Pending approvals and the decisions on them, in the ledger."""

    def __init__(
        self, ledger: Ledger, ttl: float = 600.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.ledger = ledger
        self.ttl = ttl  # how long a person has to answer, and then the agent to carry it out
        self._clock = clock
        self._answered: dict[str, anyio.Event] = {}  # calls of this process waiting, by id

    async def create(
        self,
        *,
        tool: str,
        arguments: dict[str, Any],
        arguments_digest: str,
        publication_digest: str,
        preview: dict[str, Any],
        lines: list[str],
        key_digest: str,
        page: str | None,
    ) -> PendingApproval:
        """Record a pending approval. It is kept until nobody may still act on it unanswered
        (twice its time: answered at the last moment, then carried out), and for a day once
        answered, so the outcome can be asked for. At most `MAX_OPEN` per key and window.
        The same call asked again while its approval waits gets that approval back."""
        asked = ASKED + _digest(key_digest, tool, arguments_digest, publication_digest)
        already = await self.ledger.get_result(asked)
        if already is not None:
            open_one = await self.get(already)
            if (
                open_one is not None
                and self._clock() < open_one.expires_at
                and await self.decision(open_one.id) is None
            ):
                return open_one
        if await self.ledger.reserve(OPENED + key_digest, 1, MAX_OPEN, self.ttl) is None:
            raise ApprovalRefused(
                f"{MAX_OPEN} approval requests already wait for this account's person; they "
                "answer them with `opentweet-mcp approvals`, or ask again in a few minutes",
                "busy",
            )
        now = self._clock()
        approval = PendingApproval(
            id=new_id(),
            secret=secrets.token_urlsafe(32),
            tool=tool,
            arguments=arguments,
            arguments_digest=arguments_digest,
            publication_digest=publication_digest,
            preview=preview,
            lines=lines,
            key_digest=key_digest,
            created_at=now,
            expires_at=now + self.ttl,
            csrf=secrets.token_urlsafe(16),
            page=page,
        )
        await self.ledger.put_result(RECORD + approval.id, approval.dump(), 2 * self.ttl + 60)
        await self.ledger.put_result(asked, approval.id, self.ttl)
        return approval

    async def get(self, approval_id: str) -> PendingApproval | None:
        raw = await self.ledger.get_result(RECORD + approval_id)
        return PendingApproval.load(raw) if raw is not None else None

    async def decision(self, approval_id: str) -> Decision | None:
        raw = await self.ledger.get_result(DECISION + approval_id)
        return Decision(**json.loads(raw)) if raw is not None else None

    async def changed(self, approval_id: str) -> None:
        await self.ledger.put_result(CHANGED + approval_id, "1", RESULT_TTL)

    async def was_changed(self, approval_id: str) -> bool:
        return await self.ledger.get_result(CHANGED + approval_id) is not None

    def expired(self, approval: PendingApproval, decision: Decision | None) -> bool:
        """Unanswered past its time, or approved too long ago to be carried out now."""
        started = decision.at if decision is not None else approval.created_at
        return self._clock() >= started + self.ttl

    async def find(
        self, approval_id: str, secret: str, key_digest: str | None = None
    ) -> PendingApproval:
        """The request that `secret` answers for. `key_digest`, when the answer comes with an
        API key (the card), must be the request's."""
        approval = await self.get(approval_id)
        if approval is None or key_digest not in (None, approval.key_digest):
            raise ApprovalRefused("there is no such approval request", "unknown")
        if not approval.matches(secret):
            raise ApprovalRefused("this link or card does not belong to that request", "forged")
        return approval

    async def decide(
        self, approval: PendingApproval, verdict: Verdict, channel: Channel
    ) -> Decision:
        """Take a person's answer to `approval` (as `find` gave it, or the terminal read it),
        once: the decision that stands."""
        approval_id = approval.id
        if self._clock() >= approval.expires_at:
            raise ApprovalRefused("this approval request has expired; nothing was sent", "expired")
        decision = Decision(verdict, channel, self._clock())
        if not await self.ledger.claim(
            DECISION + approval_id, RESULT_TTL, json.dumps(asdict(decision))
        ):
            standing = await self.decision(approval_id)
            said = standing.verdict if standing is not None else "answered"
            raise ApprovalRefused(f"this request was already {said}", "decided")
        await self.ledger.put_result(RECORD + approval.id, approval.dump(), RESULT_TTL)
        waiting = self._answered.get(approval_id)
        if waiting is not None:
            waiting.set()
        return decision

    async def wait(
        self, approval_id: str, seconds: float, progress: Callable[[float], Awaitable[None]]
    ) -> Decision | None:
        """The decision on an approval, if one comes within `seconds`: at once when this
        process takes it (the page, the card), else seen in the ledger within `POLL` (the
        terminal, another replica). `progress(waited)` is called every few seconds."""
        answered = self._answered.setdefault(approval_id, anyio.Event())
        started = anyio.current_time()
        told = started
        try:
            while True:
                decision = await self.decision(approval_id)
                now = anyio.current_time()
                if decision is not None or now >= started + seconds:
                    return decision
                if now - told >= PROGRESS:
                    told = now
                    await progress(now - started)
                with anyio.move_on_after(min(POLL, started + seconds - now)):
                    await answered.wait()
        finally:
            self._answered.pop(approval_id, None)

    async def pending(self, key_digest: str | None = None) -> list[PendingApproval]:
        """Unanswered, unexpired approvals (of one key, or of every key in this ledger)."""
        decided = {key[len(DECISION) :] for key, _ in await self.ledger.scan(DECISION)}
        now = self._clock()
        found = [
            approval
            for approval in (PendingApproval.load(raw) for _, raw in await self.ledger.scan(RECORD))
            if key_digest in (None, approval.key_digest)
            and now < approval.expires_at
            and approval.id not in decided
        ]
        return sorted(found, key=lambda a: a.created_at)
