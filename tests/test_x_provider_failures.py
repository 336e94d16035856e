"""`--provider x` when things go wrong: edits of posts that did not go out, answers lost or
unreadable, a second process changing a post, deletions X refuses, alt text behind a URL.
Each of these once let content reach X unapproved, or said something untrue (an adversarial
review's findings); the simulator runs over real sockets."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx2
import pytest

from opentweet_mcp.api.operations import ApiRequest
from opentweet_mcp.config import Settings
from opentweet_mcp.sandbox.faults import Fault
from opentweet_mcp.xapi.client import CHUNK, ThreadBroken, TweetSpec
from opentweet_mcp.xapi.media import MediaFolder
from opentweet_mcp.xapi.publish import publish, publish_due
from opentweet_mcp.xapi.schedule import LocalSchedule
from opentweet_mcp.xapi.upstream import open_x_upstream
from tests.harness import PNG, confirmed, data, future, text
from tests.x_harness import (
    folder,
    lose_answer_and_timeline,
    scheduler_client,
    session,
    upload_video,
)


def on_x(xsim_server: tuple[str, Any]) -> list[str]:
    """The texts X holds, oldest first (whatever the request log says of their answers)."""
    store = xsim_server[1].xsim.store
    return [tweet["text"] for user in ("1900000000000000001",) for tweet in store.posts(user)[::-1]]


def fault(xsim_server: tuple[str, Any], **rule: Any) -> None:
    xsim_server[1].xsim.faults.add(Fault.from_json(rule))


async def run_scheduler(settings: Settings, ahead: float) -> dict[str, list[str]]:
    """One scheduler pass as of `ahead` seconds from now."""
    store = LocalSchedule(folder(settings) / "x-posts.sqlite3", clock=lambda: time.time() + ahead)
    async with scheduler_client(settings) as x:
        return await publish_due(store, x, MediaFolder(folder(settings) / "x-media"))


async def test_a_post_that_did_not_go_out_and_is_edited_waits_for_a_new_approval(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    async with session(x_settings) as client:
        await confirmed(client, "create_post", {"text": "Same words", "publish_now": True})
        scheduled = {"text": "Same words", "scheduled_date": future(0.01)}
        post_id = data(await confirmed(client, "create_post", scheduled))["posts"][0]["id"]
        done = await run_scheduler(x_settings, 120)  # X refuses it: a duplicate
        assert done["failed"] == [post_id]
        edited = await client.call_tool("update_post", {"id": post_id, "text": "Never approved"})
        post = data(edited)["post"]
        assert post["status"] == "draft" and post["scheduled_date"] is None
        assert (await run_scheduler(x_settings, 240))["posted"] == []
    assert on_x(xsim_server) == ["Same words"]


async def test_an_unreadable_answer_is_looked_up_on_x_and_never_posted_twice(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    fault(xsim_server, action="malformed", path="/2/tweets", method="POST", times=1)
    thread = {"text": "1/3 odd", "thread_tweets": ["2/3 odd", "3/3 odd"], "publish_now": True}
    async with session(x_settings) as client:
        done = await confirmed(client, "create_post", thread)
        assert text(done).startswith("Published to X"), text(done)
    assert on_x(xsim_server) == ["1/3 odd", "2/3 odd", "3/3 odd"]


async def test_a_lost_answer_that_cannot_be_checked_is_said_to_be_maybe_on_x(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    lose_answer_and_timeline(xsim_server)
    async with session(x_settings) as client:
        lost = await confirmed(client, "create_post", {"text": "Hello?", "publish_now": True})
        said = text(lost)
        assert lost.is_error and "It MAY be on X: tweet 1" in said, said
        assert "Nothing is on X" not in said
        post_id = data(await client.call_tool("list_posts", {}))["posts"][0]["id"]
        # published again (approved again): X refuses the text it has, and it is found there
        found = await confirmed(client, "publish_post", {"id": post_id})
        assert text(found).startswith("Published to X"), text(found)
    assert on_x(xsim_server) == ["Hello?"]


async def test_a_post_changed_by_another_process_after_it_was_read_is_not_published(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    async with httpx2.AsyncClient(timeout=5) as http:
        mine, theirs = open_x_upstream(x_settings, http), open_x_upstream(x_settings, http)
        post_id = mine.store.add({"text": "As approved"})
        read = await mine.send(ApiRequest("GET", f"/api/v1/posts/{post_id}"))
        assert read["post"]["text"] == "As approved"  # what the gate showed and approved
        await theirs.send(ApiRequest("PUT", f"/api/v1/posts/{post_id}", json={"text": "Swapped"}))
        with pytest.raises(Exception, match="changed meanwhile"):
            await mine.send(ApiRequest("POST", f"/api/v1/posts/{post_id}/publish", json={}))
    assert on_x(xsim_server) == []


async def test_a_deletion_x_refuses_keeps_the_post_with_what_is_still_on_x(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    thread = {"text": "D1", "thread_tweets": ["D2"], "publish_now": True}
    async with session(x_settings) as client:
        post_id = data(await confirmed(client, "create_post", thread))["post"]["id"]
        fault(xsim_server, status=503, path="/2/tweets/", method="DELETE", times=1)
        refused = await confirmed(client, "delete_post", {"id": post_id})
        assert refused.is_error and "still on X" in text(refused), text(refused)
        kept = data(await client.call_tool("get_post", {"id": post_id}))["post"]
        assert kept["status"] == "posted"
        gone = data(await confirmed(client, "delete_post", {"id": post_id}))
        assert gone["x_deleted"] is True
    assert on_x(xsim_server) == []


async def test_alt_text_is_shown_before_approval_and_bound_to_its_url(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    async with session(x_settings) as client:
        upload = {"data_base64": PNG, "filename": "a.png", "alt_text": "A chart"}
        url = data(await client.call_tool("upload_media", upload))["url"]
        other = data(await client.call_tool("upload_media", {**upload, "alt_text": "Buy coins"}))
        assert other["url"] != url  # another alt text is another file: the URL binds it
        hidden = await client.call_tool("upload_media", {**upload, "alt_text": "A chart\u202e"})
        assert hidden.is_error and "hidden characters" in text(hidden)
        arguments = {"text": "Chart", "media_urls": [url], "publish_now": True}
        preview = text(await client.call_tool("create_post", arguments))
        assert "image/png" in preview and "alt text: “A chart”" in preview, preview
        assert "fetched from their addresses" not in preview  # the file is kept here
        await confirmed(client, "create_post", arguments)
    alt = [
        r["body"]["alt_text"]["text"]
        for r in xsim_server[1].xsim.store.requests()
        if r["path"] == "/1.1/media/metadata/create.json"
    ]
    assert alt == ["A chart"]


async def test_a_page_far_past_the_end_is_empty(x_settings: Settings) -> None:
    async with session(x_settings) as client:
        listed = await client.call_tool("list_posts", {"page": 10**20})
        assert data(listed)["posts"] == []


async def test_a_publisher_whose_claim_was_given_up_on_stops_before_its_next_tweet(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    """A scheduler pass that finds a claim unrenewed for 10 minutes marks it failed; the
    publisher still holding it (a long upload) sees that, and posts nothing more."""
    xsim_server[1].xsim.configure(processing_delay=1.5)
    async with session(x_settings) as client:
        url = await upload_video(client)
        scheduled = {"text": "Launch", "media_urls": [url], "scheduled_date": future(0.01)}
        post_id = data(await confirmed(client, "create_post", scheduled))["posts"][0]["id"]
    path, media = (
        folder(x_settings) / "x-posts.sqlite3",
        MediaFolder(folder(x_settings) / "x-media"),
    )
    passes: dict[str, dict[str, list[str]]] = {}

    async def first() -> None:
        async with scheduler_client(x_settings) as x:
            late = LocalSchedule(path, clock=lambda: time.time() + 60)
            passes["first"] = await publish_due(late, x, media)

    async with anyio.create_task_group() as group:
        group.start_soon(first)
        while not [r for r in xsim_server[1].xsim.store.requests() if "STATUS" in r["query"]]:
            await anyio.sleep(0.05)  # the first pass waits for X to process the video
        async with scheduler_client(x_settings) as x:
            much_later = LocalSchedule(path, clock=lambda: time.time() + 60 + 11 * 60)
            passes["second"] = await publish_due(much_later, x, media)
    assert passes["second"]["failed"] == [post_id]  # its claim taken as abandoned
    stopped = LocalSchedule(path).get(post_id)
    assert stopped is not None and stopped["status"] == "failed"
    assert "stopped part way" in stopped["result"]["error"]
    assert on_x(xsim_server) == []  # the first publisher posted nothing after losing it


async def test_a_lost_answer_is_matched_to_the_tweet_it_sent_not_an_older_one(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    async with session(x_settings) as client:
        await confirmed(client, "create_post", {"text": "Quote this", "publish_now": True})
        quoted = on_x(xsim_server)
        first = data(await client.call_tool("list_posts", {}))["posts"][0]["x_post_id"]
        # the quote tweet's answer is lost: it is found on X (a quote is not a reply)
        fault(xsim_server, action="reset_after", path="/2/tweets", method="POST", times=1)
        quote = {"text": "Agreed!", "quote_tweet_id": first, "publish_now": True}
        done = await confirmed(client, "create_post", quote)
        assert text(done).startswith("Published to X"), text(done)
        # a tweet that never reached X is not matched to an earlier tweet with its words
        fault(xsim_server, action="reset_before", path="/2/tweets", method="POST", times=1)
        never = {"text": "Quote this", "reply_settings": "following", "publish_now": True}
        lost = await confirmed(client, "create_post", never)
        assert lost.is_error and "Published" not in text(lost)
    assert on_x(xsim_server) == [*quoted, "Agreed!"]


async def test_a_post_that_may_be_on_x_is_looked_for_when_deleted(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    lose_answer_and_timeline(xsim_server)
    async with session(x_settings) as client:
        await confirmed(client, "create_post", {"text": "Maybe out there", "publish_now": True})
        post_id = data(await client.call_tool("list_posts", {}))["posts"][0]["id"]
        preview = text(await client.call_tool("delete_post", {"id": post_id}))
        assert "May be on X: tweet 1" in preview and "never published" not in preview, preview
        gone = data(await confirmed(client, "delete_post", {"id": post_id}))
        assert gone["x_deleted"] is True
    assert on_x(xsim_server) == []


async def test_a_post_being_published_cannot_be_deleted(x_settings: Settings) -> None:
    store = LocalSchedule(folder(x_settings) / "x-posts.sqlite3")
    post_id = store.add({"text": "On its way"})
    assert store.claim(post_id) is not None  # a publisher holds it this moment
    async with session(x_settings) as client:
        refused = await confirmed(client, "delete_post", {"id": post_id})
        assert refused.is_error and "being published" in text(refused)
    assert store.get(post_id) is not None


async def test_a_publish_cancelled_part_way_is_recorded_with_what_is_on_x(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    xsim_server[1].xsim.configure(tweets_per_window=1, window_seconds=3600)
    store = LocalSchedule(folder(x_settings) / "x-posts.sqlite3")
    post_id = store.add({"text": "C1", "thread_tweets": ["C2"]})
    owner = store.claim(post_id)
    claimed = store.get(post_id)
    assert owner is not None and claimed is not None
    async with scheduler_client(x_settings) as x:
        x.rate_wait = 7200  # tweet 2 waits for X's window: the publish is cancelled meanwhile
        media = MediaFolder(folder(x_settings) / "x-media")
        with anyio.move_on_after(1.5):
            await publish(store, x, media, claimed | {"owner": owner})
    row = store.get(post_id)
    assert row is not None and row["status"] == "failed"  # not left claimed
    assert "cancelled part way" in row["result"]["error"]
    assert [t["id"] for t in row["result"]["tweets"]] == [store_tweet_ids(xsim_server)[0]]
    async with session(x_settings) as client:
        said = text(await client.call_tool("get_post", {"id": post_id}))
    assert "on X: https://x.com/" in said and "MAY be on X: tweet 2" in said, said
    assert on_x(xsim_server) == ["C1"]


async def test_a_long_pass_does_not_hold_the_posts_it_has_not_reached(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    xsim_server[1].xsim.configure(processing_delay=1.5)
    async with session(x_settings) as client:
        url = await upload_video(client)
        slow = {"text": "A video", "media_urls": [url], "scheduled_date": future(0.01)}
        await confirmed(client, "create_post", slow)
        quick = {"text": "Words", "scheduled_date": future(0.011)}
        quick_id = data(await confirmed(client, "create_post", quick))["posts"][0]["id"]
    path = folder(x_settings) / "x-posts.sqlite3"
    media = MediaFolder(folder(x_settings) / "x-media")
    passes: dict[str, dict[str, list[str]]] = {}

    async def first() -> None:
        async with scheduler_client(x_settings) as x:
            passes["first"] = await publish_due(
                LocalSchedule(path, lambda: time.time() + 60), x, media
            )

    async with anyio.create_task_group() as group:
        group.start_soon(first)
        while not [r for r in xsim_server[1].xsim.store.requests() if "STATUS" in r["query"]]:
            await anyio.sleep(0.05)  # the first pass is busy with the video
        async with scheduler_client(x_settings) as x:  # five minutes on: another scheduler
            second = LocalSchedule(path, lambda: time.time() + 360)
            passes["second"] = await publish_due(second, x, media)
    assert passes["second"]["posted"] == [quick_id] and not passes["second"]["failed"]
    assert quick_id not in passes["first"].get("failed", [])
    assert sorted(on_x(xsim_server)) == ["A video", "Words"]


def store_tweet_ids(xsim_server: tuple[str, Any]) -> list[str]:
    return [t["id"] for t in xsim_server[1].xsim.store.posts("1900000000000000001")[::-1]]


async def test_a_doubt_about_a_tweet_outlives_a_later_refusal(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    lose_answer_and_timeline(xsim_server)
    async with session(x_settings) as client:
        await confirmed(client, "create_post", {"text": "Launch day!", "publish_now": True})
        post_id = data(await client.call_tool("list_posts", {}))["posts"][0]["id"]
        xsim_server[1].xsim.configure(tweets_per_window=0, window_seconds=86400)
        limited = await confirmed(client, "publish_post", {"id": post_id})  # X: 429
        assert limited.is_error and "MAY be on X: tweet 1" in text(limited), text(limited)
        edit = await client.call_tool("update_post", {"id": post_id, "text": "Launch day"})
        assert edit.is_error and "(or may be)" in text(edit)
        xsim_server[1].xsim.configure(tweets_per_window=100, window_seconds=900)
        found = await confirmed(client, "publish_post", {"id": post_id})
        assert text(found).startswith("Published to X"), text(found)
    assert on_x(xsim_server) == ["Launch day!"]


async def test_the_grace_counts_from_the_approved_time_however_often_x_asks_to_wait(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    xsim_server[1].xsim.configure(tweets_per_window=0, window_seconds=600)
    async with session(x_settings) as client:
        scheduled = {"text": "Patient", "scheduled_date": future(0.01)}
        post_id = data(await confirmed(client, "create_post", scheduled))["posts"][0]["id"]
    store = LocalSchedule(folder(x_settings) / "x-posts.sqlite3")
    approved = store.get(post_id)["due"]  # type: ignore[index]
    media = MediaFolder(folder(x_settings) / "x-media")
    statuses = []
    async with scheduler_client(x_settings) as x:
        x.rate_wait = 0
        for minutes in (1, 11, 16):  # passes as X keeps refusing, until past the grace
            later = LocalSchedule(store.path, clock=lambda m=minutes: approved + m * 60)
            await publish_due(later, x, media)
            statuses.append(store.get(post_id)["status"])  # type: ignore[index]
    assert statuses[-1] == "missed" and "posted" not in statuses
    assert on_x(xsim_server) == []


async def test_the_scheduler_takes_only_a_post_still_due(x_settings: Settings) -> None:
    store = LocalSchedule(folder(x_settings) / "x-posts.sqlite3")
    post_id = store.add({"text": "Moved"}, time.time() - 1)
    assert store.due() == ([post_id], [])
    tomorrow = time.time() + 86400  # rescheduled (approved) between the pass's list and claim
    assert store.change(post_id, {"text": "Moved"}, tomorrow, "scheduled")
    assert store.claim_due(post_id) is None


async def test_a_failure_before_the_tweet_left_casts_no_doubt_on_it(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    fault(xsim_server, action="reset_after", path="/2/users/me", method="GET", times=1)
    async with scheduler_client(x_settings) as x:  # a fresh client: it asks for the handle
        with pytest.raises(ThreadBroken):
            await x.post_thread([TweetSpec("Never sent")], key="k")
        assert x.thread_so_far("k").unsure is None
    assert on_x(xsim_server) == []


async def test_a_long_upload_renews_its_claim_between_chunks(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    renewals = []
    video = b"\0\0\0\x18ftypmp42" + b"v" * (CHUNK + 10)  # two chunks
    async with scheduler_client(x_settings) as x:
        await x.upload_media(video, "video/mp4", still_ours=lambda: renewals.append(1))
    assert len(renewals) >= 2  # before each chunk, and while X processes it


async def test_a_post_whose_file_is_gone_fails_rather_than_waiting(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    async with session(x_settings) as client:
        upload = {"data_base64": PNG, "filename": "a.png"}
        url = data(await client.call_tool("upload_media", upload))["url"]
        scheduled = {"text": "Gone", "media_urls": [url], "scheduled_date": future(0.01)}
        post_id = data(await confirmed(client, "create_post", scheduled))["posts"][0]["id"]
    for kept in (folder(x_settings) / "x-media").iterdir():
        kept.unlink()
    done = await run_scheduler(x_settings, 60)
    assert done["failed"] == [post_id]  # not re-armed again and again


async def test_a_damaged_thread_log_keeps_the_record_of_what_is_on_x(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    thread = {"text": "One", "thread_tweets": ["Two"]}
    async with session(x_settings) as client:
        post_id = data(await client.call_tool("create_post", thread))["posts"][0]["id"]
        xsim_server[1].xsim.configure(tweets_fail_after=1, tweets_fail_status=400)
        await confirmed(client, "publish_post", {"id": post_id})  # tweet 1 on X, then refused
        for log in (folder(x_settings) / "x-threads").glob("thread-*.json"):
            log.write_text("{not json", encoding="utf-8")
        again = await confirmed(client, "publish_post", {"id": post_id})
        assert again.is_error and "unreadable" in text(again)
        said = text(await client.call_tool("get_post", {"id": post_id}))
    assert "on X: https://x.com/" in said, said  # still said, though the log is damaged
    assert on_x(xsim_server) == ["One"]


async def test_a_slip_before_any_tweet_is_sent_is_tried_again_within_the_grace(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    async with session(x_settings) as client:
        scheduled = {"text": "On time", "scheduled_date": future(0.01)}
        post_id = data(await confirmed(client, "create_post", scheduled))["posts"][0]["id"]
    fault(xsim_server, action="malformed", path="/2/users/me", method="GET", times=1)
    assert (await run_scheduler(x_settings, 60))["scheduled"] == [post_id]
    assert (await run_scheduler(x_settings, 120))["posted"] == [post_id]
    assert on_x(xsim_server) == ["On time"]


async def test_a_doubt_ends_when_x_refuses_and_its_timeline_shows_nothing(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    async with session(x_settings) as client:
        post_id = data(await client.call_tool("create_post", {"text": "Doubted"}))["posts"][0]["id"]
        xsim_server[1].xsim.configure(tweets_fail_after=0)  # 503: X does not say
        first = await confirmed(client, "publish_post", {"id": post_id})
        assert "MAY be on X" in text(first)
        xsim_server[1].xsim.configure(tweets_fail_status=400)  # now a plain refusal
        await confirmed(client, "publish_post", {"id": post_id})
        edit = await client.call_tool("update_post", {"id": post_id, "text": "Reworded"})
        assert not edit.is_error, text(edit)  # the doubt has ended: it can be mended
    assert on_x(xsim_server) == []
