"""Compose tools: count and split tweets exactly as X does, locally, with no network."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from opentweet_mcp.long_posts import LONG, SET_ON, UNKNOWN, TweetLimit
from opentweet_mcp.results import Out, success
from opentweet_mcp.services import services
from opentweet_mcp.text.split import split_thread as split_text
from opentweet_mcp.text.weighted import V3, TextConfig, parse_tweet
from opentweet_mcp.tools.spec import ToolSpec, declare
from opentweet_mcp.users import ForeignApiKey, NoApiKey
from opentweet_mcp.validate import InvalidArguments, check_media_urls

TOOLS: list[ToolSpec] = []

# Default: the account's own limit (280, or 25,000 with long posts), said in the result.
MaxLength = Annotated[int, Field(ge=10, le=LONG, description="Default: account's")]


class CheckOut(Out):
    ok: bool
    tweets: list[dict[str, Any]]
    problems: list[str]


class SplitOut(Out):
    parts: list[str]
    lengths: list[int]


def _utf16_slice(text: str, start: int, end: int) -> str:
    data = text.encode("utf-16-le")
    return data[start * 2 : end * 2].decode("utf-16-le", errors="replace")


def _report(index: int, text: str, config: TextConfig) -> tuple[dict[str, Any], list[str]]:
    parsed = parse_tweet(text, config)
    problems: list[str] = []
    label = f"tweet {index + 1}"
    if not text.strip():
        problems.append(f"{label} is empty")
    elif parsed.weighted_length > config.max_weighted_length:
        over = parsed.weighted_length - config.max_weighted_length
        problems.append(
            f"{label} is {parsed.weighted_length} weighted characters, {over} over the limit of "
            f"{config.max_weighted_length}"
        )
    elif not parsed.valid:
        problems.append(f"{label} contains characters X rejects (U+FFFE, U+FEFF or U+FFFF)")
    report = {
        "weighted_length": parsed.weighted_length,
        "remaining": config.max_weighted_length - parsed.weighted_length,
        "valid": parsed.valid,
        "permillage": parsed.permillage,
        "valid_range": list(parsed.valid_range),
        "urls": [_utf16_slice(text, start, end) for start, end in parsed.url_spans],
    }
    return report, problems


def _limit(ctx: Context, max_length: int | None) -> TweetLimit:
    """The limit to count against: the one asked for, else the account's as far as it is
    known without a request (the setting, or what OpenTweet last said about the account)."""
    if max_length is not None:
        return TweetLimit(max_length, "max_length given")
    try:
        caller = services(ctx).caller(ctx)
        return caller.known_tweet_limit(caller.account(None))
    except (NoApiKey, ForeignApiKey):  # no key to look up: only the setting is known
        return SET_ON if services(ctx).settings.long_posts else UNKNOWN


def _media_problems(label: str, urls: list[str]) -> list[str]:
    try:
        check_media_urls(urls)
    except ValueError as exc:
        return [f"{label}: {exc}"]
    return []


@declare(TOOLS, "Check post", read_only=True, open_world=False)
async def check_post(
    ctx: Context,
    text: Annotated[str, Field(description="First tweet")],
    thread_tweets: Annotated[list[str] | None, Field(description="Later tweets")] = None,
    media_urls: Annotated[list[str] | None, Field(description="First tweet's")] = None,
    thread_media: Annotated[list[list[str]] | None, Field(description="Per thread tweet")] = None,
    max_length: MaxLength | None = None,
) -> Annotated[CallToolResult, CheckOut]:
    """Check tweets locally: weighted length as X counts it, media rules."""
    limit = _limit(ctx, max_length)
    config = V3._replace(max_weighted_length=limit.chars)
    tweets = [text, *(thread_tweets or [])]
    reports: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, tweet in enumerate(tweets):
        report, found = _report(index, tweet, config)
        reports.append(report)
        problems += found
    problems += _media_problems("tweet 1 media", media_urls or [])
    if thread_media is not None:
        if len(thread_media) != len(thread_tweets or []):
            problems.append(
                f"thread_media has {len(thread_media)} lists for {len(thread_tweets or [])} "
                "thread tweets; give one list per thread tweet"
            )
        for index, urls in enumerate(thread_media, start=2):
            problems += _media_problems(f"tweet {index} media", urls)
    lines = [f"Limit per tweet: {limit}"]
    lines += [
        f"Tweet {i + 1}: {r['weighted_length']}/{limit.chars} ({r['remaining']} left)"
        + (f", URLs counted as 23: {', '.join(r['urls'])}" if r["urls"] else "")
        for i, r in enumerate(reports)
    ]
    lines.append("OK: ready to post." if not problems else "Problems: " + "; ".join(problems))
    data = {
        "ok": not problems,
        "tweets": reports,
        "problems": problems,
        "limit": limit.chars,
        "limit_reason": limit.why,
    }
    return success("\n".join(lines), data)


@declare(TOOLS, "Split into thread", read_only=True, open_world=False)
async def split_thread(
    ctx: Context,
    text: Annotated[str, Field(min_length=1, max_length=100_000, description="To split")],
    numbering: Annotated[bool, Field(description='Add " i/n"')] = False,
    max_length: MaxLength | None = None,
) -> Annotated[CallToolResult, SplitOut]:
    """Split text into tweets that fit: at blank lines, then sentences, then words."""
    limit = _limit(ctx, max_length)
    config = V3._replace(max_weighted_length=limit.chars)
    try:
        parts = split_text(text, numbering=numbering, max_length=limit.chars, config=config)
    except ValueError as exc:
        raise InvalidArguments(str(exc)) from None
    lengths = [parse_tweet(part, config).weighted_length for part in parts]
    lines = [f"{len(parts)} part(s), each within {limit}:"]
    lines += [
        f"{i}. ({n}) {part}" for i, (part, n) in enumerate(zip(parts, lengths, strict=True), 1)
    ]
    lines.append(
        "Create it with create_post: text = part 1, thread_tweets = the rest, is_thread = true."
    )
    data = {"parts": parts, "lengths": lengths, "limit": limit.chars, "limit_reason": limit.why}
    return success("\n".join(lines), data)
