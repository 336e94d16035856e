"""Thread splitting: every part fits X's weighted length, and no text is lost or reordered."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opentweet_mcp.text.split import split_thread
from opentweet_mcp.text.weighted import V3, weighted_length

SUFFIX = re.compile(r" (\d+)/(\d+)$")


def unnumbered(parts: list[str]) -> list[str]:
    """The parts without their " i/n" suffixes, checking the numbering on the way."""
    stripped = []
    for index, part in enumerate(parts, start=1):
        match = SUFFIX.search(part)
        assert match, part
        assert (int(match[1]), int(match[2])) == (index, len(parts))
        stripped.append(part[: match.start()])
    return stripped


def test_short_text_is_one_part() -> None:
    assert split_thread("  Just one tweet.  ") == ["Just one tweet."]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t"])
def test_empty_text_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        split_thread(text)


def test_blank_lines_make_parts_even_when_short() -> None:
    text = "First idea.\n\nSecond idea.\r\n \r\nThird idea."
    assert split_thread(text) == ["First idea.", "Second idea.", "Third idea."]


def test_sentences_are_kept_whole() -> None:
    sentence = "This sentence is about fifty characters long, ok. "
    parts = split_thread(sentence * 12)
    assert len(parts) == 3
    for part in parts:
        assert part.endswith("ok.") and weighted_length(part) <= 280


def test_words_are_kept_whole_when_a_sentence_is_too_long() -> None:
    words = [f"word{i}" for i in range(120)]
    parts = split_thread(" ".join(words))
    assert len(parts) > 1
    assert [word for part in parts for word in part.split()] == words


def test_a_long_word_is_cut_but_not_inside_an_emoji() -> None:
    family = "👨\u200d👩\u200d👧\u200d👦"
    parts = split_thread(family * 200)
    assert all(weighted_length(part) <= 280 for part in parts)
    assert all(part == family * (len(part) // len(family)) for part in parts)
    assert "".join(parts) == family * 200


def test_flags_and_cjk_are_not_cut_apart() -> None:
    parts = split_thread("🇺🇦" * 50 + "日本" * 50, max_length=21)
    assert all(weighted_length(part) <= 21 for part in parts)
    assert all(
        sum("\U0001f1e6" <= char <= "\U0001f1ff" for char in part) % 2 == 0 for part in parts
    )
    assert "".join(parts) == "🇺🇦" * 50 + "日本" * 50


def test_a_url_counts_23_and_stays_whole() -> None:
    url = "https://example.com/" + "a" * 300
    parts = split_thread(f"Read this: {url} " + "more words here " * 30)
    assert url in parts[0] and weighted_length(parts[0]) <= 280


def test_a_url_inside_a_long_word_is_not_cut() -> None:
    word = "x" * 50 + "(https://example.com/" + "p" * 100 + ")" + "y" * 50
    parts = split_thread(word, max_length=40)
    assert all(weighted_length(part) <= 40 for part in parts)
    assert any("https://example.com/" + "p" * 100 in part for part in parts)
    assert "".join(parts) == word


def test_numbering_fits_and_counts_the_final_total() -> None:
    text = " ".join(f"w{i:04d}" for i in range(2000))  # about 45 parts: two-digit totals
    parts = split_thread(text, numbering=True)
    assert all(weighted_length(part) <= 280 for part in parts)
    assert " ".join(unnumbered(parts)).split() == text.split()
    assert len(parts) >= 10


def test_numbering_a_single_part() -> None:
    assert split_thread("hello", numbering=True) == ["hello 1/1"]


def test_premium_length_and_max_length_override() -> None:
    text = "word " * 5000
    assert len(split_thread(text, max_length=25_000)) == 1
    assert len(split_thread(text, max_length=280, config=V3)) == 90


def test_a_combining_sequence_heavier_than_a_tweet_is_cut() -> None:
    word = "a" + "\u0301\u0302" * 20  # one cluster of 41 code points, weighing 41
    parts = split_thread(word, max_length=10)
    assert all(weighted_length(part) <= 10 for part in parts)
    assert "".join(parts) == word


def test_max_length_too_small() -> None:
    with pytest.raises(ValueError):
        split_thread("日本", max_length=1)
    with pytest.raises(ValueError):
        split_thread("abc", max_length=4, numbering=True)


def test_long_input_is_fast() -> None:
    text = ("A sentence of prose with a link https://example.com/x and 日本語. " * 1600)[:100_000]
    started = time.perf_counter()
    parts = split_thread(text, numbering=True)
    assert time.perf_counter() - started < 5
    assert all(weighted_length(part) <= 280 for part in parts)


WORDS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")),
    min_size=1,
    max_size=40,
)
SEPARATORS = st.sampled_from([" ", "  ", "\n", "\n\n", ". ", "! ", "\t"])
TEXTS = st.lists(st.tuples(WORDS, SEPARATORS), min_size=1, max_size=60).map(
    lambda pairs: "".join(word + sep for word, sep in pairs)
)


@settings(max_examples=60, deadline=None)
@given(TEXTS, st.integers(min_value=30, max_value=300), st.booleans())
def test_every_part_fits_and_words_come_back_in_order(
    text: str, max_length: int, numbering: bool
) -> None:
    if not text.strip():
        return
    parts = split_thread(text, numbering=numbering, max_length=max_length)
    assert all(part and part == part.strip() for part in parts)
    assert all(weighted_length(part) <= max_length for part in parts)
    body = unnumbered(parts) if numbering else parts
    # words longer than a tweet are cut into pieces; their characters still come back in order
    assert "".join("".join(body).split()) == "".join(text.split())
    if all(weighted_length(word) <= max_length - 8 for word in text.split()):
        assert " ".join(body).split() == text.split()


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=700), st.integers(min_value=10, max_value=280))
def test_arbitrary_text_fits(text: str, max_length: int) -> None:
    if not text.strip():
        with pytest.raises(ValueError):
            split_thread(text, max_length=max_length)
        return
    parts = split_thread(text, max_length=max_length)
    assert all(weighted_length(part) <= max_length for part in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())
