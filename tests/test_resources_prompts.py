"""Resources and prompts: the account, the upcoming queue, the evergreen pool, and the
workflow prompts that tell an agent which tools to call and where confirmation happens."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.harness import MODES, confirmed, data, future, session


@pytest.mark.parametrize("mode", MODES)
async def test_resources(sandbox: Any, mode: str) -> None:
    async with session(sandbox.base_url, mode) as client:
        listed = {r.uri for r in (await client.list_resources()).resources}
        assert listed == {
            "opentweet://account",
            "opentweet://posts/scheduled",
            "opentweet://evergreen",
        }
        post = data(
            await confirmed(client, "create_post", {"text": "Queued", "scheduled_date": future()})
        )
        queue = await client.read_resource("opentweet://posts/scheduled")
        ids = [p["id"] for p in json.loads(queue.contents[0].text)["posts"]]  # type: ignore[union-attr]
        assert ids == [post["posts"][0]["id"]]
        account = await client.read_resource("opentweet://account")
        assert json.loads(account.contents[0].text)["authenticated"] is True  # type: ignore[union-attr]
        evergreen = await client.read_resource("opentweet://evergreen")
        assert "settings" in json.loads(evergreen.contents[0].text)  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", MODES)
async def test_prompts_name_tools_and_confirmation(sandbox: Any, mode: str) -> None:
    async with session(sandbox.base_url, mode) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert set(prompts) == {
            "schedule_week",
            "repurpose_inspiration",
            "setup_evergreen",
            "tune_posting_times",
        }
        week = await client.get_prompt("schedule_week", {"topic": "MCP servers"})
        body = week.messages[0].content.text  # type: ignore[union-attr]
        assert (
            "MCP servers" in body
            and "bulk_create_posts" in body
            and "confirmation_required" in body
        )
        tune = await client.get_prompt("tune_posting_times", {})
        assert "batch_schedule_posts" in tune.messages[0].content.text  # type: ignore[union-attr]


async def test_prompt_arguments_complete(sandbox: Any) -> None:
    from mcp.types import PromptReference

    async with session(sandbox.base_url) as client:
        ref = PromptReference(type="ref/prompt", name="schedule_week")
        zones = await client.complete(ref, {"name": "timezone", "value": "America/"})
        assert zones.completion.values == ["America/New_York", "America/Los_Angeles"]
        nothing = await client.complete(ref, {"name": "unknown", "value": ""})
        assert nothing.completion.values == []
