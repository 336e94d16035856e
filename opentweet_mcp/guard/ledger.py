"""State that must outlive one tool call: single-use nonces, idempotency results, the daily
publish budget, and locks on the posts a call is changing (docs/approvals.md, docs/architecture.md).

Everything sits behind `Ledger`, a handful of atomic operations chosen to map one-to-one onto
Redis (SET NX PX, SET PX, GET, DEL and two short Lua scripts), so replicas can share one
store later without the callers changing. `MemoryLedger` is the single-process version.
`IdempotencyStore`, `ConfirmationReplay`, `DailyPublishBudget` and `PostLocks` are the
policies built on top of it.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol

import anyio

from opentweet_mcp.guard.tokens import ConfirmationRefused

RESULT_TTL = 24 * 3600.0
BUDGET_TTL_MARGIN = 3600.0


class Ledger(Protocol):
    """Atomic key-value operations with expiry; values are strings, counters integers.

    Redis mapping (for the Redis implementation): `claim` = SET key value NX PX ttl;
    `claim_all` = Lua: nothing if any key exists, else SET each with PX ttl;
    `put_result` = SET key value PX ttl; `get_result` = GET; `delete` = DEL key…;
    `reserve` = Lua: read the counter (0 if absent), return nil if it plus `amount` would pass
    `limit`, else INCRBY and, if the key has no TTL yet, PEXPIRE; `release` = Lua: if the key
    exists, DECRBY but never below zero; `peek` = GET as int, 0 if absent; `scan` = SCAN
    MATCH prefix* then MGET.

    `identity` names the store: processes that share one give the same identity. Approvals
    are bound to it, since an approval is single-use only where its use is recorded.
    """

    identity: str

    async def claim(self, key: str, ttl: float, value: str = "1") -> bool:
        """Set `key` only if absent; True if this call set it."""
        ...

    async def claim_all(self, keys: Sequence[str], ttl: float, value: str = "1") -> bool:
        """Set every key, or none if any is present; True if this call set them."""
        ...

    async def put_result(self, key: str, value: str, ttl: float) -> None:
        """Set `key` unconditionally, replacing any value and expiry."""
        ...

    async def get_result(self, key: str) -> str | None: ...

    async def delete(self, *keys: str) -> None: ...

    async def reserve(self, counter_key: str, amount: int, limit: int, ttl: float) -> int | None:
        """Add `amount` if the new total stays within `limit`: the new total, or None and no
        change. `ttl` applies when the counter is created; later reserves keep its expiry."""
        ...

    async def release(self, counter_key: str, amount: int) -> None:
        """Give back `amount`, never below zero; a counter that is gone stays gone."""
        ...

    async def peek(self, counter_key: str) -> int: ...

    async def scan(self, prefix: str) -> list[tuple[str, str]]:
        """Every live key starting with `prefix`, with its value, in key order (for listing
        a handful of records, such as pending approvals; not for counters)."""
        ...

    async def aclose(self) -> None:
        """Release connections, if any."""
        ...


def check_ttl(ttl: float) -> None:
    """The argument checks every `Ledger` makes alike."""
    if not ttl > 0:
        raise ValueError(f"ttl must be positive, got {ttl}")


def check_amount(amount: int) -> None:
    if amount < 0:
        raise ValueError("amount must not be negative")


class MemoryLedger:
    """`Ledger` in one process's memory.

    Every operation runs without awaiting inside, under a plain lock, so each is atomic for
    asyncio tasks and threads alike. Expired entries are dropped as time passes (a heap of
    expiry times is swept on every operation), so memory holds only what is still live.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.identity = f"memory:{secrets.token_hex(16)}"  # this process's, this instance's
        self._data: dict[str, tuple[str, float]] = {}
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    async def aclose(self) -> None:
        """Nothing to release: the state lives and dies with the process."""

    def __len__(self) -> int:
        """Live entries (after pruning what has expired)."""
        with self._lock:
            self._prune(self._clock())
            return len(self._data)

    # --- internals (call with the lock held) --------------------------------------------

    def _prune(self, now: float) -> None:
        heap = self._expiries
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            entry = self._data.get(key)
            if entry is not None and entry[1] <= now:
                del self._data[key]
        # Keys rewritten many times leave stale heap items; rebuild when they dominate.
        if len(heap) > 2 * len(self._data) + 64:
            self._expiries = [(exp, key) for key, (_, exp) in self._data.items()]
            heapq.heapify(self._expiries)

    def _set(self, key: str, value: str, expires_at: float) -> None:
        self._data[key] = (value, expires_at)
        heapq.heappush(self._expiries, (expires_at, key))

    def _now(self) -> float:
        now = self._clock()
        self._prune(now)
        return now

    # --- Ledger ----------------------------------------------------------------------------

    async def claim(self, key: str, ttl: float, value: str = "1") -> bool:
        return await self.claim_all((key,), ttl, value)

    async def claim_all(self, keys: Sequence[str], ttl: float, value: str = "1") -> bool:
        check_ttl(ttl)
        with self._lock:
            now = self._now()
            if any(key in self._data for key in keys):
                return False
            for key in keys:
                self._set(key, value, now + ttl)
            return True

    async def put_result(self, key: str, value: str, ttl: float) -> None:
        check_ttl(ttl)
        with self._lock:
            self._set(key, value, self._now() + ttl)

    async def get_result(self, key: str) -> str | None:
        with self._lock:
            self._now()
            entry = self._data.get(key)
            return entry[0] if entry is not None else None

    async def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    async def reserve(self, counter_key: str, amount: int, limit: int, ttl: float) -> int | None:
        check_ttl(ttl)
        check_amount(amount)
        with self._lock:
            now = self._now()
            entry = self._data.get(counter_key)
            total = (int(entry[0]) if entry else 0) + amount
            if total > limit:
                return None
            if entry is None:
                self._set(counter_key, str(total), now + ttl)
            else:
                self._data[counter_key] = (str(total), entry[1])
            return total

    async def release(self, counter_key: str, amount: int) -> None:
        check_amount(amount)
        with self._lock:
            self._now()
            entry = self._data.get(counter_key)
            if entry is not None:
                self._data[counter_key] = (str(max(0, int(entry[0]) - amount)), entry[1])

    async def peek(self, counter_key: str) -> int:
        with self._lock:
            self._now()
            entry = self._data.get(counter_key)
            return int(entry[0]) if entry is not None else 0

    async def scan(self, prefix: str) -> list[tuple[str, str]]:
        with self._lock:
            self._now()
            return sorted((k, v[0]) for k, v in self._data.items() if k.startswith(prefix))


# --- at most once: idempotency keys and confirmation tokens --------------------------------

STALE_AFTER = 300.0
"""Seconds after which a call still marked in flight is taken to have ended without saying
how (a crash, a lost task): far longer than any request with its retries takes."""

IN_PROGRESS = (
    "a call with this idempotency_key is still in progress; wait for it to finish, then "
    "repeat the same call to get its result"
)
OUTCOME_UNKNOWN = (
    "an earlier call with this idempotency_key ended with an unknown outcome: it may have "
    "been carried out. Check list_posts before retrying; only if it did not happen, retry "
    "with a new idempotency_key"
)
OTHER_ARGUMENTS = (
    "idempotency_key already used with other arguments; use a new idempotency_key for a "
    "different call"
)
TOKEN_IN_PROGRESS = (
    "this confirmation token is already being carried out by another call; wait for it to "
    "finish, then repeat the same call to get its result"
)
TOKEN_OUTCOME_UNKNOWN = (
    "this confirmation token was already used and the outcome of its call is unknown: it may "
    "have been carried out. Check list_posts before anything else; only if it did not happen, "
    "call again without a token for a fresh preview"
)

Status = Literal["pending", "unknown", "done"]


@dataclass(frozen=True)
class Replay:
    """The stored result of a call already carried out under the same key and arguments."""

    result: str


class IdempotencyConflict(Exception):
    """An idempotency_key that cannot be used for this call; the message is for the model."""


@dataclass(frozen=True)
class _Record:
    """One write's progress as stored in the ledger.

    `pending` is claimed before the request goes out, `done` holds its result, `unknown` marks
    a call that may or may not have happened. `at` is when the status was set (wall clock, so
    replicas sharing a ledger agree on it).
    """

    fingerprint: str
    status: Status
    at: float
    result: str | None = None

    def dump(self) -> str:
        return json.dumps(
            {"fp": self.fingerprint, "status": self.status, "at": self.at, "result": self.result}
        )

    @classmethod
    def load(cls, raw: str) -> _Record | None:
        try:
            data = json.loads(raw)
            fingerprint, status, at, result = data["fp"], data["status"], data["at"], data["result"]
        except (ValueError, TypeError, KeyError):
            return None
        if (
            not isinstance(fingerprint, str)
            or status not in ("pending", "unknown", "done")
            or not isinstance(at, int | float)
            or not isinstance(result, str | None)
            or (status == "done") != (result is not None)
        ):
            return None
        return cls(fingerprint, status, float(at), result)


class _AtMostOnce:
    """The state machine shared by idempotency keys and confirmation tokens.

    absent → `begin` claims `pending` (SET NX) → `complete` (done, result kept) or `abandon`
    (back to absent: provably nothing happened) or `mark_unknown` (kept, blocks for good).
    A record that cannot be read is treated as unknown: blocking is the safe failure.
    """

    def __init__(self, ledger: Ledger, clock: Callable[[], float], stale_after: float) -> None:
        self.ledger = ledger
        self._clock = clock
        self._stale_after = stale_after

    async def begin(self, key: str, fingerprint: str, ttl: float) -> _Record | None:
        """None if this call claimed `key`; otherwise the record that is already there."""
        marker = _Record(fingerprint, "pending", self._clock()).dump()
        for _ in range(3):  # retried only if the record vanished between claim and read
            if await self.ledger.claim(key, ttl, marker):
                return None
            raw = await self.ledger.get_result(key)
            if raw is not None:
                return self.read(raw, fingerprint)
        return _Record(fingerprint, "unknown", self._clock())

    def read(self, raw: str, fingerprint: str) -> _Record:
        record = _Record.load(raw)
        if record is None:
            return _Record(fingerprint, "unknown", self._clock())
        if record.status == "pending" and self._clock() - record.at >= self._stale_after:
            return _Record(record.fingerprint, "unknown", record.at)
        return record

    async def complete(self, key: str, fingerprint: str, result: str, ttl: float) -> None:
        await self.ledger.put_result(
            key, _Record(fingerprint, "done", self._clock(), result).dump(), ttl
        )

    async def mark_unknown(self, key: str, fingerprint: str, ttl: float) -> None:
        await self.ledger.put_result(
            key, _Record(fingerprint, "unknown", self._clock()).dump(), ttl
        )

    async def abandon(self, key: str) -> None:
        await self.ledger.delete(key)


class IdempotencyStore:
    """At most one write per (API key, tool, idempotency_key) within 24 hours.

    The caller runs `begin` before the request and then exactly one of: `complete` (it
    succeeded, or failed in a way worth replaying), `abandon` (it provably did not happen, so
    a retry with the same key may go ahead) or `mark_unknown` (it may have happened: the key
    stays blocked for 24 hours with a refusal that tells the agent to check list_posts,
    because a retry must not make a second write). A call that never reports back reads as
    unknown after `stale_after` seconds.
    """

    def __init__(
        self,
        ledger: Ledger,
        clock: Callable[[], float] = time.time,
        stale_after: float = STALE_AFTER,
    ) -> None:
        self.ledger = ledger
        self._once = _AtMostOnce(ledger, clock, stale_after)

    @staticmethod
    def _key(key_digest: str, tool: str, idem_key: str) -> str:
        # hashed: the caller's key is free text, the ledger key should be bounded and plain
        return f"idem:{key_digest}:{tool}:{hashlib.sha256(idem_key.encode()).hexdigest()}"

    async def begin(
        self, key_digest: str, tool: str, idem_key: str, fingerprint: str
    ) -> Replay | None:
        """Claim the key for this call (None: go ahead), or the earlier result to replay.

        Raises IdempotencyConflict when the key was used with other arguments, is still in
        flight, or ended with an unknown outcome.
        """
        record = await self._once.begin(
            self._key(key_digest, tool, idem_key), fingerprint, RESULT_TTL
        )
        if record is None:
            return None
        if record.fingerprint != fingerprint:
            raise IdempotencyConflict(OTHER_ARGUMENTS)
        if record.status == "pending":
            raise IdempotencyConflict(IN_PROGRESS)
        if record.status == "unknown" or record.result is None:
            raise IdempotencyConflict(OUTCOME_UNKNOWN)
        return Replay(record.result)

    async def complete(
        self, key_digest: str, tool: str, idem_key: str, fingerprint: str, result_json: str
    ) -> None:
        """Remember the result for 24 hours, replacing the in-flight marker."""
        await self._once.complete(
            self._key(key_digest, tool, idem_key), fingerprint, result_json, RESULT_TTL
        )

    async def mark_unknown(
        self, key_digest: str, tool: str, idem_key: str, fingerprint: str
    ) -> None:
        """The request may have happened: keep the key blocked, saying so, for 24 hours."""
        await self._once.mark_unknown(
            self._key(key_digest, tool, idem_key), fingerprint, RESULT_TTL
        )

    async def abandon(self, key_digest: str, tool: str, idem_key: str) -> None:
        """Drop the marker: the request provably did not happen, so a retry may proceed."""
        await self._once.abandon(self._key(key_digest, tool, idem_key))

    async def peek(self, key_digest: str, tool: str, idem_key: str, fingerprint: str) -> str | None:
        """The stored result if this call already completed; None if unused or in flight.

        For previews: raises IdempotencyConflict if the key was used with other arguments or
        its call ended with an unknown outcome, since confirming could only be refused.
        """
        raw = await self.ledger.get_result(self._key(key_digest, tool, idem_key))
        if raw is None:
            return None
        record = self._once.read(raw, fingerprint)
        if record.fingerprint != fingerprint:
            raise IdempotencyConflict(OTHER_ARGUMENTS)
        if record.status == "unknown":
            raise IdempotencyConflict(OUTCOME_UNKNOWN)
        return record.result


class ConfirmationReplay:
    """Single use for confirmation tokens, keeping the first call's result for replays.

    Same protocol as IdempotencyStore, keyed by the token's nonce (the token's MAC already
    binds it to one tool, request and API key, so no fingerprint is needed): `begin` before
    the request consumes the nonce, then one of `complete`, `abandon`, `mark_unknown`.
    A replay of a consumed token returns the stored result, or is refused with code `used`.
    """

    def __init__(
        self,
        ledger: Ledger,
        clock: Callable[[], float] = time.time,
        stale_after: float = STALE_AFTER,
        ttl: float = RESULT_TTL,
    ) -> None:
        self.ledger = ledger
        self._once = _AtMostOnce(ledger, clock, stale_after)
        self._ttl = ttl

    @staticmethod
    def _key(nonce: str) -> str:
        return f"token:{nonce}"

    async def begin(self, nonce: str) -> Replay | None:
        """Consume the nonce (None: go ahead), or the earlier result to replay.

        Raises ConfirmationRefused (code `used`) while the first call is in flight or when
        its outcome is unknown.
        """
        record = await self._once.begin(self._key(nonce), "", self._ttl)
        return None if record is None else self._replay(record)

    async def peek(self, nonce: str) -> Replay | None:
        """The stored result if this token was already carried out; None if it is unused.

        Checked before the call reads anything: a replay answers from the ledger. Raises like
        `begin` while the first call is in flight or when its outcome is unknown."""
        record = await self._record(nonce)
        return None if record is None else self._replay(record)

    async def status(self, nonce: str) -> tuple[Status, str | None] | None:
        """Where the call under this token stands (pending, unknown, done with its result),
        or None if it was never begun."""
        record = await self._record(nonce)
        return None if record is None else (record.status, record.result)

    async def _record(self, nonce: str) -> _Record | None:
        raw = await self.ledger.get_result(self._key(nonce))
        return None if raw is None else self._once.read(raw, "")

    def _replay(self, record: _Record) -> Replay:
        if record.status == "done" and record.result is not None:
            return Replay(record.result)
        message = TOKEN_IN_PROGRESS if record.status == "pending" else TOKEN_OUTCOME_UNKNOWN
        raise ConfirmationRefused(message, "used")

    async def complete(self, nonce: str, result_json: str) -> None:
        await self._once.complete(self._key(nonce), "", result_json, self._ttl)

    async def mark_unknown(self, nonce: str) -> None:
        await self._once.mark_unknown(self._key(nonce), "", self._ttl)

    async def abandon(self, nonce: str) -> None:
        """The request provably did not happen: the (still unexpired) token may be used again."""
        await self._once.abandon(self._key(nonce))


# --- daily publish budget ------------------------------------------------------------------


class DailyLimitReached(Exception):
    """A call that would pass --daily-publish-limit on some UTC day; refused before any request."""

    def __init__(self, day: str, used: int, limit: int, tweets: int) -> None:
        self.day = day
        self.used = used
        self.limit = limit
        self.tweets = tweets
        super().__init__(
            f"daily publish limit reached for {day} (UTC): {used} of {limit} tweets are already "
            f"published or scheduled for that day through this server, and this call would add "
            f"{tweets} more. Nothing was sent. Move posts to other days, or ask the user to "
            "raise the limit (--daily-publish-limit)"
        )


class DailyPublishBudget:
    """Counts tweets per API key per UTC day they go out, and refuses what would pass the limit.

    A call arms tweets on one or more days (a batch spreads over a week): `check` answers at
    preview time without counting; `reserve` counts every day atomically per day, all or
    nothing, right before the request; `release` gives it back if the request provably did not
    happen. A day's counter lives until that day is over.
    """

    def __init__(
        self, ledger: Ledger, limit: int | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.ledger = ledger
        self.limit = limit
        self._clock = clock

    def _counter(self, key_digest: str, day: str) -> str:
        return f"budget:{key_digest}:{day}"

    def _ttl(self, day: str) -> float:
        end = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC) + timedelta(
            days=1
        )
        left = (end - datetime.fromtimestamp(self._clock(), UTC)).total_seconds()
        return max(left, 0.0) + BUDGET_TTL_MARGIN

    def _counted(self, per_day: Mapping[str, int]) -> list[tuple[str, int]]:
        if self.limit is None:
            return []
        return sorted((day, n) for day, n in per_day.items() if n > 0)

    async def check(self, key_digest: str, per_day: Mapping[str, int]) -> None:
        for day, tweets in self._counted(per_day):
            used = await self.ledger.peek(self._counter(key_digest, day))
            if self.limit is not None and used + tweets > self.limit:
                raise DailyLimitReached(day, used, self.limit, tweets)

    async def reserve(self, key_digest: str, per_day: Mapping[str, int]) -> None:
        done: dict[str, int] = {}
        for day, tweets in self._counted(per_day):
            counter = self._counter(key_digest, day)
            assert self.limit is not None
            if await self.ledger.reserve(counter, tweets, self.limit, self._ttl(day)) is None:
                await self.release(key_digest, done)
                raise DailyLimitReached(day, await self.ledger.peek(counter), self.limit, tweets)
            done[day] = tweets

    async def release(self, key_digest: str, per_day: Mapping[str, int]) -> None:
        """Give back a reservation made moments ago by the same call."""
        for day, tweets in self._counted(per_day):
            await self.ledger.release(self._counter(key_digest, day), tweets)


# --- one call at a time per post -----------------------------------------------------------


class PostBusy(Exception):
    """Another call is changing the same post; nothing was sent."""


class PostLocks:
    """Keeps two calls from changing one post at the same time.

    A gated call decides from what it reads (what would go out, whether the post is armed):
    the lock is held from that read to the write, so no other call of this server (or of a
    replica sharing the ledger) can edit the post in between. A lock that outlives its holder
    (a crash) expires after `ttl` seconds.
    """

    def __init__(
        self, ledger: Ledger, ttl: float = STALE_AFTER, wait: float = 30.0, poll: float = 0.02
    ) -> None:
        self.ledger = ledger
        self._ttl = ttl
        self._wait = wait
        self._poll = poll

    @asynccontextmanager
    async def holding(self, key_digest: str, post_ids: Iterable[str]) -> AsyncIterator[None]:
        keys = [f"lock:{key_digest}:{post_id}" for post_id in sorted(set(post_ids))]
        if not keys:
            yield
            return
        owner = secrets.token_hex(8)
        give_up = time.monotonic() + self._wait
        # all at once or none: no call holds some while it waits for others (no deadlock)
        while not await self.ledger.claim_all(keys, self._ttl, owner):
            if time.monotonic() >= give_up:
                busy = [key for key in keys if await self.ledger.get_result(key) is not None]
                post = (busy or keys)[0].rsplit(":", 1)[1]
                raise PostBusy(
                    f"another call is still changing post {post}; nothing was sent. "
                    "Try again once it has finished"
                )
            await anyio.sleep(self._poll)
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await self.ledger.delete(*keys)
