"""Plans and their limits, chosen by the key's prefix (docs/sandbox.md), and the shared validation
rules of the simulated API. Where the upstream guide gives a number it is used as is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from opentweet_mcp.text.weighted import V3, parse_tweet


@dataclass(frozen=True)
class Subscription:
    """An OpenTweet plan and its limits (a plan of the API, not a `guard.plan.Plan`)."""

    name: str
    has_access: bool
    accounts: int
    per_minute: int
    per_day: int
    daily_posts: int
    daily_url_posts: int
    evergreen_pool: int  # 0: evergreen not available
    evergreen_per_day: int
    searches_per_day: int
    ai_per_day: int
    tweet_analytics: bool


PLANS: dict[str, Subscription] = {
    "trial": Subscription("trial", True, 1, 60, 1000, 10, 2, 0, 0, 2, 5, False),
    "pro": Subscription("pro", True, 1, 60, 1000, 100, 10, 10, 2, 50, 50, False),
    "advanced": Subscription("advanced", True, 3, 300, 10000, 500, 50, 999, 10, 200, 200, True),
    "agency": Subscription("agency", True, 10, 600, 20000, 1000, 100, 999, 10, 500, 500, True),
    "none": Subscription("none", False, 1, 60, 1000, 0, 0, 0, 0, 0, 0, False),
}
PLAN_WORDS = {
    "trial": "trial",
    "pro": "pro",
    "advanced": "advanced",
    "agency": "agency",
    "nosub": "none",
}
# What the key's prefix may also say about its X accounts (docs/sandbox.md):
# `premium_` — X Premium: tweets up to 25,000 weighted characters;
# `crosspost_` — cross-posting to Bluesky and LinkedIn is on for requests that name no platforms.
TRAITS = ("premium", "crosspost")
CROSS_POST = ["bluesky", "linkedin"]


def key_traits(key: str) -> tuple[Subscription, frozenset[str]]:
    """The plan and traits the key's leading words name, in any order (`advanced_premium_…`);
    the plan is Pro when no word names one. The words end at the first that is neither."""
    plan = "pro"
    traits: set[str] = set()
    for word in key.split("_")[:-1]:
        if word in PLAN_WORDS:
            plan = PLAN_WORDS[word]
        elif word in TRAITS:
            traits.add(word)
        else:
            break
    return PLANS[plan], frozenset(traits)


MAX_BULK = 50
MAX_TWEET = 280
MAX_LONG_TWEET = 25_000  # an account with X Premium
PLATFORMS = ("x", "bluesky", "linkedin")
MAX_IMAGES = 4
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v")
_URL = re.compile(r"(?i)\bhttps?://\S+|\bwww\.\S+")
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_OBJECT_ID = re.compile(r"[0-9a-f]{24}")


class Rejected(Exception):
    """A request the API refuses: status, message, machine code and extra payload."""

    def __init__(self, status: int, message: str, code: str, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.extra = extra


def bad(message: str, code: str = "invalid_request") -> Rejected:
    return Rejected(400, message, code)


def check_text(text: object, what: str = "text", limit: int = MAX_TWEET) -> str:
    if not isinstance(text, str) or not text.strip():
        raise bad(f"{what} is required and must be a non-empty string")
    parsed = parse_tweet(text, V3._replace(max_weighted_length=limit))
    if parsed.weighted_length > limit:
        raise bad(
            f"{what} is {parsed.weighted_length} characters (weighted); the maximum is {limit}",
            "text_too_long",
        )
    if not parsed.valid:
        raise bad(f"{what} contains invalid characters", "invalid_characters")
    return text


def check_platforms(value: object, connected: list[str]) -> list[str] | None:
    """The networks a request names (None: it names none, so the account's setting applies)."""
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise bad('platforms must be a non-empty list such as ["x"]', "invalid_platforms")
    for name in value:
        if name not in PLATFORMS:
            raise bad(
                f"unknown platform {name!r}; known: {', '.join(PLATFORMS)}", "invalid_platforms"
            )
        if name not in connected:
            raise bad(f"{name} is not connected to this account", "platform_not_connected")
    return list(dict.fromkeys(value))


def check_media(urls: object, what: str = "media_urls") -> list[str]:
    if urls is None:
        return []
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise bad(f"{what} must be a list of URLs")
    videos = sum(1 for u in urls if u.lower().split("?")[0].endswith(VIDEO_SUFFIXES))
    if len(urls) > MAX_IMAGES or videos > 1 or (videos and len(urls) > 1):
        raise bad(f"{what}: up to {MAX_IMAGES} images or 1 video per tweet", "too_much_media")
    return list(urls)


def parse_date(value: object, now: datetime) -> str:
    if not isinstance(value, str):
        raise bad("scheduled_date must be an ISO 8601 string", "invalid_date")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise bad(f"scheduled_date {value!r} is not ISO 8601", "invalid_date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment <= now:
        raise bad("scheduled_date must be in the future", "date_in_past")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def check_times(value: object) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(t, str) and _HHMM.fullmatch(t) for t in value)
    ):
        raise bad('posting_times must be a non-empty list of "HH:mm" strings')
    return sorted(set(value))


def check_int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad(f"{name} must be a whole number from {low} to {high}")
    return value


def check_id(value: str) -> str:
    if not _OBJECT_ID.fullmatch(value):
        raise bad("invalid id: expected a 24-character ObjectId", "invalid_id")
    return value


def has_url(texts: list[str]) -> bool:
    return any(_URL.search(t) for t in texts)
