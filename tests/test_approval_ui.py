"""The approval UI in a real browser (Debian's Chromium, headless, driven by Playwright):
the approvals page a person opens, and the MCP Apps card inside a small host page that
implements the host side of the bridge over a real MCP client session.

CI installs Chromium and sets OPENTWEET_REQUIRE_BROWSER=1, which turns a missing browser into
a failure; elsewhere these tests say loudly that they did not run.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from opentweet_mcp.server import OpenTweetServer
from tests.harness import PRO_KEY, AppsSupport, data, served, text

playwright = pytest.importorskip("playwright.async_api")

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium() -> str:
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if found is None:
        if os.environ.get("OPENTWEET_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required (apt-get install chromium) but was not found")
        pytest.skip("CHROMIUM NOT INSTALLED: the approval UI was not tested in a browser")
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    path = chromium()
    async with playwright.async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


def on_x(sandbox: Any) -> list[str]:
    state = sandbox.state
    return [p["text"] for p in state.store.posts(state.user(PRO_KEY).id) if p["status"] == "posted"]


def publishes(sandbox: Any) -> int:
    return sum(
        1
        for r in sandbox.requests()
        if r["method"] == "POST"
        and (r["path"].endswith("/publish") or r["path"] == "/api/v1/posts")
    )


async def pending_link(server: OpenTweetServer) -> str:
    for _ in range(200):
        waiting = await server.services().guard.approvals.pending()
        if waiting:
            link = waiting[-1].link
            assert link is not None
            return link
        await anyio.sleep(0.02)
    raise AssertionError("nothing became pending")


THREAD = {
    "text": "Shipping day! Three things changed.",
    "thread_tweets": ["One: faster previews.", "Two: approvals\u200b by a person."],
    "media_urls": ["https://cdn.example.com/chart.png"],
    "thread_media": [[], ["https://cdn.example.com/two.png"]],
    "publish_now": True,
}


# --- the approvals page -------------------------------------------------------------------


@pytest.mark.parametrize("verdict", ["approve", "decline"])
async def test_the_page_shows_everything_and_takes_one_answer(
    sandbox: Any, browser: Any, verdict: str
) -> None:
    async with served(sandbox.base_url, confirm="person", approval_wait=30) as (client, server):
        outcome: dict[str, Any] = {}

        async def ask() -> None:
            outcome["result"] = await client.call_tool("create_post", THREAD)

        async with anyio.create_task_group() as group:
            group.start_soon(ask)
            link = await pending_link(server)
            page = await browser.new_page()
            await page.goto(link)
            await page.wait_for_selector(".post")
            shown = await page.inner_text("main")
            for needle in (
                "Create and publish a thread on X now",
                "Shipping day! Three things changed.",
                "One: faster previews.",
                "Tweet 3 of 3",
                "⟨U+200B⟩",  # the hidden character, shown
                "hidden characters",
                "cannot be undone",
            ):
                assert needle in shown, needle
            assert await page.locator(".media a").count() == 2
            assert await page.locator(".hid").count() == 1
            button = page.get_by_role(
                "button", name="Approve" if verdict == "approve" else "Decline"
            )
            await button.focus()
            await page.keyboard.press("Enter")  # keyboard, as anyone may answer
            expected = "Done." if verdict == "approve" else "Declined. Nothing was sent."
            await page.wait_for_function(
                "expected => document.getElementById('status').textContent.startsWith(expected)",
                arg=expected,
            )
            assert await page.get_by_role("button", name="Approve").is_disabled()
        result = outcome["result"]
        if verdict == "approve":
            assert data(result)["status"] == "posted" and "Published to X" in await page.inner_text(
                "#outcome"
            )
        else:
            assert data(result)["status"] == "declined"
        await page.reload()  # a used link shows what happened, and takes no second answer
        await page.wait_for_selector("#status:not(:empty)")
        assert not await page.is_visible("#bar")
    assert on_x(sandbox) == (
        ["Shipping day! Three things changed."] if verdict == "approve" else []
    )
    assert publishes(sandbox) == (1 if verdict == "approve" else 0)


async def test_forged_foreign_and_expired_links_are_refused_in_the_browser(
    sandbox: Any, browser: Any
) -> None:
    async with served(sandbox.base_url, confirm="person", approval_wait=0) as (client, server):
        await client.call_tool("create_post", {"text": "First", "publish_now": True})
        first = await pending_link(server)
        await client.call_tool("create_post", {"text": "Second", "publish_now": True})
        second = await pending_link(server)
        page = await browser.new_page()
        for link in (
            first.split("#")[0] + "#" + "x" * 43,  # forged
            first.split("#")[0] + "#" + second.split("#")[1],  # another request's secret
            first.split("#")[0],  # no secret at all
        ):
            await page.goto(link)
            await page.wait_for_function("document.getElementById('status').textContent !== ''")
            assert "cannot be used" in await page.inner_text("h1")
            assert not await page.is_visible("#bar")
        # another site's page cannot answer for the person (CORS and the Origin check)
        await page.goto("about:blank")
        base, secret = first.split("#")
        sent = await page.evaluate(
            """async ([base, secret]) => {
                try {
                  const r = await fetch(base + "/answer", {method: "POST",
                    headers: {"Content-Type": "application/json"},
                    body: JSON.stringify({verdict: "approved", secret, csrf: "guess"})});
                  return r.status;
                } catch (error) { return "blocked"; }
            }""",
            [base, secret],
        )
        assert sent in ("blocked", 403)
        approvals = server.services().guard.approvals
        assert [await approvals.decision(a.id) for a in await approvals.pending()] == [None, None]
        approvals._clock = lambda: time.time() + 3600  # an hour later: the links have expired
        await page.goto(first)
        await page.wait_for_selector("#status:not(:empty)")
        assert "expired" in await page.inner_text("#status")
        assert not await page.is_visible("#bar")
    assert on_x(sandbox) == []


async def test_a_batch_shows_its_calendar(sandbox: Any, browser: Any) -> None:
    start = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    posts = [
        {
            "text": f"Tip {n} of the week",
            "scheduled_date": (start + timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for n in range(1, 8)
    ]
    async with served(sandbox.base_url, confirm="person", approval_wait=0) as (client, server):
        await client.call_tool("bulk_create_posts", {"posts": posts})
        page = await browser.new_page()
        await page.goto(await pending_link(server))
        await page.wait_for_selector(".cal")
        assert await page.locator(".cal .day.on").count() == 7
        shown = await page.inner_text("main")
        assert all(post["text"] in shown for post in posts)  # every post, not first and last
        assert "your time" in shown and "UTC" in shown
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme)
            background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == ("rgb(255, 255, 255)" if scheme == "light" else "rgb(21, 32, 43)")


# --- the MCP Apps card inside a host page ---------------------------------------------------

HOST = """<!doctype html><html><body>
<iframe id="card" sandbox="allow-scripts" style="width:640px;height:900px;border:0"></iframe>
<script>
const frame = document.getElementById("card");
let result = null;
window.addEventListener("message", async (event) => {
  if (event.source !== frame.contentWindow) return;
  const message = event.data;
  const reply = (body) =>
    frame.contentWindow.postMessage({jsonrpc: "2.0", id: message.id, ...body}, "*");
  if (message.method === "ui/initialize") {
    reply({result: {protocolVersion: "2026-01-26", hostInfo: {name: "test-host", version: "1"},
      hostCapabilities: {serverTools: {}}, hostContext: {theme: "light"}}});
  } else if (message.method === "ui/notifications/initialized") {
    frame.contentWindow.postMessage({jsonrpc: "2.0", method: "ui/notifications/tool-input",
      params: {arguments: {}}}, "*");
    frame.contentWindow.postMessage({jsonrpc: "2.0", method: "ui/notifications/tool-result",
      params: window.toolResult}, "*");
  } else if (message.method === "tools/call") {
    try { reply({result: await window.mcpCall(message.params.name, message.params.arguments)}); }
    catch (error) { reply({error: {code: -32000, message: String(error)}}); }
  }
});
window.showCard = (html, toolResult) => { window.toolResult = toolResult; frame.srcdoc = html; };
</script></body></html>"""


async def show_card(browser: Any, client: Any, asked: Any, called: list[str]) -> Any:
    """The host page drawing the card's resource with a tool's result; the card's calls go
    through the client session (each one app-only, recorded in `called`). The card's frame."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    resource = (await client.read_resource("ui://opentweet/approval")).contents[0]
    assert resource.mime_type == "text/html;profile=mcp-app"

    async def mcp_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        visibility = tools[name].meta["ui"].get("visibility")
        assert visibility == ["app"], f"the card called {name}, which is not app-only"
        called.append(name)
        result = await client.call_tool(name, arguments)
        return dict(result.model_dump(mode="json", by_alias=True, exclude_none=True))

    page = await browser.new_page()
    await page.expose_function("mcpCall", mcp_call)
    await page.set_content(HOST)
    dumped = asked.model_dump(mode="json", by_alias=True, exclude_none=True)
    await page.evaluate(
        "([html, result]) => window.showCard(html, result)", [resource.text, dumped]
    )
    card = page.frame_locator("#card")
    await card.locator(".post").first.wait_for()
    return card


async def test_the_card_renders_the_result_and_approves_once(sandbox: Any, browser: Any) -> None:
    options = {"extensions": [AppsSupport()]}
    async with served(sandbox.base_url, client_options=options, confirm="auto") as (client, _):
        asked = await client.call_tool("create_post", THREAD)
        assert data(asked)["status"] == "approval_pending"
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools["create_post"].meta["ui"]["resourceUri"] == "ui://opentweet/approval"
        called: list[str] = []
        card = await show_card(browser, client, asked, called)
        shown = await card.locator("main").inner_text()
        assert "Two: approvals⟨U+200B⟩ by a person." in shown and "Tweet 2 of 3" in shown
        assert publishes(sandbox) == 0
        await card.get_by_role("button", name="Approve").click()
        await card.locator("#status", has_text="Done.").wait_for()
        assert "Published to X" in await card.locator("#outcome").inner_text()
        assert called == ["approve_pending"]
        outcome = await client.call_tool(
            "create_post", {**THREAD, "approval_id": data(asked)["approval_id"]}
        )
        assert "Replayed" in text(outcome)
    assert publishes(sandbox) == 1 and on_x(sandbox) == ["Shipping day! Three things changed."]


async def test_the_card_never_says_done_when_nothing_was_sent(sandbox: Any, browser: Any) -> None:
    """Approved on the card after the agent edited the draft: the card says nothing was sent."""
    options = {"extensions": [AppsSupport()]}
    async with served(sandbox.base_url, client_options=options, confirm="auto") as (client, _):
        created = data(await client.call_tool("create_post", {"text": "As shown"}))
        post_id = created["posts"][0]["id"]
        asked = await client.call_tool("publish_post", {"id": post_id})
        card = await show_card(browser, client, asked, [])
        await client.call_tool("update_post", {"id": post_id, "text": "Swapped after"})
        await card.get_by_role("button", name="Approve").click()
        await card.locator("#status", has_text="Nothing was sent").wait_for()
        assert "Done" not in await card.locator("#status").inner_text()
    assert on_x(sandbox) == [] and not [
        r for r in sandbox.requests() if r["path"].endswith("/publish")
    ]


def test_the_card_is_small_and_self_contained() -> None:
    from opentweet_mcp.approvals.page import approval_html

    html = approval_html()
    assert len(html.encode()) <= 30 * 1024
    for outside in ("http://", "https://", "<link", 'src="', "@import"):
        assert outside not in html.replace("https://x.com", ""), outside
    json.dumps(html)  # one string, as the resource carries it
