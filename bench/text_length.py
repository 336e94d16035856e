"""Import time of the tweet-length counter and the cost of one parse, in a fresh interpreter.

Run: python bench/text_length.py   (targets: import < 20 ms, one 280-unit parse < 0.2 ms)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

IMPORT = (
    "import time; t = time.perf_counter(); import opentweet_mcp.text.weighted; "
    "print((time.perf_counter() - t) * 1000)"
)
TEXTS = {
    "280 Latin letters": "x" * 280,
    "140 CJK characters": "日" * 140,
    "sentences (many dots)": ("This is a sentence. Another one here. " * 8)[:280],
    "URLs and emoji": ("Hello world, see https://example.com/path 🙂 " * 6)[:280],
}


def main() -> None:
    imports = [
        float(
            subprocess.run(
                [sys.executable, "-c", IMPORT], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(15)
    ]
    print(
        f"import opentweet_mcp.text.weighted: median {statistics.median(imports):.1f} ms "
        f"(min {min(imports):.1f}, 15 fresh interpreters)"
    )
    from opentweet_mcp.text.weighted import parse_tweet

    parse_tweet("warm up: compile the URL grammar once, example.com 🙂")
    for name, text in TEXTS.items():
        runs = []
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(2000):
                parse_tweet(text)
            runs.append((time.perf_counter() - start) / 2000 * 1000)
        weighted = parse_tweet(text).weighted_length
        print(f"parse {name} (weighted {weighted}): median {statistics.median(runs):.3f} ms")


if __name__ == "__main__":
    main()
