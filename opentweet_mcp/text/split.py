"""Splitting long text into thread tweets that each fit X's weighted length.

Blank lines are the author's own breaks, so each block becomes its own part (split further
when too long). Inside a block whole sentences are kept together where they fit, then whole
words; only a word longer than a tweet is cut, between characters but never inside an emoji
sequence or a combining sequence, and not inside a URL when the URL fits on its own. With
numbering each part ends " i/n" and still fits: the room kept for the suffix grows until the
count it produces is stable.

Pieces are weighed once each and added up: text split at whitespace weighs exactly the sum of
its pieces (URLs, emoji sequences and NFC compositions never span whitespace). Every part is
then weighed whole as a check, so a config with fractional weights cannot slip past the limit.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata

from opentweet_mcp.text._emoji import cluster_pattern
from opentweet_mcp.text._urls import url_spans
from opentweet_mcp.text.weighted import V3, TextConfig, weighted_length

__all__ = ["split_thread"]

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")
_SENTENCE = re.compile(r".+?(?:[.!?…]+[\"'’”)\]]*(?=\s)|[。！？]+[\"'’”」』)\]]*|$)\s*", re.DOTALL)
_WORD = re.compile(r"\S+\s*")


@dataclasses.dataclass(frozen=True, slots=True)
class _Unit:
    """A piece of a block: text without its trailing whitespace, that whitespace, their weights,
    and whether a part must end after it (the pieces of a cut word do not run on)."""

    core: str
    space: str
    core_weight: int
    space_weight: int
    hard_break: bool = False


def split_thread(
    text: str, *, numbering: bool = False, max_length: int = 280, config: TextConfig = V3
) -> list[str]:
    """Split `text` into stripped parts that each weigh at most `max_length` (which overrides
    `config.max_weighted_length`), numbering suffixes " i/n" included."""
    if not text.strip():
        raise ValueError("text is empty: there is nothing to split")
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    config = config._replace(max_weighted_length=max_length)
    blocks = [block.strip() for block in _BLANK_LINE.split(text.strip()) if block.strip()]
    if not numbering:
        return _split_blocks(blocks, max_length, config)
    reserve = 0
    while True:
        parts = _split_blocks(blocks, max_length - reserve, config)
        total = len(parts)
        numbered = [f"{part} {index}/{total}" for index, part in enumerate(parts, start=1)]
        if all(weighted_length(part, config) <= max_length for part in numbered):
            return numbered
        reserve = max(reserve + 1, weighted_length(f" {total}/{total}", config))


def _split_blocks(blocks: list[str], limit: int, config: TextConfig) -> list[str]:
    if limit < 1:
        raise ValueError("max_length leaves no room for the text once numbering is added")
    return [part for block in blocks for part in _split_block(block, limit, config)]


def _unit(text: str, config: TextConfig, hard_break: bool = False) -> _Unit:
    core = text.rstrip()
    space = text[len(core) :]
    return _Unit(
        core,
        space,
        weighted_length(core, config),
        weighted_length(space, config) if space else 0,
        hard_break,
    )


def _split_block(block: str, limit: int, config: TextConfig) -> list[str]:
    """Greedy packing of sentences, falling back to words, then to pieces of words."""
    if weighted_length(block, config) <= limit:
        return [block]
    units: list[_Unit] = []
    for sentence in _SENTENCE.findall(block):
        unit = _unit(sentence, config)
        if unit.core_weight <= limit:
            units.append(unit)
            continue
        for word in _WORD.findall(sentence):
            unit = _unit(word, config)
            if unit.core_weight <= limit:
                units.append(unit)
                continue
            pieces = _cut(unit.core, limit, config)
            units += [_unit(piece, config, hard_break=True) for piece in pieces[:-1]]
            units.append(_unit(pieces[-1] + unit.space, config))
    return _pack(units, limit, config)


def _pack(units: list[_Unit], limit: int, config: TextConfig) -> list[str]:
    parts: list[str] = []
    start = 0
    while start < len(units):
        end = start + 1  # a unit always fits on its own
        weight = units[start].core_weight
        while not units[end - 1].hard_break and end < len(units):
            candidate = weight + units[end - 1].space_weight + units[end].core_weight
            if candidate > limit:
                break
            weight = candidate
            end += 1
        part = _join(units[start:end])
        while end - start > 1 and weighted_length(part, config) > limit:
            end -= 1  # only with fractional weights: the sum was rounded down
            part = _join(units[start:end])
        parts.append(part)
        start = end
    return parts


def _join(units: list[_Unit]) -> str:
    return "".join(unit.core + unit.space for unit in units).strip()


def _atoms(word: str, limit: int, config: TextConfig) -> list[str]:
    """A word as the pieces it may be cut between: clusters, and each URL whole when it fits
    (a URL weighs 23 whole; cut, its pieces would weigh what their characters weigh)."""
    clusters: list[str] = cluster_pattern().findall(word)
    fits = config.transformed_url_length <= limit
    # URL indices count code points of the NFC text, so they only apply to NFC words
    urls = url_spans(word) if fits and unicodedata.is_normalized("NFC", word) else []
    if not urls:
        return clusters
    atoms: list[str] = []
    position = 0
    for cluster in clusters:
        if atoms and any(start < position < end for _, start, end in urls):
            atoms[-1] += cluster
        else:
            atoms.append(cluster)
        position += len(cluster)
    return atoms


def _cut(word: str, limit: int, config: TextConfig) -> list[str]:
    """Cut a word heavier than `limit` into pieces that each fit, between atoms."""
    atoms: list[str] = []
    for atom in _atoms(word, limit, config):
        if weighted_length(atom, config) <= limit:
            atoms.append(atom)
        else:  # a URL or combining sequence too heavy alone: cut it rather than fail
            atoms += [
                piece
                for cluster in cluster_pattern().findall(atom)
                for piece in (
                    [cluster] if weighted_length(cluster, config) <= limit else list(cluster)
                )
            ]
    weights = [weighted_length(atom, config) for atom in atoms]
    pieces: list[str] = []
    start = 0
    while start < len(atoms):
        if weights[start] > limit:
            raise ValueError(f"max_length {limit} is too small for {atoms[start]!r}")
        end = start + 1
        weight = weights[start]
        while end < len(atoms) and weight + weights[end] <= limit:
            weight += weights[end]
            end += 1
        piece = "".join(atoms[start:end])
        while end - start > 1 and weighted_length(piece, config) > limit:
            end -= 1  # joined atoms can weigh more than apart, e.g. when they form a URL
            piece = "".join(atoms[start:end])
        pieces.append(piece)
        start = end
    return pieces
