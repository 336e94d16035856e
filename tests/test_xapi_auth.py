"""Signing in to X (OAuth 2.0 with PKCE through a browser and a loopback listener) and keeping
the tokens: a file of the user's alone, refreshed once however many processes ask at once."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from opentweet_mcp.xapi.auth import SignInError, TokenFile, Tokens, XApp, login


def browser_that_approves(url: str) -> None:
    """A person who clicks "Authorize app": the page's link, then the redirect home."""
    httpx2.get(url + "&approve=1", follow_redirects=True, timeout=10)


def app_for(served: tuple[str, Any]) -> XApp:
    base = served[0]
    served[1].xsim.reset()
    return XApp(
        "test-client", api_root=base, authorize_url=f"{base}/i/oauth2/authorize", redirect_port=0
    )


def token_requests(served: tuple[str, Any]) -> list[dict[str, Any]]:
    return [r for r in served[1].xsim.store.requests() if r["path"] == "/2/oauth2/token"]


def test_login_saves_tokens_only_the_user_can_read(
    xsim_server: tuple[str, Any],
    tmp_path: Path,
) -> None:
    app = app_for(xsim_server)
    tokens = TokenFile(tmp_path / "state" / "x-tokens.json", app)
    signed_in = login(app, tokens, browser_that_approves, timeout=20)
    assert signed_in.refresh_token and signed_in.expires_at > time.time() + 7000
    assert "tweet.write" in signed_in.scope.split()
    assert stat.S_IMODE(tokens.path.stat().st_mode) == 0o600
    assert tokens.load() == signed_in
    me = httpx2.get(
        f"{app.api_root}/2/users/me",
        headers={"Authorization": f"Bearer {tokens.access_token()}"},
    )
    assert me.json()["data"]["username"] == "sandbox_user"


def test_a_browser_that_comes_back_with_another_state_saves_nothing(
    xsim_server: tuple[str, Any],
    tmp_path: Path,
) -> None:
    app = app_for(xsim_server)
    tokens = TokenFile(tmp_path / "x-tokens.json", app)

    def forged(url: str) -> None:  # an answer to some other sign-in
        redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        httpx2.get(redirect, params={"code": "x", "state": "other"}, timeout=10)

    with pytest.raises(SignInError, match="state does not match"):
        login(app, tokens, forged, timeout=20)
    assert tokens.load() is None and token_requests(xsim_server) == []


def test_processes_refreshing_at_once_spend_the_refresh_token_once(
    xsim_server: tuple[str, Any],
    tmp_path: Path,
) -> None:
    app = app_for(xsim_server)
    tokens = TokenFile(tmp_path / "x-tokens.json", app)
    signed_in = login(app, tokens, browser_that_approves, timeout=20)
    tokens.save(replace(signed_in, expires_at=time.time() + 60))  # due for a refresh
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from opentweet_mcp.xapi.auth import TokenFile, XApp\n"
        f"app = XApp('test-client', api_root={app.api_root!r})\n"
        "print(TokenFile(Path(sys.argv[1]), app).access_token())\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tokens.path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outputs
    handed = {out.strip() for out, _ in outputs}
    assert len(handed) == 1 and signed_in.access_token not in handed  # one new token for all
    refreshes = [
        r for r in token_requests(xsim_server) if "refresh_token" in json.dumps(r["body"] or "")
    ]
    grants = [r for r in token_requests(xsim_server) if r["status"] == 200]
    assert len(grants) == 2, grants  # the sign-in, then exactly one refresh
    assert len(refreshes) <= 1
    saved = tokens.load()
    assert isinstance(saved, Tokens) and saved.access_token in handed
    me = httpx2.get(
        f"{app.api_root}/2/users/me", headers={"Authorization": f"Bearer {saved.access_token}"}
    )
    assert me.status_code == 200


def test_an_expired_sign_in_without_a_refresh_token_says_what_to_do(
    xsim_server: tuple[str, Any],
    tmp_path: Path,
) -> None:
    app = app_for(xsim_server)
    tokens = TokenFile(tmp_path / "x-tokens.json", app)
    with pytest.raises(SignInError, match="run `opentweet-mcp login x`"):
        tokens.access_token()
    tokens.save(Tokens("old", None, time.time() - 1, "tweet.read"))
    with pytest.raises(SignInError, match="holds no refresh token"):
        tokens.access_token()


def test_the_login_command_signs_in_through_the_browser(
    xsim_server: tuple[str, Any],
    tmp_path: Path,
) -> None:
    app_for(xsim_server)
    browser = tmp_path / "browser"
    browser.write_text(
        f"#!{sys.executable}\nimport sys, httpx2\n"
        "httpx2.get(sys.argv[1] + '&approve=1', follow_redirects=True, timeout=10)\n"
    )
    browser.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "BROWSER": str(browser),
        "OPENTWEET_X_CLIENT_ID": "test-client",
        "OPENTWEET_X_API_ROOT": xsim_server[0],
        "OPENTWEET_X_AUTHORIZE_URL": f"{xsim_server[0]}/i/oauth2/authorize",
        "OPENTWEET_X_REDIRECT_PORT": "0",
    }

    def login_x(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "opentweet_mcp", "login", "x"]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    proc = login_x(env)
    assert proc.returncode == 0, proc.stderr
    saved = tmp_path / "state" / "opentweet-mcp" / "x-tokens.json"
    assert f"tokens kept in {saved}" in proc.stdout
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    unset = {k: v for k, v in env.items() if k != "OPENTWEET_X_CLIENT_ID"}
    missing = login_x(unset)
    assert missing.returncode == 2 and "OPENTWEET_X_CLIENT_ID is not set" in missing.stderr
