"""When to try a request again, how long to wait, and how fast to send (docs/architecture.md).

The rule that matters: a request that is safe to repeat (GET/PUT/DELETE) is retried after any
transient failure; a POST that creates or publishes is retried only when it provably never left
this process, because the server must never publish twice.
"""

from __future__ import annotations

import enum
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Protocol

import anyio
import httpx2

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class Failure(enum.Enum):
    """How a request failed before any HTTP status came back."""

    #: Connection refused, DNS failure, connect or pool timeout: nothing was sent.
    NOT_SENT = "could not connect"
    #: Nothing was sent, and trying again cannot help (bad URL scheme, invalid request).
    NOT_SENT_FATAL = "request could not be sent"
    #: Sent (or partly sent), then no complete answer within the read timeout.
    READ_TIMEOUT = "timed out waiting for the response"
    #: Sent (or partly sent), then the connection broke: the server may have acted on it.
    DROPPED = "connection dropped after the request was sent"

    @property
    def never_left(self) -> bool:
        return self in (Failure.NOT_SENT, Failure.NOT_SENT_FATAL)


def classify(exc: httpx2.TransportError) -> Failure:
    """Sort an httpx2 transport error by the only question that matters: did it leave?"""
    if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout):
        return Failure.NOT_SENT
    if isinstance(exc, httpx2.ProxyError):
        return Failure.NOT_SENT
    if isinstance(exc, httpx2.UnsupportedProtocol | httpx2.LocalProtocolError):
        return Failure.NOT_SENT_FATAL
    if isinstance(exc, httpx2.ReadTimeout):
        return Failure.READ_TIMEOUT
    # ReadError, WriteError, WriteTimeout, RemoteProtocolError, CloseError, anything new:
    # assume the worst, that some of it reached the server.
    return Failure.DROPPED


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), None if absent."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        current = time.time() if now is None else now
        seconds = when.timestamp() - current
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how patiently to repeat a request; the one place this is decided.

    `attempts` counts the first try. Backoff is exponential (`base_delay * 2**(n-1)`, capped at
    `max_delay`) with up to `jitter` of it (a fraction) taken off at random so that many
    clients do not retry in lock-step. A Retry-After above `retry_after_cap` is not waited for:
    the 429 is raised so the caller can decide.
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.5
    retry_after_cap: float = 60.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    sleep: Sleep = field(default=anyio.sleep, compare=False, repr=False)
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts counts the first try and must be >= 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("RetryPolicy.jitter is a fraction between 0 and 1")

    def backoff(self, attempt: int) -> float:
        """Delay before the try after `attempt` (1-based): in [(1 - jitter) * d, d]."""
        ceiling = min(self.max_delay, self.base_delay * (2.0 ** max(0, attempt - 1)))
        return ceiling * (1.0 - self.jitter * self.random())

    def after_failure(self, failure: Failure, *, idempotent: bool, attempt: int) -> float | None:
        """Seconds to wait before trying again after a transport failure, or None to stop."""
        if attempt >= self.attempts or failure is Failure.NOT_SENT_FATAL:
            return None
        if failure is Failure.NOT_SENT or idempotent:
            return self.backoff(attempt)
        return None  # ambiguous failure of a write: never repeated

    def after_status(
        self,
        status: int,
        *,
        idempotent: bool,
        attempt: int,
        retry_after: float | None = None,
    ) -> float | None:
        """Seconds to wait before trying again after an HTTP status, or None to stop.

        A non-idempotent POST is never repeated on a status: a 429 refused it (the caller may
        try later), and a 5xx leaves its outcome unknown.
        """
        if not idempotent or attempt >= self.attempts or status not in self.retry_statuses:
            return None
        if retry_after is not None:
            if retry_after > self.retry_after_cap:
                return None
            return max(retry_after, 0.0)
        return self.backoff(attempt)


class TokenBucket:
    """Client-side rate limiter: holds up to `rate_per_minute` tokens, refilled evenly.

    At 60/min a token comes back every second. `acquire()` waits for a token instead of failing,
    and waiters are served in arrival order.
    """

    def __init__(
        self,
        rate_per_minute: int,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if rate_per_minute < 1:
            raise ValueError("rate_per_minute must be at least 1")
        self.capacity = float(rate_per_minute)
        self.per_second = rate_per_minute / 60.0
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._stamp = clock()
        self._lock: anyio.Lock | None = None

    @property
    def tokens(self) -> float:
        """Tokens available now (refilled to the current clock)."""
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self.capacity, self._tokens + elapsed * self.per_second)

    async def acquire(self) -> float:
        """Take one token, waiting until one is available; returns the seconds waited."""
        if self._lock is None:
            self._lock = anyio.Lock()
        waited = 0.0
        async with self._lock:
            self._refill()
            while self._tokens < 1.0:
                pause = (1.0 - self._tokens) / self.per_second
                await self._sleep(pause)
                waited += pause
                self._refill()
            self._tokens -= 1.0
        return waited


class RateLimiter(Protocol):
    async def acquire(self) -> float:
        """Wait until one more request may go out; return the seconds waited."""
        ...


class WindowCounter(Protocol):
    """What the shared limiter needs of a ledger: an atomic bounded increment."""

    async def reserve(
        self, counter_key: str, amount: int, limit: int, ttl: float
    ) -> int | None: ...


class SharedRateLimiter:
    """The rate limit shared by every replica that serves one API key.

    When several processes serve one key (HTTP replicas behind a load balancer), a per-process
    token bucket would let each spend the whole plan rate. This counts requests per clock
    minute in the shared ledger (Redis) instead, and waits for the next minute when the
    current one is spent. Same `acquire()` as `TokenBucket`.
    """

    def __init__(
        self,
        counter: WindowCounter,
        key: str,
        rate_per_minute: int,
        *,
        clock: Clock = time.time,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if rate_per_minute < 1:
            raise ValueError("rate_per_minute must be at least 1")
        self._counter = counter
        self._key = key
        self.rate_per_minute = rate_per_minute
        self._clock = clock
        self._sleep = sleep

    async def acquire(self) -> float:
        waited = 0.0
        while True:
            now = self._clock()
            minute = int(now // 60)
            taken = await self._counter.reserve(
                f"rate:{self._key}:{minute}", 1, self.rate_per_minute, 61.0
            )
            if taken is not None:
                return waited
            pause = (minute + 1) * 60 - now
            await self._sleep(pause)
            waited += pause
