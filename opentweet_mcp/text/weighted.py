"""X's weighted tweet length (twitter-text v3), counted exactly as X counts it.

The text is NFC-normalised; each code point weighs by the configured ranges (default 200,
Latin and common punctuation 100, divided by the scale of 100); every URL weighs 23 whatever
its length (`_urls.py`); every emoji sequence (flags, keycaps, tag sequences, skin tones, ZWJ
chains) weighs 2 as one unit (`_emoji.py`); U+FFFE, U+FEFF and U+FFFF make a tweet invalid.

The configuration is data (`TextConfig`, twitter-text's config JSON): a premium length of
25,000 or the v2 weights are another config, not other code. Ranges and indices follow
twitter-text: inclusive, in UTF-16 code units of the original (un-normalised) text.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from functools import cache
from typing import NamedTuple

from opentweet_mcp.text._emoji import emoji_sequence_pattern, sequence_marker_pattern
from opentweet_mcp.text._urls import (
    INVALID_CHARS,
    extract_urls_with_indices,
    is_valid_url,
    url_spans,
    utf16_spans,
)

__all__ = [
    "V2",
    "V3",
    "ParsedTweet",
    "TextConfig",
    "extract_urls_with_indices",
    "is_valid_url",
    "parse_tweet",
    "weighted_length",
]


class TextConfig(NamedTuple):
    """Counting rules as data (twitter-text's config JSON: config/v3.json by default).

    A NamedTuple rather than a dataclass: importing `dataclasses` alone costs ~10 ms, half
    this module's import budget. Derive variants with `_replace`."""

    max_weighted_length: int = 280
    scale: int = 100
    default_weight: int = 200
    ranges: tuple[tuple[int, int, int], ...] = (  # (first, last code point, weight)
        (0x0000, 0x10FF, 100),
        (0x2000, 0x200D, 100),
        (0x2010, 0x201F, 100),
        (0x2032, 0x2037, 100),
    )
    transformed_url_length: int = 23
    emoji_parsing_enabled: bool = True


V3 = TextConfig()  # twitter-text config/v3.json: what X counts today
V2 = TextConfig(emoji_parsing_enabled=False)  # config/v2.json: emoji weigh per code point


class ParsedTweet(NamedTuple):
    weighted_length: int
    valid: bool
    permillage: int
    valid_range: tuple[int, int]  # inclusive, UTF-16 units of the original text
    display_range: tuple[int, int]  # inclusive, UTF-16 units of the original text
    url_spans: tuple[tuple[int, int], ...]  # (start, end exclusive), UTF-16 units of the text


_Classes = tuple[tuple[re.Pattern[str], int], ...]


def _check_ranges(ranges: tuple[tuple[int, int, int], ...]) -> None:
    spans = sorted((first, last) for first, last, _ in ranges)
    if any(first > last for first, last in spans) or any(
        next_first <= last for (_, last), (next_first, _) in itertools.pairwise(spans)
    ):
        raise ValueError(f"ranges must be ordered pairs and must not overlap: {ranges}")


@cache
def _weight_classes(ranges: tuple[tuple[int, int, int], ...], default: int) -> _Classes:
    """One pattern per weight that differs from the default, matching runs of its characters,
    so plain text is weighed by a few C-level matches rather than a Python loop per character.
    Overlapping ranges would make that ambiguous, so such a config is refused."""
    _check_ranges(ranges)
    by_weight: dict[int, list[str]] = {}
    for first, last, weight in ranges:
        if weight != default:
            by_weight.setdefault(weight, []).append(
                f"{re.escape(chr(first))}-{re.escape(chr(last))}"
            )
    return tuple(
        (re.compile(f"[{''.join(parts)}]+"), weight) for weight, parts in by_weight.items()
    )


@cache
def _ascii_weight(ranges: tuple[tuple[int, int, int], ...], default: int) -> int | None:
    """The weight of every ASCII character when they all weigh the same (they do in v2/v3)."""
    _check_ranges(ranges)
    weights = {
        next((weight for first, last, weight in ranges if first <= code <= last), default)
        for code in range(128)
    }
    return weights.pop() if len(weights) == 1 else None


def _run_weight(run: str, config: TextConfig) -> int:
    if run.isascii():
        ascii_weight = _ascii_weight(config.ranges, config.default_weight)
        if ascii_weight is not None:
            return ascii_weight * len(run)
    total = config.default_weight * len(run)
    for pattern, weight in _weight_classes(config.ranges, config.default_weight):
        matched = sum(map(len, pattern.findall(run)))
        total += (weight - config.default_weight) * matched
    return total


def _entities(text: str, config: TextConfig) -> tuple[list[tuple[int, int, int]], list[int]]:
    """Spans weighed as one unit, (start, end, weight) in code points, sorted; and URL indices."""
    entities: list[tuple[int, int, int]] = []
    urls: list[int] = []
    url_weight = config.transformed_url_length * config.scale
    if config.transformed_url_length > 0:
        for _, start, end in url_spans(text):
            urls.append(len(entities))
            entities.append((start, end, url_weight))
    # every sequence holds a marker at or above U+00A9: ASCII or marker-free text skips the scan
    if (
        config.emoji_parsing_enabled
        and not text.isascii()
        and sequence_marker_pattern().search(text)
    ):
        taken = [(start, end) for start, end, _ in entities]
        for match in emoji_sequence_pattern().finditer(text):
            start, end = match.span()
            # a lone code point weighs by its range: © and ® stay 1, "©\ufe0f" weighs 2
            if end - start > 1 and not (taken and any(s < end and start < e for s, e in taken)):
                entities.append((start, end, config.default_weight))
        if taken:
            entities.sort()
    return entities, urls


def _fitting_prefix(run: str, room: int, config: TextConfig) -> int:
    """How many characters of a plain run weigh at most `room` (binary search: weights are
    non-negative, so the weight of a prefix only grows with its length)."""
    low, high = 0, len(run)
    while low < high:
        middle = (low + high + 1) // 2
        if _run_weight(run[:middle], config) <= room:
            low = middle
        else:
            high = middle - 1
    return low


def _valid_end(text: str, entities: list[tuple[int, int, int]], config: TextConfig) -> int:
    """Code point index of the last character that fits and precedes any invalid character
    (twitter-text's validRangeEnd), -1 when none does."""
    limit = config.max_weighted_length * config.scale
    first_invalid = min((i for i in map(text.find, INVALID_CHARS) if i >= 0), default=len(text))
    total = 0
    position = 0
    for start, end, weight in [*entities, (len(text), len(text), 0)]:
        run = text[position : min(start, first_invalid)]
        run_weight = _run_weight(run, config)
        if total + run_weight > limit:
            return position + _fitting_prefix(run, limit - total, config) - 1
        total += run_weight
        if start >= first_invalid or total + weight > limit:
            return position + len(run) - 1
        total += weight
        position = end
    return len(text) - 1


def _units(text: str) -> int:
    """Length in UTF-16 code units (what twitter-text's indices count)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _original_spans(
    text: str, normalized: str, spans: list[tuple[int, int]]
) -> tuple[tuple[int, int], ...]:
    """Spans in code points of the NFC text as UTF-16 units of the original text: when NFC
    changed the text, each index maps to the shortest original prefix normalising to as many
    code points (that length never shrinks as the prefix grows, so bisection finds it)."""
    if spans and text != normalized:

        def normalized_length(end: int) -> int:
            return len(unicodedata.normalize("NFC", text[:end]))

        spans = [
            (
                bisect.bisect_left(range(len(text) + 1), start, key=normalized_length),
                bisect.bisect_left(range(len(text) + 1), end, key=normalized_length),
            )
            for start, end in spans
        ]
    return tuple(utf16_spans(text, spans))


def parse_tweet(text: str, config: TextConfig = V3) -> ParsedTweet:
    """Weighted length, validity and ranges of `text`, as twitter-text's parseTweet computes."""
    if not text:
        return ParsedTweet(0, False, 0, (0, 0), (0, 0), ())
    normalized = unicodedata.normalize("NFC", text)
    entities, urls = _entities(normalized, config)

    plain = normalized
    if entities:
        bounds = [0, *(i for start, end, _ in entities for i in (start, end)), len(normalized)]
        plain = "".join(normalized[bounds[i] : bounds[i + 1]] for i in range(0, len(bounds), 2))
    total = _run_weight(plain, config) + sum(weight for _, _, weight in entities)

    has_invalid = any(char in normalized for char in INVALID_CHARS)
    within = total <= config.max_weighted_length * config.scale
    valid_end = len(normalized) - 1
    if has_invalid or not within:
        valid_end = _valid_end(normalized, entities, config)

    # indices in UTF-16 units of the original text, shifted like twitter-text by what NFC
    # added or removed; 0 (twitter-text's start value) when not even the first character fits
    valid_units = _units(normalized[: valid_end + 1]) - 1 if valid_end >= 0 else 0
    original_units = _units(text)
    offset = original_units - _units(normalized)
    length = total // config.scale
    spans = [entities[i][:2] for i in urls]
    return ParsedTweet(
        weighted_length=length,
        valid=not has_invalid and 0 < length <= config.max_weighted_length,
        permillage=length * 1000 // config.max_weighted_length,
        valid_range=(0, max(valid_units + offset, 0)),
        display_range=(0, original_units - 1),
        url_spans=_original_spans(text, normalized, spans),
    )


def weighted_length(text: str, config: TextConfig = V3) -> int:
    """The weighted length alone (what the 280 limit is checked against)."""
    return parse_tweet(text, config).weighted_length
