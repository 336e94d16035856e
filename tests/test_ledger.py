"""The ledger and the policies on it: single use, idempotency keys, daily budget (SPEC §7)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opentweet_mcp.guard.ledger import (
    IN_PROGRESS,
    OTHER_ARGUMENTS,
    OUTCOME_UNKNOWN,
    STALE_AFTER,
    ConfirmationReplay,
    DailyLimitReached,
    DailyPublishBudget,
    IdempotencyConflict,
    IdempotencyStore,
    Ledger,
    MemoryLedger,
    PostBusy,
    PostLocks,
    Replay,
)
from opentweet_mcp.guard.sqlite_ledger import SqliteLedger
from opentweet_mcp.guard.tokens import ConfirmationRefused

KD = "k" * 64
OTHER_KD = "q" * 64


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, clock: Clock, tmp_path: Path) -> Iterator[Any]:
    """Every test of the ledger and the policies on it runs on both local implementations."""
    if request.param == "memory":
        yield MemoryLedger(clock=clock)
        return
    on_disk = SqliteLedger(tmp_path / "state" / "ledger.sqlite3", clock=clock)
    yield on_disk
    asyncio.run(on_disk.aclose())


def test_local_ledgers_are_ledgers(tmp_path: Path) -> None:
    implementations: list[Ledger] = [MemoryLedger(), SqliteLedger(tmp_path / "l.sqlite3")]
    operations = ("claim", "put_result", "get_result", "delete", "reserve", "release", "peek")
    assert all(callable(getattr(i, op)) for i in implementations for op in operations)
    for implementation in implementations:
        asyncio.run(implementation.aclose())


def test_sqlite_ledger_claims_across_processes_one_winner(tmp_path: Path) -> None:
    """The `call` command's case: separate processes, one file, one winner per nonce."""
    path = tmp_path / "shared" / "ledger.sqlite3"
    script = (
        "import asyncio, sys; from pathlib import Path; "
        "from opentweet_mcp.guard.sqlite_ledger import SqliteLedger; "
        "print(asyncio.run(SqliteLedger(Path(sys.argv[1])).claim('nonce:z', 60)))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    outputs = [proc.communicate(timeout=60)[0].strip() for proc in procs]
    assert sorted(outputs) == ["False"] * 7 + ["True"]
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600


# --- MemoryLedger ------------------------------------------------------------------------


async def test_claim_is_set_nx(ledger: MemoryLedger) -> None:
    assert await ledger.claim("a", 10)
    assert not await ledger.claim("a", 10)
    assert await ledger.get_result("a") == "1"
    assert await ledger.claim("b", 10, "marker")
    assert await ledger.get_result("b") == "marker"


async def test_fifty_concurrent_claims_one_winner(ledger: MemoryLedger) -> None:
    async def contender() -> bool:
        await asyncio.sleep(0)
        return await ledger.claim("nonce:x", 60)

    results = await asyncio.gather(*(contender() for _ in range(50)))
    assert results.count(True) == 1


async def test_claims_from_threads_one_winner() -> None:
    ledger = MemoryLedger()
    results = await asyncio.gather(
        *(asyncio.to_thread(asyncio.run, ledger.claim("nonce:y", 60)) for _ in range(20))
    )
    assert results.count(True) == 1


async def test_ttl_expiry(ledger: MemoryLedger, clock: Clock) -> None:
    await ledger.claim("a", 10)
    await ledger.put_result("r", "v", 5)
    clock.now += 4.9
    assert await ledger.get_result("r") == "v"
    assert not await ledger.claim("a", 10)
    clock.now += 0.1
    assert await ledger.get_result("r") is None
    clock.now += 5
    assert await ledger.claim("a", 10)  # expired, claimable again


async def test_put_result_replaces_value_and_expiry(ledger: MemoryLedger, clock: Clock) -> None:
    await ledger.claim("a", 1, "pending")
    await ledger.put_result("a", "done", 100)
    clock.now += 50
    assert await ledger.get_result("a") == "done"
    clock.now += 50
    assert await ledger.get_result("a") is None


async def test_delete(ledger: MemoryLedger) -> None:
    await ledger.put_result("a", "v", 10)
    await ledger.delete("a")
    await ledger.delete("missing")
    assert await ledger.get_result("a") is None
    assert await ledger.claim("a", 10)


async def test_claim_all_takes_every_key_or_none(ledger: MemoryLedger) -> None:
    assert await ledger.claim_all(["a", "b"], 10, "me")
    assert not await ledger.claim_all(["c", "b", "d"], 10)  # b is held: none of them taken
    assert await ledger.get_result("c") is None and await ledger.get_result("d") is None
    assert await ledger.get_result("a") == "me"
    await ledger.delete("a", "b")
    assert await ledger.claim_all(["c", "b", "d"], 10)


async def test_reserve_release_peek(ledger: MemoryLedger, clock: Clock) -> None:
    assert await ledger.peek("c") == 0
    assert await ledger.reserve("c", 3, 5, 100) == 3
    assert await ledger.reserve("c", 3, 5, 100) is None
    assert await ledger.peek("c") == 3
    assert await ledger.reserve("c", 2, 5, 100) == 5
    await ledger.release("c", 4)
    assert await ledger.peek("c") == 1
    await ledger.release("c", 10)
    assert await ledger.peek("c") == 0  # never below zero
    await ledger.release("gone", 1)
    assert await ledger.peek("gone") == 0
    assert await ledger.reserve("big", 6, 5, 100) is None
    assert await ledger.peek("big") == 0


async def test_counter_keeps_its_first_expiry(ledger: MemoryLedger, clock: Clock) -> None:
    await ledger.reserve("c", 1, 10, 100)
    clock.now += 90
    await ledger.reserve("c", 1, 10, 100)  # does not extend
    await ledger.release("c", 1)  # nor does this
    clock.now += 10
    assert await ledger.peek("c") == 0
    assert await ledger.reserve("c", 1, 10, 100) == 1


async def test_invalid_arguments(ledger: MemoryLedger) -> None:
    with pytest.raises(ValueError):
        await ledger.claim("a", 0)
    with pytest.raises(ValueError):
        await ledger.put_result("a", "v", -1)
    with pytest.raises(ValueError):
        await ledger.reserve("c", -1, 5, 10)


@settings(max_examples=50, deadline=None)
@given(
    amounts=st.lists(st.integers(min_value=0, max_value=7), min_size=1, max_size=60),
    limit=st.integers(min_value=0, max_value=40),
)
def test_concurrent_reserves_never_exceed_limit(amounts: list[int], limit: int) -> None:
    async def scenario() -> None:
        ledger = MemoryLedger()

        async def one(amount: int) -> int | None:
            await asyncio.sleep(0)
            return await ledger.reserve("budget", amount, limit, 60)

        totals = await asyncio.gather(*(one(a) for a in amounts))
        granted = [a for a, total in zip(amounts, totals, strict=True) if total is not None]
        assert sum(granted) <= limit
        assert await ledger.peek("budget") == sum(granted)
        assert all(t is None or t <= limit for t in totals)

    asyncio.run(scenario())


async def test_memory_stays_bounded(clock: Clock) -> None:
    ledger = MemoryLedger(clock=clock)
    for i in range(2000):
        await ledger.put_result(f"k{i}", "v", 10)
        await ledger.put_result("same", str(i), 10)  # rewrites leave stale heap items
        clock.now += 0.1
    assert len(ledger) <= 101
    assert len(ledger._expiries) <= 2 * 101 + 64
    clock.now += 11
    assert len(ledger) == 0
    assert len(ledger._data) == 0


# --- IdempotencyStore --------------------------------------------------------------------


@pytest.fixture
def store(ledger: MemoryLedger, clock: Clock) -> IdempotencyStore:
    return IdempotencyStore(ledger, clock=clock)


async def test_idempotency_first_call_then_replay(store: IdempotencyStore) -> None:
    assert await store.peek(KD, "create_post", "k1", "fp") is None
    assert await store.begin(KD, "create_post", "k1", "fp") is None
    assert await store.peek(KD, "create_post", "k1", "fp") is None  # in flight: no result yet
    await store.complete(KD, "create_post", "k1", "fp", '{"id": 1}')
    assert await store.begin(KD, "create_post", "k1", "fp") == Replay('{"id": 1}')
    assert await store.begin(KD, "create_post", "k1", "fp") == Replay('{"id": 1}')
    assert await store.peek(KD, "create_post", "k1", "fp") == '{"id": 1}'


async def test_idempotency_in_flight_conflict(store: IdempotencyStore) -> None:
    assert await store.begin(KD, "create_post", "k1", "fp") is None
    with pytest.raises(IdempotencyConflict, match="still in progress") as refused:
        await store.begin(KD, "create_post", "k1", "fp")
    assert "unknown" not in str(refused.value)


async def test_idempotency_other_arguments(store: IdempotencyStore) -> None:
    assert await store.begin(KD, "create_post", "k1", "fp") is None
    with pytest.raises(IdempotencyConflict, match="already used with other arguments"):
        await store.begin(KD, "create_post", "k1", "other")
    await store.complete(KD, "create_post", "k1", "fp", "{}")
    with pytest.raises(IdempotencyConflict, match="already used with other arguments"):
        await store.begin(KD, "create_post", "k1", "other")
    with pytest.raises(IdempotencyConflict, match="already used with other arguments"):
        await store.peek(KD, "create_post", "k1", "other")
    await store.mark_unknown(KD, "create_post", "k1", "fp")
    with pytest.raises(IdempotencyConflict, match="already used with other arguments"):
        await store.begin(KD, "create_post", "k1", "other")


async def test_idempotency_abandon_allows_retry(store: IdempotencyStore) -> None:
    assert await store.begin(KD, "publish_post", "k1", "fp") is None
    await store.abandon(KD, "publish_post", "k1")
    assert await store.peek(KD, "publish_post", "k1", "fp") is None
    assert await store.begin(KD, "publish_post", "k1", "fp") is None


async def test_idempotency_unknown_outcome_blocks_for_a_day(
    store: IdempotencyStore, clock: Clock
) -> None:
    assert await store.begin(KD, "publish_post", "k1", "fp") is None
    await store.mark_unknown(KD, "publish_post", "k1", "fp")
    for call in (store.begin, store.peek):
        with pytest.raises(IdempotencyConflict, match=r"unknown outcome.*list_posts"):
            await call(KD, "publish_post", "k1", "fp")
    clock.now += 24 * 3600 - 1
    with pytest.raises(IdempotencyConflict, match="unknown outcome"):
        await store.begin(KD, "publish_post", "k1", "fp")
    clock.now += 1
    assert await store.begin(KD, "publish_post", "k1", "fp") is None


async def test_idempotency_stale_marker_reads_as_unknown(
    ledger: MemoryLedger, clock: Clock
) -> None:
    store = IdempotencyStore(ledger, clock=clock, stale_after=60)
    assert await store.begin(KD, "create_post", "k1", "fp") is None
    clock.now += 59
    with pytest.raises(IdempotencyConflict, match="still in progress"):
        await store.begin(KD, "create_post", "k1", "fp")
    assert await store.peek(KD, "create_post", "k1", "fp") is None
    clock.now += 1  # the call never reported back: it may or may not have happened
    with pytest.raises(IdempotencyConflict, match="unknown outcome"):
        await store.begin(KD, "create_post", "k1", "fp")
    with pytest.raises(IdempotencyConflict, match="unknown outcome"):
        await store.peek(KD, "create_post", "k1", "fp")
    # a late completion still wins over staleness
    await store.complete(KD, "create_post", "k1", "fp", '"late"')
    assert await store.begin(KD, "create_post", "k1", "fp") == Replay('"late"')


async def test_idempotency_is_scoped_by_key_and_tool(store: IdempotencyStore) -> None:
    assert await store.begin(KD, "create_post", "k1", "fp") is None
    assert await store.begin(OTHER_KD, "create_post", "k1", "fp") is None
    assert await store.begin(KD, "repurpose_tweet", "k1", "fp") is None
    assert await store.begin(KD, "create_post", "k2", "fp") is None


async def test_idempotency_results_last_a_day(
    store: IdempotencyStore, clock: Clock, ledger: MemoryLedger
) -> None:
    assert await store.begin(KD, "create_post", "k1", "fp") is None
    await store.complete(KD, "create_post", "k1", "fp", "{}")
    clock.now += 24 * 3600 - 1
    assert await store.begin(KD, "create_post", "k1", "fp") == Replay("{}")
    clock.now += 1
    assert await store.begin(KD, "create_post", "k1", "other") is None
    assert len(ledger) == 1


async def test_idempotency_concurrent_begin_one_winner(store: IdempotencyStore) -> None:
    async def attempt() -> str:
        await asyncio.sleep(0)
        try:
            return "won" if await store.begin(KD, "create_post", "k", "fp") is None else "replay"
        except IdempotencyConflict:
            return "conflict"

    outcomes = await asyncio.gather(*(attempt() for _ in range(50)))
    assert outcomes.count("won") == 1 and outcomes.count("conflict") == 49


async def test_idempotency_ledger_keys_hold_no_raw_key(
    store: IdempotencyStore, ledger: MemoryLedger
) -> None:
    await store.begin(KD, "create_post", "my secret-ish key", "fp")
    if isinstance(ledger, MemoryLedger):
        entries = {k: value for k, (value, _) in ledger._data.items()}
    else:
        entries = dict(ledger._db.execute("SELECT key, value FROM entries").fetchall())
    (key,) = entries
    assert "my secret-ish key" not in key
    assert json.loads(entries[key]) == {
        "fp": "fp",
        "status": "pending",
        "at": 1000.0,
        "result": None,
    }


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        '{"fp": "fp"}',
        '{"fp": "fp", "status": "done", "at": 1, "result": null}',
        '{"fp": "fp", "status": "pending", "at": 1, "result": "x"}',
        '{"fp": "fp", "status": "bogus", "at": 1, "result": null}',
        '{"fp": 1, "status": "done", "at": 1, "result": "x"}',
        '{"fp": "fp", "status": "done", "at": "1", "result": "x"}',
    ],
)
async def test_idempotency_unreadable_entry_blocks(
    store: IdempotencyStore, ledger: MemoryLedger, raw: str
) -> None:
    key = store._key(KD, "create_post", "k")
    await ledger.put_result(key, raw, 60)
    with pytest.raises(IdempotencyConflict, match="unknown outcome"):
        await store.begin(KD, "create_post", "k", "fp")
    with pytest.raises(IdempotencyConflict, match="unknown outcome"):
        await store.peek(KD, "create_post", "k", "fp")


class _Op(Enum):
    BEGIN = "begin"
    COMPLETE = "complete"
    ABANDON = "abandon"
    UNKNOWN = "unknown"
    TICK = "tick"


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(list(_Op)), st.sampled_from(["fp", "other"])), max_size=12
    )
)
def test_idempotency_matches_a_model(ops: list[tuple[_Op, str]]) -> None:
    """Random sequences of calls against a plain model of the state machine."""

    async def run() -> None:
        clock = Clock()
        store = IdempotencyStore(MemoryLedger(clock=clock), clock=clock, stale_after=100)
        # model: None, or (fingerprint, status, started, result)
        state: tuple[str, str, float, str | None] | None = None
        for n, (op, fp) in enumerate(ops):
            if op is _Op.TICK:
                clock.now += 60
                continue
            if op is _Op.BEGIN:
                outcome: object
                try:
                    outcome = await store.begin(KD, "t", "k", fp)
                except IdempotencyConflict as exc:
                    outcome = str(exc)
                if state is None:
                    assert outcome is None
                    state = (fp, "pending", clock.now, None)
                elif state[0] != fp:
                    assert outcome == OTHER_ARGUMENTS
                elif state[1] == "done":
                    assert outcome == Replay(str(state[3]))
                elif state[1] == "pending" and clock.now - state[2] < 100:
                    assert outcome == IN_PROGRESS
                else:
                    assert outcome == OUTCOME_UNKNOWN
            elif state is not None:  # finishing calls are only made by the claimant
                if op is _Op.COMPLETE:
                    await store.complete(KD, "t", "k", state[0], f"r{n}")
                    state = (state[0], "done", clock.now, f"r{n}")
                elif op is _Op.ABANDON:
                    await store.abandon(KD, "t", "k")
                    state = None
                else:
                    await store.mark_unknown(KD, "t", "k", state[0])
                    state = (state[0], "unknown", clock.now, None)

    asyncio.run(run())


# --- ConfirmationReplay ------------------------------------------------------------------


@pytest.fixture
def replay(ledger: MemoryLedger, clock: Clock) -> ConfirmationReplay:
    return ConfirmationReplay(ledger, clock=clock)


async def test_token_first_use_then_replay(replay: ConfirmationReplay) -> None:
    assert await replay.begin("n1") is None
    await replay.complete("n1", '{"posted": true}')
    assert await replay.begin("n1") == Replay('{"posted": true}')
    assert await replay.begin("n2") is None  # other tokens are independent


async def test_token_in_flight_and_unknown_are_refused(
    replay: ConfirmationReplay, clock: Clock
) -> None:
    assert await replay.begin("n1") is None
    with pytest.raises(ConfirmationRefused, match="already being carried out") as refused:
        await replay.begin("n1")
    assert refused.value.code == "used"
    await replay.mark_unknown("n1")
    with pytest.raises(ConfirmationRefused, match=r"already used.*unknown.*list_posts") as refused:
        await replay.begin("n1")
    assert refused.value.code == "used"
    assert await replay.begin("n2") is None
    clock.now += STALE_AFTER
    with pytest.raises(ConfirmationRefused, match="unknown"):
        await replay.begin("n2")


async def test_token_abandon_allows_reuse(replay: ConfirmationReplay) -> None:
    assert await replay.begin("n1") is None
    await replay.abandon("n1")
    assert await replay.begin("n1") is None


async def test_token_fifty_concurrent_confirmations_one_write(
    replay: ConfirmationReplay,
) -> None:
    writes = 0

    async def confirm() -> str:
        nonlocal writes
        await asyncio.sleep(0)
        try:
            stored = await replay.begin("n1")
        except ConfirmationRefused:
            return "refused"
        if stored is not None:
            return "replayed"
        writes += 1
        await asyncio.sleep(0.01)  # the request
        await replay.complete("n1", "{}")
        return "performed"

    outcomes = await asyncio.gather(*(confirm() for _ in range(50)))
    assert writes == 1 and outcomes.count("performed") == 1
    assert outcomes.count("refused") == 49
    assert await replay.begin("n1") == Replay("{}")


async def test_token_and_idempotency_records_do_not_collide(
    replay: ConfirmationReplay, store: IdempotencyStore
) -> None:
    assert await replay.begin("k") is None
    assert await store.begin(KD, "t", "k", "fp") is None


# --- DailyPublishBudget ------------------------------------------------------------------

DAY = datetime(2025, 6, 15, 12, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def wall() -> Clock:
    return Clock(DAY)


TODAY = "2025-06-15"


async def test_budget_check_reserve_release(ledger: MemoryLedger, wall: Clock) -> None:
    budget = DailyPublishBudget(ledger, 5, clock=wall)
    await budget.check(KD, {TODAY: 5})
    await budget.reserve(KD, {TODAY: 3})
    await budget.check(KD, {TODAY: 2})
    with pytest.raises(DailyLimitReached) as info:
        await budget.check(KD, {TODAY: 3})
    assert (info.value.day, info.value.used, info.value.limit) == (TODAY, 3, 5)
    message = str(info.value)
    assert "3 of 5" in message and TODAY in message and "Nothing" in message
    with pytest.raises(DailyLimitReached):
        await budget.reserve(KD, {TODAY: 3})
    assert await ledger.peek(f"budget:{KD}:{TODAY}") == 3  # refused reserve changed nothing
    await budget.release(KD, {TODAY: 3})
    await budget.reserve(KD, {TODAY: 5})
    await budget.reserve(OTHER_KD, {TODAY: 5})  # per API key


async def test_budget_counts_threads_and_single_calls_over_limit(
    ledger: MemoryLedger, wall: Clock
) -> None:
    budget = DailyPublishBudget(ledger, 3, clock=wall)
    with pytest.raises(DailyLimitReached) as info:
        await budget.reserve(KD, {TODAY: 4})
    assert info.value.used == 0 and info.value.tweets == 4


async def test_budget_counts_each_day_a_batch_touches(ledger: MemoryLedger, wall: Clock) -> None:
    """A batch over several days reserves on each, all or nothing."""
    budget = DailyPublishBudget(ledger, 2, clock=wall)
    await budget.reserve(KD, {"2025-06-17": 2})
    with pytest.raises(DailyLimitReached) as info:
        await budget.reserve(KD, {"2025-06-16": 1, "2025-06-17": 1, "2025-06-18": 1})
    assert info.value.day == "2025-06-17"
    assert await ledger.peek(f"budget:{KD}:2025-06-16") == 0  # given back: all or nothing
    assert await ledger.peek(f"budget:{KD}:2025-06-18") == 0
    await budget.reserve(KD, {"2025-06-16": 2, "2025-06-18": 2})
    with pytest.raises(DailyLimitReached):
        await budget.check(KD, {"2025-06-18": 1})


async def test_budget_disabled_or_zero_tweets(ledger: MemoryLedger, wall: Clock) -> None:
    unlimited = DailyPublishBudget(ledger, None, clock=wall)
    await unlimited.check(KD, {TODAY: 10_000})
    await unlimited.reserve(KD, {TODAY: 10_000})
    await unlimited.release(KD, {TODAY: 10_000})
    zero = DailyPublishBudget(ledger, 0, clock=wall)
    await zero.check(KD, {})
    await zero.reserve(KD, {TODAY: 0})
    with pytest.raises(DailyLimitReached):
        await zero.check(KD, {TODAY: 1})
    assert len(ledger) == 0


async def test_budget_counters_live_until_their_day_is_over(wall: Clock) -> None:
    ledger = MemoryLedger(clock=wall)  # expiry and day from one clock
    budget = DailyPublishBudget(ledger, 2, clock=wall)
    wall.now = datetime(2025, 6, 15, 23, 59, 59, tzinfo=UTC).timestamp()
    await budget.reserve(KD, {TODAY: 2, "2025-06-20": 1})
    wall.now += 1  # midnight UTC: a new day's counter starts empty
    await budget.reserve(KD, {"2025-06-16": 2})
    # yesterday's counter outlives midnight by the margin only, then is gone
    assert await ledger.peek(f"budget:{KD}:{TODAY}") == 2
    wall.now += 3601
    assert await ledger.peek(f"budget:{KD}:{TODAY}") == 0
    assert await ledger.peek(f"budget:{KD}:2025-06-20") == 1  # a later day keeps its count
    wall.now += 5 * 86400
    assert await ledger.peek(f"budget:{KD}:2025-06-20") == 0


async def test_concurrent_budget_reserves(ledger: MemoryLedger, wall: Clock) -> None:
    budget = DailyPublishBudget(ledger, 10, clock=wall)

    async def attempt(tweets: int) -> bool:
        await asyncio.sleep(0)
        try:
            await budget.reserve(KD, {TODAY: tweets})
        except DailyLimitReached:
            return False
        return True

    outcomes = await asyncio.gather(*(attempt(3) for _ in range(20)))
    assert outcomes.count(True) == 3
    assert await ledger.peek(f"budget:{KD}:{TODAY}") == 9


# --- PostLocks -----------------------------------------------------------------------------


async def test_a_post_lock_makes_the_second_call_wait(ledger: MemoryLedger) -> None:
    locks = PostLocks(ledger, poll=0.001)
    order: list[str] = []

    async def hold(name: str, ids: list[str]) -> None:
        async with locks.holding(KD, ids):
            order.append(f"{name} in")
            await asyncio.sleep(0.02)
            order.append(f"{name} out")

    await asyncio.gather(hold("a", ["p1", "p2"]), hold("b", ["p2", "p1"]))
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
    assert len(ledger) == 0  # released
    async with locks.holding(KD, ["p1"]), locks.holding(OTHER_KD, ["p1"]):
        pass  # per API key


async def test_a_post_lock_gives_up_and_is_released_on_errors(ledger: MemoryLedger) -> None:
    locks = PostLocks(ledger, wait=0.05, poll=0.001)
    with pytest.raises(RuntimeError):
        async with locks.holding(KD, ["p1"]):
            raise RuntimeError("boom")
    async with locks.holding(KD, ["p1"]):
        with pytest.raises(PostBusy) as info:
            async with locks.holding(KD, ["p0", "p1"]):
                pass
        assert "p1" in str(info.value) and "nothing was sent" in str(info.value)
    assert len(ledger) == 0  # p0, taken before the wait on p1, was given back


async def test_replay_peek_does_not_consume(ledger: MemoryLedger) -> None:
    replay = ConfirmationReplay(ledger)
    assert await replay.peek("n") is None
    assert await replay.begin("n") is None
    with pytest.raises(ConfirmationRefused):
        await replay.peek("n")  # in flight
    await replay.complete("n", "result")
    assert await replay.peek("n") == Replay("result")


async def test_scan_lists_live_keys_by_prefix(ledger: Any, clock: Clock) -> None:
    await ledger.put_result("approval:b", "2", 60)
    await ledger.put_result("approval:a", "1", 60)
    await ledger.put_result("approval:c", "3", 5)
    await ledger.put_result("approvals_%:x", "not this", 60)  # LIKE wildcards are literal
    await ledger.put_result("other:a", "no", 60)
    assert await ledger.scan("approval:") == [
        ("approval:a", "1"),
        ("approval:b", "2"),
        ("approval:c", "3"),
    ]
    clock.now += 10
    assert [key for key, _ in await ledger.scan("approval:")] == ["approval:a", "approval:b"]
    assert await ledger.scan("approvals_%") == [("approvals_%:x", "not this")]
