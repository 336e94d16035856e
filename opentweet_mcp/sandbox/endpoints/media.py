"""Media endpoints: `POST /upload` (`upload_media`: a file judged by its bytes, not its name or
content type, and held to the size limits) and the unauthenticated `GET /media/{name}` that
serves what was uploaded (`serve_media`)."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from opentweet_mcp.media_types import KINDS, VIDEO_LIMIT, sniff
from opentweet_mcp.sandbox.plumbing import error
from opentweet_mcp.sandbox.rules import Rejected, bad
from opentweet_mcp.sandbox.state import Sandbox, User
from opentweet_mcp.sandbox.store import new_id

UPLOAD_OVERHEAD = 64 * 1024  # room for the multipart framing around a file at the size limit


async def upload_media(sb: Sandbox, user: User, request: Request) -> Any:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise bad("use multipart/form-data with a file field")
    too_large = Rejected(
        413, "files may be at most 5 MB (images) or 20 MB (videos)", "file_too_large"
    )
    if int(request.headers.get("content-length") or 0) > VIDEO_LIMIT + UPLOAD_OVERHEAD:
        raise too_large
    try:
        async with request.form(max_part_size=VIDEO_LIMIT + 1) as form:
            file = form.get("file")
            if file is None or isinstance(file, str):
                raise bad("the file field is missing")
            data = await file.read()
    except HTTPException as exc:  # the multipart parser's complaints
        if "maximum size" in str(exc.detail):
            raise too_large from None
        raise bad(f"malformed multipart body: {exc.detail}") from None
    kind = sniff(data[:16])
    if kind is None:
        raise bad("unsupported file type: JPG, PNG, GIF, WebP, MP4 or MOV", "unsupported_media")
    extension, content_type, limit = KINDS[kind]
    if len(data) > limit:
        raise Rejected(
            413, f"{kind} files may be at most {limit // (1024 * 1024)} MB", "file_too_large"
        )
    name = f"{new_id()}.{extension}"
    sb.store.save_upload(name, content_type, data)
    base = sb.base_url or str(request.base_url).rstrip("/")
    return 201, {
        "success": True,
        "url": f"{base}/media/{name}",
        "type": content_type,
        "size": len(data),
    }


async def serve_media(request: Request) -> Response:
    found = request.app.state.sandbox.store.upload(request.path_params["name"])
    if found is None:
        return error(404, "no such media", "not_found")
    return Response(found[1], media_type=found[0])
