"""Text as a person must see it before approving it, and as a terminal may safely print it.

A preview that hides characters cannot be approved: zero-width padding can hide a tail,
bidi controls reorder what is read, tag characters can carry a whole invisible sentence, a
terminal escape can rewrite the screen. Every control, format (Cf), separator, invisible,
private-use and unassigned character is shown as `⟨U+XXXX⟩`, except inside an emoji
sequence, where joiners and variation selectors are what draw the emoji. Tag characters are
left alone only in the three subdivision flags Unicode recommends (England, Scotland, Wales).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from opentweet_mcp.text._emoji import emoji_sequence_pattern

# Controls (C0 but the newline, DEL, C1), format characters (Unicode's Cf), line and paragraph
# separators, spaces other than U+0020, letters and marks that draw nothing (Hangul fillers,
# braille blank, CGJ, variation selectors), and the whole tag and ignorable plane-14 block.
_HIDDEN = (
    "\x00-\x09\x0b-\x1f\x7f-\x9f"
    "\xa0\xad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u115f\u1160\u1680\u17b4\u17b5\u180b-\u180f"
    "\u2000-\u200f\u2028-\u202f\u205f-\u206f\u2800\u3000\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff"
)
_ANY_HIDDEN = re.compile(f"[{_HIDDEN}]")
_TAGS = re.compile("[\U000e0000-\U000e0fff]")
_FLAGS = frozenset(
    "\U0001f3f4" + "".join(chr(0xE0000 + ord(c)) for c in code) + "\U000e007f"
    for code in ("gbeng", "gbsct", "gbwls")
)
_UNSEEN = ("Cn", "Co", "Cs")  # unassigned, private use, surrogates: no glyph to trust


@cache
def _pattern() -> re.Pattern[str]:
    return re.compile(f"({emoji_sequence_pattern().pattern})|[{_HIDDEN}]|([^\\x00-\\x7f])")


def _code(char: str) -> str:
    return f"⟨U+{ord(char):04X}⟩"


def _shown(match: re.Match[str]) -> str:
    found = match[0]
    if match[1] is not None:  # an emoji sequence: its joiners and selectors draw the emoji
        if _TAGS.search(found) and found not in _FLAGS:
            return found[0] + "".join(_code(c) for c in found[1:])
        return found
    if match[2] is not None and unicodedata.category(found) not in _UNSEEN:
        return found
    return _code(found)


def visible(text: str, *, newlines: bool = True) -> str:
    """`text` with every hidden character shown as ⟨U+XXXX⟩; newlines kept if `newlines`."""
    if text.isascii() and not _ANY_HIDDEN.search(text):
        shown = text
    else:
        shown = _pattern().sub(_shown, text)
    return shown if newlines or "\n" not in shown else shown.replace("\n", "⟨U+000A⟩")


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a surrogate pair, as JSON spells characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def terminal_json(dumped: str) -> str:
    """JSON text (from `json.dumps(..., ensure_ascii=False)`) with hidden characters written
    as escapes, so it stays the same JSON but nothing in it can drive a terminal. Raw newlines
    in such text are only the indentation's, since strings escape theirs."""
    return _ANY_HIDDEN.sub(_json_escape, dumped)
