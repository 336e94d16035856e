"""check_post and split_thread: local, no network, on the same counter the other tools use."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opentweet_mcp.text.split import split_thread
from opentweet_mcp.text.weighted import V3, weighted_length
from tests.harness import MODES, data, session, text


@pytest.mark.parametrize("mode", MODES)
async def test_check_post_reports_every_tweet(sandbox: Any, mode: str) -> None:
    async with session(sandbox.base_url, mode) as client:
        result = await client.call_tool(
            "check_post",
            {
                "text": "See https://example.com/a/very/long/path/that/is/still/one/url for more",
                "thread_tweets": ["x" * 281],
                "media_urls": ["https://m/1.mp4", "https://m/2.png"],
            },
        )
        report = data(result)
        assert report["ok"] is False
        first, second = report["tweets"]
        assert first["remaining"] == 280 - first["weighted_length"]
        assert second["weighted_length"] == 281 and second["remaining"] == -1
        assert any("1 over the limit" in p for p in report["problems"])
        assert any("4 images or 1 video" in p for p in report["problems"])
        assert "Tweet 2: 281/280" in text(result)
        premium = data(
            await client.call_tool("check_post", {"text": "x" * 281, "max_length": 25000})
        )
        assert premium["ok"] and premium["tweets"][0]["remaining"] == 25000 - 281
    assert sandbox.requests() == []  # compose tools never call OpenTweet


async def test_check_post_counts_urls_as_23(sandbox: Any) -> None:
    async with session(sandbox.base_url) as client:
        report = data(
            await client.call_tool("check_post", {"text": "https://example.com/" + "a" * 100})
        )
    assert report["tweets"][0]["weighted_length"] == 23
    assert report["tweets"][0]["urls"] == ["https://example.com/" + "a" * 100]


async def test_split_thread_tool(sandbox: Any) -> None:
    long_text = " ".join(f"Sentence number {n} says something useful." for n in range(40))
    async with session(sandbox.base_url) as client:
        result = await client.call_tool("split_thread", {"text": long_text, "numbering": True})
        parts = data(result)["parts"]
        assert len(parts) > 1 and all(p.endswith(f"/{len(parts)}") for p in parts)
        assert all(n <= 280 for n in data(result)["lengths"])
        empty = await client.call_tool("split_thread", {"text": "   "})
        assert empty.is_error


def test_blank_lines_are_kept_as_breaks() -> None:
    assert split_thread("First part.\n\nSecond part.\n \nThird.") == [
        "First part.",
        "Second part.",
        "Third.",
    ]


def test_sentences_stay_whole() -> None:
    sentence = "This sentence is exactly the kind of thing that should stay together. "
    parts = split_thread(sentence * 10)
    assert all(p.endswith("together.") for p in parts)


def test_a_giant_word_is_cut_between_characters() -> None:
    parts = split_thread("🙂" * 300)
    assert "".join(parts) == "🙂" * 300
    assert all(weighted_length(p) <= 280 for p in parts)


WORDS = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
    min_size=1,
    max_size=40,
).filter(lambda w: w.strip() == w and w != "" and "\ufeff" not in w)


@settings(max_examples=60, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=120), st.booleans(), st.sampled_from([50, 140, 280]))
def test_parts_fit_and_keep_every_word_in_order(
    words: list[str], numbering: bool, max_length: int
) -> None:
    text_in = " ".join(words)
    parts = split_thread(text_in, numbering=numbering, max_length=max_length)
    assert all(weighted_length(p, V3) <= max_length for p in parts)
    if numbering:
        parts = [p.rsplit(" ", 1)[0] for p in parts]
    assert "".join("".join(parts).split()) == "".join(text_in.split())
