"""The retry decision table, backoff bounds, Retry-After parsing and the token bucket."""

from __future__ import annotations

import email.utils

import anyio
import httpx2
import pytest

from opentweet_mcp.api.retry import Failure, RetryPolicy, TokenBucket, classify, parse_retry_after


async def _no_sleep(_: float) -> None:
    return None


def policy(**kwargs: object) -> RetryPolicy:
    base: dict[str, object] = {"sleep": _no_sleep, "random": lambda: 0.5}
    base.update(kwargs)
    return RetryPolicy(**base)  # type: ignore[arg-type]


# --- classifying transport errors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (httpx2.ConnectError("refused"), Failure.NOT_SENT),
        (httpx2.ConnectTimeout("slow connect"), Failure.NOT_SENT),
        (httpx2.PoolTimeout("pool"), Failure.NOT_SENT),
        (httpx2.ProxyError("proxy"), Failure.NOT_SENT),
        (httpx2.UnsupportedProtocol("ftp://"), Failure.NOT_SENT_FATAL),
        (httpx2.LocalProtocolError("bad header"), Failure.NOT_SENT_FATAL),
        (httpx2.ReadTimeout("slow"), Failure.READ_TIMEOUT),
        (httpx2.ReadError("reset"), Failure.DROPPED),
        (httpx2.WriteError("broken pipe"), Failure.DROPPED),
        (httpx2.WriteTimeout("slow write"), Failure.DROPPED),
        (httpx2.RemoteProtocolError("disconnected"), Failure.DROPPED),
    ],
)
def test_classify(exc: httpx2.TransportError, failure: Failure) -> None:
    assert classify(exc) is failure


# --- the decision table (SPEC §7) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "idempotent", "retried"),
    [
        (Failure.NOT_SENT, True, True),
        (Failure.NOT_SENT, False, True),  # provably never left: even a publish may go again
        (Failure.READ_TIMEOUT, True, True),
        (Failure.READ_TIMEOUT, False, False),  # ambiguous: never repeat a write
        (Failure.DROPPED, True, True),
        (Failure.DROPPED, False, False),
        (Failure.NOT_SENT_FATAL, True, False),
        (Failure.NOT_SENT_FATAL, False, False),
    ],
)
def test_after_failure(failure: Failure, idempotent: bool, retried: bool) -> None:
    delay = policy().after_failure(failure, idempotent=idempotent, attempt=1)
    assert (delay is not None) is retried


@pytest.mark.parametrize(
    ("status", "idempotent", "retried"),
    [
        (429, True, True),
        (502, True, True),
        (503, True, True),
        (504, True, True),
        (500, True, False),
        (501, True, False),
        (400, True, False),
        (401, True, False),
        (404, True, False),
        (409, True, False),
        (429, False, False),  # refused, but a write is never auto-repeated
        (502, False, False),
        (503, False, False),
        (504, False, False),
    ],
)
def test_after_status(status: int, idempotent: bool, retried: bool) -> None:
    delay = policy().after_status(status, idempotent=idempotent, attempt=1)
    assert (delay is not None) is retried


def test_attempts_are_bounded() -> None:
    p = policy(attempts=3)
    assert p.after_failure(Failure.NOT_SENT, idempotent=False, attempt=2) is not None
    assert p.after_failure(Failure.NOT_SENT, idempotent=False, attempt=3) is None
    assert p.after_status(503, idempotent=True, attempt=2) is not None
    assert p.after_status(503, idempotent=True, attempt=3) is None
    assert policy(attempts=1).after_status(503, idempotent=True, attempt=1) is None


def test_retry_after_is_honoured_and_capped() -> None:
    p = policy(retry_after_cap=60.0)
    assert p.after_status(429, idempotent=True, attempt=1, retry_after=7.0) == 7.0
    assert p.after_status(503, idempotent=True, attempt=1, retry_after=0.0) == 0.0
    assert p.after_status(429, idempotent=True, attempt=1, retry_after=60.0) == 60.0
    # Longer than we are willing to block a tool call: give the 429 back instead.
    assert p.after_status(429, idempotent=True, attempt=1, retry_after=61.0) is None
    assert p.after_status(429, idempotent=False, attempt=1, retry_after=1.0) is None


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 10, 30])
def test_backoff_bounds(attempt: int) -> None:
    ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
    low = policy(base_delay=0.5, max_delay=8.0, jitter=0.5, random=lambda: 0.999999)
    high = policy(base_delay=0.5, max_delay=8.0, jitter=0.5, random=lambda: 0.0)
    assert high.backoff(attempt) == pytest.approx(ceiling)
    assert low.backoff(attempt) == pytest.approx(ceiling * 0.5, rel=1e-5)
    assert ceiling * 0.5 - 1e-9 <= policy().backoff(attempt) <= ceiling


def test_backoff_grows_exponentially_then_caps() -> None:
    p = policy(base_delay=1.0, max_delay=5.0, jitter=0.0)
    assert [p.backoff(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_really_varies() -> None:
    p = RetryPolicy(sleep=_no_sleep)  # the real random source
    assert len({p.backoff(3) for _ in range(50)}) > 1


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.5)


# --- Retry-After ---------------------------------------------------------------------------


def test_parse_retry_after() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


# --- token bucket --------------------------------------------------------------------------


class FakeClock:
    """Time that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_bucket_starts_full_then_refills_evenly() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock, sleep=clock.sleep)
    for _ in range(60):  # a full minute's worth at once: the burst the plan allows
        assert await bucket.acquire() == 0.0
    assert clock.sleeps == []
    assert bucket.tokens == pytest.approx(0.0)
    # The 61st waits one second (60/min refills 1/s) instead of failing.
    waited = await bucket.acquire()
    assert waited == pytest.approx(1.0)
    assert clock.now == pytest.approx(1001.0)
    clock.now += 2.5
    assert bucket.tokens == pytest.approx(2.5)


async def test_bucket_rate_and_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(300, clock=clock, sleep=clock.sleep)
    assert bucket.capacity == 300
    assert bucket.per_second == pytest.approx(5.0)
    clock.now += 3600  # idle for an hour: still only one minute's worth banked
    assert bucket.tokens == 300


async def test_bucket_sustained_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock, sleep=clock.sleep)
    for _ in range(60 + 30):
        await bucket.acquire()
    # 30 beyond the burst took 30 seconds at 1/s.
    assert clock.now - 1000.0 == pytest.approx(30.0)


async def test_bucket_serves_concurrent_waiters() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock, sleep=clock.sleep)
    for _ in range(60):
        await bucket.acquire()
    done: list[int] = []

    async def take(n: int) -> None:
        await bucket.acquire()
        done.append(n)

    async with anyio.create_task_group() as tg:
        for n in range(5):
            tg.start_soon(take, n)
    assert sorted(done) == [0, 1, 2, 3, 4]
    assert clock.now - 1000.0 == pytest.approx(5.0)


async def test_bucket_with_real_clock_is_quick_when_not_empty() -> None:
    bucket = TokenBucket(60)
    with anyio.fail_after(1):
        for _ in range(10):
            await bucket.acquire()


def test_bucket_rejects_zero_rate() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)
