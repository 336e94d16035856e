"""Elicitation mode: gated tools ask the person through the client, in both protocol eras;
only an accepted answer writes; without the capability, auto falls back to tokens and elicit
refuses."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.types import ElicitResult

from tests.harness import MODES, data, session, text, writes


def answering(action: str, approve: bool = True, seen: list[str] | None = None) -> Any:
    async def callback(ctx: Any, params: Any) -> ElicitResult:
        if seen is not None:
            seen.append(params.message)
        content = {"approve": approve} if action == "accept" else None
        return ElicitResult(action=action, content=content)  # type: ignore[arg-type]

    return callback


@pytest.mark.parametrize("mode", MODES)
async def test_accept_publishes_once_with_the_preview_shown(sandbox: Any, mode: str) -> None:
    seen: list[str] = []
    options = {"elicitation_callback": answering("accept", seen=seen)}
    async with session(sandbox.base_url, mode, client_options=options, confirm="auto") as client:
        draft = data(await client.call_tool("create_post", {"text": "Ask me first"}))
        post_id = draft["posts"][0]["id"]
        assert seen == []  # a draft needs no confirmation
        result = await client.call_tool("publish_post", {"id": post_id})
        published = data(result)
        assert published["status"] == "posted" and published["url"] in text(result)
    assert seen and "Ask me first" in seen[0] and "@" in seen[0]
    assert len([r for r in sandbox.requests() if r["path"].endswith("/publish")]) == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("answer", [("decline", True), ("cancel", True), ("accept", False)])
async def test_decline_cancel_or_unticked_does_nothing(
    sandbox: Any, mode: str, answer: tuple[str, bool]
) -> None:
    action, approve = answer
    options = {"elicitation_callback": answering(action, approve)}
    async with session(sandbox.base_url, mode, client_options=options, confirm="elicit") as client:
        result = await client.call_tool("create_post", {"text": "No thanks", "publish_now": True})
        assert not result.is_error
        assert data(result)["status"] in ("declined", "cancelled")
        assert text(result).startswith("NOT DONE")
    assert writes(sandbox.requests()) == []


@pytest.mark.parametrize("mode", MODES)
async def test_auto_without_capability_falls_back_to_tokens(sandbox: Any, mode: str) -> None:
    async with session(sandbox.base_url, mode, confirm="auto") as client:
        result = await client.call_tool(
            "create_post", {"text": "Token please", "publish_now": True}
        )
        assert data(result)["status"] == "confirmation_required"
    assert writes(sandbox.requests()) == []


@pytest.mark.parametrize("mode", MODES)
async def test_elicit_policy_refuses_clients_that_cannot_ask(sandbox: Any, mode: str) -> None:
    async with session(sandbox.base_url, mode, confirm="elicit") as client:
        result = await client.call_tool("create_post", {"text": "Nope", "publish_now": True})
        assert result.is_error and "elicitation" in text(result)
        draft = await client.call_tool("create_post", {"text": "A draft is fine"})
        assert data(draft)["posts"][0]["status"] == "draft"
    assert len(writes(sandbox.requests())) == 1
