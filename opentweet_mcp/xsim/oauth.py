"""OAuth 2.0 authorization code with PKCE, as the X API does it (see `xsim.app`)."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from opentweet_mcp.xsim.state import SCOPES_NEEDED, XSim, digest, oauth_error


def _b64url_sha256(text: str) -> str:
    hashed = hashlib.sha256(text.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(hashed).decode().rstrip("=")


# --- OAuth 2.0 with PKCE ---------------------------------------------------------------------


async def authorize(xsim: XSim, request: Request) -> Response:
    query = request.query_params
    redirect_uri = query.get("redirect_uri") or ""
    if query.get("response_type") != "code" or not query.get("client_id") or not redirect_uri:
        raise oauth_error(
            "invalid_request", "response_type=code, client_id and redirect_uri are required"
        )
    if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
        raise oauth_error("invalid_request", "PKCE is required: code_challenge with S256")
    scopes = set((query.get("scope") or "").split())
    if not scopes >= SCOPES_NEEDED:
        raise oauth_error("invalid_scope", f"scope must include {' '.join(sorted(SCOPES_NEEDED))}")
    username = query.get("login") or "sandbox_user"
    if query.get("approve") != "1":  # what a person sees; the button approves
        approve = f"{request.url}&approve=1"
        return HTMLResponse(
            "<!doctype html><title>Authorize app</title>"
            f"<p>{html.escape(query['client_id'])} wants to post as @{html.escape(username)}"
            f" ({html.escape(' '.join(sorted(scopes)))}).</p>"
            f'<p><a id="authorize" href="{html.escape(approve)}">Authorize app</a></p>'
        )
    user = xsim.get("user", username)
    if user is None:
        user = {
            "id": xsim.new_id(),
            "username": username,
            "name": username.replace("_", " ").title(),
        }
        xsim.put("user", username, user)
    code = secrets.token_urlsafe(24)
    xsim.put(
        "code",
        digest(code),
        {
            "user": username,
            "client_id": query["client_id"],
            "redirect_uri": redirect_uri,
            "challenge": query["code_challenge"],
            "scopes": sorted(scopes),
            "expires_at": xsim.clock() + 30,
        },
    )
    sep = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(
        f"{redirect_uri}{sep}{urlencode({'code': code, 'state': query.get('state', '')})}", 302
    )


def _client_id(request: Request, form: dict[str, str]) -> str:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(encoded).decode().partition(":")[0]
        except ValueError:
            raise oauth_error("invalid_client", "Missing valid authorization header", 401) from None
    return form.get("client_id", "")


async def token(xsim: XSim, request: Request) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    client_id = _client_id(request, form)
    grant = form.get("grant_type")
    if grant == "authorization_code":
        record = xsim.get("code", digest(form.get("code", "")))
        if record is None or record["expires_at"] <= xsim.clock():
            raise oauth_error(
                "invalid_request", "Value passed for the authorization code was invalid."
            )
        xsim.drop("code", digest(form["code"]))  # a code works once, even when refused below
        if record["client_id"] != client_id or record["redirect_uri"] != form.get("redirect_uri"):
            raise oauth_error(
                "invalid_request", "client_id or redirect_uri does not match the authorization"
            )
        if _b64url_sha256(form.get("code_verifier", "")) != record["challenge"]:
            raise oauth_error("invalid_request", "Value passed for the code_verifier was invalid.")
        return JSONResponse(_issue(xsim, record["user"], client_id, record["scopes"]))
    if grant == "refresh_token":
        key = digest(form.get("refresh_token", ""))
        record = xsim.get("refresh", key)
        if record is None or record["client_id"] != client_id:
            raise oauth_error("invalid_request", "Value passed for the token was invalid.")
        xsim.drop("refresh", key)  # single use: the answer carries the next one
        return JSONResponse(_issue(xsim, record["user"], client_id, record["scopes"]))
    raise oauth_error(
        "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
    )


def _issue(xsim: XSim, user: str, client_id: str, scopes: list[str]) -> dict[str, Any]:
    ttl = float(xsim.knob("access_token_ttl"))
    access = secrets.token_urlsafe(32)
    xsim.put(
        "access",
        digest(access),
        {"user": user, "scopes": scopes, "expires_at": xsim.clock() + ttl},
    )
    answer: dict[str, Any] = {
        "token_type": "bearer",
        "expires_in": int(ttl),
        "access_token": access,
        "scope": " ".join(scopes),
    }
    if "offline.access" in scopes:
        refresh = secrets.token_urlsafe(32)
        xsim.put(
            "refresh", digest(refresh), {"user": user, "client_id": client_id, "scopes": scopes}
        )
        answer["refresh_token"] = refresh
    return answer
