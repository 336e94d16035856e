"""Guardrails that hold when things go wrong: the daily publish limit, truthful outcomes after
ambiguous failures, replays, and an API key that never leaks."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.harness import confirmed, data, session, text, writes

SECRET_KEY = "pro_SECRETKEY_do_not_leak_7f3a9c"


async def test_daily_publish_limit(sandbox: Any) -> None:
    async with session(sandbox.base_url, daily_publish_limit=2) as client:
        thread = {"text": "one", "thread_tweets": ["two"], "publish_now": True}
        assert data(await confirmed(client, "create_post", thread))["status"] == "posted"
        preview = await client.call_tool("create_post", {"text": "three", "publish_now": True})
        assert preview.is_error and "limit" in text(preview).lower()
    assert len(writes(sandbox.requests())) == 1


async def test_limit_is_checked_again_at_confirmation(sandbox: Any) -> None:
    async with session(sandbox.base_url, daily_publish_limit=1) as client:
        a = data(await client.call_tool("create_post", {"text": "A", "publish_now": True}))
        b = data(await client.call_tool("create_post", {"text": "B", "publish_now": True}))
        done = await client.call_tool(
            "create_post",
            {"text": "A", "publish_now": True, "confirmation_token": a["confirmation_token"]},
        )
        assert data(done)["status"] == "posted"
        refused = await client.call_tool(
            "create_post",
            {"text": "B", "publish_now": True, "confirmation_token": b["confirmation_token"]},
        )
        assert refused.is_error and "limit" in text(refused).lower()
    assert len(writes(sandbox.requests())) == 1


async def test_ambiguous_publish_rereads_the_post(sandbox: Any) -> None:
    async with session(sandbox.base_url) as client:
        post_id = data(await client.call_tool("create_post", {"text": "Lost answer"}))["posts"][0][
            "id"
        ]
        sandbox.fault(path=f"/api/v1/posts/{post_id}/publish", action="reset_after")
        result = await confirmed(client, "publish_post", {"id": post_id})
        assert data(result)["status"] == "posted"
        assert "re-reading the post shows it was published" in text(result)

        other = data(await client.call_tool("create_post", {"text": "Never arrived"}))["posts"][0][
            "id"
        ]
        sandbox.fault(path=f"/api/v1/posts/{other}/publish", action="reset_before")
        result = await confirmed(client, "publish_post", {"id": other})
        assert result.is_error and "Outcome unknown" in text(result) and "'draft'" in text(result)
    publishes = [r for r in sandbox.requests() if r["path"].endswith("/publish")]
    assert len(publishes) == 2 and [r["processed"] for r in publishes] == [True, False]


async def test_ambiguous_create_says_outcome_unknown(sandbox: Any) -> None:
    async with session(sandbox.base_url) as client:
        sandbox.fault(path="/api/v1/posts", method="POST", action="status", status=502)
        result = await client.call_tool("create_post", {"text": "maybe", "idempotency_key": "m1"})
        assert result.is_error and "list_posts" in text(result)
        retry = await client.call_tool("create_post", {"text": "maybe", "idempotency_key": "m1"})
        assert retry.is_error  # the same key does not write again after an unknown outcome
    assert len(writes(sandbox.requests())) == 1


async def test_url_limit_says_saved_as_draft(sandbox: Any) -> None:
    async with session(sandbox.base_url, api_key="trial_links") as client:
        for n in range(2):
            ok = await confirmed(
                client,
                "create_post",
                {
                    "text": f"Read https://example.com/{n}",
                    "publish_now": False,
                    "scheduled_date": "2099-01-01T10:00:00Z",
                },
            )
            assert not ok.is_error, text(ok)
        capped = await confirmed(
            client,
            "create_post",
            {"text": "Read https://example.com/3", "scheduled_date": "2099-01-01T10:00:00Z"},
        )
        assert capped.is_error and "429" in text(capped) and "draft" in text(capped)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_api_key_never_appears(
    sandbox: Any, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with session(sandbox.base_url, mode, api_key=SECRET_KEY) as client:
        calls: list[tuple[str, dict[str, Any]]] = [
            ("get_account", {}),
            ("list_accounts", {}),
            ("create_post", {"text": "hygiene"}),
            ("list_posts", {}),
            ("get_post", {"id": "0" * 24}),
            ("publish_post", {"id": "0" * 24}),
            ("search_inspiration", {"q": "agents"}),
        ]
        for tool, arguments in calls:
            result = await client.call_tool(tool, arguments)
            seen.append(result.model_dump_json())
        sandbox.fault(path="/api/v1/me", action="echo_auth", status=400)
        echoed = await client.call_tool("get_account", {})
        assert echoed.is_error
        seen.append(echoed.model_dump_json())
        sandbox.fault(path="/api/v1/posts", action="echo_auth", status=500, times=5)
        seen.append((await client.call_tool("list_posts", {})).model_dump_json())
    everything = "\n".join(seen) + "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET_KEY not in everything
    assert "SECRETKEY" not in everything
    assert all(SECRET_KEY not in str(r["key_prefix"]) for r in sandbox.requests())


async def test_token_survives_a_refused_write_but_not_an_ambiguous_one(sandbox: Any) -> None:
    async with session(sandbox.base_url) as client:
        refused_id = data(await client.call_tool("create_post", {"text": "Refused first"}))[
            "posts"
        ][0]["id"]
        token = data(await client.call_tool("publish_post", {"id": refused_id}))[
            "confirmation_token"
        ]
        sandbox.fault(
            path=f"/api/v1/posts/{refused_id}/publish",
            action="status",
            status=403,
            body={"error": "X account not connected"},
        )
        first = await client.call_tool(
            "publish_post", {"id": refused_id, "confirmation_token": token}
        )
        assert first.is_error and "403" in text(first)
        second = await client.call_tool(
            "publish_post", {"id": refused_id, "confirmation_token": token}
        )
        assert data(second)["status"] == "posted"  # nothing happened the first time

        unclear_id = data(await client.call_tool("create_post", {"text": "Unclear"}))["posts"][0][
            "id"
        ]
        token = data(await client.call_tool("publish_post", {"id": unclear_id}))[
            "confirmation_token"
        ]
        sandbox.fault(path=f"/api/v1/posts/{unclear_id}/publish", action="status", status=500)
        first = await client.call_tool(
            "publish_post", {"id": unclear_id, "confirmation_token": token}
        )
        assert first.is_error and "Outcome unknown" in text(first)
        again = await client.call_tool(
            "publish_post", {"id": unclear_id, "confirmation_token": token}
        )
        assert again.is_error and "confirmation refused" in text(again)
    publishes = [r for r in sandbox.requests() if r["path"].endswith("/publish")]
    assert len(publishes) == 3


async def test_api_key_never_appears_over_stdio_with_debug_logs(
    sandbox: Any, tmp_path: Any
) -> None:
    """Every tool over a real stdio session with debug logging on, some upstream errors
    echoing the Authorization header: the key is in no result and no stderr line."""
    import os
    import sys

    from mcp import ClientSession, StdioServerParameters, stdio_client

    stderr_path = tmp_path / "stderr.log"
    env = {**os.environ, "OPENTWEET_API_KEY": SECRET_KEY, "OPENTWEET_BASE_URL": sandbox.base_url}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "opentweet_mcp", "--log-level", "debug"], env=env
    )
    results: list[str] = []
    with stderr_path.open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as client,
        ):
            await client.initialize()

            async def call(tool: str, arguments: dict[str, Any]) -> Any:
                result = await client.call_tool(tool, arguments)
                results.append(result.model_dump_json())
                return result

            draft = data(await call("create_post", {"text": "hygiene draft"}))["posts"][0]["id"]
            other = data(await call("create_post", {"text": "second draft"}))["posts"][0]["id"]
            future_date = "2099-01-01T10:00:00Z"
            for tool, arguments in [
                ("get_account", {}),
                ("list_accounts", {}),
                ("list_posts", {}),
                ("get_post", {"id": draft}),
                ("update_post", {"id": draft, "text": "hygiene draft, edited"}),
                ("schedule_post", {"id": other, "scheduled_date": future_date}),
                ("publish_post", {"id": draft}),
                ("bulk_create_posts", {"posts": [{"text": "bulk one"}]}),
                (
                    "batch_schedule_posts",
                    {"schedules": [{"post_id": draft, "scheduled_date": future_date}]},
                ),
                ("delete_post", {"id": draft}),
                ("upload_media", {"data_base64": "iVBORw0KGgoAAAAAAAAAAA==", "filename": "a.png"}),
                ("get_evergreen_settings", {}),
                ("update_evergreen_settings", {"enabled": True}),
                ("list_evergreen_posts", {}),
                ("add_to_evergreen", {"text": "evergreen hygiene"}),
                ("get_evergreen_post", {"id": draft}),
                ("update_evergreen_post", {"id": draft, "paused": True}),
                ("remove_from_evergreen", {"id": draft}),
                ("get_evergreen_history", {}),
                ("search_inspiration", {"q": "agents"}),
                ("repurpose_tweet", {"tweet_text": "hello", "save_as_draft": False}),
                ("get_analytics_overview", {}),
                ("get_tweet_analytics", {}),
                ("get_best_times", {}),
                ("analyze_best_times", {}),
                ("check_post", {"text": "local"}),
                ("split_thread", {"text": "local. text."}),
            ]:
                await call(tool, arguments)
            for path in ("/api/v1/me", "/api/v1/posts", "/api/v1/evergreen/settings"):
                sandbox.fault(path=path, action="echo_auth", status=400, times=3)
            assert (await call("get_account", {})).is_error
            assert (await call("list_posts", {})).is_error
            assert (await call("create_post", {"text": "echo"})).is_error
            assert (await call("get_evergreen_settings", {})).is_error
    logs = stderr_path.read_text()
    assert "DEBUG" in logs  # debug logging really was on
    everything = "\n".join(results) + logs
    assert SECRET_KEY not in everything and "SECRETKEY" not in everything


async def test_lone_surrogates_are_refused_before_anything_runs(sandbox: Any) -> None:
    """JSON's "\\ud800" escape decodes to text no request can carry; it is refused up front,
    even where a confirmation resolver would otherwise read the post first."""
    async with session(sandbox.base_url, "auto") as client:
        for tool, arguments in [
            ("create_post", {"text": "fine", "x_account_id": "\ud800"}),
            ("publish_post", {"id": "0" * 24, "x_account_id": "acc\udfff"}),
            ("search_inspiration", {"q": "ok", "lang": "\ud83d"}),
        ]:
            result = await client.call_tool(tool, arguments)
            assert result.is_error and "lone surrogate" in text(result), text(result)
            assert "x_account_id" in text(result) or "lang" in text(result)
    assert sandbox.requests() == []
