"""upload_media: send an image or video to OpenTweet and get back the URL to attach to posts.

Files are judged by their content (magic bytes), not their names, and local paths are read
only inside the configured media folders, so an agent cannot exfiltrate arbitrary files. The
file is read on a worker thread: 20 MiB read on the event loop would stall other calls.
"""

import base64
import binascii
import os
import stat
from pathlib import Path, PurePath
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from opentweet_mcp.api import operations as ops
from opentweet_mcp.media_types import KINDS, MIB, VIDEO_LIMIT, sniff
from opentweet_mcp.results import Out, success
from opentweet_mcp.services import services
from opentweet_mcp.tools.spec import ToolSpec, declare
from opentweet_mcp.validate import AccountId, AltText, InvalidArguments

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


_NOT_READABLE = (
    "{path!r} cannot be uploaded: give the name of a regular file inside a configured media "
    "folder (symbolic links are not followed), or send data_base64 and filename instead"
)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NOCTTY", 0)


def _parts_inside(path: str, folder: Path) -> list[str] | None:
    """The path's parts below `folder`, or None if it does not lie there (no "..")."""
    candidate = PurePath(path)
    if candidate.is_absolute():
        if not candidate.is_relative_to(folder):
            return None
        candidate = candidate.relative_to(folder)
    parts = [part for part in candidate.parts if part != "."]
    return parts if parts and ".." not in parts else None


def _open_inside(folder: Path, parts: list[str]) -> int:
    """Open `parts` below `folder` one component at a time, never following a symbolic
    link and never blocking (a FIFO or device opens at once and is then refused)."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        for part in parts[:-1]:
            inner = os.open(part, _OPEN_FLAGS | getattr(os, "O_DIRECTORY", 0), dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.open(parts[-1], _OPEN_FLAGS | getattr(os, "O_NONBLOCK", 0), dir_fd=fd)
    finally:
        os.close(fd)


def _read_regular(fd: int, shown: str) -> bytes:
    """The content of an open regular file of at most 20 MiB, checked on the descriptor."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise InvalidArguments(_NOT_READABLE.format(path=shown))
    if info.st_size > VIDEO_LIMIT:
        raise InvalidArguments(
            f"{shown!r} is {info.st_size / MIB:.1f} MiB; the largest allowed is 20 MiB"
        )
    with os.fdopen(os.dup(fd), "rb") as file:
        content = file.read(VIDEO_LIMIT + 1)
    if len(content) > VIDEO_LIMIT:  # it grew while being read
        raise InvalidArguments(f"{shown!r} is larger than 20 MiB")
    return content


def read_media_file(path: str, media_dirs: tuple[Path, ...]) -> tuple[bytes, str]:
    """Read `path` only if it is a regular file inside one of `media_dirs`.

    Nothing is checked by name and then opened: each component is opened without following
    links and the opened file itself is checked, so a link or a FIFO swapped in between
    cannot be read. Every refusal reads the same, whatever the reason (missing, outside,
    a link, not a file), so refusals tell nothing about the disk; none names a folder.
    """
    if not media_dirs:
        raise InvalidArguments(
            "local paths are disabled: no media folder is configured "
            "(OPENTWEET_MCP_MEDIA_DIRS or --media-dir); send data_base64 and filename instead"
        )
    if not path or "\0" in path or os.open not in os.supports_dir_fd:
        raise InvalidArguments(_NOT_READABLE.format(path=path))
    for folder in media_dirs:
        parts = _parts_inside(path, folder)
        if parts is None:
            continue
        try:
            fd = _open_inside(folder, parts)
        except OSError:
            continue
        try:
            return _read_regular(fd, path), parts[-1]
        finally:
            os.close(fd)
    raise InvalidArguments(_NOT_READABLE.format(path=path))


@declare(TOOLS, "Upload media")
async def upload_media(
    ctx: Context,
    path: Annotated[str | None, Field(description="In a media folder, or data_base64")] = None,
    data_base64: Annotated[
        str | None, Field(max_length=28 * MIB, description="Base64 file, with filename")
    ] = None,
    filename: Annotated[
        str | None, Field(max_length=255, description="e.g. a.png, for the type")
    ] = None,
    alt_text: AltText | None = None,
    x_account_id: AccountId | None = None,
) -> Annotated[CallToolResult, UploadOut]:
    """Upload an image (JPG, PNG, GIF, WebP ≤5 MiB) or video (MP4, MOV ≤20 MiB)."""
    svc = services(ctx)
    if (path is None) == (data_base64 is None):
        raise InvalidArguments("give exactly one of path or data_base64 (with filename)")
    if path is not None:
        content, name = await anyio.to_thread.run_sync(
            read_media_file, path, svc.settings.media_dirs
        )
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
    data: Any = await caller.client.send(
        ops.upload_media(
            upload_name,
            content,
            content_type,
            x_account_id=caller.account(x_account_id),
            alt_text=alt_text,
        )
    )
    await ctx.report_progress(len(content), len(content), "uploaded")
    url = data.get("url") if isinstance(data, dict) else None
    if not url:
        return success(f"UNVERIFIED — the upload response has no url: {data!r}", {"result": data})
    return success(f"Uploaded {upload_name} ({len(content)} bytes): {url}", data)
