"""Configuration: flags over environment, and every bad setting stops the start with exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from opentweet_mcp.config import TOOLSET_NAMES, ConfigError, FlagValues, api_root, load_settings


def settings(env: dict[str, str] | None = None, **flags: object) -> object:
    return load_settings(FlagValues(**flags), {"OPENTWEET_API_KEY": "pro_k", **(env or {})})


def test_defaults() -> None:
    s = load_settings(FlagValues(), {"OPENTWEET_API_KEY": "pro_k"})
    assert s.toolsets == TOOLSET_NAMES
    assert s.base_url == "https://opentweet.io"
    assert s.confirm == "auto" and s.timeout == 30 and not s.read_only
    assert "pro_k" not in repr(s)


def test_flag_beats_env() -> None:
    s = load_settings(
        FlagValues(base_url="http://127.0.0.1:9/", toolsets="posts", timeout=5),
        {
            "OPENTWEET_API_KEY": "k",
            "OPENTWEET_BASE_URL": "https://elsewhere",
            "OPENTWEET_MCP_TOOLSETS": "account",
            "OPENTWEET_TIMEOUT": "9",
        },
    )
    assert s.base_url == "http://127.0.0.1:9"
    assert s.toolsets == ("posts",)
    assert s.timeout == 5


@pytest.mark.parametrize("raw,expected", [("1", True), ("yes", True), ("off", False), ("0", False)])
def test_boolean_env(raw: str, expected: bool) -> None:
    s = load_settings(FlagValues(), {"OPENTWEET_API_KEY": "k", "OPENTWEET_MCP_READ_ONLY": raw})
    assert s.read_only is expected


@pytest.mark.parametrize(
    "env,flags,message",
    [
        ({"OPENTWEET_MCP_TOOLSETS": "posts,nope"}, {}, "unknown toolset 'nope'"),
        ({"OPENTWEET_MCP_READ_ONLY": "maybe"}, {}, "OPENTWEET_MCP_READ_ONLY"),
        ({}, {"confirm": "never"}, "confirm mode"),
        ({}, {"media_dirs": ["/does/not/exist"]}, "media dir"),
        ({}, {"transport": "http", "host": "0.0.0.0"}, "OPENTWEET_MCP_AUTH_TOKEN"),
        ({"OPENTWEET_TIMEOUT": "soon"}, {}, "timeout"),
        ({"OPENTWEET_MCP_DAILY_PUBLISH_LIMIT": "lots"}, {}, "whole number"),
    ],
)
def test_bad_settings(env: dict[str, str], flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(env, **flags)


def test_missing_key_is_an_error_unless_sandbox() -> None:
    with pytest.raises(ConfigError, match="OPENTWEET_API_KEY"):
        load_settings(FlagValues(), {})
    assert load_settings(FlagValues(sandbox=True), {}).sandbox


STRONG = "s" * 32


def test_non_loopback_bind_with_token_is_allowed() -> None:
    s = settings({"OPENTWEET_MCP_AUTH_TOKEN": STRONG}, transport="http", host="0.0.0.0")
    assert s.host == "0.0.0.0"  # type: ignore[attr-defined]


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_a_weak_bearer_token_is_refused_at_start(host: str) -> None:
    with pytest.raises(ConfigError, match="is 31 characters; a bearer token must have at least 32"):
        settings({"OPENTWEET_MCP_AUTH_TOKEN": "s" * 31}, transport="http", host=host)
    # stdio serves no HTTP: the token is unused there
    assert settings({"OPENTWEET_MCP_AUTH_TOKEN": "t"})


def test_workers_need_stateless_http_and_share_one_secret() -> None:
    many = settings(transport="http", stateless=True, workers=2)
    assert many.workers == 2 and many.secret  # type: ignore[attr-defined]
    assert settings({"OPENTWEET_MCP_WORKERS": "3"}, transport="http", stateless=True).workers == 3  # type: ignore[attr-defined]
    for flags in ({"transport": "http"}, {"transport": "sse", "stateless": True}, {}):
        with pytest.raises(ConfigError, match="--workers needs --transport http --stateless"):
            settings(workers=2, **flags)
    for bad in (0, 65):
        with pytest.raises(ConfigError, match="between 1 and 64"):
            settings(transport="http", stateless=True, workers=bad)


def test_media_dirs_from_env(tmp_path: Path) -> None:
    s = settings({"OPENTWEET_MCP_MEDIA_DIRS": f"{tmp_path}:{tmp_path}"})
    assert s.media_dirs == (tmp_path.resolve(), tmp_path.resolve())  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "args,env,needle",
    [
        ([], {}, "OPENTWEET_API_KEY is not set"),
        (["--toolsets", "bogus", "--sandbox"], {}, "unknown toolset"),
        (["--exclude-tools", "no_such_tool", "--sandbox"], {}, "unknown tool 'no_such_tool'"),
    ],
)
def test_cli_bad_configuration_exits_2(args: list[str], env: dict[str, str], needle: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "opentweet_mcp", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "spelling",
    [
        "https://opentweet.io",
        "HTTPS://OpenTweet.IO:443/",
        "https://opentweet.io//",
        "https://opentweet.io/./",
        "https://opentweet.io/api/../",
        " https://opentweet.io ",
    ],
)
def test_every_spelling_of_a_root_is_one_root(spelling: str) -> None:
    """Approvals, budgets and idempotency results are kept per root: one root, one key."""
    assert api_root(spelling) == "https://opentweet.io"


@pytest.mark.parametrize(
    "spelling", ["http://127.1:8765", "http://0x7f.0.0.1:8765/", "http://[::ffff:127.0.0.1]:8765"]
)
def test_addresses_have_one_spelling(spelling: str) -> None:
    assert api_root(spelling) == "http://127.0.0.1:8765"


@pytest.mark.parametrize(
    "bad", ["ftp://opentweet.io", "https://user:pw@opentweet.io", "https://opentweet.io/?a=1", "x"]
)
def test_what_is_not_a_plain_root_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        api_root(bad)


def test_every_setting_is_declared_once_and_the_readme_says_the_same() -> None:
    """options.py drives the flags, --help and the environment's names; the README's table
    is what it says."""
    import dataclasses
    import inspect
    from pathlib import Path

    from opentweet_mcp import config
    from opentweet_mcp.config import Settings
    from opentweet_mcp.options import OPTIONS, readme_table

    names = {option.name for option in OPTIONS}
    settings_fields = {f.name for f in dataclasses.fields(Settings)}
    assert names <= settings_fields | {"sandbox"}
    flagged = {o.name for o in OPTIONS if o.flag} | {"sandbox_db"}
    assert {f.name for f in dataclasses.fields(FlagValues)} == flagged
    # no environment variable is spelled out in load_settings: each comes from the table
    assert '"OPENTWEET_' not in inspect.getsource(config.load_settings)
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert readme_table() in readme, "README's configuration table: paste options.readme_table()"
