"""Emoji sequences as X counts them: each whole sequence weighs like one character.

The grammar is generic (UTS #51's emoji sequences), built on Extended_Pictographic, so emoji
that later Unicode versions add inside these ranges are counted right without new data:
pictographic + optional U+FE0F or skin-tone modifier, chained by ZWJ; regional-indicator pairs
(flags); keycaps; tag sequences (subdivision flags such as England's, whose tags spell a
region and subdivision code). The range table is Unicode's
Extended_Pictographic property (emoji-data.txt, unchanged since Unicode 13, reserved blocks
included); stdlib `unicodedata` lacks emoji properties. `scripts/check_emoji.py` verifies
that every emoji of the `emoji` package's RGI data weighs 2 with it.
"""

from __future__ import annotations

import re
from functools import cache

# fmt: off
EXTENDED_PICTOGRAPHIC: tuple[tuple[int, int], ...] = (
    (0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C), (0x2049, 0x2049),
    (0x2122, 0x2122), (0x2139, 0x2139), (0x2194, 0x2199), (0x21A9, 0x21AA),
    (0x231A, 0x231B), (0x2328, 0x2328), (0x2388, 0x2388), (0x23CF, 0x23CF),
    (0x23E9, 0x23F3), (0x23F8, 0x23FA), (0x24C2, 0x24C2), (0x25AA, 0x25AB),
    (0x25B6, 0x25B6), (0x25C0, 0x25C0), (0x25FB, 0x25FE), (0x2600, 0x2605),
    (0x2607, 0x2612), (0x2614, 0x2685), (0x2690, 0x2705), (0x2708, 0x2712),
    (0x2714, 0x2714), (0x2716, 0x2716), (0x271D, 0x271D), (0x2721, 0x2721),
    (0x2728, 0x2728), (0x2733, 0x2734), (0x2744, 0x2744), (0x2747, 0x2747),
    (0x274C, 0x274C), (0x274E, 0x274E), (0x2753, 0x2755), (0x2757, 0x2757),
    (0x2763, 0x2767), (0x2795, 0x2797), (0x27A1, 0x27A1), (0x27B0, 0x27B0),
    (0x27BF, 0x27BF), (0x2934, 0x2935), (0x2B05, 0x2B07), (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50), (0x2B55, 0x2B55), (0x3030, 0x3030), (0x303D, 0x303D),
    (0x3297, 0x3297), (0x3299, 0x3299),
    (0x1F000, 0x1F0FF), (0x1F10D, 0x1F10F), (0x1F12F, 0x1F12F), (0x1F16C, 0x1F171),
    (0x1F17E, 0x1F17F), (0x1F18E, 0x1F18E), (0x1F191, 0x1F19A), (0x1F1AD, 0x1F1E5),
    (0x1F201, 0x1F20F), (0x1F21A, 0x1F21A), (0x1F22F, 0x1F22F), (0x1F232, 0x1F23A),
    (0x1F23C, 0x1F23F), (0x1F249, 0x1F3FA), (0x1F400, 0x1F53D), (0x1F546, 0x1F64F),
    (0x1F680, 0x1F6FF), (0x1F774, 0x1F77F), (0x1F7D5, 0x1F7FF), (0x1F80C, 0x1F80F),
    (0x1F848, 0x1F84F), (0x1F85A, 0x1F85F), (0x1F888, 0x1F88F), (0x1F8AE, 0x1F8FF),
    (0x1F90C, 0x1F93A), (0x1F93C, 0x1F945), (0x1F947, 0x1FAFF), (0x1FC00, 0x1FFFD),
)
# fmt: on

FIRST_EMOJI_CHAR = "\xa9"  # no emoji sequence contains only code points below ©


@cache
def sequence_marker_pattern() -> re.Pattern[str]:
    """Code points of which every emoji sequence longer than one code point holds at least
    one (U+FE0F, ZWJ, keycap, skin tones, regional indicators, tag end): without any, there is
    nothing to weigh as a sequence and the costlier scan is skipped."""
    return re.compile("[\ufe0f\u200d\u20e3\U0001f3fb-\U0001f3ff\U0001f1e6-\U0001f1ff\U000e007f]")


def _char_class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(
        re.escape(chr(start)) if start == end else f"{re.escape(chr(start))}-{re.escape(chr(end))}"
        for start, end in ranges
    )


@cache
def emoji_sequence_pattern() -> re.Pattern[str]:
    """Emoji sequences, longest first; a lone pictograph matches too (callers that weigh single
    code points by their range, keeping © and ® at 1, ignore one-character matches)."""
    element = f"[{_char_class(EXTENDED_PICTOGRAPHIC)}](?:\ufe0f|[\U0001f3fb-\U0001f3ff])?"
    return re.compile(
        "[\U0001f1e6-\U0001f1ff]{2}"  # flags: regional-indicator pairs
        "|[0-9#*]\ufe0f?\u20e3"  # keycaps
        # tag sequences: subdivision flags, a region and a subdivision code in tag letters
        # and digits (UTS #51 tag_spec); a longer or other run of tags is no emoji
        "|\U0001f3f4[\U000e0061-\U000e007a]{2}[\U000e0030-\U000e0039\U000e0061-\U000e007a]{1,4}"
        "\U000e007f"
        f"|{element}(?:\u200d{element})*"  # presentation, skin tones, ZWJ chains
    )


@cache
def cluster_pattern() -> re.Pattern[str]:
    """What must never be cut: an emoji sequence, or any character with the combining marks,
    variation selectors, joiners and modifiers that attach to it."""
    attached = (
        "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe00-\ufe0f\ufe20-\ufe2f"
        "\u200c\u200d\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f\U000e0100-\U000e01ef]"
    )
    return re.compile(
        f"(?:{emoji_sequence_pattern().pattern}|\r\n|.){attached}*(?:\u200d.{attached}*)*",
        re.DOTALL,
    )
