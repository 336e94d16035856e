"""Long posts (SPEC §7): 280 weighted characters a tweet, or 25,000 on an account known to allow
long posts (X Premium) — by the setting, or because OpenTweet reports it. Validation, the
preview, check_post, split_thread and the sandbox agree, and say which limit applied."""

from __future__ import annotations

from typing import Any

import pytest

from opentweet_mcp.config import FlagValues, load_settings
from opentweet_mcp.long_posts import AccountFacts, reports_long_posts
from tests.harness import confirmed, data, future, session, text

PREMIUM = "premium_test_key_0001"  # a sandbox account with X Premium
LONG_TEXT = "Long form. " * 90 + "The end."  # 998 weighted characters


def writes_of(sandbox: Any) -> list[dict[str, Any]]:
    return [r for r in sandbox.requests() if r["method"] != "GET"]


async def test_a_long_post_on_a_standard_account_is_refused_before_any_write(
    sandbox: Any,
) -> None:
    async with session(sandbox.base_url) as client:
        result = await client.call_tool("create_post", {"text": LONG_TEXT})
        said = text(result)
        assert result.is_error and "tweet 1 is 998 weighted characters" in said, said
        assert "the limit is 280 (OpenTweet reports no long posts for @sandbox_" in said
        thread = await client.call_tool(
            "create_post", {"text": "short", "thread_tweets": ["fine", LONG_TEXT]}
        )
        assert thread.is_error and "tweet 3 is 998" in text(thread)
    assert writes_of(sandbox) == []  # only the accounts were read, once (kept a few minutes)
    assert [r["path"] for r in sandbox.requests()] == ["/api/v1/accounts"]


async def test_a_premium_account_posts_long_without_any_setting(sandbox: Any) -> None:
    async with session(sandbox.base_url, api_key=PREMIUM) as client:
        first = await client.call_tool(
            "create_post", {"text": LONG_TEXT, "scheduled_date": future()}
        )
        said = text(first)
        assert "Tweet 1 of 1 (998/25000)" in said, said
        assert data(first)["preview"]["max_length"] == 25_000
        result = await confirmed(
            client, "create_post", {"text": LONG_TEXT, "scheduled_date": future()}
        )
        assert text(result).startswith("Scheduled:"), text(result)
        checked = data(await client.call_tool("check_post", {"text": LONG_TEXT}))
        assert checked["ok"] and checked["limit"] == 25_000
        assert "X Premium" in checked["limit_reason"]
        too_long = await client.call_tool("create_post", {"text": "a" * 25_001})
        assert too_long.is_error and "no X account may post more than 25,000" in text(too_long)


async def test_the_setting_allows_long_posts_and_the_sandbox_still_judges(sandbox: Any) -> None:
    async with session(sandbox.base_url, long_posts=True) as client:
        checked = await client.call_tool("check_post", {"text": LONG_TEXT})
        assert data(checked)["ok"] and "Limit per tweet: 25,000 (long posts on" in text(checked)
        split = data(await client.call_tool("split_thread", {"text": LONG_TEXT}))
        assert split["parts"] == [LONG_TEXT] and split["limit"] == 25_000
        # the setting says the account has Premium; this one has not, and OpenTweet says so
        refused = await client.call_tool("create_post", {"text": LONG_TEXT})
        assert (
            refused.is_error and "HTTP 400" in text(refused) and "maximum is 280" in text(refused)
        )
    assert [r["path"] for r in sandbox.requests()] == ["/api/v1/posts"]  # no accounts read


async def test_compose_tools_use_what_is_known_without_a_request(sandbox: Any) -> None:
    async with session(sandbox.base_url) as client:
        unknown = data(await client.call_tool("check_post", {"text": LONG_TEXT}))
        assert not unknown["ok"] and unknown["limit"] == 280
        assert "OPENTWEET_LONG_POSTS" in unknown["limit_reason"]
        parts = data(await client.call_tool("split_thread", {"text": LONG_TEXT}))["parts"]
        assert len(parts) == 4 and parts[0].startswith("Long form.")
        given = data(await client.call_tool("check_post", {"text": LONG_TEXT, "max_length": 1000}))
        assert given["ok"] and given["limit_reason"] == "max_length given"
    assert sandbox.requests() == []
    async with session(sandbox.base_url, api_key=PREMIUM) as client:
        assert "long posts (X Premium)" in text(await client.call_tool("list_accounts", {}))
        known = data(await client.call_tool("check_post", {"text": LONG_TEXT}))
    assert known["ok"] and known["limit"] == 25_000


@pytest.mark.parametrize(
    "account,says",
    [
        ({"x_premium": True}, True),
        ({"is_premium": False, "max_post_length": 25_000}, False),
        ({"max_tweet_length": 25_000}, True),
        ({"max_characters": 280}, False),
        ({"subscription_type": "Premium_Plus"}, True),
        ({"verified_type": "none"}, False),
        ({"x_handle": "@someone"}, None),
    ],
)
def test_every_known_spelling_of_long_posts_is_read(
    account: dict[str, Any], says: bool | None
) -> None:
    assert reports_long_posts(account) is says


async def test_facts_come_from_me_or_accounts_and_name_the_account() -> None:
    facts = AccountFacts()
    accounts = [
        {"id": "a1", "x_handle": "@one", "is_primary": True},
        {"id": "a2", "x_handle": "@two", "x_premium": True},
    ]
    facts.learn({"authenticated": True, "x_accounts": accounts})  # the /me shape
    assert facts.known_limit(None, False).chars == 280
    assert facts.known_limit("a2", False).chars == 25_000
    assert "@two" in facts.known_limit("a2", False).why
    assert facts.known_limit("a3", False).chars == 280  # unknown account: the standard limit

    async def must_not_read() -> dict[str, Any]:
        raise AssertionError("read although fresh")

    assert (await facts.limit("a2", False, must_not_read)).chars == 25_000


def test_the_setting_reads_like_every_boolean() -> None:
    on = load_settings(FlagValues(), {"OPENTWEET_API_KEY": "k", "OPENTWEET_LONG_POSTS": "yes"})
    assert on.long_posts
    assert load_settings(FlagValues(long_posts=True), {"OPENTWEET_API_KEY": "k"}).long_posts
    assert not load_settings(FlagValues(), {"OPENTWEET_API_KEY": "k"}).long_posts


async def test_what_goes_out_is_held_to_its_own_accounts_limit(sandbox: Any) -> None:
    """A long text already stored (put there elsewhere) is refused at the preview of any call
    that would send it out as an account without long posts — whatever the call names."""
    async with session(sandbox.base_url) as client:
        post_id = data(await client.call_tool("create_post", {"text": "short for now"}))["posts"][
            0
        ]["id"]
        state = sandbox.state
        user = state.user("pro_test_key_0001")
        post = state.get_post(user, post_id)
        post["text"] = LONG_TEXT  # as if written in OpenTweet's own editor
        state.store.save_post(user.id, post)
        for tool, arguments in (
            ("publish_post", {"id": post_id}),
            ("schedule_post", {"id": post_id, "scheduled_date": future()}),
            ("add_to_evergreen", {"post_id": post_id}),
        ):
            result = await client.call_tool(tool, arguments)
            said = text(result)
            assert result.is_error and "tweet 1 is 998 weighted characters" in said, (tool, said)
            assert "the limit is 280 (OpenTweet reports no long posts" in said
    assert writes_of(sandbox) == [r for r in writes_of(sandbox) if r["path"] == "/api/v1/posts"]
