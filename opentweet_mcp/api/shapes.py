"""Tolerant reading of upstream responses whose exact shape the guide leaves open
(docs/architecture.md).

A post may come bare, wrapped in `post` or in `data`; creates answer `posts: [...]` or a single
post; publish fields sit at the top level or inside the post. Anything else is a BadResponse,
never a KeyError deep inside a tool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from opentweet_mcp.api.errors import BadResponse
from opentweet_mcp.api.operations import ApiRequest

_WRAPPERS = ("post", "data")


def _bad(detail: str, request: ApiRequest | None) -> BadResponse:
    if request is None:
        return BadResponse(detail)
    return BadResponse(
        detail, method=request.method, path=request.path, write=not request.is_idempotent
    )


def _as_post(value: Mapping[str, Any]) -> dict[str, Any]:
    post = dict(value)
    # Mongo-style `_id` is accepted and mirrored to `id`, the name the guide uses.
    if "id" not in post and isinstance(post.get("_id"), str):
        post["id"] = post["_id"]
    return post


def _looks_like_post(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping) and (
        isinstance(value.get("id"), str) or isinstance(value.get("_id"), str)
    )


def unwrap_post(data: Any, *, request: ApiRequest | None = None) -> dict[str, Any]:
    """The post object of a response: `{"post": {...}}`, `{"data": {...}}` or the bare post."""
    if not isinstance(data, Mapping):
        raise _bad(f"expected a JSON object holding a post, got {type(data).__name__}", request)
    for key in _WRAPPERS:
        inner = data.get(key)
        if _looks_like_post(inner):
            return _as_post(inner)
    if _looks_like_post(data):
        return _as_post(data)
    raise _bad("the response holds no post object (no `id` found)", request)


def created_posts(data: Any, *, request: ApiRequest | None = None) -> list[dict[str, Any]]:
    """The posts a create returned: `posts: [...]` (also under `data`), or one post shape."""
    if not isinstance(data, Mapping):
        raise _bad(f"expected a JSON object, got {type(data).__name__}", request)
    for key in ("posts", "data"):
        items = data.get(key)
        if isinstance(items, list):
            if not items or not all(_looks_like_post(item) for item in items):
                raise _bad(f"`{key}` is not a non-empty list of posts with ids", request)
            return [_as_post(item) for item in items]
    return [unwrap_post(data, request=request)]


def _first_post(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for key in _WRAPPERS:
        if isinstance(data.get(key), Mapping):
            inner: Mapping[str, Any] = data[key]
            return inner
    for key in ("posts", "data"):
        items = data.get(key)
        if isinstance(items, list) and items and isinstance(items[0], Mapping):
            first: Mapping[str, Any] = items[0]
            return first
    return None


def _text_field(holders: list[Mapping[str, Any]], key: str) -> str | None:
    for holder in holders:
        value = holder.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # an x_post_id sent as a number
    return None


def is_evergreen(post: Mapping[str, Any]) -> bool:
    """An evergreen source is marked `isEvergreen: true`, whatever its `status` says."""
    return post.get("isEvergreen") is True or post.get("is_evergreen") is True


# --- publishing: where a post stands on each network ----------------------------------------

X_NAMES = ("x", "twitter")


@dataclass(frozen=True)
class Delivery:
    """One network's outcome, from a post's `results[]`."""

    platform: str
    status: str | None
    url: str | None
    error: str | None


@dataclass(frozen=True)
class PublishState:
    """Where a publish stands, read from an answer or a re-read post.

    `posted` means on X with a url: a 2xx may arrive before the tweet exists (asynchronous
    publishing), so a status alone is not proof. `pending` is neither posted nor failed."""

    post_id: str | None
    status: str | None
    x_post_id: str | None
    url: str | None
    posted: bool
    failed: bool
    error: str | None
    results: tuple[Delivery, ...] = ()
    on_x: tuple[str, ...] = ()  # a failed thread's tweets that are on X all the same (their urls)
    maybe_on_x: str | None = None  # a tweet whose answer was lost: it may be on X

    @property
    def pending(self) -> bool:
        return not self.posted and not self.failed

    def networks(self) -> str:
        """Each network's outcome on one line ("" when the answer has no `results[]`)."""
        said = []
        for item in self.results:
            outcome = item.status or "?"
            if item.url:
                outcome += f" {item.url}"
            if item.error:
                outcome += f" ({item.error})"
            said.append(f"{item.platform}: {outcome}")
        return "; ".join(said)


def deliveries(holders: list[Mapping[str, Any]]) -> tuple[Delivery, ...]:
    """Each network's outcome from the first of `holders` that has `results[]`."""
    for holder in holders:
        items = holder.get("results")
        if isinstance(items, list):
            return tuple(
                Delivery(
                    platform=str(item.get("platform") or "?"),
                    status=_text_field([item], "status"),
                    url=_text_field([item], "url"),
                    error=_text_field([item], "error") or _text_field([item], "message"),
                )
                for item in items
                if isinstance(item, Mapping)
            )
    return ()


def publish_state(data: Any, *, request: ApiRequest | None = None) -> PublishState:
    """The publish state of an answer or a post, old shapes (`status`, `x_post_id`, `url` at
    the top or in the post) and new (`posted`, `failed`, per-network `results[]`) alike."""
    if not isinstance(data, Mapping):
        raise _bad(f"expected a JSON object, got {type(data).__name__}", request)
    holders: list[Mapping[str, Any]] = [data]
    inner = _first_post(data)
    if inner is not None:
        holders.append(inner)
    results = deliveries(holders)
    on_x = next((item for item in results if item.platform.lower() in X_NAMES), None)
    status = _text_field(holders, "status")
    if on_x is not None:  # X's own result decides, whatever the other networks did
        failed, done = on_x.status == "failed", on_x.status == "posted"
    elif results:  # results for other networks only: nothing says X has it
        failed = done = False
    else:
        failed = status == "failed" or any(h.get("failed") is True for h in holders)
        done = status == "posted" or any(h.get("posted") is True for h in holders)
    url = _text_field(holders, "url") or (on_x.url if on_x else None)
    return PublishState(
        post_id=_text_field(holders[1:] or holders, "id"),
        status=status,
        x_post_id=_text_field(holders, "x_post_id"),
        url=url,
        posted=done and url is not None and not failed,
        failed=failed,
        error=_text_field(holders, "error") or (on_x.error if on_x else None),
        results=results,
        on_x=next(
            (tuple(map(str, h["on_x"])) for h in holders if isinstance(h.get("on_x"), list)), ()
        ),
        maybe_on_x=_text_field(holders, "may_be_on_x"),
    )
