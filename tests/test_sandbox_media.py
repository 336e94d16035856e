"""The sandbox's media endpoints over real sockets: uploads judged by their bytes, the size
limits, and the unauthenticated `/media/` file server."""

from __future__ import annotations

import re

import httpx2
import pytest

from tests import sandbox_helpers
from tests.sandbox_helpers import auth

http = sandbox_helpers.http  # the shared client fixture (an import by name would trip ruff F811)


PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
MP4 = b"\0\0\0\x18ftypisom" + b"\0" * 32
GIF = b"GIF89a" + b"\0" * 32
WEBP = b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 32
MOV = b"\0\0\0\x14ftypqt  " + b"\0" * 32


async def test_uploads_are_judged_by_content_and_served(http: httpx2.AsyncClient) -> None:
    stored = await http.post("/api/v1/upload", files={"file": ("x.jpg", PNG)}, headers=auth())
    assert stored.status_code == 201 and stored.json()["url"].endswith(".png")
    served = await http.get(stored.json()["url"])
    assert served.content == PNG and served.headers["content-type"] == "image/png"
    wrong = await http.post(
        "/api/v1/upload", files={"file": ("a.png", b"%PDF-1.4")}, headers=auth()
    )
    assert wrong.status_code == 400
    big = await http.post(
        "/api/v1/upload", files={"file": ("b.png", PNG + b"\0" * (5 * 1024 * 1024))}, headers=auth()
    )
    assert big.status_code == 413


async def test_media_upload_edges(http: httpx2.AsyncClient) -> None:
    video = await http.post("/api/v1/upload", files={"file": ("v.bin", MP4)}, headers=auth())
    assert video.status_code == 201 and video.json()["url"].endswith(".mp4")
    missing = await http.post("/api/v1/upload", files={"other": ("a.png", PNG)}, headers=auth())
    assert missing.status_code == 400
    not_multipart = await http.post("/api/v1/upload", content=PNG, headers=auth())
    assert not_multipart.status_code == 400
    assert (await http.get("/media/" + "0" * 24 + ".png")).status_code == 404


@pytest.mark.parametrize(
    "data,extension,content_type",
    [
        (JPEG, "jpg", "image/jpeg"),
        (GIF, "gif", "image/gif"),
        (WEBP, "webp", "image/webp"),
        (MOV, "mov", "video/quicktime"),
        (MP4 + b"\0" * (6 * 1024 * 1024), "mp4", "video/mp4"),  # over the image limit: fine
    ],
    ids=["jpg", "gif", "webp", "mov", "mp4-6MiB"],
)
async def test_every_media_kind_is_stored_and_served(
    http: httpx2.AsyncClient, data: bytes, extension: str, content_type: str
) -> None:
    stored = await http.post("/api/v1/upload", files={"file": ("upload", data)}, headers=auth())
    assert stored.status_code == 201, stored.text
    url = stored.json()["url"]
    base = re.escape(str(http.base_url).rstrip("/"))
    assert re.fullmatch(rf"{base}/media/[0-9a-f]{{24}}\.{extension}", url)
    served = await http.get(url)  # no Authorization
    assert served.content == data and served.headers["content-type"] == content_type


async def test_video_and_body_size_limits(http: httpx2.AsyncClient) -> None:
    video = MP4 + b"\0" * (20 * 1024 * 1024)
    too_big = await http.post("/api/v1/upload", files={"file": ("v.mp4", video)}, headers=auth())
    assert too_big.status_code == 413 and too_big.json()["code"] == "file_too_large"
    huge = MP4 + b"\0" * (21 * 1024 * 1024)  # past what the multipart parser takes at all
    refused = await http.post("/api/v1/upload", files={"file": ("v.mp4", huge)}, headers=auth())
    assert refused.status_code == 413 and refused.json()["code"] == "file_too_large"
