"""Every setting, declared once: its field in `Settings`, its environment variable, its flag,
its default as people read it, and one line of help.

The command line's flags and `--help`, the environment's names in `load_settings`, and the
README's configuration table (checked by a test) all come from this table, so a setting can't
be added to one of them and forgotten in another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CONFIRM_CHOICES = ("auto", "person", "elicit", "token")
TRANSPORTS = ("stdio", "sse", "http")
LOG_LEVELS = ("debug", "info", "warning", "error")
PROVIDERS = ("opentweet", "x")


@dataclass(frozen=True)
class Option:
    name: str  # the Settings field (and the FlagValues field, when it has a flag)
    env: str | None
    flag: str | None
    default: str  # as the README and --help say it
    help: str
    argparse: Mapping[str, Any] = field(default_factory=dict)  # add_argument's other options


OPTIONS: tuple[Option, ...] = (
    Option(
        "api_key",
        "OPENTWEET_API_KEY",
        None,
        "—",
        "your OpenTweet API key (not needed with --sandbox)",
    ),
    Option(
        "base_url", "OPENTWEET_BASE_URL", "--base-url", "https://opentweet.io", "upstream API root"
    ),
    Option(
        "x_account_id",
        "OPENTWEET_X_ACCOUNT_ID",
        "--x-account-id",
        "—",
        "default X account for calls that name none",
    ),
    Option(
        "toolsets",
        "OPENTWEET_MCP_TOOLSETS",
        "--toolsets",
        "all",
        "comma list of toolsets (account, posts, media, evergreen, inspiration, analytics, "
        "compose) or all",
    ),
    Option("tools", "OPENTWEET_MCP_TOOLS", "--tools", "—", "comma list of single tools to add"),
    Option(
        "exclude_tools",
        "OPENTWEET_MCP_EXCLUDE_TOOLS",
        "--exclude-tools",
        "—",
        "comma list of single tools to remove",
    ),
    Option(
        "read_only",
        "OPENTWEET_MCP_READ_ONLY",
        "--read-only",
        "off",
        "only read-only tools (beats every other selection)",
        {"action": "store_true", "default": None},
    ),
    Option(
        "long_posts",
        "OPENTWEET_LONG_POSTS",
        "--long-posts",
        "off",
        "the accounts have X Premium: tweets up to 25,000 weighted characters (an account "
        "OpenTweet reports as Premium gets them anyway)",
        {"action": "store_true", "default": None},
    ),
    Option(
        "daily_publish_limit",
        "OPENTWEET_MCP_DAILY_PUBLISH_LIMIT",
        "--daily-publish-limit",
        "—",
        "cap on tweets published through the server per UTC day",
        {"type": int},
    ),
    Option(
        "confirm",
        "OPENTWEET_MCP_CONFIRM",
        "--confirm",
        "auto",
        "how gated calls are approved: auto (a person when the client offers a way, else "
        "tokens), person, elicit or token",
        {"choices": CONFIRM_CHOICES},
    ),
    Option(
        "approval_wait",
        "OPENTWEET_MCP_APPROVAL_WAIT",
        None,
        "60",
        'seconds a gated call waits for a person\'s answer before it answers "still waiting"',
    ),
    Option(
        "public_url",
        "OPENTWEET_MCP_PUBLIC_URL",
        None,
        "http://HOST:PORT",
        "where people reach an HTTP deployment's approval pages",
    ),
    Option(
        "secret",
        "OPENTWEET_MCP_SECRET",
        None,
        "random per process",
        "signs confirmation tokens and sealed request state; the same for every process of "
        "one deployment",
    ),
    Option(
        "media_dirs",
        "OPENTWEET_MCP_MEDIA_DIRS",
        "--media-dir",
        "—",
        "folders upload_media may read (the flag repeats; the variable is :-separated)",
        {"action": "append"},
    ),
    Option(
        "timeout",
        "OPENTWEET_TIMEOUT",
        "--timeout",
        "30",
        "seconds per upstream request",
        {"type": float},
    ),
    Option(
        "rate_per_minute",
        "OPENTWEET_RATE_PER_MINUTE",
        "--rate-per-minute",
        "60",
        "upstream requests a minute per key (your plan's rate: Pro 60, Advanced 300)",
        {"type": int},
    ),
    Option(
        "transport",
        None,
        "--transport",
        "stdio",
        "MCP transport: stdio, sse or http",
        {"choices": TRANSPORTS},
    ),
    Option("host", None, "--host", "127.0.0.1", "bind address for sse and http"),
    Option("port", None, "--port", "8000", "port for sse and http", {"type": int}),
    Option(
        "stateless",
        "OPENTWEET_MCP_STATELESS",
        "--stateless",
        "off",
        "stateless streamable HTTP",
        {"action": "store_true", "default": None},
    ),
    Option(
        "workers",
        "OPENTWEET_MCP_WORKERS",
        "--workers",
        "1",
        "processes serving --transport http --stateless",
        {"type": int},
    ),
    Option(
        "allowed_hosts",
        "OPENTWEET_MCP_ALLOWED_HOSTS",
        "--allowed-host",
        "loopback only",
        "extra Host values accepted over HTTP (the flag repeats; the variable is a comma list)",
        {"action": "append"},
    ),
    Option(
        "allowed_origins",
        "OPENTWEET_MCP_ALLOWED_ORIGINS",
        "--allowed-origin",
        "loopback only",
        "Origin values accepted over HTTP (the flag repeats; the variable is a comma list)",
        {"action": "append"},
    ),
    Option(
        "log_level",
        "OPENTWEET_MCP_LOG_LEVEL",
        "--log-level",
        "warning",
        "stderr log level",
        {"choices": LOG_LEVELS},
    ),
    Option(
        "auth_token",
        "OPENTWEET_MCP_AUTH_TOKEN",
        None,
        "—",
        "bearer token for the HTTP endpoint (required off loopback; 32+ characters)",
    ),
    Option(
        "redis_url",
        "OPENTWEET_MCP_REDIS_URL",
        None,
        "—",
        "shared state for several replicas (needs the redis extra)",
    ),
    Option(
        "provider",
        "OPENTWEET_MCP_PROVIDER",
        "--provider",
        "opentweet",
        "where posts go: opentweet (its API) or x (the X API directly, after "
        "`opentweet-mcp login x`; drafts and the schedule kept locally)",
        {"choices": PROVIDERS},
    ),
    Option(
        "scheduler",
        "OPENTWEET_MCP_SCHEDULER",
        "--scheduler",
        "off",
        "with --provider x: publish due scheduled posts from this server process too (else run "
        "`opentweet-mcp scheduler`)",
        {"action": "store_true", "default": None},
    ),
    Option(
        "x_client_id",
        "OPENTWEET_X_CLIENT_ID",
        None,
        "—",
        "your X developer app's OAuth 2.0 client id (for `opentweet-mcp login x`)",
    ),
    Option(
        "x_client_secret",
        "OPENTWEET_X_CLIENT_SECRET",
        None,
        "—",
        "its client secret, for a confidential client (a public one has none)",
    ),
    Option("x_api_root", "OPENTWEET_X_API_ROOT", None, "https://api.x.com", "the X API"),
    Option(
        "x_authorize_url",
        "OPENTWEET_X_AUTHORIZE_URL",
        None,
        "https://x.com/i/oauth2/authorize",
        "where X asks the person to authorize the app",
    ),
    Option(
        "x_redirect_port",
        "OPENTWEET_X_REDIRECT_PORT",
        None,
        "8976",
        "the loopback port of the sign-in's callback (register http://127.0.0.1:PORT/callback)",
    ),
    Option(
        "sandbox",
        None,
        "--sandbox",
        "off",
        "run against the embedded simulator (an optional SQLite file keeps its state)",
        {"nargs": "?", "const": ":memory:", "default": None, "metavar": "DB_PATH"},
    ),
)

BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}


def environment_help() -> str:
    """The `environment:` part of `--help`: every variable and its flag."""
    lines = ["environment (the flag wins):"]
    for option in OPTIONS:
        if option.env is None:
            continue
        flag = f" ({option.flag})" if option.flag else ""
        lines.append(f"  {option.env}{flag}: {option.help}; default {option.default}")
    return "\n".join(lines) + "\n"


def env_name(name: str) -> str:
    """The environment variable of a setting (a KeyError for one that has none: a bug)."""
    env = BY_NAME[name].env
    if env is None:
        raise KeyError(f"setting {name!r} has no environment variable")
    return env


def readme_table() -> str:
    """The README's configuration table, as this table says it (a test keeps them equal)."""
    rows = ["| env | flag | default | meaning |", "|---|---|---|---|"]
    for option in OPTIONS:
        env = f"`{option.env}`" if option.env else "—"
        flag = f"`{option.flag}`" if option.flag else "—"
        default = option.default if option.default in ("—", "off") else f"`{option.default}`"
        rows.append(f"| {env} | {flag} | {default} | {option.help} |")
    return "\n".join(rows)
