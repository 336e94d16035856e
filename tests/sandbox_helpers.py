"""What the `tests/test_sandbox_*.py` modules share: an `http` client fixture on the session's
sandbox, API-key headers, a far-future date, and helpers that make drafts, publish them, and list
a key's accounts.

Not a conftest: each module takes the fixture explicitly (`http = sandbox_helpers.http`)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

FUTURE = "2099-01-01T10:00:00Z"


@pytest.fixture
async def http(sandbox: Any) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=sandbox.base_url, timeout=5) as client:
        yield client


def auth(key: str = "pro_rules") -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def draft(http: httpx2.AsyncClient, text: str = "a draft", key: str = "pro_rules") -> str:
    response = await http.post("/api/v1/posts", json={"text": text}, headers=auth(key))
    assert response.status_code == 201
    post_id = str(response.json()["posts"][0]["id"])
    assert re.fullmatch(r"[0-9a-f]{24}", post_id)
    return post_id


async def accounts_of(http: httpx2.AsyncClient, key: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await http.get("/api/v1/accounts", headers=auth(key))).json()[
        "accounts"
    ]
    return listed


async def publish_drafts(http: httpx2.AsyncClient, key: str, count: int) -> list[str]:
    ids = []
    for n in range(count):
        post_id = await draft(http, f"published {n}", key=key)
        answer = await http.post(f"/api/v1/posts/{post_id}/publish", headers=auth(key))
        assert answer.status_code == 200, answer.text
        ids.append(post_id)
    return ids
