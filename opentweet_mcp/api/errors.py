"""Every way an OpenTweet call can fail, as types: one base class, flat subclasses.

Each error knows what failed (status, upstream message) and says what to do about it (`hint`),
so the tool layer maps them to results in one place without parsing strings. Bodies reach
these classes already redacted by the client; nothing here ever sees the API key.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

CHECK_BEFORE_RETRY = "The request may have been applied; check with list_posts before retrying."


class OpenTweetError(Exception):
    """Base of every error raised by the OpenTweet client."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class ApiError(OpenTweetError):
    """The upstream answered with an HTTP error status; the request was refused or failed."""

    default_hint = "The request failed upstream."

    def __init__(
        self,
        status: int,
        *,
        upstream_message: str | None = None,
        code: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
        method: str = "",
        path: str = "",
        hint: str | None = None,
    ) -> None:
        self.status = status
        self.upstream_message = upstream_message
        self.code = code
        self.body = body
        self.retry_after = retry_after
        self.method = method
        self.path = path
        super().__init__(self._describe(), hint=hint or self.default_hint)

    def _describe(self) -> str:
        try:
            reason = HTTPStatus(self.status).phrase
        except ValueError:
            reason = "HTTP error"
        where = f" on {self.method} {self.path}" if self.method else ""
        said = self.upstream_message or "no message from the server"
        return f"HTTP {self.status} {reason}{where}: {said}"


class BadRequest(ApiError):
    """400/422: the upstream rejected the fields of the request."""

    default_hint = "The request was rejected as invalid: fix what the message names and retry."


class AuthError(ApiError):
    """401: the API key is missing, malformed or revoked."""

    default_hint = (
        "The OpenTweet API key was rejected: check OPENTWEET_API_KEY "
        "(create or copy a key in the OpenTweet dashboard under API)."
    )


class Forbidden(ApiError):
    """403: no active subscription, X account not connected, or the plan is too low."""

    default_hint = (
        "Access denied: this needs an active OpenTweet subscription, a connected X account, "
        "or a higher plan (check get_account)."
    )


class NotFound(ApiError):
    """404: no such post, evergreen entry or account for this API key."""

    default_hint = "Nothing with that id exists for this account: check the id with list_posts."


class Conflict(ApiError):
    """409: the request clashes with the current state (e.g. already published)."""

    default_hint = "The request conflicts with the current state: re-read it with get_post."


class PayloadTooLarge(ApiError):
    """413: the upload is bigger than the upstream accepts."""

    default_hint = "The file is too large: images up to 5 MB, videos up to 20 MB."


class RateLimited(ApiError):
    """429: rate limit, daily post limit, URL-post cap, evergreen pool full, or a cooldown.

    `url_limit` is the upstream `urlLimit` payload: when present the post was saved as a draft
    instead of being published. `next_available_at` comes with cooldowns (best-times analysis).
    """

    default_hint = (
        "Rate or daily limit reached: wait a minute for the per-minute rate, or until tomorrow "
        "(UTC) for the daily post limit; get_account shows the remaining posts."
    )

    def __init__(
        self,
        status: int = 429,
        *,
        url_limit: Any = None,
        next_available_at: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.url_limit = url_limit
        self.next_available_at = next_available_at
        super().__init__(status, **kwargs)


class ServerError(ApiError):
    """5xx on a request that is safe to repeat (after the retries ran out)."""

    default_hint = "OpenTweet had a server error; try again in a moment."


class OutcomeUnknown(OpenTweetError):
    """A write that is not safe to repeat failed in a way that hides whether it was applied.

    Raised for read timeouts, connections dropped after the request was written, and 5xx
    answers to non-idempotent POSTs. It is never retried automatically.
    """

    def __init__(
        self,
        *,
        method: str,
        path: str,
        reason: str,
        status: int | None = None,
        upstream_message: str | None = None,
        body: Any = None,
    ) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        self.status = status
        self.upstream_message = upstream_message
        self.body = body
        head = f"HTTP {status} on " if status is not None else ""
        said = f": {upstream_message}" if upstream_message else ""
        message = f"Outcome unknown: {head}{method} {path} failed ({reason}){said}"
        super().__init__(message, hint=CHECK_BEFORE_RETRY)


class UpstreamUnavailable(OpenTweetError):
    """No usable answer was obtained from OpenTweet.

    For a non-idempotent write this is raised only when the request provably never left
    (connection refused, DNS failure, connect or pool timeout). For GET/PUT/DELETE it also
    covers attempts lost in transit, since repeating those is harmless; `maybe_applied` then
    says a PUT or DELETE may have taken effect before its answer was lost, so it is not proof
    that nothing happened (approvals and budgets are not given back).
    """

    def __init__(
        self, *, method: str, path: str, reason: str, attempts: int, maybe_applied: bool = False
    ) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        self.attempts = attempts
        self.maybe_applied = maybe_applied
        tries = "attempt" if attempts == 1 else "attempts"
        message = (
            f"OpenTweet unreachable: {method} {path} failed ({reason}) after {attempts} {tries}"
        )
        hint = (
            "The change may have been applied before the answer was lost; check with get_post "
            "before trying again."
            if maybe_applied
            else "Nothing was applied; check the network and OPENTWEET_BASE_URL, then try again."
        )
        super().__init__(message, hint=hint)


class BadResponse(OpenTweetError):
    """A success status with a body that cannot be read: malformed JSON, empty, wrong shape.

    `write` says the request was a non-idempotent write: the upstream said 2xx, so it was most
    likely applied even though its result cannot be shown.
    """

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        write: bool = False,
    ) -> None:
        self.detail = detail
        self.status = status
        self.method = method
        self.path = path
        self.write = write
        parts = [f"HTTP {status}"] if status is not None else []
        if method:
            parts.append(f"on {method} {path}")
        where = " ".join(parts)
        message = (
            f"Unreadable response ({where}): {detail}"
            if where
            else f"Unreadable response: {detail}"
        )
        hint = (
            "The upstream reported success, so the write was probably applied; "
            "check with list_posts before retrying."
            if write
            else "The upstream sent an unexpected response; try again, and report it if it recurs."
        )
        super().__init__(message, hint=hint)


# --- building the right error from a response ----------------------------------------------

_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: AuthError,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: BadRequest,
    429: RateLimited,
}


def upstream_message(body: Any) -> str | None:
    """The human message of an error body: `error`, `message`, `detail`, or the text itself."""
    if isinstance(body, Mapping):
        for key in ("error", "message", "detail", "msg"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:500]
            if isinstance(value, Mapping):
                nested = upstream_message(value)
                if nested:
                    return nested
        return None
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return None


def _code(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    for holder in (body, body.get("error")):
        if isinstance(holder, Mapping):
            value = holder.get("code")
            if isinstance(value, str | int) and not isinstance(value, bool):
                return str(value)
    return None


def _find(body: Any, *keys: str) -> Any:
    """A field at the top level or one level down (`error`, `data`), first key that is set."""
    if not isinstance(body, Mapping):
        return None
    holders = [body] + [body[k] for k in ("error", "data") if isinstance(body.get(k), Mapping)]
    for holder in holders:
        for key in keys:
            if holder.get(key) is not None:
                return holder[key]
    return None


def _forbidden_hint(message: str) -> str:
    text = message.lower()
    if "connect" in text or "x account" in text or "twitter" in text:
        return "Connect an X account in the OpenTweet dashboard, then try again."
    if "advanced" in text or "upgrade" in text or "plan" in text:
        return "Your OpenTweet plan does not include this; it needs a higher plan (e.g. Advanced)."
    if "trial" in text:
        return "Not available during the trial: an active paid subscription is needed."
    if "subscription" in text:
        return "An active OpenTweet subscription is needed for this (drafts work without one)."
    return Forbidden.default_hint


def _rate_limited_hint(
    message: str,
    url_limit: Any,
    next_available_at: str | None,
    retry_after: float | None,
) -> str:
    if url_limit is not None:
        return (
            "The daily cap for posts containing URLs is reached: the post was saved as a draft "
            "instead of being published. Publish it tomorrow (UTC) or remove the URL."
        )
    if next_available_at:
        return f"Still cooling down: try again after {next_available_at}."
    if "pool" in message.lower():
        return "The evergreen pool is full for your plan: remove a post from it first."
    if retry_after is not None:
        return f"Rate limit reached: retry in {retry_after:.0f} s."
    return RateLimited.default_hint


def error_for_status(
    status: int,
    body: Any,
    *,
    method: str,
    path: str,
    retry_after: float | None = None,
    after_ambiguous_attempt: bool = False,
) -> ApiError:
    """The ApiError subclass for `status`, with the upstream message and a hint that fits it."""
    message = upstream_message(body)
    common: dict[str, Any] = {
        "upstream_message": message,
        "code": _code(body),
        "body": body,
        "retry_after": retry_after,
        "method": method,
        "path": path,
    }
    if status == 429:
        url_limit = _find(body, "urlLimit", "url_limit")
        next_at = _find(body, "next_available_at", "nextAvailableAt")
        next_at = str(next_at) if next_at is not None else None
        return RateLimited(
            status,
            url_limit=url_limit,
            next_available_at=next_at,
            hint=_rate_limited_hint(message or "", url_limit, next_at, retry_after),
            **common,
        )
    if status == 403:
        return Forbidden(status, hint=_forbidden_hint(message or ""), **common)
    if status == 404 and method == "DELETE" and after_ambiguous_attempt:
        return NotFound(
            status,
            hint=(
                "An earlier attempt of this delete got no answer and probably succeeded: "
                "the item is gone."
            ),
            **common,
        )
    if status >= 500:
        return ServerError(status, **common)
    if 300 <= status < 400:
        return ApiError(
            status,
            hint="Unexpected redirect: check OPENTWEET_BASE_URL (https://opentweet.io).",
            **common,
        )
    return _BY_STATUS.get(status, ApiError)(status, **common)
