"""The tweet-length counter against twitter-text's official conformance data (kept in
tests/data/twitter-text/, with its Apache-2.0 licence and source), plus newer emoji and
properties."""

from __future__ import annotations

import os
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from opentweet_mcp.text.weighted import (
    V2,
    V3,
    TextConfig,
    extract_urls_with_indices,
    is_valid_url,
    parse_tweet,
    weighted_length,
)

CONFORMANCE = Path(
    os.environ.get("OPENTWEET_CONFORMANCE_DIR")
    or Path(__file__).resolve().parent / "data" / "twitter-text"
)


def load(name: str) -> dict[str, list[dict[str, Any]]]:
    tests: dict[str, list[dict[str, Any]]] = yaml.safe_load(
        (CONFORMANCE / name).read_text(encoding="utf-8")
    )["tests"]
    return tests


VALIDATE = load("validate.yml")
EXTRACT = load("extract.yml")
TLDS = load("tlds.yml")


def cases(tests: dict[str, list[dict[str, Any]]], *groups: str) -> list[Any]:
    return [
        pytest.param(case, id=f"{group}:{case['description']}")
        for group in groups
        for case in tests[group]
    ]


def as_expected(text: str, config: TextConfig) -> dict[str, Any]:
    parsed = parse_tweet(text, config)
    return {
        "weightedLength": parsed.weighted_length,
        "valid": parsed.valid,
        "permillage": parsed.permillage,
        "displayRangeStart": parsed.display_range[0],
        "displayRangeEnd": parsed.display_range[1],
        "validRangeStart": parsed.valid_range[0],
        "validRangeEnd": parsed.valid_range[1],
    }


def test_group_sizes() -> None:
    """The suite is whole: the groups the issue names have the case counts it names."""
    assert len(VALIDATE["WeightedTweetsWithDiscountedEmojiCounterTest"]) == 22
    assert len(VALIDATE["UnicodeDirectionalMarkerCounterTest"]) == 2
    assert len(VALIDATE["WeightedTweetsCounterTest"]) == 20
    assert sum(len(group) for group in TLDS.values()) == 1574


@pytest.mark.parametrize(
    "case",
    cases(
        VALIDATE,
        "WeightedTweetsWithDiscountedEmojiCounterTest",
        "UnicodeDirectionalMarkerCounterTest",
    ),
)
def test_v3_weighted(case: dict[str, Any]) -> None:
    assert as_expected(case["text"], V3) == case["expected"]


@pytest.mark.parametrize("case", cases(VALIDATE, "WeightedTweetsCounterTest"))
def test_v2_weighted(case: dict[str, Any]) -> None:
    assert as_expected(case["text"], V2) == case["expected"]


@pytest.mark.parametrize("case", cases(VALIDATE, "urls"))
def test_url_validity(case: dict[str, Any]) -> None:
    assert is_valid_url(case["text"]) is case["expected"]


@pytest.mark.parametrize("case", cases(VALIDATE, "urls_without_protocol"))
def test_url_validity_without_protocol(case: dict[str, Any]) -> None:
    assert is_valid_url(case["text"], require_protocol=False) is case["expected"]


@pytest.mark.parametrize("case", cases(EXTRACT, "urls", "tco_urls_with_params"))
def test_url_extraction(case: dict[str, Any]) -> None:
    assert [url for url, _, _ in extract_urls_with_indices(case["text"])] == case["expected"]


@pytest.mark.parametrize(
    "case", cases(EXTRACT, "urls_with_indices", "urls_with_directional_markers")
)
def test_url_extraction_with_indices(case: dict[str, Any]) -> None:
    got = [{"url": u, "indices": [s, e]} for u, s, e in extract_urls_with_indices(case["text"])]
    assert got == case["expected"]


@pytest.mark.parametrize("case", cases(TLDS, "country", "generic"))
def test_tlds(case: dict[str, Any]) -> None:
    assert [url for url, _, _ in extract_urls_with_indices(case["text"])] == case["expected"]


@pytest.mark.parametrize(
    "text,length",
    [
        ("🫱🏻\u200d🫲🏿", 2),  # handshake with two skin tones (Unicode 14)
        ("🧑\u200d🧑\u200d🧒", 2),  # family: adult, adult, child (Unicode 15.1)
        ("🐦\u200d🔥", 2),  # phoenix (Unicode 15.1)
        ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", 2),  # Scotland
        ("🇺🇦", 2),
        ("#\ufe0f\u20e3", 2),
        ("©", 1),
        ("®", 1),
        ("©\ufe0f", 2),
        ("®\ufe0f", 2),
        ("a\r\nb", 4),  # CRLF counts 2
        ("日本語", 6),
        ("e\u0301", 1),  # NFC: é
    ],
)
def test_own_cases(text: str, length: int) -> None:
    assert weighted_length(text) == length


def test_invalid_characters() -> None:
    for bad in ("\ufffe", "\ufeff", "\uffff"):
        parsed = parse_tweet(f"ok {bad} ok")
        assert not parsed.valid and parsed.valid_range == (0, 2)


def test_url_spans_are_reported() -> None:
    text = "🙂 see example.com and https://x.com/a"
    spans = parse_tweet(text).url_spans
    units = text.encode("utf-16-le")
    assert [units[s * 2 : e * 2].decode("utf-16-le") for s, e in spans] == [
        "example.com",
        "https://x.com/a",
    ]


def test_premium_config_is_data() -> None:
    premium = V3._replace(max_weighted_length=25_000)
    parsed = parse_tweet("x" * 25_000, premium)
    assert parsed.valid and parsed.permillage == 1000
    assert not parse_tweet("x" * 25_001, premium).valid
    assert not parse_tweet("x" * 281).valid


def test_v2_weighs_emoji_per_code_point() -> None:
    family = "👨\u200d👩\u200d👧\u200d👦"
    assert weighted_length(family, V2) == 11 and weighted_length(family, V3) == 2


def test_configs_are_frozen_and_checked() -> None:
    with pytest.raises(AttributeError):
        V3.max_weighted_length = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="must not overlap"):
        parse_tweet("x", TextConfig(ranges=((0, 100, 100), (50, 200, 100))))
    ascii_only = TextConfig(max_weighted_length=140, scale=1, default_weight=1, ranges=())
    assert weighted_length("日本 🙂 https://example.com/long/path", ascii_only) == 28


def test_url_indices_count_utf16_units() -> None:
    text = "𝕏🙂 https://example.com/a 𝕏 b.co"
    assert extract_urls_with_indices(text) == [
        ("https://example.com/a", 5, 26),
        ("b.co", 30, 34),
    ]
    assert parse_tweet(text).url_spans == ((5, 26), (30, 34))


@pytest.mark.parametrize("prefix", ["e\u0301 ", "\ufb2c ", "\u1100\u1161\u11a8 🙂 "])
def test_url_spans_index_the_original_text_when_nfc_changes_it(prefix: str) -> None:
    text = prefix + "see https://example.com/é and b.co"
    units = text.encode("utf-16-le")
    spans = parse_tweet(text).url_spans
    assert [units[s * 2 : e * 2].decode("utf-16-le") for s, e in spans] == [
        "https://example.com/é",
        "b.co",
    ]


def test_lone_surrogates_do_not_crash() -> None:
    assert parse_tweet("a\ud83d b").weighted_length == 5


def test_dotted_text_is_not_quadratic() -> None:
    started = time.perf_counter()
    assert weighted_length("a.b.c.d.e." * 2500, V3._replace(max_weighted_length=25_000))
    assert time.perf_counter() - started < 1


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=300))
def test_length_never_negative(text: str) -> None:
    assert weighted_length(text) >= 0


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=200), st.text(max_size=60))
def test_appending_never_shortens(text: str, more: str) -> None:
    # a URL can absorb the appended text and still weigh 23, never less
    assert weighted_length(text + " " + more) >= weighted_length(text)


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=200))
def test_nfc_equivalent_texts_count_the_same(text: str) -> None:
    assert weighted_length(unicodedata.normalize("NFD", text)) == weighted_length(
        unicodedata.normalize("NFC", text)
    )
