"""The account, posts and media tools through a real MCP session against the sandbox, in both
protocol eras, asserting on what the sandbox recorded as well as on what the tools returned."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.harness import MODES, PRO_KEY, confirmed, data, future, session, text, writes

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def create_draft(client: Client, body: str = "A draft") -> str:
    result = data(await client.call_tool("create_post", {"text": body}))
    post_id = result["posts"][0]["id"]
    assert isinstance(post_id, str) and len(post_id) == 24
    return post_id


async def confirm(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Make a gated call, check it did nothing, then repeat it with its token."""
    return data(await confirmed(client, tool, arguments))


async def test_account_tools(sandbox: Any, mode: str) -> None:
    async with session(sandbox.base_url, mode) as client:
        me = await client.call_tool("get_account", {})
        assert data(me)["authenticated"] is True
        assert "Plan pro" in text(me)
        accounts = data(await client.call_tool("list_accounts", {}))["accounts"]
        assert len(accounts) == 1 and accounts[0]["is_primary"]
        assert accounts[0]["x_handle"] in text(await client.call_tool("list_accounts", {}))


async def test_create_draft_schedule_and_read(sandbox: Any, mode: str) -> None:
    async with session(sandbox.base_url, mode) as client:
        post_id = await create_draft(client, "Hello drafts")
        got = await client.call_tool("get_post", {"id": post_id})
        assert post_id in text(got) and "status draft" in text(got)

        when = future(48)
        scheduled = await confirmed(
            client, "schedule_post", {"id": post_id, "scheduled_date": when}
        )
        assert "Scheduled" in text(scheduled) and when[:19] in text(scheduled)

        listed = data(await client.call_tool("list_posts", {"status": "scheduled"}))
        assert [p["id"] for p in listed["posts"]] == [post_id]

        back = await client.call_tool("update_post", {"id": post_id, "unschedule": True})
        assert "status draft" in text(back)  # nothing goes out: no approval needed
        puts = [r for r in sandbox.requests() if r["method"] == "PUT"]
        assert puts[-1]["body"]["scheduled_date"] is None


async def test_create_scheduled_thread(sandbox: Any, mode: str) -> None:
    async with session(sandbox.base_url, mode) as client:
        result = await confirmed(
            client,
            "create_post",
            {
                "text": "Thread start",
                "thread_tweets": ["two", "three"],
                "thread_media": [[], []],
                "scheduled_date": future(),
            },
        )
        post = data(result)["posts"][0]
        assert post["status"] == "scheduled" and post["is_thread"] is True
        assert text(result).startswith("Scheduled:")


@pytest.mark.parametrize(
    "tool,arguments,message",
    [
        ("create_post", {"text": "x" * 25_001}, "25,001 weighted characters"),
        ("create_post", {"text": "🙂" * 12_501}, "25,002 weighted characters"),
        ("create_post", {"text": "hi", "scheduled_date": "2020-01-01T00:00:00Z"}, "in the past"),
        ("create_post", {"text": "hi", "scheduled_date": "2030-01-01T10:00:00"}, "no UTC offset"),
        (
            "create_post",
            {"text": "hi", "publish_now": True, "scheduled_date": "2030-01-01T10:00:00Z"},
            "cannot be combined",
        ),
        (
            "create_post",
            {"text": "hi", "thread_tweets": ["a", "b"], "thread_media": [[]]},
            "one list per thread tweet",
        ),
        ("create_post", {"text": "hi", "media_urls": ["https://m/1.png"] * 5}, "at most 4 images"),
        ("create_post", {"text": "hi", "auto_retweet_offset_minutes": 20000}, "10080"),
        ("get_post", {"id": "12345"}, "24-character hex"),
        ("publish_post", {"id": "not-an-id"}, "24-character hex"),
        ("bulk_create_posts", {"posts": [{"text": "same"}, {"text": "Same "}]}, "repeats the text"),
        ("bulk_create_posts", {"posts": [{"text": f"p{i}"} for i in range(51)]}, "at most 50"),
        ("bulk_create_posts", {"posts": []}, "at least 1"),
        ("list_posts", {"limit": 500}, "less than or equal to 100"),
        ("list_posts", {"status": "sent"}, "scheduled"),
        ("update_post", {"id": "507f1f77bcf86cd799439011"}, "nothing to change"),
        ("upload_media", {}, "exactly one of path or data_base64"),
        (
            "upload_media",
            {"data_base64": base64.b64encode(b"%PDF-1.7 x").decode(), "filename": "a.png"},
            "judged by its content",
        ),
    ],
)
async def test_bad_input_is_refused_before_any_request(
    sandbox: Any, tool: str, arguments: dict[str, Any], message: str
) -> None:
    async with session(sandbox.base_url, "legacy") as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    assert message in text(result), text(result)
    assert sandbox.requests() == []


async def test_publish_needs_confirmation_and_happens_once(sandbox: Any, mode: str) -> None:
    async with session(sandbox.base_url, mode) as client:
        post_id = await create_draft(client, "Ship it")
        first = await client.call_tool("publish_post", {"id": post_id})
        preview = data(first)
        assert preview["status"] == "confirmation_required"
        assert preview["preview"]["posts"][0]["tweets"][0]["text"] == "Ship it"
        assert preview["preview"]["account"].startswith("@")
        assert "Ship it" in text(first) and preview["preview"]["account"] in text(first)
        assert [r["path"] for r in writes(sandbox.requests())] == ["/api/v1/posts"]  # the draft

        token = preview["confirmation_token"]
        done = await client.call_tool("publish_post", {"id": post_id, "confirmation_token": token})
        published = data(done)
        assert published["status"] == "posted" and published["url"].startswith("https://x.com/")
        assert published["url"] in text(done)

        again = await client.call_tool("publish_post", {"id": post_id, "confirmation_token": token})
        assert data(again)["url"] == published["url"]
        assert "Replayed" in text(again)
        publishes = [r for r in sandbox.requests() if r["path"].endswith("/publish")]
        assert len(publishes) == 1


async def test_publish_now_via_create(sandbox: Any, mode: str) -> None:
    async with session(sandbox.base_url, mode) as client:
        args = {"text": "Right now", "publish_now": True}
        first = data(await client.call_tool("create_post", args))
        assert first["status"] == "confirmation_required"
        assert writes(sandbox.requests()) == []
        done = await confirm(client, "create_post", args)
        assert done["status"] == "posted" and done["url"]
        assert len(writes(sandbox.requests())) == 1


async def test_token_refusals(sandbox: Any) -> None:
    async with session(sandbox.base_url) as client:
        a = await create_draft(client, "first")
        b = await create_draft(client, "second")
        token = data(await client.call_tool("publish_post", {"id": a}))["confirmation_token"]
        cases = [
            ("publish_post", {"id": b, "confirmation_token": token}),  # other arguments
            ("delete_post", {"id": a, "confirmation_token": token}),  # other tool
            ("publish_post", {"id": a, "confirmation_token": token[:-2] + "xx"}),  # tampered
            ("publish_post", {"id": a, "confirmation_token": "garbage"}),  # malformed
        ]
        for tool, arguments in cases:
            result = await client.call_tool(tool, arguments)
            assert result.is_error and "confirmation refused" in text(result), text(result)
    async with session(sandbox.base_url, api_key="pro_other_user_key") as other:
        result = await other.call_tool("publish_post", {"id": a, "confirmation_token": token})
        assert result.is_error and "confirmation refused" in text(result)
    async with session(sandbox.base_url, secret=b"another-secret") as restarted:
        result = await restarted.call_tool("publish_post", {"id": a, "confirmation_token": token})
        assert result.is_error and "confirmation refused" in text(result)
    assert not [r for r in sandbox.requests() if r["path"].endswith("/publish")]


async def test_expired_token_is_refused(sandbox: Any, tmp_path: Path) -> None:
    from opentweet_mcp.caller import key_digest
    from opentweet_mcp.guard.confirm import Call
    from opentweet_mcp.guard.tokens import ConfirmationTokens
    from tests.harness import TEST_SECRET

    ledger = tmp_path / "ledger.sqlite3"  # a ledger whose identity the test knows
    async with session(sandbox.base_url, ledger_path=ledger) as client:
        post_id = await create_draft(client)
        arguments = {
            "id": post_id,
            "override_schedule": False,
            "platforms": None,
            "x_account_id": None,
            "idempotency_key": None,
        }
        digest = Call(None, arguments).arguments_digest  # type: ignore[arg-type]
        old = ConfirmationTokens(
            TEST_SECRET, clock=lambda: 1_000_000.0, scope=f"sqlite:{ledger.resolve()}"
        )
        token = old.mint("publish_post", digest, key_digest(PRO_KEY, sandbox.base_url), "").token
        result = await client.call_tool(
            "publish_post", {"id": post_id, "confirmation_token": token}
        )
        assert result.is_error and "expired" in text(result)
    assert not [r for r in sandbox.requests() if r["path"].endswith("/publish")]


async def test_publish_guardrails(sandbox: Any) -> None:
    async with session(sandbox.base_url) as client:
        scheduled = data(
            await confirmed(client, "create_post", {"text": "Later", "scheduled_date": future()})
        )["posts"][0]["id"]
        refused = await client.call_tool("publish_post", {"id": scheduled})
        assert refused.is_error and "scheduled for" in text(refused)
        allowed = data(
            await client.call_tool("publish_post", {"id": scheduled, "override_schedule": True})
        )
        assert allowed["status"] == "confirmation_required"

        source = data(await client.call_tool("create_post", {"text": "Evergreen tip"}))["posts"][0][
            "id"
        ]
        await confirmed(client, "add_to_evergreen", {"post_id": source})
        refused = await client.call_tool("publish_post", {"id": source, "override_schedule": True})
        assert refused.is_error and "evergreen source" in text(refused)
        assert "refused, nothing was sent" in text(refused)
    assert not [r for r in sandbox.requests() if r["path"].endswith("/publish")]

    async with session(sandbox.base_url) as client:  # a post already on X: refused, not redone
        post_id = await create_draft(client)
        await confirm(client, "publish_post", {"id": post_id})
        again = await client.call_tool("publish_post", {"id": post_id})
        assert again.is_error, text(again)
        assert "refused, nothing was sent" in text(again) and "already published" in text(again)
        assert "https://x.com/" in text(again)
    assert len([r for r in sandbox.requests() if r["path"].endswith("/publish")]) == 1


async def test_bulk_create_and_batch_schedule(sandbox: Any, mode: str) -> None:
    async with session(sandbox.base_url, mode) as client:
        posts = [{"text": f"Day {i} tip"} for i in range(1, 8)]
        preview = data(await client.call_tool("bulk_create_posts", {"posts": posts}))
        listed = preview["preview"]["posts"]
        assert [p["tweets"][0]["text"] for p in listed] == [p["text"] for p in posts]
        assert "7 drafts" in preview["action"] and all("when" not in p for p in listed)
        assert writes(sandbox.requests()) == []
        created = await confirm(client, "bulk_create_posts", {"posts": posts})
        ids = [p["id"] for p in created["posts"]]
        assert len(ids) == 7

        schedules = [
            {"post_id": i, "scheduled_date": future(24 * (n + 1))} for n, i in enumerate(ids)
        ]
        first = data(await client.call_tool("batch_schedule_posts", {"schedules": schedules}))
        every = first["preview"]["posts"]
        assert [p["when"] for p in every] == [s["scheduled_date"] for s in schedules]
        assert [p["tweets"][0]["text"] for p in every] == [f"Day {i} tip" for i in range(1, 8)]
        done = await confirm(client, "batch_schedule_posts", {"schedules": schedules})
        assert all(p["status"] == "scheduled" for p in done["posts"])
        batch = [r for r in sandbox.requests() if r["path"] == "/api/v1/posts/batch-schedule"]
        assert len(batch) == 1


async def test_a_batch_the_api_schedules_none_of_is_a_failure(sandbox: Any) -> None:
    """Every schedule refused upstream (`posts` empty, `failed` saying why): reported as not
    done, with the reasons, never as a success or an unreadable answer."""
    async with session(sandbox.base_url) as client:
        ids = [await create_draft(client, f"Refused {n}") for n in range(2)]
        schedules = [
            {"post_id": i, "scheduled_date": future(24 * (n + 1))} for n, i in enumerate(ids)
        ]
        refused = [{"post_id": i, "error": "Daily post limit reached for that day"} for i in ids]
        body = {"success": False, "scheduled": 0, "posts": [], "failed": refused}
        sandbox.fault(path="/api/v1/posts/batch-schedule", status=200, body=body, times=1)
        outcome = await confirmed(client, "batch_schedule_posts", {"schedules": schedules})
        assert outcome.is_error and text(outcome).startswith("NOT DONE")
        assert "Daily post limit reached" in text(outcome)


async def test_delete_is_gated_and_explicit(sandbox: Any) -> None:
    async with session(sandbox.base_url) as client:
        post_id = await create_draft(client, "Delete me")
        preview = data(
            await client.call_tool("delete_post", {"id": post_id, "delete_from_x": False})
        )
        assert preview["action"] == f"delete post {post_id} from OpenTweet"
        assert "never published" in text(await client.call_tool("delete_post", {"id": post_id}))
        assert not [r for r in sandbox.requests() if r["method"] == "DELETE"]
        done = await confirm(client, "delete_post", {"id": post_id, "delete_from_x": False})
        assert "x_deleted" in done
    deletes = [r for r in sandbox.requests() if r["method"] == "DELETE"]
    assert len(deletes) == 1 and "delete_from_x=false" in deletes[0]["query"]


async def test_idempotency_key_on_create(sandbox: Any) -> None:
    async with session(sandbox.base_url) as client:
        args = {"text": "Only once", "idempotency_key": "k-1"}
        one = data(await client.call_tool("create_post", args))
        two = await client.call_tool("create_post", args)
        assert data(two)["posts"][0]["id"] == one["posts"][0]["id"] and "Replayed" in text(two)
        other = await client.call_tool(
            "create_post", {"text": "Different", "idempotency_key": "k-1"}
        )
        assert other.is_error and "other arguments" in text(other)
    assert len(writes(sandbox.requests())) == 1


async def test_upload_media(sandbox: Any, tmp_path: Path) -> None:
    (tmp_path / "pic.png").write_bytes(PNG)
    outside = tmp_path.parent / "outside.png"
    outside.write_bytes(PNG)
    async with session(sandbox.base_url, media_dirs=(tmp_path.resolve(),)) as client:
        by_path = await client.call_tool("upload_media", {"path": str(tmp_path / "pic.png")})
        url = data(by_path)["url"]
        assert url in text(by_path)
        inline = await client.call_tool(
            "upload_media", {"data_base64": base64.b64encode(PNG).decode(), "filename": "x.jpg"}
        )
        assert data(inline)["url"].endswith(".png")  # judged by content, not by name
        escaped = await client.call_tool("upload_media", {"path": str(outside)})
        assert escaped.is_error and "inside a configured media folder" in text(escaped)
        assert str(tmp_path) not in text(escaped).replace(str(outside), "")
        big = await client.call_tool(
            "upload_media",
            {
                "data_base64": base64.b64encode(PNG + b"\0" * (5 * 1024 * 1024)).decode(),
                "filename": "b.png",
            },
        )
        assert big.is_error and "at most 5 MiB" in text(big)
    import httpx2

    async with httpx2.AsyncClient() as http:
        served = await http.get(url)
    assert served.status_code == 200 and served.content == PNG
    assert len([r for r in sandbox.requests() if r["path"] == "/api/v1/upload"]) == 2


async def test_upstream_errors_are_reported_with_status_and_hint(sandbox: Any) -> None:
    async with session(sandbox.base_url, api_key="nosub_user") as client:
        result = await confirmed(client, "create_post", {"text": "hi", "scheduled_date": future()})
        assert result.is_error and "403" in text(result)
    async with session(sandbox.base_url, api_key="pro_user") as client:
        missing = await client.call_tool("get_post", {"id": "0" * 24})
        assert missing.is_error and "404" in text(missing)
