"""Check the committed emoji grammar (opentweet_mcp/text/_emoji.py) against current emoji data.

The `emoji` package (PyPI) carries the full RGI emoji list; it is not a dependency, so fetch
its wheel into a temporary directory and point this script at it:

    .venv/bin/pip download emoji --no-deps -d /tmp/emoji-wheel
    .venv/bin/python scripts/check_emoji.py /tmp/emoji-wheel/emoji-*.whl

Every emoji the package lists must weigh 2, except © and ® without U+FE0F, which X counts
as the Latin-1 characters they are (1). Exit status 1 lists the emoji that do not.
"""

from __future__ import annotations

import sys
from typing import Any

from opentweet_mcp.text.weighted import weighted_length

TEXT_STYLE_LATIN = {"\u00a9", "\u00ae"}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, sys.argv[1])  # a pure-Python wheel imports straight from the zip
    import emoji  # type: ignore[import-not-found,unused-ignore]

    data: dict[str, dict[str, Any]] = emoji.EMOJI_DATA
    wrong = [
        (text, [f"U+{ord(char):04X}" for char in text], weighted_length(text))
        for text in data
        if weighted_length(text) != (1 if text in TEXT_STYLE_LATIN else 2)
    ]
    for text, code_points, length in wrong:
        print(f"{text}\t{' '.join(code_points)}\tweighs {length}")
    print(f"emoji {emoji.__version__}: {len(data)} sequences checked, {len(wrong)} wrong")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
