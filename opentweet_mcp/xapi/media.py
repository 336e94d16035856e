"""Files uploaded for the X provider, kept in the state folder until a post goes out.

X's media ids expire (a day after upload), so a file is sent to X when its post is published,
not when it is uploaded: `upload_media` keeps the file here and hands back a URL that names it.
The URLs live under an origin that resolves nowhere (`.invalid`), so nothing but this server
ever reads them; validation accepts them as the upload host's own.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from opentweet_mcp.xapi.auth import write_private

ORIGIN = "https://media.opentweet-mcp.invalid"
PREFIX = f"{ORIGIN}/media/"


@dataclass(frozen=True)
class StoredMedia:
    content: bytes
    content_type: str
    alt_text: str | None


class MediaFolder:
    """One folder of files, each with a small JSON beside it (its type and alt text)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, content: bytes, extension: str, content_type: str, alt_text: str | None) -> str:
        """Keep a file; the URL to attach it by. The URL names the file and its alt text (a
        hash of both, each whole): what was approved by its URL is what goes out, and the
        same file with the same alt text is kept once. Nothing kept is ever rewritten."""
        about = {"content_type": content_type, "alt_text": alt_text}
        named = json.dumps([hashlib.sha256(content).hexdigest(), about], sort_keys=True)
        name = f"{hashlib.sha256(named.encode()).hexdigest()[:32]}.{extension}"
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not (self.folder / f"{name}.json").exists():  # written last: the file is whole
            _write_new(self.folder / name, content)
            write_private(self.folder / f"{name}.json", about)
        return PREFIX + name

    def load(self, url: str) -> StoredMedia | None:
        """The file a URL from `save` names; None for any other URL or a file gone."""
        if not url.startswith(PREFIX):
            return None
        name = url[len(PREFIX) :]
        if "/" in name or name.startswith("."):
            return None
        try:
            about = json.loads((self.folder / f"{name}.json").read_text(encoding="utf-8"))
            content = (self.folder / name).read_bytes()
        except (OSError, ValueError):
            return None
        return StoredMedia(content, str(about["content_type"]), about.get("alt_text"))


def _write_new(path: Path, content: bytes) -> None:
    """The file written whole or not at all (a temporary file renamed), readable by its owner."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(content)
    temporary.chmod(0o600)
    os.replace(temporary, path)
