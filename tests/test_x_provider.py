"""`--provider x`: the same tools, approvals and results, posting straight to X (the simulator,
over real sockets) with drafts and the schedule kept locally."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opentweet_mcp.config import ConfigError, Settings
from opentweet_mcp.guard.answers import CARD_META
from opentweet_mcp.server import build_server, selected_tools
from opentweet_mcp.xapi.media import MediaFolder
from opentweet_mcp.xapi.publish import publish_due
from opentweet_mcp.xapi.schedule import LocalSchedule
from tests.harness import PNG, AppsSupport, confirmed, data, future, text
from tests.x_harness import folder, scheduler_client, session, tweets, upload_video

ENV = {"PATH": "/usr/bin:/bin", "OPENTWEET_MCP_SECRET": "x-provider-tests"}


async def test_the_tools_are_those_x_can_serve_and_the_others_say_why(
    x_settings: Settings,
) -> None:
    names = {spec.name for spec in selected_tools(x_settings)}
    assert {"create_post", "upload_media", "check_post", "get_account"} <= names
    assert not names & {"add_to_evergreen", "search_inspiration", "get_tweet_analytics"}
    with pytest.raises(ConfigError, match="--provider x has no search_inspiration"):
        selected_tools(replace(x_settings, tools=("search_inspiration",)))
    listed = subprocess.run(
        [sys.executable, "-m", "opentweet_mcp", "tools", "--provider", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
    )
    assert "not served by --provider x: the evergreen tools (the evergreen queue" in listed.stdout
    async with session(x_settings) as client:
        schema = {t.name: t for t in (await client.list_tools()).tools}["create_post"]
        params = set(schema.input_schema["properties"])
        assert {"poll_options", "quote_tweet_id", "reply_settings"} <= params
        assert not params & {"community_id", "auto_retweet_enabled"}  # OpenTweet's alone
        refused = await client.call_tool("create_post", {"text": "x", "community_id": "123"})
        assert refused.is_error and "community_id: an OpenTweet feature" in text(refused)


async def test_a_scheduled_post_needs_approval_and_goes_out_once_when_due(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    arguments = {"text": "Later", "scheduled_date": future(1)}
    store = LocalSchedule(folder(x_settings) / "x-posts.sqlite3")
    async with session(x_settings) as client:
        preview = await client.call_tool("create_post", arguments)
        assert data(preview)["status"] == "confirmation_required"
        assert store.page(None, 0, 10)[1] == 0  # nothing kept before the approval
        done = await confirmed(client, "create_post", arguments)
        said = text(done)
        assert said.startswith("Scheduled: post "), said
        assert "WARNING: no scheduler is running" in said  # nobody believes it will go out
        post_id = data(done)["posts"][0]["id"]
        assert "Scheduler: no scheduler is running" in text(
            await client.call_tool("get_account", {})
        )
        # an hour later a scheduler publishes it; restarted, it finds nothing more to do
        async with scheduler_client(x_settings) as x:
            media = MediaFolder(folder(x_settings) / "x-media")
            for _ in range(2):
                later = LocalSchedule(store.path, clock=lambda: time.time() + 3600)
                await publish_due(later, x, media)
        posted = data(await client.call_tool("get_post", {"id": post_id}))["post"]
        assert posted["status"] == "posted" and posted["url"].startswith("https://x.com/")
        assert "Scheduler: running" in text(await client.call_tool("get_account", {}))
    assert [t["text"] for t in tweets(xsim_server)] == ["Later"]


async def test_a_thread_that_fails_at_tweet_3_says_what_is_on_x_and_continues(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    thread = {"text": "1/4 on retries", "thread_tweets": [f"{n}/4 on retries" for n in (2, 3, 4)]}
    async with session(x_settings) as client:
        post_id = data(await client.call_tool("create_post", thread))["posts"][0]["id"]
        xsim_server[1].xsim.configure(tweets_fail_after=2)
        failed = await confirmed(client, "publish_post", {"id": post_id})
        said = text(failed)
        assert failed.is_error and said.startswith(f"NOT PUBLISHED — post {post_id} failed")
        assert "tweet 3 of 4 MAY be on X (X answered HTTP 503" in said  # X's 503 does not say
        assert "on X for sure: https://x.com/" in said and "Nothing is on X" not in said
        assert len(tweets(xsim_server)) == 2
        # a new approval, and the thread continues after tweet 2: nothing reposted
        xsim_server[1].xsim.configure(tweets_fail_after=None)
        done = await confirmed(client, "publish_post", {"id": post_id})
        assert text(done).startswith("Published to X: status posted"), text(done)
    sent = tweets(xsim_server)
    assert [t["text"] for t in sent] == [thread["text"], *thread["thread_tweets"]]
    replies = [t.get("reply", {}).get("in_reply_to_tweet_id") for t in sent]
    assert replies[0] is None and all(replies[1:])


async def test_media_with_alt_text_goes_out_with_its_tweet(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    async with session(x_settings) as client:
        upload = await client.call_tool(
            "upload_media",
            {"data_base64": PNG, "filename": "chart.png", "alt_text": "Sales doubled in May"},
        )
        url = data(upload)["url"]
        assert url.startswith("https://media.opentweet-mcp.invalid/media/")
        assert [r for r in xsim_server[1].xsim.store.requests() if "media" in r["path"]] == []
        link = await client.call_tool(
            "create_post", {"text": "A link", "media_urls": ["https://example.com/a.png"]}
        )
        assert link.is_error and "X takes files, not links" in text(link)
        done = await confirmed(
            client, "create_post", {"text": "May", "media_urls": [url], "publish_now": True}
        )
        assert text(done).startswith("Published to X"), text(done)
    log = xsim_server[1].xsim.store.requests()
    alt = [r["body"] for r in log if r["path"] == "/1.1/media/metadata/create.json"]
    assert alt and alt[0]["alt_text"] == {"text": "Sales doubled in May"}
    assert tweets(xsim_server)[0]["media"]["media_ids"] == [alt[0]["media_id"]]


async def test_a_poll_and_a_quote_are_shown_and_approved_as_they_go_out(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    poll = {
        "text": "Which one?",
        "poll_options": ["tabs", "spaces"],
        "poll_minutes": 60,
        "reply_settings": "following",
        "publish_now": True,
    }
    async with session(x_settings) as client:
        preview = await client.call_tool("create_post", poll)
        shown = text(preview)
        assert (
            "Poll: tabs / spaces, open 60 minutes" in shown and "Who may reply: following" in shown
        )
        token = data(preview)["confirmation_token"]
        other = {**poll, "poll_options": ["tabs", "spaces", "both"], "confirmation_token": token}
        changed = await client.call_tool("create_post", other)  # not what was approved
        assert changed.is_error and "does not match this create_post call" in text(changed)
        assert tweets(xsim_server) == []
        done = await client.call_tool("create_post", {**poll, "confirmation_token": token})
        tweet_id = data(done)["x_post_id"]
        quote = {"text": "Vote!", "quote_tweet_id": tweet_id, "publish_now": True}
        assert f"Quotes tweet {tweet_id}" in text(await client.call_tool("create_post", quote))
        await confirmed(client, "create_post", quote)
    first, second = tweets(xsim_server)
    assert first["poll"] == {"options": ["tabs", "spaces"], "duration_minutes": 60}
    assert first["reply_settings"] == "following" and second["quote_tweet_id"] == tweet_id


async def test_deleting_a_published_thread_takes_its_tweets_off_x(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    thread = {"text": "First", "thread_tweets": ["Second"], "publish_now": True}
    async with session(x_settings) as client:
        post_id = data(await confirmed(client, "create_post", thread))["post"]["id"]
        preview = text(await client.call_tool("delete_post", {"id": post_id}))
        assert "deleted from the local drafts and from X" in preview, preview
        gone = data(await confirmed(client, "delete_post", {"id": post_id}))
        assert gone["x_deleted"] is True
        missing = await client.call_tool("get_post", {"id": post_id})
        assert missing.is_error and "HTTP 404" in text(missing)
    deletes = [r for r in xsim_server[1].xsim.store.requests() if r["method"] == "DELETE"]
    assert len(deletes) == 2 and all(r["status"] == 200 for r in deletes)


async def test_a_rate_limit_says_when_x_takes_tweets_again_and_the_scheduler_waits(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    xsim = xsim_server[1].xsim
    xsim.configure(tweets_per_window=0, window_seconds=86400)  # X takes tweets again tomorrow
    async with session(x_settings) as client:
        limited = await confirmed(client, "create_post", {"text": "Now", "publish_now": True})
        said = text(limited)
        assert limited.is_error and "X's rate limit is reached until" in said, said
        soon = [
            data(
                await confirmed(client, "create_post", {"text": t, "scheduled_date": future(0.01)})
            )["posts"][0]["id"]
            for t in ("Soon", "Soon too")
        ]
    store = LocalSchedule(folder(x_settings) / "x-posts.sqlite3", clock=lambda: time.time() + 60)
    media = MediaFolder(folder(x_settings) / "x-media")
    async with scheduler_client(x_settings) as x:
        x.rate_wait = 0
        done = await publish_due(store, x, media)
        assert soon[0] in done["missed"]  # X would take it a day late: nobody approved that
        xsim.configure(window_seconds=600)  # X takes tweets again within the grace
        row = store.get(soon[1])
        assert row is not None and row["status"] == "missed"
        assert store.change(soon[1], row["fields"], time.time() + 30, "scheduled")
        done = await publish_due(store, x, media)
    assert done["scheduled"] == [soon[1]]  # due again when X's window opens, not missed
    row = store.get(soon[1])
    assert row is not None and row["status"] == "scheduled" and row["retry_at"] > time.time() + 30
    assert tweets(xsim_server) == []


async def test_the_server_can_run_the_scheduler_itself(x_settings: Settings) -> None:
    async with session(replace(x_settings, scheduler=True)) as client:
        for _ in range(50):
            said = text(await client.call_tool("get_account", {}))
            if "Scheduler: running" in said:
                break
            await __import__("anyio").sleep(0.1)
        assert "Scheduler: running" in said


def test_the_x_provider_runs_on_its_simulator_with_no_account(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    env = {**ENV, "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path)}

    def call(tool: str, arguments: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "opentweet_mcp", "call", tool, arguments]
        argv += ["--provider", "x", "--confirm", "token", "--sandbox", db]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)

    account = call("get_account", "{}")
    assert account.returncode == 0, account.stderr
    assert "X accounts: @sandbox_user (primary)" in account.stdout
    arguments = '{"text": "Hello from the sandbox", "publish_now": true}'
    preview = call("create_post", arguments)
    token = preview.stdout.split('confirmation_token="')[1].split('"')[0]
    published = call("create_post", arguments[:-1] + f', "confirmation_token": "{token}"}}')
    assert published.stdout.startswith("Published to X: status posted"), published.stderr


async def test_opentweet_refuses_what_only_x_posts(sandbox: Any) -> None:
    from tests.harness import session as opentweet_session

    async with opentweet_session(sandbox.base_url) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert "poll_options" not in listed["create_post"].input_schema["properties"]
        refused = await client.call_tool("create_post", {"text": "?", "poll_options": ["a", "b"]})
        assert refused.is_error and "OpenTweet's API has no such field" in text(refused)
        assert "alt_text" not in listed["upload_media"].input_schema["properties"]
    assert sandbox.requests() == []


async def test_a_video_is_processed_by_x_before_its_tweet_goes_out(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    xsim_server[1].xsim.configure(processing_delay=0.3)
    async with session(x_settings) as client:
        url = await upload_video(client)
        done = await confirmed(
            client, "create_post", {"text": "Launch", "media_urls": [url], "publish_now": True}
        )
        assert text(done).startswith("Published to X"), text(done)
    uploads = [r for r in xsim_server[1].xsim.store.requests() if "media/upload" in r["path"]]
    posts = [r for r in uploads if r["method"] == "POST"]
    statuses = [r for r in uploads if r["method"] == "GET" and "command=STATUS" in r["query"]]
    assert len(posts) == 3 and statuses  # INIT, APPEND, FINALIZE; then STATUS until ready
    assert tweets(xsim_server)[0]["media"]["media_ids"]


async def test_a_person_approves_on_the_card_and_the_post_goes_to_x(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    options: dict[str, Any] = {"extensions": [AppsSupport()]}
    server = build_server(replace(x_settings, confirm="auto"))
    async with Client(server, mode="legacy", **options) as client:
        asked = await client.call_tool("create_post", {"text": "By a person", "publish_now": True})
        assert data(asked)["status"] == "approval_pending" and tweets(xsim_server) == []
        hold = (asked.meta or {})[CARD_META]
        answer = {"approval_id": hold["id"], "secret": hold["secret"]}
        approved = await client.call_tool("approve_pending", answer)
        assert text(approved).startswith("Published to X"), text(approved)
        again = await client.call_tool("approve_pending", answer)  # one approval, one post
        assert again.is_error and "already approved" in text(again)
    assert [t["text"] for t in tweets(xsim_server)] == ["By a person"]


async def test_x_refusing_a_duplicate_is_said_plainly(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    same = {"text": "Release notes are up", "publish_now": True}
    async with session(x_settings) as client:
        await confirmed(client, "create_post", same)
        again = await confirmed(client, "create_post", same)
    said = text(again)
    assert again.is_error and "duplicate content" in said and "word it differently" in said
    assert "Nothing is on X from this attempt" in said and "thread" not in said.split("\n")[0]
    assert len(tweets(xsim_server)) == 1


async def test_tweets_already_on_x_cannot_change_and_a_missed_post_can_be_rescheduled(
    x_settings: Settings, xsim_server: tuple[str, Any]
) -> None:
    thread = {"text": "1/3 plan", "thread_tweets": ["2/3 plan", "3/3 plan"]}
    async with session(x_settings) as client:
        post_id = data(await client.call_tool("create_post", thread))["posts"][0]["id"]
        xsim_server[1].xsim.configure(tweets_fail_after=1)
        await confirmed(client, "publish_post", {"id": post_id})  # tweet 1 is on X
        xsim_server[1].xsim.configure(tweets_fail_after=None)
        first = {"id": post_id, "text": "1/3 a new plan"}
        refused = await client.call_tool("update_post", first)
        assert refused.is_error and "tweets 1–2 of post" in text(refused)  # 2: may be on X
        done = await confirmed(client, "publish_post", {"id": post_id})
        assert text(done).startswith("Published to X"), text(done)
        assert [t["text"] for t in tweets(xsim_server)] == ["1/3 plan", "2/3 plan", "3/3 plan"]

        late = data(
            await confirmed(
                client, "create_post", {"text": "Too late", "scheduled_date": future(0.01)}
            )
        )
        late_id = late["posts"][0]["id"]
    store = LocalSchedule(folder(x_settings) / "x-posts.sqlite3", clock=lambda: time.time() + 3600)
    assert store.due() == ([], [late_id])  # found an hour late: missed, not published
    async with session(x_settings) as client:
        missed = data(await client.call_tool("get_post", {"id": late_id}))["post"]
        assert missed["status"] == "missed"
        again = await confirmed(
            client, "schedule_post", {"id": late_id, "scheduled_date": future(2)}
        )
        assert data(again)["post"]["status"] == "scheduled"
    assert len(tweets(xsim_server)) == 3
