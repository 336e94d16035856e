"""Networks (SPEC §7): OpenTweet cross-posts a request that names no platforms wherever the
account is set to. Every publishing request names them (["x"] unless the caller chose), the
preview names every network, the approval binds them, and per-network results are reported."""

from __future__ import annotations

from typing import Any

from tests.harness import confirmed, data, future, session, text

CROSS = "crosspost_test_key_0001"  # a sandbox account that cross-posts to Bluesky and LinkedIn


def bodies(sandbox: Any) -> list[dict[str, Any]]:
    """The JSON bodies of every write the server sent."""
    return [r["body"] for r in sandbox.requests() if r["method"] in ("POST", "PUT") and r["body"]]


async def test_every_publishing_request_sends_x_only_by_default(sandbox: Any) -> None:
    async with session(sandbox.base_url, api_key=CROSS) as client:
        draft = data(await client.call_tool("create_post", {"text": "a draft"}))["posts"][0]["id"]
        other = data(await client.call_tool("create_post", {"text": "another"}))["posts"][0]["id"]
        third = data(await client.call_tool("create_post", {"text": "a third"}))["posts"][0]["id"]
        await confirmed(client, "schedule_post", {"id": draft, "scheduled_date": future(30)})
        await confirmed(client, "update_post", {"id": draft, "text": "a draft, edited"})
        await confirmed(client, "publish_post", {"id": other})
        await confirmed(
            client,
            "batch_schedule_posts",
            {"schedules": [{"post_id": third, "scheduled_date": future(40)}]},
        )
        await confirmed(client, "bulk_create_posts", {"posts": [{"text": "bulk one"}]})
        await confirmed(client, "create_post", {"text": "at once", "publish_now": True})
        await confirmed(client, "add_to_evergreen", {"text": "evergreen words"})
        published = data(await client.call_tool("get_post", {"id": other}))["post"]
    sent = bodies(sandbox)
    assert len(sent) == 10
    for body in sent:
        platforms = body.get("platforms") or body["posts"][0].get("platforms")
        assert platforms == ["x"], body
    # so the cross-posting account's setting never applied: the post went to X alone
    assert [r["platform"] for r in published["results"]] == ["x"]


async def test_the_preview_names_every_network_and_the_result_each_outcome(sandbox: Any) -> None:
    async with session(sandbox.base_url, api_key=CROSS) as client:
        post_id = data(await client.call_tool("create_post", {"text": "everywhere"}))["posts"][0][
            "id"
        ]
        x_only = await client.call_tool("publish_post", {"id": post_id})
        assert "Networks: X only" in text(x_only)
        asked = {"id": post_id, "platforms": ["x", "bluesky", "linkedin", "x"]}
        first = await client.call_tool("publish_post", asked)
        preview = data(first)
        said = text(first)
        assert "Networks: X, Bluesky, LinkedIn" in said
        assert f"post {post_id} also goes out on bluesky, linkedin" in said
        assert preview["preview"]["posts"][0]["platforms"] == ["x", "bluesky", "linkedin"]
        assert preview["preview"]["ref"] != data(x_only)["preview"]["ref"]  # the digest binds them
        # the X-only token does not publish to three networks
        wrong = await client.call_tool(
            "publish_post", asked | {"confirmation_token": data(x_only)["confirmation_token"]}
        )
        assert wrong.is_error and "nothing was sent" in text(wrong)
        done = await client.call_tool(
            "publish_post", asked | {"confirmation_token": preview["confirmation_token"]}
        )
    said = text(done)
    assert said.startswith("Published to X"), said
    assert "By network: x: posted https://x.com/" in said
    assert (
        "bluesky: posted https://bsky.app/" in said
        and "linkedin: posted https://www.linkedin" in said
    )
    publishes = [r for r in sandbox.requests() if r["path"].endswith("/publish")]
    assert [r["body"]["platforms"] for r in publishes] == [["x", "bluesky", "linkedin"]]


async def test_a_network_the_account_lacks_is_refused_upstream(sandbox: Any) -> None:
    async with session(sandbox.base_url) as client:  # a Pro account that posts to X alone
        result = await confirmed(
            client,
            "create_post",
            {"text": "elsewhere", "scheduled_date": future(), "platforms": ["x", "bluesky"]},
        )
    assert (
        result.is_error
        and "HTTP 400" in text(result)
        and "bluesky is not connected" in text(result)
    )


async def test_platforms_are_checked_before_any_request(sandbox: Any) -> None:
    async with session(sandbox.base_url) as client:
        for bad in ([], ["mastodon"], "x", ["bluesky"], ["bluesky", "linkedin"]):
            result = await client.call_tool(
                "publish_post", {"id": "507f1f77bcf86cd799439011", "platforms": bad}
            )
            assert result.is_error, bad
    assert sandbox.requests() == []
