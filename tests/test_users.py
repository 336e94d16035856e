"""Who a request acts for, and the bounded state kept per user (SPEC §10)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from opentweet_mcp.config import Settings
from opentweet_mcp.guard.confirm import Guard
from opentweet_mcp.guard.ledger import MemoryLedger
from opentweet_mcp.guard.tokens import ConfirmationTokens
from opentweet_mcp.services import Services
from opentweet_mcp.users import MAX_KEYS, ForeignApiKey, NoApiKey, PerKey, api_key_for
from opentweet_mcp.validate import MAX_ITEMS, MAX_STRING, MAX_TEXT, argument_problem

HTTP = Settings(transport="http")


def test_multi_user_needs_a_key_in_every_request() -> None:
    assert api_key_for(HTTP, {"x-opentweet-key": "pro_alice"}) == "pro_alice"
    for headers in ({}, {"x-opentweet-key": ""}, {"x-opentweet-key": "   "}, None):
        with pytest.raises(NoApiKey, match="every request must carry its own key"):
            api_key_for(HTTP, headers)


def test_single_user_acts_only_with_its_own_key() -> None:
    own = replace(HTTP, api_key="pro_owner")
    assert api_key_for(own, {}) == "pro_owner"
    assert api_key_for(own, {"x-opentweet-key": "pro_owner"}) == "pro_owner"
    with pytest.raises(ForeignApiKey, match="acts for one OpenTweet account"):
        api_key_for(own, {"x-opentweet-key": "pro_someone_else"})
    # stdio has no headers: the configured key, always
    assert api_key_for(replace(own, transport="stdio"), {"x-opentweet-key": "x"}) == "pro_owner"


def test_per_key_state_is_bounded_and_idle_state_expires() -> None:
    now = [0.0]
    made: list[str] = []

    def make(key: str) -> str:
        made.append(key)
        return key.upper()

    cache = PerKey(make, max_keys=3, idle=10.0, clock=lambda: now[0])
    for key in "abcd":
        assert cache.get(key) == key.upper()
    assert len(cache) == 3 and cache.values() == ["B", "C", "D"]  # a: least recently used
    cache.get("b")  # used again: now the most recent
    cache.get("e")
    assert cache.values() == ["D", "B", "E"]
    now[0] = 5.0
    cache.get("b")
    now[0] = 14.0  # d and e idle for 14 s, b for 9
    cache.get("f")
    assert cache.values() == ["B", "F"]
    assert made == list("abcdef")  # b was never made twice while kept


class Asking:
    """What `Services.caller` reads of a request context: its headers."""

    def __init__(self, key: str) -> None:
        self.headers = {"x-opentweet-key": key}


async def test_five_thousand_users_leave_a_bounded_cache_over_one_pool() -> None:
    settings = replace(HTTP, base_url="http://127.0.0.1:9")
    ledger = MemoryLedger()
    services = Services(settings, Guard(settings, ConfirmationTokens.from_secret(None), ledger))
    try:
        callers: list[Any] = [services.caller(Asking(f"pro_user_{n}")) for n in range(5000)]  # type: ignore[arg-type]
        assert len(services._callers) == MAX_KEYS
        assert len({id(c.client._http) for c in callers}) == 1  # one shared connection pool
        assert len({c.key_digest for c in callers}) == 5000
    finally:
        await services.aclose()
        await ledger.aclose()


def test_oversized_arguments_are_found_in_one_cheap_pass() -> None:
    assert argument_problem({"text": "hi", "thread_tweets": ["a"] * MAX_ITEMS}) is None
    million = argument_problem({"thread_tweets": ["ab"] * 1_000_000})
    assert million == "arguments.thread_tweets has 1,000,000 items; no argument takes more than 100"
    huge = argument_problem({"text": "a" * (MAX_STRING + 1)})
    assert huge is not None and huge.startswith("arguments.text is 100,001 characters")
    many = argument_problem({"posts": [{"text": "a" * 90_000} for _ in range(5)]})
    assert many is not None and f"more than {MAX_TEXT:,} characters" in many
    assert argument_problem({"data_base64": "A" * (MAX_TEXT * 2)}) is None  # a file's own bound
    assert "lone surrogate" in (argument_problem({"text": "\ud800"}) or "")
