"""Signing in to X with OAuth 2.0 (authorization code with PKCE), and keeping the tokens.

`login` runs the flow a desktop app should: a PKCE verifier and an S256 challenge, a random
`state` checked on the way back, a one-shot listener on 127.0.0.1 for the redirect, the code
exchanged for tokens. The tokens are kept in the state folder, readable by the user alone.

Access tokens live two hours; refresh tokens work **once**. So `TokenFile.access_token` refreshes
ahead of expiry under an exclusive lock on the file: several processes (a server, `call`, the
scheduler) may want a token at the same moment, and only the first refreshes — the others wait,
read what it wrote, and use that. A lost race never spends a refresh token twice, so it never
signs the user out.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2

from opentweet_mcp.config import ConfigError, Settings

SCOPES = ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write")
REFRESH_AHEAD = 300.0  # seconds before expiry a token is refreshed
CALLBACK_PATH = "/callback"


class SignInError(Exception):
    """Signing in or refreshing failed; the message says what to do."""


class TokenServiceDown(SignInError):
    """X's token service could not answer (unreachable, or 5xx): try again later; the sign-in
    itself still holds."""


@dataclass(frozen=True)
class XApp:
    """The X developer app the user signs in to, and where X is."""

    client_id: str
    client_secret: str | None = None  # confidential clients only
    api_root: str = "https://api.x.com"
    authorize_url: str = "https://x.com/i/oauth2/authorize"
    # X accepts only the callback URLs registered for the app, port included: register
    # http://127.0.0.1:8976/callback (0 takes any free port: tests and simulators)
    redirect_port: int = 8976

    @classmethod
    def from_settings(cls, settings: Settings) -> XApp:
        if not settings.x_client_id:
            raise ConfigError(
                "OPENTWEET_X_CLIENT_ID is not set: the OAuth 2.0 client id of your X developer "
                'app (README, "Post directly to X")'
            )
        return cls(
            settings.x_client_id,
            settings.x_client_secret,
            api_root=settings.x_api_root,
            authorize_url=settings.x_authorize_url,
            redirect_port=settings.x_redirect_port,
        )

    def token_request(self, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """The form and headers of a token request: a confidential client authenticates with
        Basic, a public one names itself in the form."""
        if self.client_secret:
            pair = f"{self.client_id}:{self.client_secret}".encode()
            return form, {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
        return form | {"client_id": self.client_id}, {}


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: float  # epoch seconds
    scope: str

    @classmethod
    def from_answer(cls, answer: dict[str, Any], now: float) -> Tokens:
        try:
            return cls(
                access_token=str(answer["access_token"]),
                refresh_token=answer.get("refresh_token"),
                expires_at=now + float(answer.get("expires_in", 7200)),
                scope=str(answer.get("scope", "")),
            )
        except (KeyError, TypeError, ValueError):
            raise SignInError("X answered the token request without an access token") from None


def pkce_pair() -> tuple[str, str]:
    """A code verifier (43 characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _token_call(app: XApp, form: dict[str, str], now: float) -> Tokens:
    body, headers = app.token_request(form)
    try:
        answer = httpx2.post(
            f"{app.api_root}/2/oauth2/token", data=body, headers=headers, timeout=30
        )
    except httpx2.HTTPError as exc:
        raise TokenServiceDown(f"X could not be reached for a token: {exc}") from None
    try:
        payload = answer.json()
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    if answer.status_code != 200:
        said = payload.get("error_description") or payload.get("error") or answer.text[:200]
        failure = TokenServiceDown if answer.status_code >= 500 else SignInError
        raise failure(f"X refused the token request (HTTP {answer.status_code}): {said}")
    return Tokens.from_answer(payload, now)


# --- signing in ------------------------------------------------------------------------------


class _Callback(BaseHTTPRequestHandler):
    """The one request the browser brings back: its query, kept for `login`."""

    found: dict[str, list[str]] | None = None

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH:
            self.send_error(404)
            return
        type(self).found = parse_qs(parts.query)
        body = b"Signed in: you can close this tab and go back to opentweet-mcp."
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # stderr stays quiet
        return


def login(
    app: XApp,
    tokens: TokenFile,
    open_browser: Callable[[str], object],
    *,
    timeout: float = 300.0,
    clock: Callable[[], float] = time.time,
) -> Tokens:
    """The authorization code flow with PKCE, through the user's browser and a one-shot
    listener on 127.0.0.1; the tokens are saved in `tokens`."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)

    class Handler(_Callback):  # its own `found`, for this sign-in alone
        found = None

    try:
        listener = HTTPServer(("127.0.0.1", app.redirect_port), Handler)
    except OSError as exc:
        raise SignInError(
            f"cannot listen on 127.0.0.1:{app.redirect_port} for X's answer: {exc}"
        ) from None
    redirect_uri = f"http://127.0.0.1:{listener.server_port}{CALLBACK_PATH}"
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(SCOPES),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    listener.timeout = 0.2
    thread = threading.Thread(
        target=open_browser, args=(f"{app.authorize_url}?{urlencode(query)}",), daemon=True
    )
    thread.start()
    deadline = clock() + timeout
    try:
        while Handler.found is None:
            if clock() > deadline:
                raise SignInError(
                    "no answer from the browser in time; run `opentweet-mcp login x` again"
                )
            listener.handle_request()
    finally:
        listener.server_close()
    found = Handler.found
    if found.get("state") != [state]:
        raise SignInError("the answer's state does not match this sign-in; nothing was saved")
    if "error" in found:
        raise SignInError(f"X did not authorize the app: {found['error'][0]}")
    code = (found.get("code") or [""])[0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    signed_in = _token_call(app, form, clock())
    tokens.save(signed_in)
    return signed_in


# --- keeping the tokens ----------------------------------------------------------------------


def write_private(path: Path, value: Any) -> None:
    """`value` as JSON in a file of the user's alone (0600, in a 0700 folder), written
    atomically: a new file renamed over the old, so a reader never sees half of it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fresh = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(value, file)
    os.replace(fresh, path)


class TokenFile:
    """The tokens in a file of the user's alone (0600), refreshed under an exclusive lock."""

    def __init__(self, path: Path, app: XApp, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.app = app
        self.clock = clock

    def load(self) -> Tokens | None:
        try:
            return Tokens(**json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            raise SignInError(
                f"{self.path} is not a token file; run `opentweet-mcp login x`"
            ) from None

    def save(self, tokens: Tokens) -> None:
        write_private(self.path, asdict(tokens))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def access_token(self) -> str:
        """A token good for a few minutes more, refreshed first if it is not."""
        tokens = self.load()
        if tokens is None:
            raise SignInError("not signed in to X: run `opentweet-mcp login x`")
        if tokens.expires_at - self.clock() > REFRESH_AHEAD:
            return tokens.access_token
        with self._locked():
            tokens = self.load()  # another process may have refreshed while we waited
            assert tokens is not None
            if tokens.expires_at - self.clock() > REFRESH_AHEAD:
                return tokens.access_token
            if not tokens.refresh_token:
                raise SignInError(
                    "the X sign-in has expired and holds no refresh token: run "
                    "`opentweet-mcp login x`"
                )
            form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
            renewed = _token_call(self.app, form, self.clock())
            self.save(renewed)
            return renewed.access_token
