"""Hidden characters made visible for the person approving, and for terminals."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opentweet_mcp.text.visible import terminal_json, visible

SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"


@pytest.mark.parametrize(
    "text",
    [
        "plain text, nothing hidden",
        "Grüße aus Köln — 東京から 🙂",
        "👨‍👩‍👧 family, 🇺🇦 flag, #️⃣ keycap, 🫱🏻‍🫲🏿 handshake, ❤️ heart",
        f"a real subdivision flag: {SCOTLAND}",
        "two\nlines",
    ],
)
def test_what_draws_is_left_alone(text: str) -> None:
    assert visible(text) == text


@pytest.mark.parametrize(
    "text,shown",
    [
        ("zero\u200bwidth", "zero⟨U+200B⟩width"),
        ("\u202ereversed", "⟨U+202E⟩reversed"),
        ("esc\x1b[2J", "esc⟨U+001B⟩[2J"),
        ("c1\x9b31m", "c1⟨U+009B⟩31m"),
        ("nbsp\xa0here", "nbsp⟨U+00A0⟩here"),
        ("filler\u3164", "filler⟨U+3164⟩"),
        ("private\ue000use", "private⟨U+E000⟩use"),
        ("unassigned\U000e0080", "unassigned⟨U+E0080⟩"),
        ("\U0001f3f4\U000e0061\U000e007f", "🏴⟨U+E0061⟩⟨U+E007F⟩"),  # too short for a flag
        (  # California has the shape of a flag, but is not one Unicode recommends
            "\U0001f3f4\U000e0075\U000e0073\U000e0063\U000e0061\U000e007f",
            "🏴⟨U+E0075⟩⟨U+E0073⟩⟨U+E0063⟩⟨U+E0061⟩⟨U+E007F⟩",
        ),
    ],
)
def test_what_hides_is_shown(text: str, shown: str) -> None:
    assert visible(text) == shown


def test_newlines_can_be_shown_too() -> None:
    assert visible("a\nb", newlines=False) == "a⟨U+000A⟩b"


@given(st.text())
def test_nothing_invisible_survives(text: str) -> None:
    shown = visible(text, newlines=False)
    for char in shown.replace(SCOTLAND, ""):
        assert not (ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F)
        assert not 0xE0000 <= ord(char) <= 0xE0FFF
        assert char not in "\u200b\u200c\u202e\u2066\u2028\ufeff"


@given(st.dictionaries(st.text(), st.text()))
def test_terminal_json_is_the_same_json(value: dict[str, str]) -> None:
    dumped = terminal_json(json.dumps(value, indent=2, ensure_ascii=False))
    assert json.loads(dumped) == value
    assert not any(ord(c) < 0x20 and c != "\n" for c in dumped)
    assert "\x1b" not in dumped and "\x9b" not in dumped
