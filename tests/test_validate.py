"""Shared field checks: each rejects with a message that says what is allowed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opentweet_mcp.long_posts import TweetLimit
from opentweet_mcp.validate import (
    InvalidArguments,
    check_idempotency_key,
    check_lengths,
    check_media_urls,
    check_no_duplicates,
    check_object_id,
    check_thread,
    check_tweet,
    over_standard,
    parse_future_date,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_object_id() -> None:
    assert check_object_id("507F1F77BCF86CD799439011") == "507f1f77bcf86cd799439011"
    for bad in ("abc", "507f1f77bcf86cd79943901g", "507f1f77bcf86cd7994390111", ""):
        with pytest.raises(ValueError, match="24-character hex"):
            check_object_id(bad)


def test_future_date_normalises_to_utc() -> None:
    assert parse_future_date("2026-11-24T10:00:00+02:00", now=NOW) == "2026-11-24T08:00:00Z"
    assert parse_future_date("2026-11-24T10:00:00Z", now=NOW) == "2026-11-24T10:00:00Z"


@pytest.mark.parametrize(
    "value,message",
    [
        ("tomorrow", "not an ISO 8601 date"),
        ("2026-11-24T10:00:00", "no UTC offset"),
        ("2026-11-23T11:59:00Z", "in the past"),
    ],
)
def test_future_date_rejections(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_future_date(value, now=NOW)


def test_future_date_default_clock() -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert parse_future_date(later).endswith("Z")


def test_tweet_length() -> None:
    """Arguments are held to the longest limit X has; the account's own is checked later."""
    assert check_tweet("a" * 280) == "a" * 280
    assert check_tweet("a" * 25_000) == "a" * 25_000
    with pytest.raises(ValueError, match="25,001 weighted characters; no X account may post"):
        check_tweet("a" * 25_001)
    with pytest.raises(ValueError, match="empty"):
        check_tweet("   ")
    standard = TweetLimit(280, "the standard X limit")
    check_lengths(["a" * 280, "b" * 280], standard)
    with pytest.raises(InvalidArguments, match=r"tweet 2 is 281 weighted .* limit is 280 \(the"):
        check_lengths(["a" * 280, "b" * 281], standard)
    assert over_standard(["a", "🙂" * 141]) and not over_standard(["a" * 280])


def test_media_rules() -> None:
    assert check_media_urls(["https://x/1.png"] * 4)
    with pytest.raises(ValueError, match="at most 4 images"):
        check_media_urls(["https://x/1.png"] * 5)
    with pytest.raises(ValueError, match="4 images or 1 video"):
        check_media_urls(["https://x/1.png", "https://x/2.mp4"])
    with pytest.raises(ValueError, match="not a URL"):
        check_media_urls(["/etc/passwd"])


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/\u202egnp.exe",  # reads as …/exe.png
        "https://cdn.exa\u200bmple.com/a.png",
        "https://cdn.example.com/a\u2066.png",
        "https://cdn.example.com/a\U000e0041.png",
    ],
)
def test_media_urls_hide_nothing_from_the_person_who_checks_them(url: str) -> None:
    with pytest.raises(ValueError, match="holds hidden characters") as refused:
        check_media_urls([url])
    assert "⟨U+" in str(refused.value)


def test_thread_rules() -> None:
    check_thread(True, ["b"], [[]])
    check_thread(None, None, None)
    with pytest.raises(InvalidArguments, match="one list per thread tweet"):
        check_thread(True, ["b", "c"], [[]])
    with pytest.raises(InvalidArguments, match="thread_tweets is empty"):
        check_thread(True, [], None)
    with pytest.raises(InvalidArguments, match="at most 25 tweets"):
        check_thread(True, ["x"] * 25, None)
    with pytest.raises(InvalidArguments, match="needs thread_tweets"):
        check_thread(None, None, [[]])


def test_duplicates_ignore_case_and_spacing() -> None:
    check_no_duplicates(["a", "b"])
    with pytest.raises(InvalidArguments, match=r"posts\[2\] repeats the text of posts\[0\]"):
        check_no_duplicates(["Hello  world", "b", "hello world"])


def test_idempotency_key() -> None:
    assert check_idempotency_key("week-47:post.1") == "week-47:post.1"
    with pytest.raises(ValueError):
        check_idempotency_key("has space")
