"""Screenshots of the approval UI for the README and docs/: the approvals page (light and
dark), a batch's calendar, and the MCP Apps card inside a host page. Real server, real
sandbox, Debian's Chromium driven by Playwright (`pip install -e '.[test]'`).

    python scripts/screenshots.py            # writes docs/images/approval-*.png
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.extension import ClientExtension
from playwright.async_api import Browser, async_playwright

from opentweet_mcp.approvals.page import approval_html
from opentweet_mcp.config import Settings
from opentweet_mcp.sandbox.runner import SandboxServer
from opentweet_mcp.server import OpenTweetServer, build_server

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
KEY = "pro_screenshots_0001"
THREAD = {
    "text": "We shipped opentweet-mcp 1.0 today. What a person approves is what goes out.",
    "thread_tweets": [
        "Every tweet, every image and the time it goes out are bound to the approval.",
        "Change one character after you approved\u200b and it asks you again.",
    ],
    "media_urls": ["https://cdn.example.com/launch.png"],
    "publish_now": True,
}
# The host side of the MCP Apps bridge, just enough to draw the card: initialize, then the
# tool's result.
HOST = """<!doctype html><html><body style="margin:0;background:#f4f4f5">
<iframe id="card" sandbox="allow-scripts" style="width:100%;height:1000px;border:0"></iframe>
<script>
const frame = document.getElementById("card");
window.addEventListener("message", (event) => {
  const message = event.data;
  const post = (body) => frame.contentWindow.postMessage({jsonrpc: "2.0", ...body}, "*");
  if (message.method === "ui/initialize") {
    post({id: message.id, result: {protocolVersion: "2026-01-26",
      hostInfo: {name: "screenshots", version: "1"}, hostCapabilities: {serverTools: {}},
      hostContext: {theme: window.theme}}});
  } else if (message.method === "ui/notifications/initialized") {
    post({method: "ui/notifications/tool-result", params: window.toolResult});
  }
});
window.showCard = (html, result, theme) => {
  window.toolResult = result; window.theme = theme; frame.srcdoc = html;
};
</script></body></html>"""


class AppsSupport(ClientExtension):
    """What a host that draws MCP Apps declares."""

    identifier = "io.modelcontextprotocol/ui"

    def settings(self) -> dict[str, Any]:
        return {"mimeTypes": ["text/html;profile=mcp-app"]}


async def latest_link(server: OpenTweetServer) -> str:
    waiting = await server.services().guard.approvals.pending()
    link = waiting[-1].link
    assert link is not None
    return link


async def shoot_page(browser: Browser, link: str, scheme: str, name: str, ready: str) -> None:
    page = await browser.new_page(viewport={"width": 720, "height": 900}, color_scheme=scheme)  # type: ignore[arg-type]
    await page.goto(link)
    await page.wait_for_selector(ready)
    await page.screenshot(path=str(IMAGES / name))
    await page.close()
    print(f"wrote docs/images/{name}")


async def main() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("Chromium is needed: apt-get install chromium")
    IMAGES.mkdir(parents=True, exist_ok=True)
    with SandboxServer() as sandbox:
        person = Settings(
            api_key=KEY, base_url=sandbox.base_url, confirm="person", approval_wait=0, timeout=10
        )
        server = build_server(person)
        async with async_playwright() as driver, Client(server, mode="legacy") as client:
            browser = await driver.chromium.launch(
                executable_path=chromium, args=["--headless=new", "--no-sandbox"]
            )
            await client.call_tool("create_post", THREAD)
            link = await latest_link(server)
            for scheme in ("light", "dark"):
                await shoot_page(browser, link, scheme, f"approval-page-{scheme}.png", ".post")
            start = datetime.now(UTC).replace(hour=9, minute=30, second=0, microsecond=0)
            week = [
                {
                    "text": f"Tip {n}: one small habit that makes your writing clearer.",
                    "scheduled_date": (start + timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                for n in range(1, 6)
            ]
            await client.call_tool("bulk_create_posts", {"posts": week})
            await shoot_page(
                browser, await latest_link(server), "light", "approval-batch.png", ".cal"
            )
        card_settings = Settings(api_key=KEY, base_url=sandbox.base_url, confirm="auto")
        async with (
            async_playwright() as driver,
            Client(
                build_server(card_settings), mode="legacy", extensions=[AppsSupport()]
            ) as client,
        ):
            browser = await driver.chromium.launch(
                executable_path=chromium, args=["--headless=new", "--no-sandbox"]
            )
            asked = await client.call_tool("create_post", THREAD)
            result: Any = json.loads(asked.model_dump_json(by_alias=True, exclude_none=True))
            for scheme in ("light", "dark"):
                page = await browser.new_page(viewport={"width": 680, "height": 1000})
                await page.set_content(HOST)
                await page.evaluate(
                    "([html, result, theme]) => window.showCard(html, result, theme)",
                    [approval_html(), result, scheme],
                )
                await page.frame_locator("#card").locator(".post").first.wait_for()
                await page.screenshot(path=str(IMAGES / f"approval-card-{scheme}.png"))
                print(f"wrote docs/images/approval-card-{scheme}.png")


if __name__ == "__main__":
    asyncio.run(main())
