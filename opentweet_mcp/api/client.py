"""OpenTweetClient: one method per upstream operation, all through one request path.

`send()` is the only place that talks HTTP. It applies the API key, the User-Agent, timeouts,
the client-side rate limiter, the retry policy, error mapping, JSON parsing and redaction, so
no tool can forget one of them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import weakref
from types import TracebackType
from typing import Any

import httpx2

from opentweet_mcp import __version__
from opentweet_mcp.api.errors import (
    BadResponse,
    OutcomeUnknown,
    UpstreamUnavailable,
    error_for_status,
    upstream_message,
)
from opentweet_mcp.api.operations import ApiRequest
from opentweet_mcp.api.retry import (
    Failure,
    RateLimiter,
    RetryPolicy,
    TokenBucket,
    classify,
    parse_retry_after,
)

logger = logging.getLogger("opentweet_mcp.api")

DEFAULT_BASE_URL = "https://opentweet.io"
USER_AGENT = f"opentweet-mcp/{__version__}"
REDACTED = "[REDACTED]"

# Shorter "keys" are not secrets worth the damage of blanking every occurrence in user content.
_MIN_SECRET_LENGTH = 4
# Error bodies and log lines also lose anything shaped like a bearer credential, in case an
# upstream echoes a header we do not know; success bodies are user content and keep their text.
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]{8,}")
_MAX_ERROR_TEXT = 2000


def redact_text(text: str, secret: str | None, *, bearer: bool = True) -> str:
    """`text` with `secret` (and, if `bearer`, any bearer credential) blanked out."""
    if secret and len(secret) >= _MIN_SECRET_LENGTH and secret in text:
        text = text.replace(secret, REDACTED)
    if bearer:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return text


def redact(value: Any, secret: str | None, *, bearer: bool = True) -> Any:
    """A copy of a parsed JSON value with the secret removed from every string and key."""
    if isinstance(value, str):
        return redact_text(value, secret, bearer=bearer)
    if isinstance(value, list):
        return [redact(item, secret, bearer=bearer) for item in value]
    if isinstance(value, dict):
        return {
            redact_text(str(k), secret, bearer=bearer): redact(v, secret, bearer=bearer)
            for k, v in value.items()
        }
    return value


def _may_hold(raw: bytes, secret: str) -> bool:
    """Whether a JSON body could decode to text containing `secret`: it holds the key as is,
    or an escape that could spell one of its characters (any \\u; \\" \\\\ \\/ or a control
    escape only if the key has such a character). A cheap test that spares the walk of a body."""
    if secret.encode() in raw or b"\\u" in raw:
        return True
    return b"\\" in raw and any(c in '"\\/' or c < " " for c in secret)


_live_clients: weakref.WeakSet[OpenTweetClient] = weakref.WeakSet()


class _KeyRedactingFilter(logging.Filter):
    """Last line of defence: no record on the api logger can carry a live client's key."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = message
        for client in list(_live_clients):
            clean = redact_text(clean, client._api_key)
        clean = redact_text(clean, None)
        if clean != message:
            record.msg, record.args = clean, None
        return True


logger.addFilter(_KeyRedactingFilter())


def _quiet_transport_logs() -> None:
    # httpx2 logs every request at INFO; on stdio that is noise on stderr for every tool call.
    # Only loggers nobody configured are touched.
    for name in ("httpx2", "httpcore2"):
        named = logging.getLogger(name)
        if named.level == logging.NOTSET:
            named.setLevel(logging.WARNING)


def shared_http(
    base_url: str = DEFAULT_BASE_URL,
    *,
    timeout: float = 30.0,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> httpx2.AsyncClient:
    """The connection pool every key's client may share: the key travels per request, so one
    pool serves any number of users (a pool per key costs nearly a megabyte)."""
    _quiet_transport_logs()
    return httpx2.AsyncClient(
        base_url=base_url.rstrip("/"),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        timeout=httpx2.Timeout(timeout),
        transport=transport,
        follow_redirects=False,
    )


class OpenTweetClient:
    """Async client for the OpenTweet REST API for one API key. It opens its own connection
    pool on first use (close it with `aclose`), or uses a shared one (`http`), which its
    owner closes."""

    name = "OpenTweet"  # where its posts are kept, as previews say it

    def media_note(self, url: str) -> str | None:
        return None  # OpenTweet fetches media from their addresses: nothing to add

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 30.0,
        rate_per_minute: int = 60,
        transport: httpx2.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        http: httpx2.AsyncClient | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise ValueError("an OpenTweet API key is required")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.limiter: RateLimiter = limiter or TokenBucket(rate_per_minute)
        self._transport = transport
        self._shared = http is not None
        self._http: httpx2.AsyncClient | None = http
        self._auth = {"Authorization": f"Bearer {api_key}"}
        _live_clients.add(self)

    def __repr__(self) -> str:
        return f"OpenTweetClient(base_url={self.base_url!r}, api_key=<redacted>)"

    @property
    def api_key_digest(self) -> str:
        """sha256 hex of the key: binds confirmation tokens and ledgers without holding it."""
        return hashlib.sha256(self._api_key.encode("utf-8")).hexdigest()

    # --- lifecycle -----------------------------------------------------------------------

    def _http_client(self) -> httpx2.AsyncClient:
        # Built on first use: creating it loads the TLS trust store (tens of ms), which has
        # no place on the start-up path of a stdio server.
        if self._http is None:
            self._http = shared_http(self.base_url, timeout=self.timeout, transport=self._transport)
        return self._http

    async def aclose(self) -> None:
        """Close its own connection pool (a later call opens a new one); a shared one is
        left to its owner."""
        if self._http is not None and not self._shared:
            http, self._http = self._http, None
            await http.aclose()

    async def __aenter__(self) -> OpenTweetClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- the one request path ------------------------------------------------------------

    async def send(self, request: ApiRequest) -> dict[str, Any]:
        """Perform `request` under the retry policy; the parsed, redacted JSON object.

        Raises an ApiError subclass for an HTTP error status, OutcomeUnknown when a write that
        is unsafe to repeat may or may not have been applied, UpstreamUnavailable when no
        answer could be had, BadResponse when a 2xx body cannot be read.
        """
        http = self._http_client()
        idempotent = request.is_idempotent
        lost_in_transit = False  # an earlier attempt may have reached the server
        attempt = 0
        while True:
            attempt += 1
            await self.limiter.acquire()
            started = time.perf_counter()
            try:
                response = await http.request(
                    request.method, request.path, headers=self._auth, **_http_args(request)
                )
            except httpx2.TransportError as exc:
                failure = classify(exc)
                self._log(request, failure.value, started, attempt)
                delay = self.retry.after_failure(failure, idempotent=idempotent, attempt=attempt)
                if delay is None:
                    lost_in_transit = lost_in_transit or not failure.never_left
                    raise self._transport_error(request, failure, attempt, lost_in_transit) from exc
                lost_in_transit = lost_in_transit or not failure.never_left
                await self.retry.sleep(delay)
                continue
            status = response.status_code
            self._log(request, str(status), started, attempt)
            if 200 <= status < 300:
                return self._read_success(request, response)
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            delay = self.retry.after_status(
                status, idempotent=idempotent, attempt=attempt, retry_after=retry_after
            )
            if delay is not None:
                lost_in_transit = lost_in_transit or status >= 500
                await self.retry.sleep(delay)
                continue
            body = self._read_error_body(response)
            if status >= 500 and not idempotent:
                raise OutcomeUnknown(
                    method=request.method,
                    path=request.path,
                    reason="server error",
                    status=status,
                    upstream_message=upstream_message(body),
                    body=body,
                )
            raise error_for_status(
                status,
                body,
                method=request.method,
                path=request.path,
                retry_after=retry_after,
                after_ambiguous_attempt=lost_in_transit,
            )

    def _log(self, request: ApiRequest, outcome: str, started: float, attempt: int) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.debug(
                "%s %s -> %s in %.0f ms (attempt %d)",
                request.method,
                request.path,
                outcome,
                elapsed_ms,
                attempt,
            )

    def _transport_error(
        self, request: ApiRequest, failure: Failure, attempt: int, lost_in_transit: bool
    ) -> UpstreamUnavailable | OutcomeUnknown:
        """What a request that got no answer tells: `lost_in_transit` says some attempt may
        have reached OpenTweet."""
        if failure.never_left or request.is_idempotent:
            return UpstreamUnavailable(
                method=request.method,
                path=request.path,
                reason=failure.value,
                attempts=attempt,
                maybe_applied=lost_in_transit and request.method.upper() in ("PUT", "DELETE"),
            )
        return OutcomeUnknown(method=request.method, path=request.path, reason=failure.value)

    def _read_success(self, request: ApiRequest, response: httpx2.Response) -> dict[str, Any]:
        if response.status_code == 204:
            return {}

        def bad(detail: str) -> BadResponse:
            return BadResponse(
                detail,
                status=response.status_code,
                method=request.method,
                path=request.path,
                write=not request.is_idempotent,
            )

        raw = response.content
        if not raw.strip():
            raise bad("the body is empty")
        try:
            data = json.loads(raw)
        except ValueError:
            raise bad("the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise bad(f"expected a JSON object, got {type(data).__name__}")
        if not _may_hold(raw, self._api_key):
            return data  # the key is not in the body: nothing to walk (most responses)
        cleaned: dict[str, Any] = redact(data, self._api_key, bearer=False)
        return cleaned

    def _read_error_body(self, response: httpx2.Response) -> Any:
        raw = response.content
        try:
            body: Any = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = raw.decode("utf-8", errors="replace")[:_MAX_ERROR_TEXT]
        return redact(body, self._api_key)


def _http_args(request: ApiRequest) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if request.params:
        args["params"] = list(request.params)
    if request.files is not None:
        upload = request.files
        args["files"] = {upload.field_name: (upload.filename, upload.content, upload.content_type)}
        if request.form:
            args["data"] = dict(request.form)
    elif request.json is not None:
        args["json"] = request.json
    return args
