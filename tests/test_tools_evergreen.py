"""Evergreen tools through a real MCP session against the sandbox, in both protocol eras."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.harness import MODES, confirmed, data, session, text, writes


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_evergreen_workflow(sandbox: Any, mode: str) -> None:
    async with session(sandbox.base_url, mode) as client:
        settings = await client.call_tool(
            "update_evergreen_settings",
            {"enabled": True, "posts_per_day": 5, "posting_times": ["09:00", "17:00"]},
        )
        assert "capped to 2 by the plan" in text(settings)
        assert data(settings)["settings"]["posting_times"] == ["09:00", "17:00"]

        draft = data(await client.call_tool("create_post", {"text": "Timeless tip"}))["posts"][0]
        added = await confirmed(
            client, "add_to_evergreen", {"post_id": draft["id"], "cooldown_days": 7}
        )
        assert data(added)["post"]["isEvergreen"] is True and "cooldown 7 d" in text(added)
        fresh = await confirmed(
            client, "add_to_evergreen", {"text": "Another evergreen", "category": "Tips"}
        )
        fresh_id = data(fresh)["post"]["id"]

        pool = await client.call_tool("list_evergreen_posts", {})
        assert len(data(pool)["posts"]) == 2 and "2 evergreen post(s)" in text(pool)
        paused = await client.call_tool("update_evergreen_post", {"id": fresh_id, "paused": True})
        assert data(paused)["post"]["paused"] is True
        only_active = data(await client.call_tool("list_evergreen_posts", {"paused": False}))
        assert [p["id"] for p in only_active["posts"]] == [draft["id"]]

        tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=18, minute=0)
        sandbox.state.run_scheduler(tomorrow)
        one = await client.call_tool("get_evergreen_post", {"id": draft["id"]})
        recent = data(one)["recent_posts"]
        assert len(recent) == 1 and recent[0]["url"] in text(one)
        history = data(await client.call_tool("get_evergreen_history", {"source_id": draft["id"]}))
        assert [h["source_id"] for h in history["history"]] == [draft["id"]]

        removed = await client.call_tool("remove_from_evergreen", {"id": fresh_id})
        assert "draft again (not deleted)" in text(removed)
        back = data(await client.call_tool("get_post", {"id": fresh_id}))["post"]
        assert back["status"] == "draft" and not back["isEvergreen"]
        overview = await client.call_tool("get_evergreen_settings", {})
        assert "Evergreen enabled" in text(overview)


@pytest.mark.parametrize(
    "arguments,message",
    [
        ({}, "exactly one of post_id"),
        ({"post_id": "507f1f77bcf86cd799439011", "text": "both"}, "exactly one of post_id"),
        ({"post_id": "507f1f77bcf86cd799439011", "category": "Tips"}, "go with text"),
        ({"text": "x", "cooldown_days": 91}, "less than or equal to 90"),
    ],
)
async def test_add_to_evergreen_validation(
    sandbox: Any, arguments: dict[str, Any], message: str
) -> None:
    async with session(sandbox.base_url) as client:
        result = await client.call_tool("add_to_evergreen", arguments)
    assert result.is_error and message in text(result), text(result)
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    "arguments,message",
    [
        ({"posting_times": ["9am"]}, "HH:mm"),
        ({"posting_times": ["09:00", "09:00"]}, "same time twice"),
        ({"default_cooldown_days": 0}, "greater than or equal to 1"),
        ({}, "nothing to change"),
    ],
)
async def test_settings_validation(sandbox: Any, arguments: dict[str, Any], message: str) -> None:
    async with session(sandbox.base_url) as client:
        result = await client.call_tool("update_evergreen_settings", arguments)
    assert result.is_error and message in text(result), text(result)
    assert sandbox.requests() == []


async def test_plan_rules_surface(sandbox: Any) -> None:
    async with session(sandbox.base_url, api_key="trial_user") as client:
        trial = await client.call_tool("get_evergreen_settings", {})
        assert trial.is_error and "403" in text(trial) and "trial" in text(trial)
    async with session(sandbox.base_url, api_key="pro_pool_owner") as client:
        for n in range(10):
            await confirmed(client, "add_to_evergreen", {"text": f"Evergreen number {n}"})
        full = await confirmed(client, "add_to_evergreen", {"text": "One too many"})
        assert full.is_error and "429" in text(full) and "full" in text(full)
    assert len(writes(sandbox.requests())) == 11
