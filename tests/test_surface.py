"""The tool surface: every tool of SPEC §5 with its exact name, flags and schemas, a committed
tools/list snapshot, toolset selection, and the stdio subprocess path."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, ClientSession, StdioServerParameters, stdio_client

from opentweet_mcp.config import Settings
from opentweet_mcp.server import SERVER_NAME, build_server
from tests.harness import AppsSupport, data, text

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools_list.json"

# SPEC §5: tool → (toolset, read-only, destructive, idempotent, open-world)
EXPECTED: dict[str, tuple[str, bool, bool, bool, bool]] = {
    "get_account": ("account", True, False, False, True),
    "list_accounts": ("account", True, False, False, True),
    "create_post": ("posts", False, True, False, True),
    "bulk_create_posts": ("posts", False, True, False, True),
    "list_posts": ("posts", True, False, False, True),
    "get_post": ("posts", True, False, False, True),
    "update_post": ("posts", False, True, True, True),
    "schedule_post": ("posts", False, True, True, True),
    "publish_post": ("posts", False, True, False, True),
    "batch_schedule_posts": ("posts", False, True, False, True),
    "delete_post": ("posts", False, True, False, True),
    "upload_media": ("media", False, False, False, True),
    "get_evergreen_settings": ("evergreen", True, False, False, True),
    "update_evergreen_settings": ("evergreen", False, False, True, True),
    "list_evergreen_posts": ("evergreen", True, False, False, True),
    "add_to_evergreen": ("evergreen", False, True, False, True),
    "get_evergreen_post": ("evergreen", True, False, False, True),
    "update_evergreen_post": ("evergreen", False, False, True, True),
    "remove_from_evergreen": ("evergreen", False, False, True, True),
    "get_evergreen_history": ("evergreen", True, False, False, True),
    "search_inspiration": ("inspiration", True, False, False, True),
    "repurpose_tweet": ("inspiration", False, False, False, True),
    "get_analytics_overview": ("analytics", True, False, False, True),
    "get_tweet_analytics": ("analytics", True, False, False, True),
    "get_best_times": ("analytics", True, False, False, True),
    "analyze_best_times": ("analytics", False, False, False, True),
    "check_post": ("compose", True, False, False, False),
    "split_thread": ("compose", True, False, False, False),
}
# SPEC §5 C: every tool that can arm publication, change what is armed, or delete
GATED = {
    "create_post",
    "bulk_create_posts",
    "update_post",
    "schedule_post",
    "publish_post",
    "batch_schedule_posts",
    "delete_post",
    "add_to_evergreen",
}


APP_ONLY = {"approve_pending", "decline_pending"}  # the approval card's buttons


def listing(*, app_only: bool = False, apps: bool = True, **overrides: Any) -> list[dict[str, Any]]:
    """tools/list as a host that draws MCP Apps (or, with `apps=False`, any other client)
    gets it: as the model sees it (hosts hide app-only tools), or those tools alone."""
    import anyio

    settings = Settings(api_key="pro_k", base_url="http://127.0.0.1:9", **overrides)
    options = {"extensions": [AppsSupport()]} if apps else {}

    async def run() -> list[dict[str, Any]]:
        async with Client(build_server(settings), mode="legacy", **options) as client:  # type: ignore[arg-type]
            tools = (await client.list_tools()).tools
        return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]

    tools = anyio.run(run)
    hidden = [t for t in tools if t.get("_meta", {}).get("ui", {}).get("visibility") == ["app"]]
    return hidden if app_only else [t for t in tools if t not in hidden]


def test_every_spec_tool_with_its_flags() -> None:
    tools = {t["name"]: t for t in listing()}
    assert set(tools) == set(EXPECTED)
    for name, (_, read_only, destructive, idempotent, open_world) in EXPECTED.items():
        hints = tools[name]["annotations"]
        assert hints["title"] and "title" not in tools[name]  # sent once, in the annotations
        assert (hints["readOnlyHint"], hints["destructiveHint"]) == (read_only, destructive), name
        assert (hints["idempotentHint"], hints["openWorldHint"]) == (idempotent, open_world), name
        assert tools[name]["description"], name
        # output schemas where the shape is ours to know (SPEC §4): gated results, upload,
        # and the local compose tools; upstream pass-through shapes are left open
        shaped = name in GATED or name in ("upload_media", "check_post", "split_thread")
        assert ("outputSchema" in tools[name]) == shaped, name
        params = tools[name]["inputSchema"].get("properties", {})
        assert ("confirmation_token" in params) == (name in GATED), name
        assert ("approval_id" in params) == (name in GATED), name
        card = {"ui": {"resourceUri": "ui://opentweet/approval"}}
        assert (tools[name].get("_meta") == card) == (name in GATED), name
        assert "approval" not in params and "ctx" not in params, name
        if open_world and name not in (
            "get_account",
            "list_accounts",
            "get_evergreen_settings",
            "update_evergreen_settings",
        ):
            assert "x_account_id" in params, name


def test_tools_list_stays_within_its_context_budget() -> None:
    """tools/list is in the model's context on every turn. 20,800 bytes of compact JSON is
    about 4,700 cl100k tokens, of which a model reads about 3,400 (name, description and input
    schema; `python bench/run.py` counts both): a change that grows it must make room first."""
    dumped = json.dumps({"tools": listing()}, separators=(",", ":"), ensure_ascii=False)
    assert len(dumped.encode()) <= 20_800, len(dumped.encode())


def test_every_parameter_is_described_in_its_schema() -> None:
    """Not every host hands the server's instructions to the model: each parameter says what
    it is where the model reads it, in a few words."""
    for tool in listing():
        schema = tool["inputSchema"]
        for owner in (schema, *schema.get("$defs", {}).values()):
            for name, prop in owner.get("properties", {}).items():
                words = prop.get("description", "").split()
                assert 1 <= len(words) <= 8, (tool["name"], name, prop)


def test_the_approval_card_tools_are_for_the_card_only() -> None:
    hidden = {t["name"]: t for t in listing(app_only=True)}
    assert set(hidden) == APP_ONLY
    for tool in hidden.values():
        assert tool["_meta"]["ui"] == {
            "resourceUri": "ui://opentweet/approval",
            "visibility": ["app"],
        }
        assert set(tool["inputSchema"]["required"]) == {"approval_id", "secret"}
    # no card where only tokens or forms may approve, nor with nothing to approve
    assert not listing(app_only=True, confirm="token")
    assert not listing(app_only=True, read_only=True)
    assert "_meta" not in {t["name"]: t for t in listing(confirm="token")}["publish_post"]
    # a client that cannot draw the card is never offered its buttons
    assert not listing(app_only=True, apps=False)
    assert listing(apps=False) == listing()


def test_snapshot_matches() -> None:
    current = json.dumps(
        listing() + listing(app_only=True), indent=2, ensure_ascii=False, sort_keys=True
    )
    current += "\n"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(current, encoding="utf-8")
    assert SNAPSHOT.exists(), f"{SNAPSHOT} is missing: make it with UPDATE_SNAPSHOTS=1"
    assert SNAPSHOT.read_text(encoding="utf-8") == current, (
        "tools/list changed: review the diff and rerun with UPDATE_SNAPSHOTS=1"
    )


def test_toolset_selection() -> None:
    names = {t["name"] for t in listing(toolsets=("account", "compose"))}
    assert names == {n for n, spec in EXPECTED.items() if spec[0] in ("account", "compose")}
    names = {
        t["name"]
        for t in listing(
            toolsets=("account",), tools=("get_post",), exclude_tools=("list_accounts",)
        )
    }
    assert names == {"get_account", "get_post"}
    read_only = {t["name"] for t in listing(read_only=True, tools=("publish_post",))}
    assert read_only == {n for n, spec in EXPECTED.items() if spec[1]}


async def test_stdio_subprocess(sandbox: Any) -> None:
    env = {
        **os.environ,
        "OPENTWEET_API_KEY": "pro_stdio_user",
        "OPENTWEET_BASE_URL": sandbox.base_url,
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "opentweet_mcp"], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        init = await client.initialize()
        assert init.server_info.name == SERVER_NAME
        tools = (await client.list_tools()).tools
        assert len(tools) == len(EXPECTED)  # this client draws no MCP Apps: no card buttons
        created = await client.call_tool("create_post", {"text": "over stdio"})
        assert data(created)["posts"][0]["status"] == "draft", text(created)
        publish = await client.call_tool("publish_post", {"id": data(created)["posts"][0]["id"]})
        assert data(publish)["status"] == "confirmation_required"


@pytest.mark.parametrize("command", [["tools"], ["tools", "--read-only"]])
def test_tools_command(command: list[str]) -> None:
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "opentweet_mcp", *command],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OPENTWEET_API_KEY": ""},
    )
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()]
    names = [row[0] for row in rows if "A" not in row[1]]
    expected = [n for n, s in EXPECTED.items() if s[1] or "--read-only" not in command]
    assert sorted(names) == sorted(expected)
    card = sorted(row[0] for row in rows if "A" in row[1])
    assert card == ([] if "--read-only" in command else sorted(APP_ONLY))


async def test_mcp_json_example_starts_the_server(sandbox: Any) -> None:
    """The documented Claude Desktop entry really starts a working server."""
    example = json.loads((Path(__file__).parents[1] / "mcp.json.example").read_text())
    entry = example["mcpServers"]["opentweet"]
    command = Path(sys.executable).parent / entry["command"]
    env = {**os.environ, **entry["env"], "OPENTWEET_BASE_URL": sandbox.base_url}
    params = StdioServerParameters(command=str(command), args=entry["args"], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        assert len((await client.list_tools()).tools) == len(EXPECTED)  # no MCP Apps here
        me = await client.call_tool("get_account", {})
        assert data(me)["authenticated"] is True
