"""upload_media's local checks: content sniffing and the media-folder sandbox for paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opentweet_mcp.media_types import sniff
from opentweet_mcp.tools.media import read_media_file
from opentweet_mcp.validate import InvalidArguments

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 32
GIF = b"GIF89a" + b"\0" * 32
WEBP = b"RIFF\x24\0\0\0WEBPVP8 " + b"\0" * 32
MP4 = b"\0\0\0\x18ftypmp42" + b"\0" * 32
MOV = b"\0\0\0\x14ftypqt  " + b"\0" * 32


@pytest.mark.parametrize(
    "head,kind",
    [(PNG, "png"), (JPEG, "jpeg"), (GIF, "gif"), (WEBP, "webp"), (MP4, "mp4"), (MOV, "mov")],
)
def test_sniff_known(head: bytes, kind: str) -> None:
    assert sniff(head[:16]) == kind


@pytest.mark.parametrize("head", [b"%PDF-1.7", b"<html>", b"PK\x03\x04", b"", b"#!/bin/sh"])
def test_sniff_unknown(head: bytes) -> None:
    assert sniff(head) is None


def test_paths_refused_without_media_dirs(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    with pytest.raises(InvalidArguments, match="no media folder is configured"):
        read_media_file(str(tmp_path / "a.png"), ())


def test_path_inside_media_dir(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    content, name = read_media_file(str(tmp_path / "a.png"), (tmp_path.resolve(),))
    assert content == PNG and name == "a.png"
    relative, _ = read_media_file("a.png", (tmp_path.resolve(),))
    assert relative == PNG


def test_escapes_refused(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG)
    os.symlink(secret, media / "link.png")
    dirs = (media.resolve(),)
    for attempt in (str(secret), str(media / "link.png"), "../secret.png", str(media / "..")):
        with pytest.raises(InvalidArguments):
            read_media_file(attempt, dirs)
    with pytest.raises(InvalidArguments, match="does not exist"):
        read_media_file(str(media / "nope.png"), dirs)
