"""Tolerant reading of upstream responses whose exact shape the guide leaves open (SPEC §4).

A post may come bare, wrapped in `post` or in `data`; creates answer `posts: [...]` or a single
post; publish fields sit at the top level or inside the post. Anything else is a BadResponse,
never a KeyError deep inside a tool.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def publish_fields(
    data: Any, *, request: ApiRequest | None = None
) -> tuple[str | None, str | None, str | None]:
    """`(status, x_post_id, url)` from the top level, else from the (first) post inside."""
    if not isinstance(data, Mapping):
        raise _bad(f"expected a JSON object, got {type(data).__name__}", request)
    holders: list[Mapping[str, Any]] = [data]
    inner = _first_post(data)
    if inner is not None:
        holders.append(inner)
    return (
        _text_field(holders, "status"),
        _text_field(holders, "x_post_id"),
        _text_field(holders, "url"),
    )


def is_evergreen(post: Mapping[str, Any]) -> bool:
    """An evergreen source is marked `isEvergreen: true`, whatever its `status` says."""
    return post.get("isEvergreen") is True or post.get("is_evergreen") is True
