"""A person, not the agent, approves (SPEC §11): the MCP Apps card, a page the client opens
(URL elicitation), the approvals page and `opentweet-mcp approvals`, over real MCP sessions
against the sandbox. The pages themselves are driven in a real browser in
`test_approval_ui.py`; here their routes are used as a browser would use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import pexpect
import pytest
from mcp.client.session import ClientSession
from mcp.types import (
    ClientCapabilities,
    ElicitationCapability,
    ElicitResult,
    UrlElicitationCapability,
)

from opentweet_mcp.guard.approvals import PendingApproval
from opentweet_mcp.guard.sqlite_ledger import default_path
from opentweet_mcp.server import OpenTweetServer
from tests.harness import MODES, PRO_KEY, AppsSupport, data, served, session, text, writes

CARD = {"extensions": [AppsSupport()]}


def on_x(sandbox: Any) -> list[str]:
    state = sandbox.state
    return [p["text"] for p in state.store.posts(state.user(PRO_KEY).id) if p["status"] == "posted"]


def held(result: Any) -> dict[str, str]:
    """What the card finds in the result's metadata, as its buttons send it."""
    hold = result.meta["io.opentweet/approval"]
    return {"approval_id": hold["id"], "secret": hold["secret"]}


def model_visible(result: Any) -> str:
    return text(result) + json.dumps(result.structured_content or {})


async def waiting(server: OpenTweetServer) -> PendingApproval:
    """The pending approval a call is waiting on, as a person's channel finds it."""
    for _ in range(200):
        pending = await server.services().guard.approvals.pending()
        if pending:
            return pending[-1]
        await anyio.sleep(0.02)
    raise AssertionError("no approval was ever pending")


# --- the MCP Apps card ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_the_card_approves_and_the_write_happens_once(sandbox: Any, mode: str) -> None:
    options = {**CARD}
    async with session(sandbox.base_url, mode, client_options=options, confirm="auto") as client:
        arguments = {"text": "Approved in the card", "publish_now": True}
        asked = await client.call_tool("create_post", arguments)
        pending = data(asked)
        assert pending["status"] == "approval_pending" and text(asked).startswith("NOT DONE YET")
        hold = held(asked)
        assert hold["approval_id"] == pending["approval_id"]
        assert hold["secret"] not in model_visible(asked)  # only the card holds it
        assert pending["preview"]["posts"][0]["tweets"][0]["text"] == "Approved in the card"
        assert writes(sandbox.requests()) == []

        done = await client.call_tool("approve_pending", hold)
        assert data(done)["status"] == "posted" and "Published to X" in text(done)
        again = await client.call_tool("approve_pending", hold)
        assert again.is_error and "already approved" in text(again)
        outcome = await client.call_tool(
            "create_post", {**arguments, "approval_id": hold["approval_id"]}
        )
        assert data(outcome)["url"] == data(done)["url"] and "Replayed" in text(outcome)
    assert on_x(sandbox) == ["Approved in the card"]


@pytest.mark.parametrize("mode", MODES)
async def test_the_card_declines_and_nothing_is_sent(sandbox: Any, mode: str) -> None:
    async with session(sandbox.base_url, mode, client_options=CARD, confirm="auto") as client:
        post = data(await client.call_tool("create_post", {"text": "Not this one"}))["posts"][0]
        asked = await client.call_tool("publish_post", {"id": post["id"]})
        declined = await client.call_tool("decline_pending", held(asked))
        assert data(declined)["status"] == "declined" and "Nothing was sent" in text(declined)
        outcome = await client.call_tool(
            "publish_post", {"id": post["id"], "approval_id": held(asked)["approval_id"]}
        )
        assert data(outcome)["status"] == "declined" and text(outcome).startswith("NOT DONE")
    assert on_x(sandbox) == [] and len(writes(sandbox.requests())) == 1  # the draft


async def test_the_card_refuses_forged_and_foreign_answers(sandbox: Any) -> None:
    async with session(sandbox.base_url, client_options=CARD, confirm="auto") as client:
        asked = await client.call_tool("create_post", {"text": "Mine", "publish_now": True})
        hold = held(asked)
        forged = await client.call_tool("approve_pending", {**hold, "secret": "x" * 43})
        assert forged.is_error and "approval refused" in text(forged)
    async with session(
        sandbox.base_url, client_options=CARD, confirm="auto", api_key="pro_someone_else"
    ) as other:
        foreign = await other.call_tool("approve_pending", hold)
        assert foreign.is_error and "no such approval" in text(foreign)
    assert on_x(sandbox) == []


async def test_an_approval_id_is_good_only_for_its_own_call(sandbox: Any) -> None:
    async with session(sandbox.base_url, client_options=CARD, confirm="auto") as client:
        asked = await client.call_tool(
            "create_post", {"text": "Approved text", "publish_now": True}
        )
        await client.call_tool("approve_pending", held(asked))
        approval_id = held(asked)["approval_id"]
        for arguments in (
            {"text": "Other text", "publish_now": True},
            {"text": "Approved text", "scheduled_date": "2099-01-01T09:00:00Z"},
        ):
            refused = await client.call_tool(
                "create_post", {**arguments, "approval_id": approval_id}
            )
            assert refused.is_error and "does not belong to this" in text(refused)
    assert on_x(sandbox) == ["Approved text"]


async def test_an_edit_after_the_card_was_shown_is_not_approved(sandbox: Any) -> None:
    async with session(sandbox.base_url, client_options=CARD, confirm="auto") as client:
        post_id = data(await client.call_tool("create_post", {"text": "As shown"}))["posts"][0][
            "id"
        ]
        asked = await client.call_tool("publish_post", {"id": post_id})
        await client.call_tool("update_post", {"id": post_id, "text": "Swapped after"})
        outcome = await client.call_tool("approve_pending", held(asked))
        assert data(outcome)["status"] == "changed" and "Nothing was sent" in text(outcome)
    assert on_x(sandbox) == []


# --- --confirm person: never an agent-held token --------------------------------------------


async def test_person_mode_never_takes_a_token(sandbox: Any) -> None:
    async with session(sandbox.base_url, confirm="token") as client:
        args = {"text": "Token minted elsewhere", "publish_now": True}
        token = data(await client.call_tool("create_post", args))["confirmation_token"]
    async with session(sandbox.base_url, confirm="person", approval_wait=0) as client:
        result = await client.call_tool("create_post", {**args, "confirmation_token": token})
        assert data(result)["status"] == "approval_pending"
    assert on_x(sandbox) == []


async def test_the_terminal_answers_while_the_call_waits(sandbox: Any) -> None:
    """A client with no way to show the person anything: the call waits while the person
    runs `opentweet-mcp approvals` in a terminal, then carries out what they approved."""
    ledger = default_path(sandbox.base_url)  # where the command looks for this root
    env = {**os.environ, "OPENTWEET_BASE_URL": sandbox.base_url, "OPENTWEET_API_KEY": ""}

    def approvals(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "opentweet_mcp", "approvals", *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    async with served(sandbox.base_url, confirm="person", approval_wait=30, ledger_path=ledger) as (
        client,
        server,
    ):
        outcome: dict[str, Any] = {}

        async def publish() -> None:
            args = {"text": "Approved from a terminal \x1b[2J", "publish_now": True}
            outcome["result"] = await client.call_tool("create_post", args)

        async with anyio.create_task_group() as group:
            group.start_soon(publish)
            pending = await waiting(server)
            listed = await anyio.to_thread.run_sync(approvals)
            assert listed.returncode == 0 and pending.id in listed.stdout
            assert "Approved from a terminal ⟨U+001B⟩[2J" in listed.stdout  # safe to print
            assert "\x1b" not in listed.stdout and pending.secret not in listed.stdout
            blind = await anyio.to_thread.run_sync(approvals, "approve", pending.id)
            assert blind.returncode == 2 and "needs a terminal" in blind.stderr  # not piped

            def approve_at_a_terminal() -> str:
                child = approvals_in_a_terminal(sandbox.base_url, "approve", pending.id)
                child.expect_exact("Approve and send this? [y/N]: ")
                shown = str(child.before)
                child.sendline("y")
                child.expect(pexpect.EOF)
                child.close()
                assert child.exitstatus == 0 and "Approved" in str(child.before)
                return shown

            shown = await anyio.to_thread.run_sync(approve_at_a_terminal)
            assert "Approved from a terminal ⟨U+001B⟩[2J" in shown  # what is approved, first
        result = outcome["result"]
        assert data(result)["status"] == "posted", text(result)
        again = await anyio.to_thread.run_sync(approvals, "decline", pending.id)
        assert again.returncode == 1 and "already approved" in again.stdout
    assert on_x(sandbox) == ["Approved from a terminal \x1b[2J"]


def approvals_in_a_terminal(base_url: str, *argv: str) -> pexpect.spawn:
    """`opentweet-mcp approvals` in a pseudo-terminal, as a person runs it."""
    env = {**os.environ, "OPENTWEET_BASE_URL": base_url, "OPENTWEET_API_KEY": ""}
    return pexpect.spawn(
        sys.executable,
        ["-m", "opentweet_mcp", "approvals", *argv],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 160),
    )


async def test_the_terminal_goes_through_what_waits(sandbox: Any) -> None:
    """`opentweet-mcp approvals` in a real terminal: each waiting request in full, asked in
    turn — approve one, decline one, skip one; then `list` shows what still waits, and the
    agent's calls learn each outcome."""
    ledger = default_path(sandbox.base_url)
    posts = [
        {"text": f"{word} \x1b]0;owned\x07", "publish_now": True}
        for word in ("One", "Two", "Three")
    ]
    async with served(sandbox.base_url, confirm="person", approval_wait=0, ledger_path=ledger) as (
        client,
        server,
    ):
        ids = [data(await client.call_tool("create_post", post))["approval_id"] for post in posts]
        secrets = [a.secret for a in await server.services().guard.approvals.pending()]
        ask = "[a]pprove, [d]ecline, [s]kip, [q]uit: "
        shown: list[str] = []

        def review() -> None:
            child = approvals_in_a_terminal(sandbox.base_url)  # no action: a terminal is asked
            try:
                for number, (approval_id, reply) in enumerate(zip(ids, "ads", strict=True), 1):
                    child.expect_exact(f"[{number} of 3] {approval_id}")
                    child.expect_exact(ask)
                    shown.append(child.before)
                    child.sendline("maybe")  # not an answer: asked again
                    child.expect_exact(ask)
                    child.sendline(reply)
                child.expect_exact("Skipped; it keeps waiting.")
                child.expect(pexpect.EOF)
            finally:
                child.close()
            assert child.exitstatus == 0

        await anyio.to_thread.run_sync(review)
        for word, seen in zip(("One", "Two", "Three"), shown, strict=True):
            assert f"{word} ⟨U+001B⟩]0;owned⟨U+0007⟩" in seen  # the title was not set
            assert "\x1b]" not in seen
        assert not any(secret in "".join(shown) for secret in secrets)

        def listing() -> str:
            child = approvals_in_a_terminal(sandbox.base_url, "list")
            child.expect(pexpect.EOF)
            return str(child.before)

        still = await anyio.to_thread.run_sync(listing)
        assert ids[2] in still and ids[0] not in still and ids[1] not in still

        def say_no() -> int:
            child = approvals_in_a_terminal(sandbox.base_url, "approve", ids[2])
            child.expect_exact("[y/N]: ")
            child.sendline("")  # anything but y is a no
            child.expect_exact("Not approved; it keeps waiting.")
            child.expect(pexpect.EOF)
            child.close()
            return int(child.exitstatus)

        assert await anyio.to_thread.run_sync(say_no) == 1
        outcomes = [
            await client.call_tool("create_post", {**post, "approval_id": approval_id})
            for post, approval_id in zip(posts, ids, strict=True)
        ]
        assert data(outcomes[0])["status"] == "posted"
        assert data(outcomes[1])["status"] == "declined"
        assert data(outcomes[2])["status"] == "approval_pending"
    assert on_x(sandbox) == ["One \x1b]0;owned\x07"]


async def test_a_call_that_stops_waiting_leaves_the_answer_to_the_next_one(sandbox: Any) -> None:
    async with served(sandbox.base_url, confirm="person", approval_wait=0) as (client, server):
        args = {"text": "Answered later", "publish_now": True}
        asked = await client.call_tool("create_post", args)
        pending = data(asked)
        assert "still waiting" in text(asked)
        approval = await waiting(server)
        assert approval.id == pending["approval_id"]
        again = await client.call_tool("create_post", {**args, "approval_id": approval.id})
        assert data(again)["status"] == "approval_pending"
        await server.services().guard.approvals.decide(approval, "approved", "cli")
        done = await client.call_tool("create_post", {**args, "approval_id": approval.id})
        assert data(done)["status"] == "posted"
    assert on_x(sandbox) == ["Answered later"]


# --- the approvals page, as a browser uses it ---------------------------------------------


async def page_answer(link: str, verdict: str, **change: Any) -> httpx2.Response:
    """What the page's script sends: the secret from the fragment, its CSRF token, Origin."""
    base, secret = link.split("#")
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
    async with httpx2.AsyncClient() as http:
        view = await http.get(f"{base}/view", headers={"X-Approval-Secret": secret})
        body = {"verdict": verdict, "secret": secret, "csrf": view.json().get("csrf")}
        headers = {"Origin": origin}
        body |= change.pop("body", {})
        headers |= change.pop("headers", {})
        return await http.post(f"{base}/answer", json=body, headers=headers)


async def test_the_page_refuses_what_a_browser_should_never_send(sandbox: Any) -> None:
    async with served(sandbox.base_url, confirm="person", approval_wait=0) as (client, server):
        await client.call_tool("create_post", {"text": "Guarded page", "publish_now": True})
        approval = await waiting(server)
        link = approval.link
        assert link is not None
        base, secret = link.split("#")
        async with httpx2.AsyncClient() as http:
            shell = await http.get(base)
            assert shell.status_code == 200 and secret not in shell.text
            assert "frame-ancestors 'none'" in shell.headers["content-security-policy"]
            forged = await http.get(f"{base}/view", headers={"X-Approval-Secret": "x" * 43})
            assert forged.status_code == 403
            unknown = await http.get(
                base.rsplit("/", 1)[0] + "/AAAAAAAAAAAAAAAA/view",
                headers={"X-Approval-Secret": secret},
            )
            assert unknown.status_code == 404
        for change, status in (
            ({"headers": {"Origin": "https://evil.example"}}, 403),  # another site's page
            ({"body": {"csrf": "wrong"}}, 403),
            ({"body": {"secret": "x" * 43}}, 403),
            ({"headers": {"Origin": "null"}}, 403),  # a sandboxed frame or a file
            ({"headers": {"Host": "rebound.example"}}, 421),  # DNS rebinding
            ({"body": {"padding": "x" * 10_000}}, 413),
        ):
            refused = await page_answer(link, "approved", **change)
            assert refused.status_code == status, (change, refused.text)
        assert (await server.services().guard.approvals.decision(approval.id)) is None
        declined = await page_answer(link, "declined")
        assert declined.status_code == 200 and declined.json()["state"] == "declined"
        used = await page_answer(link, "approved")
        assert used.status_code == 409
    assert on_x(sandbox) == []


async def test_the_page_says_when_what_was_approved_changed(sandbox: Any) -> None:
    async with served(sandbox.base_url, confirm="person", approval_wait=0) as (client, server):
        created = data(await client.call_tool("create_post", {"text": "As approved"}))
        post_id = created["posts"][0]["id"]
        asked = data(await client.call_tool("publish_post", {"id": post_id}))
        link = (await waiting(server)).link or ""
        approved = await page_answer(link, "approved")
        assert approved.json()["state"] == "approved"
        await client.call_tool("update_post", {"id": post_id, "text": "Swapped after"})
        outcome = await client.call_tool(
            "publish_post", {"id": post_id, "approval_id": asked["approval_id"]}
        )
        assert data(outcome)["status"] == "changed"
        base, secret = link.split("#")
        async with httpx2.AsyncClient() as http:
            state = await http.get(f"{base}/state", headers={"X-Approval-Secret": secret})
        assert state.json()["state"] == "changed"  # not "approved", as if it were on its way
    assert on_x(sandbox) == []


async def test_one_key_cannot_flood_its_person_with_requests() -> None:
    """A careless agent asking again and again leaves one request; a hostile one, at most
    MAX_OPEN in a window."""
    from opentweet_mcp.guard.approvals import MAX_OPEN, ApprovalRefused, Approvals
    from opentweet_mcp.guard.ledger import MemoryLedger

    approvals = Approvals(MemoryLedger())
    fields: dict[str, Any] = {
        "tool": "create_post",
        "arguments": {},
        "arguments_digest": "a",
        "publication_digest": "p",
        "preview": {},
        "lines": [],
        "key_digest": "flooding",
        "page": None,
    }
    first = await approvals.create(**fields)
    assert await approvals.create(**fields) == first  # asked again: the same request, once
    for n in range(1, MAX_OPEN):
        await approvals.create(**{**fields, "arguments_digest": f"a{n}"})
    with pytest.raises(ApprovalRefused, match="already wait") as refused:
        await approvals.create(**{**fields, "arguments_digest": "one too many"})
    assert refused.value.code == "busy"
    await approvals.create(**{**fields, "key_digest": "another"})  # others are not held up
    assert len(await approvals.pending()) == MAX_OPEN + 1


async def test_an_expired_link_is_refused(sandbox: Any) -> None:
    async with served(sandbox.base_url, confirm="person", approval_wait=0) as (client, server):
        await client.call_tool("create_post", {"text": "Too late", "publish_now": True})
        approval = await waiting(server)
        approvals = server.services().guard.approvals
        approvals._clock = lambda: time.time() + 3600  # an hour later: its time is up
        late = await page_answer(approval.link or "", "approved")
        assert late.status_code == 410
    assert on_x(sandbox) == []


# --- URL elicitation: the client opens the page -------------------------------------------


def declare_url_elicitation_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients of this test declare URL elicitation and no form (the SDK's client declares
    forms by default)."""
    original = ClientSession._build_capabilities

    def url_only(self: ClientSession, version: str) -> ClientCapabilities:
        declared = original(self, version)
        url = ElicitationCapability(url=UrlElicitationCapability())
        return declared.model_copy(update={"elicitation": url})

    monkeypatch.setattr(ClientSession, "_build_capabilities", url_only)


async def test_a_client_that_opens_pages_gets_the_approval_page(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client declaring URL elicitation only (a form is preferred when both are): the page
    link reaches the client, never the model; the person approves there; the call completes
    and the client is told the elicitation is complete."""
    declare_url_elicitation_only(monkeypatch)
    opened: list[str] = []
    completed: list[str] = []

    async def open_page(ctx: Any, params: Any) -> ElicitResult:
        opened.append(params.url)

        async def person() -> None:
            await anyio.sleep(0.2)
            answer = await page_answer(params.url, "approved")
            assert answer.status_code == 200, answer.text

        ctx_group.start_soon(person)
        return ElicitResult(action="accept")

    async def notices(message: Any) -> None:
        root = getattr(message, "root", message)
        if getattr(root, "method", "") == "notifications/elicitation/complete":
            completed.append(root.params.elicitation_id)

    options = {"elicitation_callback": open_page, "message_handler": notices}
    async with (
        anyio.create_task_group() as ctx_group,
        session(sandbox.base_url, "legacy", client_options=options, confirm="auto") as client,
    ):
        result = await client.call_tool(
            "create_post", {"text": "Via the page", "publish_now": True}
        )
        await anyio.sleep(0.1)
    assert data(result)["status"] == "posted", text(result)
    (link,) = opened
    secret = link.split("#")[1]
    assert secret not in model_visible(result)
    assert completed and completed[0] in link
    assert on_x(sandbox) == ["Via the page"]


@pytest.mark.parametrize("way", ["form", "url"])
async def test_a_host_that_declines_unasked_leaves_the_request_to_the_terminal(
    sandbox: Any, way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some hosts declare elicitation and decline every request without showing it (Claude
    Code's VS Code extension): the decline is reported as possibly unseen, and the request
    waits for the person in `opentweet-mcp approvals`; a dismissed form is a real no."""
    if way == "url":
        declare_url_elicitation_only(monkeypatch)

    async def decline(ctx: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="decline")

    options = {"elicitation_callback": decline}
    post = {"text": "Seen in a terminal", "publish_now": True}
    async with served(
        sandbox.base_url, client_options=options, confirm="person", approval_wait=0
    ) as (client, server):
        asked = await client.call_tool("create_post", post)
        said = data(asked)
        assert said["status"] == "declined" and "could not show" in text(asked)
        assert "opentweet-mcp approvals" in text(asked)
        approval = await waiting(server)
        assert approval.id == said["approval_id"]
        await server.services().guard.approvals.decide(approval, "approved", "cli")
        done = await client.call_tool("create_post", {**post, "approval_id": approval.id})
        assert data(done)["status"] == "posted", text(done)

    async def dismiss(ctx: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="cancel")

    if way == "form":
        async with served(
            sandbox.base_url,
            client_options={"elicitation_callback": dismiss},
            confirm="person",
            approval_wait=0,
        ) as (client, server):
            dismissed = await client.call_tool("create_post", {"text": "No", "publish_now": True})
            assert data(dismissed)["status"] == "declined" and "approval_id" not in data(dismissed)
            assert await server.services().guard.approvals.pending() == []
    assert on_x(sandbox) == ["Seen in a terminal"]


async def test_what_goes_out_later_is_what_the_person_approved(sandbox: Any) -> None:
    """Scheduled on the person's approval, then edited by the agent: the edit waits for the
    person too, and what the scheduler publishes is the approved text."""
    from datetime import UTC, datetime, timedelta

    later = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with served(sandbox.base_url, confirm="person", approval_wait=0) as (client, server):
        post = {"text": "Approved for later", "scheduled_date": later}
        asked = data(await client.call_tool("create_post", post))
        approval = await waiting(server)
        await server.services().guard.approvals.decide(approval, "approved", "cli")
        done = data(
            await client.call_tool("create_post", {**post, "approval_id": asked["approval_id"]})
        )
        post_id = done["posts"][0]["id"]
        before = len(writes(sandbox.requests()))
        for swap in ({"text": "Swapped after approval"}, {"scheduled_date": later[:-3] + "01Z"}):
            edit = await client.call_tool("update_post", {"id": post_id, **swap})
            assert data(edit)["status"] == "approval_pending", text(edit)
        assert len(writes(sandbox.requests())) == before  # nothing changed upstream
    sandbox.scheduler(datetime.now(UTC) + timedelta(days=1))
    assert on_x(sandbox) == ["Approved for later"]


def test_approval_ids_are_plain_words() -> None:
    """Ids are typed on command lines: one starting with "-" passed for an option."""
    from opentweet_mcp.guard.approvals import new_id
    from opentweet_mcp.validate import check_approval_id

    ids = {new_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert all(i.isalnum() and i.isascii() and check_approval_id(i) == i for i in ids)
