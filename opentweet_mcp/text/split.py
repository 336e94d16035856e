"""Splitting long text into thread tweets that each fit X's weighted length.

Blank lines are the author's own breaks, so they are kept first; inside a block whole sentences
are kept together where they fit, then whole words, and only a word longer than a tweet is cut
(between characters, never inside an emoji sequence). With numbering each part ends " i/n" and
still fits: the count is recomputed until the suffix width is stable.
"""

from __future__ import annotations

import re

from opentweet_mcp.text.weighted import V3, TextConfig, weighted_length

_BLANK_LINE = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE = re.compile(r".+?(?:[.!?…]+[\"')\]]*(?=\s)|$)\s*", re.DOTALL)
_WORD = re.compile(r"\S+\s*")
# code points that belong to the character before them: combining marks, variation
# selectors, ZWJ and what it joins, skin tones, tag characters, keycap
_JOINS_PREVIOUS = re.compile(
    "[\u0300-\u036f\u200c\u200d\ufe00-\ufe0f\u20e3\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]"
)


def split_thread(
    text: str, *, numbering: bool = False, max_length: int = 280, config: TextConfig = V3
) -> list[str]:
    """Split `text` into parts that each weigh at most `max_length` (numbering included)."""
    if not text.strip():
        raise ValueError("text is empty")
    config = config._replace(max_weighted_length=max_length)
    blocks = [block for block in _BLANK_LINE.split(text.strip()) if block.strip()]
    suffix = 0
    while True:
        limit = max_length - suffix
        if limit < 1:
            raise ValueError(f"max_length {max_length} leaves no room for numbering")
        parts = [part for block in blocks for part in _pack(block, limit, config)]
        if not numbering:
            return parts
        total = len(parts)
        width = len(f" {total}/{total}")  # ASCII: one weighted unit per character
        if width <= suffix:
            return [f"{part} {index}/{total}" for index, part in enumerate(parts, start=1)]
        suffix = width


def _fits(text: str, limit: int, config: TextConfig) -> bool:
    return weighted_length(text.strip(), config) <= limit


def _pack(block: str, limit: int, config: TextConfig) -> list[str]:
    """Greedy packing of sentences, falling back to words, then to characters."""
    if _fits(block, limit, config):
        return [block.strip()]
    units: list[str] = []
    for sentence in _SENTENCE.findall(block):
        if _fits(sentence, limit, config):
            units.append(sentence)
        else:
            for word in _WORD.findall(sentence):
                units += [word] if _fits(word, limit, config) else _cut(word, limit, config)
    parts: list[str] = []
    current = ""
    for unit in units:
        if current and not _fits(current + unit, limit, config):
            parts.append(current.strip())
            current = ""
        current += unit
    if current.strip():
        parts.append(current.strip())
    return parts


def _clusters(word: str) -> list[str]:
    clusters: list[str] = []
    for char in word:
        if clusters and (_JOINS_PREVIOUS.match(char) or clusters[-1].endswith("\u200d")):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _cut(word: str, limit: int, config: TextConfig) -> list[str]:
    """Cut a word longer than a tweet into pieces that fit, between whole characters."""
    pieces: list[str] = []
    current = ""
    for cluster in _clusters(word.strip()):
        if current and not _fits(current + cluster, limit, config):
            pieces.append(current + " ")
            current = ""
        current += cluster
    if current:
        pieces.append(current + " ")
    return pieces
