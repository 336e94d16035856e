"""Settings: environment variables and command-line flags merged into one frozen object.

Everything that can be wrong with the configuration is found here, at start, so the server
either starts with a coherent configuration or exits 2 with one clear line (README,
"Configuration").
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from opentweet_mcp.addresses import canonical_host
from opentweet_mcp.options import CONFIRM_CHOICES, PROVIDERS, env_name

TOOLSET_NAMES: tuple[str, ...] = (
    "account",
    "posts",
    "media",
    "evergreen",
    "inspiration",
    "analytics",
    "compose",
)

ConfirmMode = Literal["auto", "person", "elicit", "token"]
CONFIRM_MODES: tuple[str, ...] = get_args(ConfirmMode)
assert CONFIRM_MODES == CONFIRM_CHOICES  # the flag's choices are the type's values
Transport = Literal["stdio", "sse", "http"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
Provider = Literal["opentweet", "x"]

DEFAULT_BASE_URL = "https://opentweet.io"
MIN_AUTH_TOKEN = 32  # characters of OPENTWEET_MCP_AUTH_TOKEN


class ConfigError(ValueError):
    """The configuration cannot work; the message is the one line shown to the user."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of 1/true/yes/on or 0/false/no/off, got {value!r}")


def parse_csv(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def is_wildcard(host: str) -> bool:
    """A bind address that means every interface."""
    return host in ("0.0.0.0", "::")


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_DEFAULT_PORTS = {"http": 80, "https": 443}
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _path(raw: str) -> str:
    """A URL path without empty or dot segments and with percent escapes in one spelling."""
    segments: list[str] = []
    for segment in raw.split("/"):
        segment = _ESCAPE.sub(
            lambda m: (
                chr(int(m[1], 16)) if chr(int(m[1], 16)) in _UNRESERVED else f"%{m[1].upper()}"
            ),
            segment,
        )
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    return "".join(f"/{segment}" for segment in segments)


def api_root(url: str) -> str:
    """The one spelling of an API root: scheme and host in lower case (IDNA for other
    scripts, addresses in their standard form), no default port, no empty or dot segments,
    no trailing slash.

    Approvals, budgets and idempotency results are kept per root, so two spellings of one
    root must be one key: otherwise a confirmation could be carried out once per spelling.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ConfigError(f"base URL {url!r} is not a valid URL") from None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        raise ConfigError(f"base URL must start with http:// or https://, got {url!r}")
    if parts.username is not None or parts.query or parts.fragment:
        raise ConfigError(f"base URL must be a plain root, without credentials or a query: {url!r}")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ConfigError(f"base URL {url!r} has a host name that is not valid") from None
    host = canonical_host(host)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{_path(parts.path)}"


@dataclass(frozen=True)
class Settings:
    """The whole configuration of one server process."""

    api_key: str | None = None
    base_url: str = DEFAULT_BASE_URL
    x_account_id: str | None = None
    toolsets: tuple[str, ...] = TOOLSET_NAMES
    tools: tuple[str, ...] = ()
    exclude_tools: tuple[str, ...] = ()
    read_only: bool = False
    # every account may post long tweets (X Premium: 25,000 weighted characters, not 280)
    long_posts: bool = False
    daily_publish_limit: int | None = None
    confirm: ConfirmMode = "auto"
    secret: bytes | None = field(default=None, repr=False)
    media_dirs: tuple[Path, ...] = ()
    timeout: float = 30.0
    # upstream requests per minute per key (a client-side limit; Pro allows 60)
    rate_per_minute: int = 60
    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = 8000
    auth_token: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    # set by `call` (one process per call): nonces, idempotency and budgets in a file
    ledger_path: Path | None = None
    stateless: bool = False
    workers: int = 1  # processes serving streamable HTTP (uvicorn's workers)
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    sandbox: bool = False
    sandbox_db: str | None = None
    log_level: LogLevel = "WARNING"
    # how long a call waits for a person's answer on the approvals page before it returns
    approval_wait: float = 60.0
    # where people reach the approvals page of an HTTP deployment (default: its bind address)
    public_url: str | None = None
    # the X developer app `opentweet-mcp login x` signs in to, and where X is
    x_client_id: str | None = None
    x_client_secret: str | None = field(default=None, repr=False)
    x_api_root: str = "https://api.x.com"
    x_authorize_url: str = "https://x.com/i/oauth2/authorize"
    x_redirect_port: int = 8976
    # where posts go: OpenTweet, or X directly (xapi/); and whether this process publishes
    # the X provider's due posts
    provider: Provider = "opentweet"
    scheduler: bool = False
    # where the X provider keeps its sign-in, posts and files (None: the state folder)
    x_state: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", api_root(self.base_url))

    @property
    def upstream(self) -> str:
        """What state (approvals, budgets, idempotency results) is kept for: the API root, or
        for a file-backed sandbox its database, whatever port this run serves it on."""
        if self.provider == "x":
            return "sandbox:x" if self.sandbox else f"x:{self.x_api_root}"
        if self.sandbox and self.sandbox_db and self.sandbox_db != ":memory:":
            return f"sandbox:{Path(self.sandbox_db).resolve()}"
        return self.base_url

    def __repr__(self) -> str:  # the key must never show, even in a debugger or a traceback
        key = "set" if self.api_key else "unset"
        return (
            f"Settings(api_key={key}, base_url={self.base_url!r}, toolsets={self.toolsets!r}, "
            f"read_only={self.read_only}, confirm={self.confirm!r}, transport={self.transport!r}, "
            f"sandbox={self.sandbox})"
        )


@dataclass
class FlagValues:
    """What the command line said; None means "not given" so the environment applies."""

    base_url: str | None = None
    x_account_id: str | None = None
    toolsets: str | None = None
    tools: str | None = None
    exclude_tools: str | None = None
    read_only: bool | None = None
    long_posts: bool | None = None
    daily_publish_limit: int | None = None
    confirm: str | None = None
    media_dirs: list[str] | None = None
    timeout: float | None = None
    rate_per_minute: int | None = None
    transport: str | None = None
    host: str | None = None
    port: int | None = None
    stateless: bool | None = None
    workers: int | None = None
    allowed_hosts: list[str] | None = None
    allowed_origins: list[str] | None = None
    sandbox: bool = False
    sandbox_db: str | None = None
    log_level: str | None = None
    provider: str | None = None
    scheduler: bool | None = None


def _pick(flag: object, env: Mapping[str, str], name: str) -> str | None:
    if flag is not None:
        return str(flag)
    value = env.get(name)
    return value if value not in (None, "") else None


def load_settings(flags: FlagValues, env: Mapping[str, str] | None = None) -> Settings:
    """Merge flags over environment variables and validate the result (raises ConfigError)."""
    env = os.environ if env is None else env

    toolsets = parse_csv(_pick(flags.toolsets, env, env_name("toolsets"))) or ("all",)
    if "all" in toolsets:
        toolsets = TOOLSET_NAMES
    unknown = [name for name in toolsets if name not in TOOLSET_NAMES]
    if unknown:
        raise ConfigError(
            f"unknown toolset {unknown[0]!r}; choose from {', '.join(TOOLSET_NAMES)} or 'all'"
        )

    read_only = _switch(flags.read_only, env, "read_only")
    long_posts = _switch(flags.long_posts, env, "long_posts")

    limit_raw = _pick(flags.daily_publish_limit, env, env_name("daily_publish_limit"))
    daily_limit = _whole("daily publish limit", limit_raw, 0) if limit_raw is not None else None

    confirm = _pick(flags.confirm, env, env_name("confirm")) or "auto"
    if confirm not in CONFIRM_MODES:
        raise ConfigError(f"confirm mode must be auto, person, elicit or token, got {confirm!r}")

    wait_raw = env.get(env_name("approval_wait")) or "60"
    try:
        approval_wait = float(wait_raw)
    except ValueError:
        raise ConfigError(f"approval wait must be a number of seconds, got {wait_raw!r}") from None
    if not 0 <= approval_wait <= 600:
        raise ConfigError("approval wait must be between 0 and 600 seconds")
    public_url = env.get(env_name("public_url")) or None

    timeout_raw = _pick(flags.timeout, env, env_name("timeout")) or "30"
    try:
        timeout = float(timeout_raw)
    except ValueError:
        raise ConfigError(f"timeout must be a number of seconds, got {timeout_raw!r}") from None
    if not 0 < timeout <= 600:
        raise ConfigError("timeout must be between 0 and 600 seconds")

    rate_raw = _pick(flags.rate_per_minute, env, env_name("rate_per_minute")) or "60"
    rate_per_minute = _whole("rate per minute", rate_raw, 1)

    if flags.media_dirs:
        media_raw: list[str] = list(flags.media_dirs)
    else:
        media_raw = [p for p in env.get(env_name("media_dirs"), "").split(os.pathsep) if p]
    media_dirs: list[Path] = []
    for raw in media_raw:
        path = Path(raw).expanduser()
        if not path.is_dir():
            raise ConfigError(f"media dir {raw!r} does not exist or is not a folder")
        media_dirs.append(path.resolve())

    transport = flags.transport or "stdio"
    if transport not in ("stdio", "sse", "http"):
        raise ConfigError(f"transport must be stdio, sse or http, got {transport!r}")
    host = flags.host or "127.0.0.1"
    port = flags.port if flags.port is not None else 8000
    auth_token = env.get(env_name("auth_token")) or None
    if transport != "stdio" and not is_loopback(host) and not auth_token:
        raise ConfigError(
            f"refusing to bind {host} without {env_name('auth_token')}: "
            "a non-loopback bind needs a bearer token"
        )
    if transport != "stdio" and auth_token and len(auth_token) < MIN_AUTH_TOKEN:
        raise ConfigError(
            f"{env_name('auth_token')} is {len(auth_token)} characters; a bearer token must have "
            f'at least {MIN_AUTH_TOKEN} (make one: python -c "import secrets; '
            'print(secrets.token_urlsafe(32))")'
        )

    stateless = _switch(flags.stateless, env, "stateless")
    workers = _whole("workers", _pick(flags.workers, env, env_name("workers")) or "1", 1, 64)
    if workers > 1 and (transport != "http" or not stateless):
        raise ConfigError(
            "--workers needs --transport http --stateless: a session lives in one process, so "
            "a stateful deployment of several processes needs sticky sessions (see README)"
        )
    allowed_hosts = tuple(flags.allowed_hosts or parse_csv(env.get(env_name("allowed_hosts"))))
    allowed_origins = tuple(
        flags.allowed_origins or parse_csv(env.get(env_name("allowed_origins")))
    )

    provider = _pick(flags.provider, env, env_name("provider")) or "opentweet"
    if provider not in PROVIDERS:
        raise ConfigError(f"provider must be {' or '.join(PROVIDERS)}, got {provider!r}")
    scheduler = _switch(flags.scheduler, env, "scheduler")
    if scheduler and provider != "x":
        raise ConfigError("--scheduler publishes the X provider's posts: add --provider x")

    if provider == "x" and not flags.sandbox and not env.get(env_name("x_client_id")):
        raise ConfigError(
            f"--provider x needs {env_name('x_client_id')}: the OAuth 2.0 client id of your X "
            "developer app, then `opentweet-mcp login x` (or try --provider x --sandbox)"
        )
    api_key = env.get(env_name("api_key")) or None
    if provider == "opentweet" and not flags.sandbox and not api_key and transport == "stdio":
        raise ConfigError(
            f"{env_name('api_key')} is not set: set it to your OpenTweet API key, "
            "or run with --sandbox to try the server without an account"
        )

    secret_raw = env.get(env_name("secret")) or None
    if secret_raw is None and workers > 1:  # the workers must agree on tokens and sealed state
        secret_raw = secrets.token_urlsafe(32)
    x_account_id = _pick(flags.x_account_id, env, env_name("x_account_id"))
    base_url = _pick(flags.base_url, env, env_name("base_url")) or DEFAULT_BASE_URL  # see Settings

    log_level = (flags.log_level or env.get(env_name("log_level")) or "WARNING").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"log level must be debug, info, warning or error, got {log_level!r}")

    return Settings(
        api_key=api_key,
        base_url=base_url,
        x_account_id=x_account_id,
        toolsets=toolsets,
        tools=parse_csv(_pick(flags.tools, env, env_name("tools"))),
        exclude_tools=parse_csv(_pick(flags.exclude_tools, env, env_name("exclude_tools"))),
        read_only=read_only,
        long_posts=long_posts,
        daily_publish_limit=daily_limit,
        confirm=confirm,  # type: ignore[arg-type]  # checked against the literal above
        secret=secret_raw.encode() if secret_raw else None,
        media_dirs=tuple(media_dirs),
        timeout=timeout,
        rate_per_minute=rate_per_minute,
        transport=transport,  # type: ignore[arg-type]
        host=host,
        port=port,
        auth_token=auth_token,
        redis_url=env.get(env_name("redis_url")) or None,
        stateless=stateless,
        workers=workers,
        allowed_hosts=allowed_hosts,
        allowed_origins=allowed_origins,
        sandbox=flags.sandbox,
        sandbox_db=flags.sandbox_db,
        log_level=log_level,  # type: ignore[arg-type]
        approval_wait=approval_wait,
        public_url=api_root(public_url) if public_url else None,
        x_client_id=env.get(env_name("x_client_id")) or None,
        x_client_secret=env.get(env_name("x_client_secret")) or None,
        x_api_root=api_root(env.get(env_name("x_api_root")) or "https://api.x.com"),
        x_authorize_url=env.get(env_name("x_authorize_url")) or "https://x.com/i/oauth2/authorize",
        x_redirect_port=_whole(
            "the X redirect port", env.get(env_name("x_redirect_port")) or "8976", 0, 65535
        ),
        provider=provider,  # type: ignore[arg-type]  # checked against PROVIDERS above
        scheduler=scheduler,
    )


def _switch(flag: bool | None, env: Mapping[str, str], name: str) -> bool:
    """A boolean setting: on by its flag, else as its environment variable says."""
    raw = env.get(env_name(name))
    return bool(flag) or (parse_bool(env_name(name), raw) if raw else False)


def _whole(what: str, raw: str, low: int, high: int | None = None) -> int:
    """A whole-number setting within its range, or one clear line."""
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{what} must be a whole number, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"{low} or more"
        raise ConfigError(f"{what} must be {bounds}")
    return value
