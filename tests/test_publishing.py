"""Publishing as the live API does it (SPEC §7): a publish may be accepted before the tweet is
on X, may end `failed`, and a 502 means "saved, not published". The server re-reads, reports
the real outcome, and never publishes twice."""

from __future__ import annotations

from typing import Any

from tests.harness import PRO_KEY, confirmed, data, future, session, text


def publishes(sandbox: Any) -> list[dict[str, Any]]:
    return [r for r in sandbox.requests() if r["path"].endswith("/publish")]


def reads_of(sandbox: Any, post_id: str, *, after_publish: bool = False) -> list[dict[str, Any]]:
    """The reads of the post (only those after the publish request, if asked)."""
    log = sandbox.requests()
    if after_publish:
        log = log[next(i for i, r in enumerate(log) if r["path"].endswith("/publish")) :]
    return [r for r in log if r["method"] == "GET" and r["path"] == f"/api/v1/posts/{post_id}"]


async def draft(client: Any, words: str) -> str:
    post_id: str = data(await client.call_tool("create_post", {"text": words}))["posts"][0]["id"]
    return post_id


async def test_an_asynchronous_publish_is_reported_once_it_is_on_x(sandbox: Any) -> None:
    sandbox.config(publish_delay=0.8)
    async with session(sandbox.base_url) as client:
        post_id = await draft(client, "Out in a moment")
        result = await confirmed(client, "publish_post", {"id": post_id})
        said = text(result)
        assert not result.is_error, said
        assert said.startswith("Published to X: status posted, x_post_id 1")
        assert "url https://x.com/" in said
        assert data(result)["post"]["status"] == "posted"
        assert data(result)["answer"]["status"] == "publishing"  # what the 201 said
        assert 1 <= len(reads_of(sandbox, post_id, after_publish=True)) <= 3
        # asking again changes nothing: the post is on X, a second publish is refused
        again = await client.call_tool("publish_post", {"id": post_id})
        assert again.is_error and "already published" in text(again)
    assert len(publishes(sandbox)) == 1


async def test_publish_now_on_create_is_followed_the_same_way(sandbox: Any) -> None:
    sandbox.config(publish_delay=0.6, lean_answers=True)  # the live API's {id, status} answer
    async with session(sandbox.base_url) as client:
        result = await confirmed(client, "create_post", {"text": "Now-ish", "publish_now": True})
        assert text(result).startswith("Published to X: status posted"), text(result)
    creates = [r for r in sandbox.requests() if r["method"] == "POST"]
    assert len(creates) == 1 and creates[0]["body"]["publish_now"] is True


async def test_a_publish_still_under_way_is_unverified_never_published(sandbox: Any) -> None:
    sandbox.config(publish_delay=120)
    async with session(sandbox.base_url) as client:
        post_id = await draft(client, "Slow network")
        result = await confirmed(client, "publish_post", {"id": post_id})
        said = text(result)
        assert not result.is_error and said.startswith("UNVERIFIED"), said
        assert "'publishing'" in said and "do not publish it again" in said
        assert "Published to X" not in said
    assert len(publishes(sandbox)) == 1
    assert len(reads_of(sandbox, post_id, after_publish=True)) == 6  # bounded: six re-reads


async def test_a_publish_that_ends_failed_is_a_failure(sandbox: Any) -> None:
    sandbox.config(publish_delay=0.3, publish_fails=True)
    async with session(sandbox.base_url) as client:
        post_id = await draft(client, "Doomed")
        result = await confirmed(client, "publish_post", {"id": post_id})
        said = text(result)
        assert result.is_error and said.startswith(f"NOT PUBLISHED — post {post_id} failed")
        assert "could not be published (simulated)" in said and "x: failed" in said
    assert len(publishes(sandbox)) == 1


async def test_502_means_saved_not_published(sandbox: Any) -> None:
    sandbox.config(publish_fails=True)  # the publish to X fails after the save: HTTP 502
    async with session(sandbox.base_url) as client:
        post_id = await draft(client, "Saved only")
        result = await confirmed(client, "publish_post", {"id": post_id})
        said = text(result)
        assert result.is_error and "NOT PUBLISHED — the publish request ended with HTTP 502" in said
        assert f"post {post_id} is saved with status 'failed': it was not published" in said
        assert "Do not retry on your own" in said and "Published" not in said
        # a retry with the same token is the first result again, not a second publish
        assert len(publishes(sandbox)) == 1
        created = await confirmed(client, "create_post", {"text": "Saved too", "publish_now": True})
        said = text(created)
        assert (
            created.is_error and "NOT PUBLISHED — the publish request ended with HTTP 502" in said
        )
        assert "it was not published" in said  # the 502 named the saved post; it was re-read
    assert len(publishes(sandbox)) == 1
    assert len([r for r in sandbox.requests() if r["method"] == "POST"]) == 3  # a draft, 2 tries


async def test_a_502_while_the_post_goes_out_is_followed_not_called_a_failure(
    sandbox: Any,
) -> None:
    """A gateway may answer 502 while OpenTweet publishes: "not published" is said only when
    the post shows it."""
    sandbox.config(publish_delay=0.8)
    async with session(sandbox.base_url) as client:
        post_id = await draft(client, "Through a flaky gateway")
        sandbox.fault(path=f"/api/v1/posts/{post_id}/publish", action="status_after", status=502)
        result = await confirmed(client, "publish_post", {"id": post_id})
        said = text(result)
        assert not result.is_error, said
        assert said.startswith("OpenTweet answered HTTP 502, yet re-reading the post shows it")
        assert "status posted" in said and "By network: x: posted" in said
    assert [r["processed"] for r in publishes(sandbox)] == [True]


async def test_a_post_being_published_is_never_published_again(sandbox: Any) -> None:
    async with session(sandbox.base_url) as client:
        post_id = await draft(client, "On its way")
        state = sandbox.state  # as the live API leaves it while the tweet is on its way
        user = state.user(PRO_KEY)
        post = state.get_post(user, post_id)
        post.update(status="publishing", publish_due="2099-01-01T00:00:00.000Z")
        state.store.save_post(user.id, post)
        again = await client.call_tool("publish_post", {"id": post_id})
        said = text(again)
        assert again.is_error and "has status 'publishing': a publish is under way" in said
        for tool, arguments in (
            ("schedule_post", {"id": post_id, "scheduled_date": future(30)}),
            ("update_post", {"id": post_id, "text": "changed meanwhile"}),
        ):
            moved = await client.call_tool(tool, arguments)
            assert moved.is_error and "a publish is under way" in text(moved), tool
    assert publishes(sandbox) == []


async def test_a_lean_create_answer_is_checked_by_reading_the_post(sandbox: Any) -> None:
    sandbox.config(lean_answers=True)
    async with session(sandbox.base_url) as client:
        result = await confirmed(
            client, "create_post", {"text": "Later", "scheduled_date": future(30)}
        )
        said = text(result)
        assert said.startswith("Scheduled: post ") and "scheduled for 20" in said, said
        post_id = data(result)["posts"][0]["id"]
        assert set(data(result)["posts"][0]) == {"id", "status"}
        assert reads_of(sandbox, post_id)  # the date was read back, not assumed


async def test_get_account_shows_trial_and_post_stats(sandbox: Any) -> None:
    async with session(sandbox.base_url, api_key="trial_stats_key") as client:
        await draft(client, "one")
        said = text(await client.call_tool("get_account", {}))
    assert "Plan trial (trial)" in said
    assert "Posts: 1 in all — 0 scheduled, 0 posted, 1 drafts." in said
    async with session(sandbox.base_url, api_key=PRO_KEY) as client:
        assert "(trial)" not in text(await client.call_tool("get_account", {}))
