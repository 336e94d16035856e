"""The command line: `serve` (the default), `sandbox`, `tools` and `call` (README, "Commands").

Heavy modules (the MCP server, the sandbox) are imported inside the command that needs them,
so `--help` and configuration errors answer at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentweet_mcp import __version__
from opentweet_mcp.config import ConfigError, FlagValues, Settings, load_settings
from opentweet_mcp.options import OPTIONS, environment_help

if TYPE_CHECKING:
    from opentweet_mcp.sandbox.runner import BackgroundServer

EXAMPLES = """examples:
  opentweet-mcp call get_account --sandbox          try one tool, no account needed
  opentweet-mcp --sandbox                           MCP over stdio on the sandbox
  OPENTWEET_API_KEY=... opentweet-mcp               MCP over stdio for your account
  opentweet-mcp tools --read-only                   what a read-only server exposes
  opentweet-mcp sandbox --port 8765                 the API simulator alone, for curl
  opentweet-mcp approvals                           what waits for your approval
"""
COMMANDS = ("serve", "sandbox", "tools", "call", "approvals", "login", "scheduler")
APPROVAL_ACTIONS = ("review", "list", "show", "approve", "decline", "open")


def _server_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of every setting that has one (options.py)."""
    for option in OPTIONS:
        if option.flag is None:
            continue
        env = f"; env {option.env}" if option.env else ""
        parser.add_argument(
            option.flag,
            dest=option.name,
            help=f"{option.help} (default {option.default}{env})",
            **option.argparse,
        )


def _flags(args: argparse.Namespace) -> FlagValues:
    given = {o.name: getattr(args, o.name) for o in OPTIONS if o.flag and o.name != "sandbox"}
    return FlagValues(**given, sandbox=args.sandbox is not None, sandbox_db=args.sandbox)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opentweet-mcp",
        description="MCP server for the OpenTweet API (X/Twitter). Without a command it serves "
        "MCP over stdio with OPENTWEET_API_KEY; add --sandbox to try it with no account.",
        epilog=EXAMPLES + "\nServer flags and environment variables: opentweet-mcp serve --help",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"opentweet-mcp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the MCP server (the default command)",
        description="Run the MCP server. Every flag also has an environment variable; "
        "the flag wins.",
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _server_flags(serve)

    sandbox = commands.add_parser("sandbox", help="run only the OpenTweet API simulator")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--db", default="opentweet-sandbox.sqlite3", help="SQLite file")

    tools = commands.add_parser("tools", help="list the tools that would be exposed")
    _server_flags(tools)
    tools.add_argument("--json", action="store_true", help="print the full tools/list schemas")

    call = commands.add_parser(
        "call", help="call one tool through an in-process MCP client session and print the result"
    )
    call.add_argument("tool", help="tool name, e.g. get_account")
    call.add_argument("arguments", nargs="?", default="{}", help="JSON object of arguments")
    _server_flags(call)

    approvals = commands.add_parser(
        "approvals",
        help="list, approve or decline what waits for your approval",
        description="What the server waits for you to approve (with --confirm person, or "
        "when the client shows approval cards): review (each in turn, asking; the default in "
        "a terminal), list (the default otherwise), show ID, approve ID, decline ID, open ID "
        "(the approval page in a browser). The waiting call, or your assistant's next call, "
        "carries out what you approve.",
    )
    approvals.add_argument("action", nargs="?", choices=APPROVAL_ACTIONS)
    approvals.add_argument("id", nargs="?", help="the approval's id, as `list` shows it")
    _server_flags(approvals)

    login = commands.add_parser(
        "login",
        help="sign in to X with your X developer app (OAuth 2.0 with PKCE)",
        description="Sign in to X in your browser: the app named by OPENTWEET_X_CLIENT_ID asks "
        "for tweet.read, tweet.write, users.read, offline.access and media.write; the tokens "
        "are kept in the state folder, readable by you alone.",
    )
    login.add_argument("service", choices=("x",))
    login.add_argument(
        "--no-browser", action="store_true", help="print the address instead of opening it"
    )

    scheduler = commands.add_parser(
        "scheduler",
        help="publish the posts scheduled locally for X when they are due",
        description="Publish each post scheduled locally (posting directly to X) once it is "
        "due, at most once however many schedulers run; a post found later than the grace "
        "period after its time is marked missed, not published.",
    )
    scheduler.add_argument("--once", action="store_true", help="one pass, then exit")
    scheduler.add_argument(
        "--grace", type=float, default=15.0, help="minutes a due post may be late (default 15)"
    )
    return parser


def _settings(args: argparse.Namespace, *, need_key: bool = True) -> Settings:
    flags = _flags(args)
    if not need_key:
        flags.sandbox = True  # listing tools needs no key
    settings = load_settings(flags)
    if not need_key:
        settings = replace(settings, sandbox=args.sandbox is not None)
    from opentweet_mcp.server import selected_tools

    selected_tools(settings)  # unknown tool names fail here, before anything starts
    return settings


def _start_sandbox(settings: Settings) -> tuple[Settings, BackgroundServer]:
    if settings.provider == "x":
        from opentweet_mcp.xsim.runner import XSimServer, signed_in

        simulator = XSimServer(db=settings.sandbox_db or ":memory:").start()
        logging.getLogger("opentweet_mcp").info("X simulator serving at %s", simulator.base_url)
        return signed_in(settings, simulator.base_url, simulator.folder), simulator
    from opentweet_mcp.sandbox.runner import DEMO_KEY, SandboxServer

    sandbox = SandboxServer(db=settings.sandbox_db or ":memory:")
    sandbox.start()
    key = settings.api_key or DEMO_KEY
    logging.getLogger("opentweet_mcp").info("sandbox serving at %s", sandbox.base_url)
    return replace(settings, base_url=sandbox.base_url, api_key=key), sandbox


def _serve(settings: Settings) -> int:
    from opentweet_mcp.server import build_server

    settings = _state_ledger(settings)
    sandbox = None
    if settings.sandbox:
        settings, sandbox = _start_sandbox(settings)
    try:
        if settings.transport == "stdio":
            build_server(settings).run("stdio")
        else:
            from opentweet_mcp.hosting import serve_http

            serve_http(settings)
    finally:
        if sandbox is not None:
            sandbox.stop()
    return 0


def _tools(settings: Settings, as_json: bool) -> int:
    import anyio
    from mcp import Client

    from opentweet_mcp.approvals.card import AppsClient
    from opentweet_mcp.server import build_server

    async def listing() -> list[Any]:
        # as a host that draws MCP Apps sees them: with the card's app-only tools, flagged
        server = build_server(settings)
        async with Client(server, mode="legacy", extensions=[AppsClient()]) as client:
            return list((await client.list_tools()).tools)

    tools = anyio.run(listing)
    if as_json:
        dumped = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
        print(json.dumps(dumped, indent=2, ensure_ascii=False))
        return 0
    for tool in tools:
        hints = tool.annotations
        app_only = (tool.meta or {}).get("ui", {}).get("visibility") == ["app"]
        flags = "".join(
            letter
            for letter, on in (
                ("R", hints and hints.read_only_hint),
                ("D", hints and hints.destructive_hint),
                ("I", hints and hints.idempotent_hint),
                ("A", app_only),  # the approval card's, hidden from the model
            )
            if on
        )
        first_line = (tool.description or "").splitlines()[0] if tool.description else ""
        print(f"{tool.name:<26} {flags or '-':<4} {first_line}")
    from opentweet_mcp.providers import UNSERVED

    for toolset, why in UNSERVED[settings.provider].items():
        print(f"not served by --provider {settings.provider}: the {toolset} tools ({why})")
    return 0


def _state_ledger(settings: Settings) -> Settings:
    """Where approvals, used tokens, idempotency results and budgets are kept, so they hold
    across processes and restarts, and `approvals` and `call` see what the server keeps: in
    Redis when configured; else a file in the state folder for this API root (one for every
    in-memory sandbox), or beside the database of a file-backed sandbox."""
    if settings.redis_url:
        return settings
    from opentweet_mcp.guard.sqlite_ledger import default_path

    if not settings.sandbox:
        path = default_path(settings.upstream)
    elif settings.sandbox_db and settings.sandbox_db != ":memory:":
        path = Path(f"{Path(settings.sandbox_db).resolve()}.ledger")
    else:
        path = default_path("sandbox:memory")
    _check_ledger(path)
    return replace(settings, ledger_path=path)


def _check_ledger(path: Path) -> None:
    """Open the ledger once before the call, so a folder or file that cannot serve is one
    clear line (exit 2) rather than a traceback from inside the session."""
    import sqlite3

    from opentweet_mcp.guard.sqlite_ledger import SqliteLedger

    try:
        SqliteLedger(path).close()
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigError(
            f"cannot keep the call ledger at {path} ({reason}); remove the file, or set "
            "XDG_STATE_HOME to a writable folder"
        ) from None


def _call(settings: Settings, tool: str, raw_arguments: str) -> int:
    import anyio
    from mcp import Client

    from opentweet_mcp.server import build_server

    try:
        arguments = json.loads(raw_arguments)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"arguments must be a JSON object: {exc}") from None
    if not isinstance(arguments, dict):
        raise ConfigError("arguments must be a JSON object")
    settings = _state_ledger(settings)
    sandbox = None
    if settings.sandbox:
        settings, sandbox = _start_sandbox(settings)

    async def show(progress: float, total: float | None, message: str | None) -> None:
        from opentweet_mcp.text.visible import visible

        of = f"/{total:g}" if total else ""
        print(f"… {progress:g}{of} {visible(message or '', newlines=False)}", file=sys.stderr)

    async def calling() -> Any:
        async with Client(build_server(settings), mode="legacy") as client:
            return await client.call_tool(tool, arguments, progress_callback=show)

    try:
        result = anyio.run(calling)
    finally:
        if sandbox is not None:
            sandbox.stop()
    from opentweet_mcp.text.visible import terminal_json, visible

    # Tweet texts and upstream answers are not ours: nothing in them may drive the terminal.
    for block in result.content:
        print(visible(str(getattr(block, "text", block))))
    if result.structured_content is not None:
        print(terminal_json(json.dumps(result.structured_content, indent=2, ensure_ascii=False)))
        previewed = result.structured_content.get("status") == "confirmation_required"
        if previewed and settings.secret is None:
            print(
                "opentweet-mcp: this token can only be confirmed by a later `call` if "
                "OPENTWEET_MCP_SECRET is set (the same value for both calls)",
                file=sys.stderr,
            )
    return 1 if result.is_error else 0


def _approvals(settings: Settings, action: str | None, approval_id: str | None) -> int:
    import anyio

    from opentweet_mcp.approvals.command import run
    from opentweet_mcp.server import open_ledger

    settings = _state_ledger(settings)

    async def answering() -> int:
        ledger = open_ledger(settings)
        try:
            terminal = sys.stdin.isatty() and sys.stdout.isatty()
            chosen = action or ("review" if terminal else "list")
            return await run(
                ledger, chosen, approval_id, sys.stdout, sys.stdin if terminal else None
            )
        finally:
            await ledger.aclose()

    return anyio.run(answering)


def _login(settings: Settings, *, browser: bool) -> int:
    """`opentweet-mcp login x`: the sign-in, through the person's browser."""
    import webbrowser

    from opentweet_mcp.guard.sqlite_ledger import state_folder
    from opentweet_mcp.xapi.auth import SignInError, TokenFile, XApp, login

    app = XApp.from_settings(settings)
    tokens = TokenFile(state_folder() / "x-tokens.json", app)

    def show(url: str) -> None:
        if not browser or not webbrowser.open(url):
            print(f"Open this address to sign in to X:\n{url}", file=sys.stderr, flush=True)

    try:
        signed_in = login(app, tokens, show)
    except SignInError as exc:
        print(f"opentweet-mcp: {exc}", file=sys.stderr)
        return 1
    print(f"Signed in to X ({signed_in.scope}); tokens kept in {tokens.path} (yours alone).")
    return 0


def _scheduler(settings: Settings, *, once: bool, grace: float) -> int:
    """`opentweet-mcp scheduler`: publish what is due, every 30 s (or once)."""
    import anyio
    import httpx2

    from opentweet_mcp.xapi.auth import SignInError
    from opentweet_mcp.xapi.upstream import open_x_upstream, run_scheduler

    def report(done: dict[str, list[str]]) -> None:
        print(json.dumps(done), flush=True)

    async def passes() -> None:
        async with httpx2.AsyncClient(timeout=settings.timeout) as http:
            upstream = open_x_upstream(settings, http)
            try:
                upstream.x.tokens.access_token()  # signed in (and renewed), or say so now
                await run_scheduler(upstream, grace=grace, once=once, report=report)
            finally:
                upstream.store.close()

    try:
        anyio.run(passes)
    except SignInError as exc:
        print(f"opentweet-mcp: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help", "--version"):
        argv = ["serve", *argv]
    args = _parser().parse_args(argv)
    level = (getattr(args, "log_level", None) or "warning").upper()
    logging.basicConfig(
        stream=sys.stderr,
        level=level,
        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s",
    )
    try:
        if args.command == "sandbox":
            from opentweet_mcp.sandbox.runner import main_sandbox

            main_sandbox(args.host, args.port, args.db)
            return 0
        if args.command == "tools":
            return _tools(_settings(args, need_key=False), args.json)
        if args.command == "call":
            return _call(_settings(args), args.tool, args.arguments)
        if args.command == "scheduler":
            settings = load_settings(FlagValues(sandbox=True))
            return _scheduler(settings, once=args.once, grace=args.grace * 60)
        if args.command == "login":
            return _login(load_settings(FlagValues(sandbox=True)), browser=not args.no_browser)
        if args.command == "approvals":
            return _approvals(_settings(args, need_key=False), args.action, args.id)
        return _serve(_settings(args))
    except ConfigError as exc:
        print(f"opentweet-mcp: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `opentweet-mcp call … | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
