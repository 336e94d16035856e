"""upload_media's local checks: content sniffing and the media-folder sandbox for paths."""

from __future__ import annotations

import contextlib
import os
import threading
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


def refusal(attempt: str, dirs: tuple[Path, ...]) -> str:
    with pytest.raises(InvalidArguments) as info:
        read_media_file(attempt, dirs)
    return str(info.value)


def test_every_refusal_reads_the_same_and_names_no_folder(tmp_path: Path) -> None:
    """Missing, outside, a link (even to a file inside), a folder, a FIFO, a NUL byte: one
    text, so a refusal tells nothing about what exists on the disk."""
    media = tmp_path / "media"
    (media / "sub").mkdir(parents=True)
    (media / "real.png").write_bytes(PNG)
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG)
    os.symlink(secret, media / "link.png")
    os.symlink(media / "real.png", media / "inner-link.png")
    os.symlink(tmp_path, media / "dirlink")
    os.mkfifo(media / "pipe.png")
    dirs = (media.resolve(),)
    attempts = [
        str(secret),
        str(media / "link.png"),
        "inner-link.png",
        "dirlink/secret.png",
        "../secret.png",
        str(media / ".."),
        "sub",
        "pipe.png",  # opened without blocking, then refused: never hangs
        str(media / "nope.png"),
        "nope.png",
        "a\0b.png",
        "",
    ]
    for attempt in attempts:
        message = refusal(attempt, dirs)
        assert message == refusal("nope.png", dirs).replace("'nope.png'", repr(attempt)), attempt
        assert str(media) not in message.replace(repr(attempt), "")


def test_a_link_swapped_in_while_reading_is_never_followed(tmp_path: Path) -> None:
    """A file flipping between a regular file and a link to a secret outside the folder,
    as fast as another process can: what is read is only ever the file inside."""
    media = tmp_path / "media"
    media.mkdir()
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG + b"SECRET")
    inside = media / "flip.png"
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            spare = media / "spare.png"
            spare.write_bytes(PNG)
            os.replace(spare, inside)
            link = media / "spare-link"
            with contextlib.suppress(FileExistsError):
                os.symlink(secret, link)
            os.replace(link, inside)

    flipper = threading.Thread(target=flip)
    flipper.start()
    read = refused = 0
    try:
        for _ in range(2000):
            try:
                content, _ = read_media_file("flip.png", (media.resolve(),))
            except InvalidArguments:
                refused += 1
            else:
                assert b"SECRET" not in content
                read += 1
    finally:
        stop.set()
        flipper.join()
    assert read and refused  # both states were really seen
