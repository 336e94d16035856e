"""The upstream operations as plain request values: one builder per OpenTweet endpoint, named
after the tool that uses it, and `OpenTweetClient.send` the one way any of them is made.

A request is data before it is traffic, so the confirmation gate can digest exactly what will
be sent, the preview can describe it, and the client has one place that turns it into HTTP.
"""

from __future__ import annotations

import hashlib
import json as jsonlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

Params = tuple[tuple[str, str], ...]
ParamValue = str | int | bool | None

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class UploadFile:
    """One file of a multipart upload; the content is left out of the repr (it can be 20 MB)."""

    filename: str
    content: bytes = field(repr=False)
    content_type: str
    field_name: str = "file"


@dataclass(frozen=True)
class ApiRequest:
    """One upstream call: method, path under the base URL, query, and a JSON or multipart body.

    `form` holds the plain fields that travel next to `files` in a multipart body.
    """

    method: str
    path: str
    params: Params = ()
    json: Any = None
    files: UploadFile | None = None
    form: Params = ()

    @property
    def is_idempotent(self) -> bool:
        """Repeating the request cannot do more than doing it once (safe to retry blindly)."""
        return self.method.upper() in IDEMPOTENT_METHODS

    def digest(self) -> str:
        """sha256 hex of a canonical form; equal requests digest equally, whatever key order."""
        canonical: dict[str, Any] = {
            "method": self.method.upper(),
            "path": self.path,
            "params": sorted([k, v] for k, v in self.params),
            "json": self.json,
        }
        if self.files is not None:
            canonical["files"] = {
                "field": self.files.field_name,
                "filename": self.files.filename,
                "content_type": self.files.content_type,
                "sha256": hashlib.sha256(self.files.content).hexdigest(),
            }
        if self.form:
            canonical["form"] = sorted([k, v] for k, v in self.form)
        text = jsonlib.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def query(**values: ParamValue) -> Params:
    """Query parameters in call order, None dropped, booleans spelled the way the API reads them."""
    out: list[tuple[str, str]] = []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out.append((name, "true" if value else "false"))
        else:
            out.append((name, str(value)))
    return tuple(out)


def _segment(value: str) -> str:
    # Ids are validated before they get here; quoting still keeps "../" or "?" from ever
    # steering a request to another endpoint.
    return quote(str(value), safe="")


def _body(body: Mapping[str, Any]) -> dict[str, Any]:
    # None values stay: `scheduled_date: null` is how a post is unscheduled.
    return dict(body)


# --- account -------------------------------------------------------------------------------


def get_account() -> ApiRequest:
    return ApiRequest("GET", "/api/v1/me")


def list_accounts() -> ApiRequest:
    return ApiRequest("GET", "/api/v1/accounts")


# --- posts ---------------------------------------------------------------------------------


def create_post(body: Mapping[str, Any]) -> ApiRequest:
    """One post, a thread, `publish_now`, or a bulk create (`posts: [...]`)."""
    return ApiRequest("POST", "/api/v1/posts", json=_body(body))


def list_posts(
    status: str | None = None,
    page: int | None = None,
    limit: int | None = None,
    x_account_id: str | None = None,
) -> ApiRequest:
    return ApiRequest(
        "GET",
        "/api/v1/posts",
        params=query(status=status, page=page, limit=limit, x_account_id=x_account_id),
    )


def get_post(id: str, x_account_id: str | None = None) -> ApiRequest:
    return ApiRequest(
        "GET", f"/api/v1/posts/{_segment(id)}", params=query(x_account_id=x_account_id)
    )


def update_post(id: str, body: Mapping[str, Any]) -> ApiRequest:
    return ApiRequest("PUT", f"/api/v1/posts/{_segment(id)}", json=_body(body))


def delete_post(id: str, delete_from_x: bool = True, x_account_id: str | None = None) -> ApiRequest:
    """`delete_from_x` is always sent: the upstream default (delete from X too) is not implied."""
    return ApiRequest(
        "DELETE",
        f"/api/v1/posts/{_segment(id)}",
        params=query(delete_from_x=bool(delete_from_x), x_account_id=x_account_id),
    )


def schedule_post(id: str, body: Mapping[str, Any]) -> ApiRequest:
    return ApiRequest("POST", f"/api/v1/posts/{_segment(id)}/schedule", json=_body(body))


def publish_post(id: str, body: Mapping[str, Any] | None = None) -> ApiRequest:
    """No body is needed upstream; one is sent only to carry e.g. `x_account_id`."""
    return ApiRequest(
        "POST",
        f"/api/v1/posts/{_segment(id)}/publish",
        json=None if body is None else _body(body),
    )


def batch_schedule_posts(body: Mapping[str, Any]) -> ApiRequest:
    return ApiRequest("POST", "/api/v1/posts/batch-schedule", json=_body(body))


# --- media ---------------------------------------------------------------------------------


def upload_media(
    filename: str,
    content: bytes,
    content_type: str,
    x_account_id: str | None = None,
    alt_text: str | None = None,  # the X provider's alone (providers.LACKS)
) -> ApiRequest:
    return ApiRequest(
        "POST",
        "/api/v1/upload",
        files=UploadFile(filename=filename, content=content, content_type=content_type),
        form=query(x_account_id=x_account_id, alt_text=alt_text),
    )


# --- evergreen -----------------------------------------------------------------------------


def get_evergreen_settings() -> ApiRequest:
    return ApiRequest("GET", "/api/v1/evergreen/settings")


def update_evergreen_settings(body: Mapping[str, Any]) -> ApiRequest:
    return ApiRequest("PUT", "/api/v1/evergreen/settings", json=_body(body))


def list_evergreen_posts(
    page: int | None = None,
    limit: int | None = None,
    paused: bool | None = None,
    x_account_id: str | None = None,
) -> ApiRequest:
    return ApiRequest(
        "GET",
        "/api/v1/evergreen/posts",
        params=query(page=page, limit=limit, paused=paused, x_account_id=x_account_id),
    )


def add_to_evergreen(body: Mapping[str, Any]) -> ApiRequest:
    return ApiRequest("POST", "/api/v1/evergreen/posts", json=_body(body))


def get_evergreen_post(id: str, x_account_id: str | None = None) -> ApiRequest:
    return ApiRequest(
        "GET", f"/api/v1/evergreen/posts/{_segment(id)}", params=query(x_account_id=x_account_id)
    )


def update_evergreen_post(id: str, body: Mapping[str, Any]) -> ApiRequest:
    return ApiRequest("PUT", f"/api/v1/evergreen/posts/{_segment(id)}", json=_body(body))


def remove_from_evergreen(id: str, x_account_id: str | None = None) -> ApiRequest:
    return ApiRequest(
        "DELETE",
        f"/api/v1/evergreen/posts/{_segment(id)}",
        params=query(x_account_id=x_account_id),
    )


def get_evergreen_history(
    page: int | None = None,
    limit: int | None = None,
    source_id: str | None = None,
    x_account_id: str | None = None,
) -> ApiRequest:
    return ApiRequest(
        "GET",
        "/api/v1/evergreen/history",
        params=query(page=page, limit=limit, source_id=source_id, x_account_id=x_account_id),
    )


# --- inspiration ---------------------------------------------------------------------------


def search_inspiration(
    q: str,
    max_results: int | None = None,
    sort_order: str | None = None,
    lang: str | None = None,
    has_media: bool | None = None,
    min_likes: int | None = None,
    min_retweets: int | None = None,
    x_account_id: str | None = None,
) -> ApiRequest:
    return ApiRequest(
        "GET",
        "/api/v1/inspiration/search",
        params=query(
            q=q,
            max_results=max_results,
            sort_order=sort_order,
            lang=lang,
            has_media=has_media,
            min_likes=min_likes,
            min_retweets=min_retweets,
            x_account_id=x_account_id,
        ),
    )


def repurpose_tweet(body: Mapping[str, Any]) -> ApiRequest:
    return ApiRequest("POST", "/api/v1/inspiration/repurpose", json=_body(body))


# --- analytics -----------------------------------------------------------------------------


def get_analytics_overview(x_account_id: str | None = None) -> ApiRequest:
    return ApiRequest("GET", "/api/v1/analytics/overview", params=query(x_account_id=x_account_id))


def get_tweet_analytics(
    period: int | str | None = None, x_account_id: str | None = None
) -> ApiRequest:
    return ApiRequest(
        "GET", "/api/v1/analytics/tweets", params=query(period=period, x_account_id=x_account_id)
    )


def get_best_times(x_account_id: str | None = None) -> ApiRequest:
    return ApiRequest(
        "GET", "/api/v1/analytics/best-times", params=query(x_account_id=x_account_id)
    )


def analyze_best_times(body: Mapping[str, Any] | None = None) -> ApiRequest:
    # The endpoint takes `{}` when no account is named; always send an object.
    return ApiRequest("POST", "/api/v1/analytics/best-times/analyze", json=_body(body or {}))
