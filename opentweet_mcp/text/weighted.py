"""X's weighted tweet length (twitter-text v3), counted exactly as X counts it.

The text is NFC-normalised; each code point weighs by the configured ranges (default 200,
Latin and common punctuation 100, divided by the scale of 100); every URL weighs 23 whatever
its length; every emoji sequence (flags, keycaps, tag sequences, skin tones, ZWJ chains)
weighs 2 as one unit; U+FFFE, U+FEFF and U+FFFF make a tweet invalid. URL recognition follows
twitter-text's extractor: known TLDs, scheme-less domains only when ASCII, t.co slug limits,
label and total length limits (via IDNA), path, query and balanced parentheses.

The configuration is data (`TextConfig`): a premium length or the v2 weights are another
config, not other code. The big URL regex is compiled on first use, keeping imports cheap.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import cache
from typing import NamedTuple

__all__ = [
    "V2",
    "V3",
    "ParsedTweet",
    "TextConfig",
    "extract_urls_with_indices",
    "is_valid_url",
    "parse_tweet",
    "weighted_length",
]


class TextConfig(NamedTuple):
    """Counting rules as data (twitter-text's config JSON); derive variants with _replace."""

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


V3 = TextConfig()  # twitter-text config/v3.json: what X counts today
V2 = TextConfig(emoji_parsing_enabled=False)  # v2: emoji weigh per code point


class ParsedTweet(NamedTuple):
    weighted_length: int
    valid: bool
    permillage: int
    valid_range: tuple[int, int]  # inclusive, UTF-16 units of the original text
    display_range: tuple[int, int]  # inclusive, UTF-16 units of the original text
    url_spans: tuple[tuple[int, int], ...]  # (start, end exclusive), UTF-16 units


INVALID_CHARS = "\ufffe\ufeff\uffff"
_DIRECTIONAL = "\u202a-\u202e\u061c\u200e\u200f\u2066\u2067\u2068\u2069"
_SPACES = "\x09-\x0d\x20\x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_PUNCT = r"\!'#%&'\(\)*\+,\\\-\.\/:;<=>\?@\[\]\^_{|}~\$"
_LATIN_ACCENTS = (
    "\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263"
    "\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_CYRILLIC = "\u0400-\u04ff"

# Extended_Pictographic (Unicode emoji-data), as ranges; emoji sequences are built on it.
_PICTOGRAPHIC = (
    "\xa9\xae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9\u21aa\u231a\u231b\u2328\u2388"
    "\u23cf\u23e9-\u23f3\u23f8-\u23fa\u24c2\u25aa\u25ab\u25b6\u25c0\u25fb-\u25fe"
    "\u2600-\u2605\u2607-\u2612\u2614-\u2685\u2690-\u2705\u2708-\u2712\u2714\u2716\u271d"
    "\u2721\u2728\u2733\u2734\u2744\u2747\u274c\u274e\u2753-\u2755\u2757\u2763-\u2767"
    "\u2795-\u2797\u27a1\u27b0\u27bf\u2934\u2935\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55"
    "\u3030\u303d\u3297\u3299"
    "\U0001f000-\U0001f0ff\U0001f10d-\U0001f10f\U0001f12f\U0001f16c-\U0001f171"
    "\U0001f17e\U0001f17f\U0001f18e\U0001f191-\U0001f19a\U0001f1ad-\U0001f1e5"
    "\U0001f201-\U0001f20f\U0001f21a\U0001f22f\U0001f232-\U0001f23a\U0001f23c-\U0001f23f"
    "\U0001f249-\U0001f3fa\U0001f400-\U0001f53d\U0001f546-\U0001f64f\U0001f680-\U0001f6ff"
    "\U0001f774-\U0001f77f\U0001f7d5-\U0001f7ff\U0001f80c-\U0001f80f\U0001f848-\U0001f84f"
    "\U0001f85a-\U0001f85f\U0001f888-\U0001f88f\U0001f8ae-\U0001f8ff\U0001f90c-\U0001f93a"
    "\U0001f93c-\U0001f945\U0001f947-\U0001faff\U0001fc00-\U0001fffd"
)
_EMOJI_ELEMENT = f"[{_PICTOGRAPHIC}](?:\ufe0f|[\U0001f3fb-\U0001f3ff])?"


@cache
def _emoji_pattern() -> re.Pattern[str]:
    """Emoji sequences of two or more code points. A single code point weighs what its range
    says, which is what keeps © and ® at 1 while "©\ufe0f" is an emoji weighing 2."""
    return re.compile(
        "[\U0001f1e6-\U0001f1ff]{2}"  # flags
        "|[0-9#*]\ufe0f?\u20e3"  # keycaps
        "|\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f"  # tag sequences (subdivision flags)
        f"|{_EMOJI_ELEMENT}(?:\u200d{_EMOJI_ELEMENT})*"  # presentation, skin tones, ZWJ chains
    )


_EMOJI_FROM = "\xa9"  # no emoji sequence starts below ©

_INVALID_WITHOUT_PROTOCOL_BEFORE = ("-", "_", ".", "/")
_MAX_URL_LENGTH = 4096
_MAX_TCO_SLUG_LENGTH = 40


@cache
def _url_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """twitter-text's URL grammar, compiled once on first use (it holds every TLD)."""
    from opentweet_mcp.text._tlds import CCTLDS, GTLDS

    end_of_tld = "(?=[^0-9a-zA-Z@+-]|$)"
    gtld = f"(?:(?:{'|'.join(GTLDS)}){end_of_tld})"
    cctld = f"(?:(?:{'|'.join(CCTLDS)}){end_of_tld})"
    punycode = r"(?:xn--[\-0-9a-z]+)"
    domain_char = f"[^{_PUNCT}{_SPACES}{INVALID_CHARS}{_DIRECTIONAL}]"
    subdomain = f"(?:(?:{domain_char}(?:[_-]|{domain_char})*)?{domain_char}\\.)"
    domain_name = f"(?:(?:{domain_char}(?:-|{domain_char})*)?{domain_char}\\.)"
    domain = f"(?:{subdomain}*{domain_name}(?:{gtld}|{cctld}|{punycode}))"
    path_char = f"[a-z{_CYRILLIC}0-9!\\*';:=\\+,\\.\\$\\/%#\\[\\]\\-\u2013_~@\\|&{_LATIN_ACCENTS}]"
    parens = f"\\((?:{path_char}+|(?:{path_char}*\\({path_char}+\\){path_char}*))\\)"
    path_end = f"[\\+\\-a-z{_CYRILLIC}0-9=_#\\/{_LATIN_ACCENTS}]|(?:{parens})"
    path = f"(?:(?:{path_char}*(?:{parens}{path_char}*)*(?:{path_end}))|(?:@{path_char}+\\/))"
    query_char = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
    query_end = r"[a-z0-9\-_&=#/]"
    before = f"(?:[^A-Za-z0-9@＠$#＃{INVALID_CHARS}]|[{_DIRECTIONAL}]|^)"
    url = re.compile(
        f"(({before})((https?:\\/\\/)?({domain})(?::([0-9]+))?(\\/{path}*)?"
        f"(\\?{query_char}*{query_end})?))",
        re.IGNORECASE,
    )
    ascii_domain = re.compile(
        f"(?:(?:[\\-a-z0-9{_LATIN_ACCENTS}]+)\\.)+(?:{gtld}|{cctld}|{punycode})", re.IGNORECASE
    )
    tco = re.compile(
        f"^https?:\\/\\/t\\.co\\/([a-z0-9]+)(?:\\?{query_char}*{query_end})?", re.IGNORECASE
    )
    return url, ascii_domain, tco


def _candidates(text: str, url_pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
    """URL matches, scanning only the whitespace-free runs that contain a dot.

    A URL never spans whitespace, so this finds exactly what a scan of the whole text finds;
    each scan starts one character early so the preceding-character rule sees that space.
    """
    for run in re.finditer(f"[^{_SPACES}]*\\.[^{_SPACES}]*", text):
        yield from url_pattern.finditer(text, max(run.start() - 1, 0), run.end())


def _host_fits(url: str, protocol: str, domain: str) -> bool:
    """IDNA-encode the host (label and length rules) and bound the URL's full length."""
    try:
        encoded = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    if not encoded:
        return False
    return len(protocol) + len(url) + len(encoded) - len(domain) <= _MAX_URL_LENGTH


def _url_spans(text: str) -> list[tuple[str, int, int]]:
    """URLs as (url, start, end) in code points of `text`."""
    if "." not in text:
        return []
    url_pattern, ascii_domain, tco = _url_patterns()
    found: list[tuple[str, int, int]] = []
    for match in _candidates(text, url_pattern):
        before, url, protocol, domain, path = (match.group(i) for i in (2, 3, 4, 5, 7))
        end = match.end()
        start = end - len(url)
        if not _host_fits(url, protocol or "https://", domain):
            continue
        if protocol is None:
            if before.endswith(_INVALID_WITHOUT_PROTOCOL_BEFORE):
                continue
            last: list[object] | None = None
            for ascii_match in ascii_domain.finditer(domain):
                last = [
                    ascii_match.group(0),
                    start + ascii_match.start(),
                    start + ascii_match.end(),
                ]
                found.append((str(last[0]), int(str(last[1])), int(str(last[2]))))
            if last is None:
                continue
            if path:
                only, first, _ = found[-1]
                found[-1] = (url.replace(domain, only), first, end)
            continue
        tco_match = tco.search(url)
        if tco_match:
            if len(tco_match.group(1)) > _MAX_TCO_SLUG_LENGTH:
                continue
            url = tco_match.group(0)
            end = start + len(url)
        found.append((url, start, end))
    return found


def _utf16(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def extract_urls_with_indices(text: str) -> list[tuple[str, int, int]]:
    """The URLs X would count, as (url, start, end) in UTF-16 units of `text`."""
    return [
        (url, _utf16(text[:start]), _utf16(text[:start]) + _utf16(text[start:end]))
        for url, start, end in _url_spans(text)
    ]


_PCHAR = r"(?:[a-z\u0400-\u04ff0-9\-._~]|%[0-9a-f]{2}|[!$&'()*+,;=]|[:|@])"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])"
_NON_ASCII = "[^\\x00-\\x7f]"
_UNICODE_LABEL = (
    f"(?:[a-z0-9]|{_NON_ASCII})(?:(?:[a-z0-9-]|{_NON_ASCII})*(?:[a-z0-9]|{_NON_ASCII}))?"
)
_UNICODE_SUBLABEL = (
    f"(?:[a-z0-9]|{_NON_ASCII})(?:(?:[a-z0-9_-]|{_NON_ASCII})*(?:[a-z0-9]|{_NON_ASCII}))?"
)
_UNICODE_TLD = f"(?:[a-z]|{_NON_ASCII})(?:(?:[a-z0-9-]|{_NON_ASCII})*(?:[a-z0-9]|{_NON_ASCII}))?"


@cache
def _validity_patterns() -> tuple[
    re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]
]:
    """isValidUrl's RFC 3986 grammar: URL parts, authority, path, query/fragment."""
    authority = re.compile(
        r"(?:(?:[a-z\u0400-\u04ff0-9\-._~]|%[0-9a-f]{2}|[!$&'()*+,;=]|:)*@)?"
        f"(?:{_OCTET}(?:\\.{_OCTET}){{3}}|\\[[a-f0-9:.]+\\]"
        f"|(?:{_UNICODE_SUBLABEL}\\.)*(?:{_UNICODE_LABEL}\\.){_UNICODE_TLD})"
        r"(?::[0-9]{1,5})?",
        re.IGNORECASE,
    )
    parts = re.compile(r"(?:([^:/?#]+)://)?([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.DOTALL)
    path = re.compile(f"(?:/{_PCHAR}*)*", re.IGNORECASE)
    query = re.compile(f"(?:{_PCHAR}|/|\\?)*", re.IGNORECASE)
    return parts, authority, path, query


def is_valid_url(text: str, require_protocol: bool = True) -> bool:
    """Whether `text` is a well-formed http(s) URL (twitter-text's isValidUrl, RFC 3986)."""
    url_parts, authority_pattern, path_pattern, query_pattern = _validity_patterns()
    parts = url_parts.fullmatch(text)
    if not text or parts is None:
        return False
    scheme, authority, path, query, fragment = parts.groups()
    if require_protocol and not (scheme and scheme.lower() in ("http", "https")):
        return False
    if not path_pattern.fullmatch(path) or not authority_pattern.fullmatch(authority):
        return False
    return all(part is None or query_pattern.fullmatch(part) for part in (query, fragment))


def _weight(code_point: int, config: TextConfig) -> int:
    for start, end, weight in config.ranges:
        if start <= code_point <= end:
            return weight
    return config.default_weight


def parse_tweet(text: str, config: TextConfig = V3) -> ParsedTweet:
    """Weighted length, validity and ranges of `text`, as X's twitter-text v3 computes them."""
    normalized = unicodedata.normalize("NFC", text)
    entities: dict[int, tuple[int, int]] = {}  # start → (end, weight), code points
    url_spans: list[tuple[int, int]] = []
    url_weight = config.transformed_url_length * config.scale
    for _, start, end in _url_spans(normalized):
        entities[start] = (end, url_weight)
        url_spans.append((start, end))
    if config.emoji_parsing_enabled and max(normalized, default="\0") >= _EMOJI_FROM:
        for match in _emoji_pattern().finditer(normalized):
            if match.end() - match.start() > 1 and match.start() not in entities:
                entities[match.start()] = (match.end(), config.default_weight)

    limit = config.max_weighted_length * config.scale
    weighted = 0
    valid_chars = True
    valid_end = 0  # code point index of the last character that still fits
    index = 0
    while index < len(normalized):
        entity = entities.get(index)
        if entity is not None:
            weighted += entity[1]
            index = entity[0] - 1
        else:
            weighted += _weight(ord(normalized[index]), config)
        if valid_chars and normalized[index] in INVALID_CHARS:
            valid_chars = False
        if valid_chars and weighted <= limit:
            valid_end = index
        index += 1

    length = weighted // config.scale
    original_units = _utf16(text)
    normalization_offset = original_units - _utf16(normalized)
    valid_units = _utf16(normalized[: valid_end + 1]) - 1 + normalization_offset
    return ParsedTweet(
        weighted_length=length,
        valid=valid_chars and 0 < length <= config.max_weighted_length,
        permillage=length * 1000 // config.max_weighted_length,
        valid_range=(0, max(valid_units, 0)),
        display_range=(0, max(original_units - 1, 0)),
        url_spans=tuple(
            (_utf16(normalized[:start]), _utf16(normalized[:end])) for start, end in url_spans
        ),
    )


def weighted_length(text: str, config: TextConfig = V3) -> int:
    return parse_tweet(text, config).weighted_length
