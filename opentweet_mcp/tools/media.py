"""upload_media: send an image or video to OpenTweet and get back the URL to attach to posts.

Files are judged by their content (magic bytes), not their names, and local paths are read
only inside the configured media folders, so an agent cannot exfiltrate arbitrary files.
"""

import base64
import binascii
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from opentweet_mcp.media_types import KINDS, MIB, VIDEO_LIMIT, sniff
from opentweet_mcp.results import Out, success
from opentweet_mcp.services import services
from opentweet_mcp.tools.spec import ToolSpec, declare
from opentweet_mcp.validate import AccountId, InvalidArguments

TOOLS: list[ToolSpec] = []


class UploadOut(Out):
    url: str | None = None


def _checked(content: bytes, name: str) -> tuple[str, str]:
    kind = sniff(content[:16])
    if kind is None:
        raise InvalidArguments(
            f"{name} is not a JPG, PNG, GIF, WebP, MP4 or MOV file (judged by its content)"
        )
    extension, content_type, limit = KINDS[kind]
    if len(content) > limit:
        raise InvalidArguments(
            f"{name} is {len(content) / MIB:.1f} MiB; "
            f"{kind} files may be at most {limit // MIB} MiB"
        )
    if not content:
        raise InvalidArguments(f"{name} is empty")
    return extension, content_type


def read_media_file(path: str, media_dirs: tuple[Path, ...]) -> tuple[bytes, str]:
    """Read `path` only if it resolves (symlinks included) inside one of `media_dirs`."""
    if not media_dirs:
        raise InvalidArguments(
            "local paths are disabled: no media folder is configured "
            "(OPENTWEET_MCP_MEDIA_DIRS or --media-dir); send data_base64 and filename instead"
        )
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = media_dirs[0] / candidate
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidArguments(f"{path!r} does not exist") from None
    if not any(resolved.is_relative_to(folder) for folder in media_dirs):
        raise InvalidArguments(
            f"{path!r} is outside the configured media folders; only files inside "
            f"{', '.join(str(d) for d in media_dirs)} can be uploaded"
        )
    if not resolved.is_file():
        raise InvalidArguments(f"{path!r} is not a regular file")
    size = resolved.stat().st_size
    if size > VIDEO_LIMIT:
        raise InvalidArguments(f"{path!r} is {size / MIB:.1f} MiB; the largest allowed is 20 MiB")
    return resolved.read_bytes(), resolved.name


@declare(TOOLS, "Upload media")
async def upload_media(
    ctx: Context,
    path: Annotated[str | None, Field(description="File inside a configured media folder")] = None,
    data_base64: Annotated[str | None, Field(max_length=28 * MIB)] = None,
    filename: Annotated[str | None, Field(max_length=255)] = None,
    x_account_id: AccountId | None = None,
) -> Annotated[CallToolResult, UploadOut]:
    """Upload an image (JPG/PNG/GIF/WebP ≤5 MiB) or video (MP4/MOV ≤20 MiB); returns its url
    for media_urls. Give path, or data_base64 and filename."""
    svc = services(ctx)
    if (path is None) == (data_base64 is None):
        raise InvalidArguments("give exactly one of path or data_base64 (with filename)")
    if path is not None:
        content, name = read_media_file(path, svc.settings.media_dirs)
    else:
        if not filename:
            raise InvalidArguments("data_base64 needs a filename")
        try:
            content = base64.b64decode(data_base64 or "", validate=True)
        except (binascii.Error, ValueError):
            raise InvalidArguments("data_base64 is not valid base64") from None
        name = filename
    extension, content_type = _checked(content, name)
    upload_name = f"{Path(name).stem or 'media'}.{extension}"
    caller = svc.caller(ctx)
    await ctx.report_progress(0, len(content), f"uploading {upload_name}")
    data: Any = await caller.client.upload(
        upload_name, content, content_type, x_account_id=caller.account(x_account_id)
    )
    await ctx.report_progress(len(content), len(content), "uploaded")
    url = data.get("url") if isinstance(data, dict) else None
    if not url:
        return success(f"UNVERIFIED — the upload response has no url: {data!r}", {"result": data})
    return success(f"Uploaded {upload_name} ({len(content)} bytes): {url}", data)
