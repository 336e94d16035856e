"""X's weighted tweet length (twitter-text v3). PLACEHOLDER: replaced by the real counter.

Contract (stable; other modules import these names):
- ``TextConfig``: frozen dataclass; ``V3`` (280, emoji on) and ``V2`` (emoji off) instances.
- ``parse_tweet(text, config=V3) -> ParsedTweet``
- ``weighted_length(text, config=V3) -> int``
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TextConfig:
    max_weighted_length: int = 280
    scale: int = 100
    default_weight: int = 200
    ranges: tuple[tuple[int, int, int], ...] = (
        (0, 4351, 100),
        (8192, 8205, 100),
        (8208, 8223, 100),
        (8242, 8247, 100),
    )
    transformed_url_length: int = 23
    emoji_parsing_enabled: bool = True


V3 = TextConfig()
V2 = TextConfig(emoji_parsing_enabled=False)


@dataclass(frozen=True, slots=True)
class ParsedTweet:
    weighted_length: int
    valid: bool
    permillage: int
    valid_range: tuple[int, int]
    display_range: tuple[int, int]
    url_spans: tuple[tuple[int, int], ...]


def parse_tweet(text: str, config: TextConfig = V3) -> ParsedTweet:
    n = len(text)
    length = n
    return ParsedTweet(
        weighted_length=length,
        valid=0 < length <= config.max_weighted_length,
        permillage=length * 1000 // config.max_weighted_length,
        valid_range=(0, max(n - 1, 0)),
        display_range=(0, max(n - 1, 0)),
        url_spans=(),
    )


def weighted_length(text: str, config: TextConfig = V3) -> int:
    return parse_tweet(text, config).weighted_length
