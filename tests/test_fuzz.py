"""Fuzzing every tool's arguments through a real MCP session against the sandbox (issue 6).

Hypothesis builds arguments two ways: arbitrary JSON objects (unknown keys, nested junk), and
the tool's own parameters filled from its input schema with a mix of plausible values (real
ids, future dates, sensible text) and junk (wrong types, huge strings, odd unicode including
lone surrogates, out-of-range numbers). Every call must end, within a deadline, in a result or
an error that says what was wrong — never a crash (the SDK's bare "Error executing tool X") —
and must not reach OpenTweet with anything it should not:

- nothing that makes a tweet go out or deletes one is ever sent (publish, publish-now or
  scheduled create, bulk create, schedule, batch schedule, adding to evergreen, changing the
  evergreen seed, giving a draft a date, delete), since no confirmation token can be guessed;
- an argument that fails validation sends nothing at all.

`FUZZ_EXAMPLES` (default 60) sets the examples per tool; the examples are derandomized, so
raising it explores further while a given number always tries the same ones.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from opentweet_mcp.sandbox.runner import SandboxServer
from tests.harness import (
    FAST_RETRY,
    PNG,
    UNLIMITED,
    confirmed,
    data,
    future,
    session,
    text,
)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
DEADLINE = 30.0  # seconds a single call may take before it counts as a hang

# --- strategies ------------------------------------------------------------------------------

ODD = st.sampled_from(
    ["\ud800", "\udfff", "\u0000", "\u202e", "\ufeff", "e\u0301", "👩🏽‍💻", "\U0010ffff", "ｈｉ"]
)
TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.text(max_size=3), ODD), max_size=8).map("".join),
    st.tuples(st.sampled_from(["a", "é", "😀", "https://x.co/ ", " "]), st.integers(1, 60_000)).map(
        lambda piece: piece[0] * piece[1]  # huge
    ),
)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JUNK = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


WORDS = st.sampled_from(["agents", "en", "ai", "a.png", "recency", "Hello", "k1", "retry-2"])
TWEETS = st.one_of(
    st.sampled_from(["Hello from the fuzzer", "Thread 1/2 🧵", "See https://example.com", "中文"]),
    st.text(min_size=1, max_size=120),
)
CARELESS = st.sampled_from(  # what a careless agent sends
    [future(-24), "2031-02-30T10:00:00Z", "tomorrow", "not a url", "file:///etc/passwd", "x" * 300]
)


def plausible(schema: dict[str, Any], defs: dict[str, Any], name: str, ids: list[str]) -> Any:
    """Values shaped by a JSON-schema property, mostly valid; numbers may stray just outside
    their range. Only what the tools' schemas use is handled."""
    if "$ref" in schema:
        return plausible(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, name, ids)
    if "anyOf" in schema:
        return st.one_of([plausible(s, defs, name, ids) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        if name in ("id", "post_id", "source_id"):
            return st.sampled_from([*ids, "0" * 24])
        if "date" in name:
            return st.sampled_from([future(), future(48)])
        if name in ("text", "tweet_text", "thread_tweets"):
            return TWEETS
        if name == "data_base64":
            return st.just(PNG)
        if name in ("media_urls", "thread_media"):
            return st.just("https://example.com/a.png")
        return st.one_of(WORDS, st.text(max_size=20))
    if kind == "integer":
        low, high = schema.get("minimum", 0), schema.get("maximum", 500)
        return st.integers(min_value=low - 1, max_value=high + 1)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        items = plausible(schema.get("items", {}), defs, name, ids)
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=4)
    if kind == "object" and "properties" in schema:
        return arguments_for(schema, defs, ids, junk=False)
    return JUNK


def arguments_for(schema: dict[str, Any], defs: dict[str, Any], ids: list[str], junk: bool) -> Any:
    def value(name: str, prop: dict[str, Any]) -> Any:
        shaped = plausible(prop, defs, name, ids)
        return st.one_of(shaped, shaped, shaped, CARELESS, JUNK) if junk else shaped

    properties = schema.get("properties", {})
    required = set(schema.get("required", ())) if not junk else set()
    return st.fixed_dictionaries(
        {n: value(n, p) for n, p in properties.items() if n in required},
        optional={n: value(n, p) for n, p in properties.items() if n not in required},
    )


def tool_arguments(tool: Any, ids: list[str]) -> Any:
    """Arguments as an agent might send them, the same with some junk, or junk outright."""
    schema, defs = tool.input_schema, tool.input_schema.get("$defs", {})
    return st.one_of(
        arguments_for(schema, defs, ids, junk=False),
        arguments_for(schema, defs, ids, junk=True),
        st.dictionaries(st.text(max_size=12), JUNK, max_size=5),
    )


# --- the session, held open across examples ----------------------------------------------------


@dataclass
class Fuzz:
    portal: BlockingPortal
    client: Client
    sandbox: SandboxServer
    tools: dict[str, Any]
    ids: list[str]

    def call(self, name: str, arguments: dict[str, Any]) -> Any:
        async def bounded() -> Any:
            with anyio.fail_after(DEADLINE):
                return await self.client.call_tool(name, arguments)

        return self.portal.call(bounded)


@pytest.fixture(scope="module")
def fuzz(sandbox_server: SandboxServer) -> Iterator[Fuzz]:
    state = sandbox_server.sandbox
    state.reset()
    state.configure(rate_per_minute=10**9)
    try:
        with (
            start_blocking_portal() as portal,
            portal.wrap_async_context_manager(
                session(sandbox_server.base_url, retry=FAST_RETRY, rate_per_minute=UNLIMITED)
            ) as client,
        ):
            ids = [seed_post(portal, client, f"Seed draft {n}") for n in range(2)]
            seed = {"text": "Seed evergreen"}
            added = portal.call(confirmed, client, "add_to_evergreen", seed)
            ids.append(data(added)["post"]["id"])
            listed = portal.call(client.list_tools)
            tools = {tool.name: tool for tool in listed.tools}
            yield Fuzz(portal, client, sandbox_server, tools, ids)
    finally:
        state.reset()


def seed_post(portal: BlockingPortal, client: Client, words: str) -> str:
    created = portal.call(client.call_tool, "create_post", {"text": words})
    return str(data(created)["posts"][0]["id"])


# --- the properties --------------------------------------------------------------------------

POST_ID = r"/api/v1/posts/[^/]+"


def gated(request: dict[str, Any], evergreen_seed: str) -> bool:
    """A request only a confirmed call may send (the seeds are two drafts and one evergreen
    source, so an update is gated when it gives a date or touches the evergreen seed)."""
    method, path, body = request["method"], request["path"], request["body"]
    if method == "DELETE" and re.fullmatch(POST_ID, path):
        return True
    if method == "PUT" and re.fullmatch(POST_ID, path):
        dated = isinstance(body, dict) and body.get("scheduled_date") is not None
        return dated or path.endswith(evergreen_seed)
    if method != "POST":
        return False
    if path == "/api/v1/posts" and isinstance(body, dict):
        return bool(body.get("publish_now") or body.get("scheduled_date")) or "posts" in body
    return path in ("/api/v1/posts/batch-schedule", "/api/v1/evergreen/posts") or bool(
        re.fullmatch(POST_ID + "/(publish|schedule)", path)
    )


def check(fuzz: Fuzz, name: str, arguments: dict[str, Any]) -> int:
    """Call once and check the properties; the number of requests the call sent."""
    before = len(fuzz.sandbox.sandbox.requests())
    result = fuzz.call(name, arguments)
    sent = fuzz.sandbox.sandbox.requests()[before:]
    said = text(result)
    unconfirmed = [r for r in sent if gated(r, fuzz.ids[-1])]
    assert not unconfirmed, f"{name} sent a gated request unconfirmed: {unconfirmed}"
    if not result.is_error:
        return len(sent)
    assert said.strip() != f"Error executing tool {name}", f"{name} crashed on {arguments!r}"
    assert len(said) > len(f"Error executing tool {name}: ") + 5, said
    if "validation error" in said:  # the SDK's schema check: nothing may have been sent
        assert not sent, f"{name} sent requests for invalid arguments: {sent}"
    if "invalid arguments, nothing was sent" in said or "nothing was sent" in said:
        assert not [r for r in sent if r["method"] != "GET"], sent
    return len(sent)


TOOL_NAMES = [
    "get_account",
    "list_accounts",
    "create_post",
    "bulk_create_posts",
    "list_posts",
    "get_post",
    "update_post",
    "schedule_post",
    "publish_post",
    "batch_schedule_posts",
    "delete_post",
    "upload_media",
    "get_evergreen_settings",
    "update_evergreen_settings",
    "list_evergreen_posts",
    "add_to_evergreen",
    "get_evergreen_post",
    "update_evergreen_post",
    "remove_from_evergreen",
    "get_evergreen_history",
    "search_inspiration",
    "repurpose_tweet",
    "get_analytics_overview",
    "get_tweet_analytics",
    "get_best_times",
    "analyze_best_times",
    "check_post",
    "split_thread",
]


def test_every_tool_is_fuzzed(fuzz: Fuzz) -> None:
    assert set(TOOL_NAMES) == set(fuzz.tools)


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_fuzz_tool(fuzz: Fuzz, name: str) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples on every run: CI is red only for a real change
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(arguments=tool_arguments(fuzz.tools[name], fuzz.ids))
    def property_holds(arguments: dict[str, Any]) -> None:
        reached.append(check(fuzz, name, arguments))

    reached: list[int] = []
    property_holds()
    print(f"{name}: {sum(1 for n in reached if n)}/{len(reached)} calls reached the sandbox")
    assert not fuzz.call("check_post", {"text": "still serving"}).is_error
