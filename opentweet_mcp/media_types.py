"""Media kinds X accepts, told apart by their first bytes: shared by upload_media's local check
and the sandbox's upload endpoint, so both judge a file alike."""

from __future__ import annotations

MIB = 1024 * 1024
IMAGE_LIMIT = 5 * MIB
VIDEO_LIMIT = 20 * MIB
# kind → (extension, content type, size limit)
KINDS: dict[str, tuple[str, str, int]] = {
    "jpeg": ("jpg", "image/jpeg", IMAGE_LIMIT),
    "png": ("png", "image/png", IMAGE_LIMIT),
    "gif": ("gif", "image/gif", IMAGE_LIMIT),
    "webp": ("webp", "image/webp", IMAGE_LIMIT),
    "mp4": ("mp4", "video/mp4", VIDEO_LIMIT),
    "mov": ("mov", "video/quicktime", VIDEO_LIMIT),
}
_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def sniff(head: bytes) -> str | None:
    """The media kind from a file's first 16 bytes, or None when it is none X accepts."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return "mov" if head[8:10] == b"qt" else "mp4"
    if head[4:8] in _QUICKTIME_ATOMS:
        return "mov"
    return None
