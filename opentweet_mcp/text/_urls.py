"""Which substrings X counts as URLs (23 each), ported from twitter-text's extractor and
isValidUrl (Java/JS, Apache 2.0) into our own Python.

Rules kept: known TLDs only (`_tlds.py`, generated from the conformance tlds.yml); scheme-less
URLs only with an ASCII host and not after `-_./`; no URL after `@`, `$`, `#` or a letter;
labels ≤ 63 and the whole URL ≤ 4096 once the host is punycoded (IDNA); balanced parentheses and
allowed ending characters in paths and queries; t.co slugs ≤ 40 characters with no path after.
The big regex holds every TLD, so it is compiled on first use to keep imports cheap.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

INVALID_CHARS = "\ufffe\ufeff\uffff"
_DIRECTIONAL = "\u202a-\u202e\u061c\u200e\u200f\u2066\u2067\u2068\u2069"
SPACES = "\x09-\x0d\x20\x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_PUNCT = r"\!'#%&'\(\)*\+,\\\-\.\/:;<=>\?@\[\]\^_{|}~\$"
_LATIN_ACCENTS = (
    "\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263"
    "\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_CYRILLIC = "\u0400-\u04ff"
_INVALID_WITHOUT_PROTOCOL_BEFORE = ("-", "_", ".", "/")
_MAX_URL_LENGTH = 4096
_MAX_TCO_SLUG_LENGTH = 40
_DEFAULT_PROTOCOL = "https://"


class _Patterns:
    """The extractor's compiled regexes (built once, on first use)."""

    __slots__ = ("ascii_domain", "has_tld", "tco", "url", "word")

    def __init__(self) -> None:
        from opentweet_mcp.text._tlds import CCTLD_PATTERN, GTLD_PATTERN

        end_of_tld = "(?=[^0-9a-zA-Z@+-]|$)"
        gtld = f"(?:(?:{GTLD_PATTERN}){end_of_tld})"
        cctld = f"(?:(?:{CCTLD_PATTERN}){end_of_tld})"
        tld = f"(?:{gtld}|{cctld}|(?:xn--[\\-0-9a-z]+))"
        domain_char = f"[^{_PUNCT}{SPACES}{INVALID_CHARS}{_DIRECTIONAL}]"
        subdomain = f"(?:(?:{domain_char}(?:[_-]|{domain_char})*)?{domain_char}\\.)"
        domain_name = f"(?:(?:{domain_char}(?:-|{domain_char})*)?{domain_char}\\.)"
        # DNS allows at most 127 labels; the bound also keeps backtracking on dotted text linear
        domain = f"(?:{subdomain}{{0,125}}{domain_name}{tld})"
        path_char = (
            f"[a-z{_CYRILLIC}0-9!\\*';:=\\+,\\.\\$\\/%#\\[\\]\\-\u2013_~@\\|&{_LATIN_ACCENTS}]"
        )
        parens = f"\\((?:{path_char}+|(?:{path_char}*\\({path_char}+\\){path_char}*))\\)"
        path_end = f"[\\+\\-a-z{_CYRILLIC}0-9=_#\\/{_LATIN_ACCENTS}]|(?:{parens})"
        path = f"(?:(?:{path_char}*(?:{parens}{path_char}*)*(?:{path_end}))|(?:@{path_char}+\\/))"
        query = r"\?[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*[a-z0-9\-_&=#/]"
        before = f"(?:[^A-Za-z0-9@＠$#＃{INVALID_CHARS}]|[{_DIRECTIONAL}]|^)"
        self.url = re.compile(
            f"({before})((https?:\\/\\/)?({domain})(?::[0-9]+)?(\\/{path}*)?(?:{query})?)",
            re.IGNORECASE,
        )
        self.ascii_domain = re.compile(
            f"(?:(?:[\\-a-z0-9{_LATIN_ACCENTS}]+)\\.)+{tld}", re.IGNORECASE
        )
        self.tco = re.compile(f"^https?:\\/\\/t\\.co\\/([a-z0-9]+)(?:{query})?", re.IGNORECASE)
        self.word = re.compile(f"[^{SPACES}]+")
        self.has_tld = re.compile(f"\\.{tld}", re.IGNORECASE)


@cache
def _patterns() -> _Patterns:
    return _Patterns()


def _candidates(text: str, patterns: _Patterns) -> Iterator[re.Match[str]]:
    """URL matches, scanning only the whitespace-free runs that contain a dot and a TLD.

    A URL never spans whitespace, so this finds exactly what a scan of the whole text finds;
    each scan starts one character early so the preceding-character rule sees that space.
    Skipping runs with no TLD avoids the regex's slow failing backtracking on dotted text.
    """
    for word in patterns.word.finditer(text):
        if "." in word.group() and patterns.has_tld.search(word.group()):
            yield from patterns.url.finditer(text, max(word.start() - 1, 0), word.end())


def _host_fits(url: str, protocol: str, domain: str) -> bool:
    """IDNA-encode the host (label and length rules) and bound the URL's full length."""
    try:
        encoded = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return bool(encoded) and len(protocol) + len(url) + len(encoded) - len(domain) <= (
        _MAX_URL_LENGTH
    )


def url_spans(text: str) -> list[tuple[str, int, int]]:
    """URLs as (url, start, end) in code points of `text` (twitter-text extractUrlsWithIndices,
    scheme-less URLs included)."""
    if "." not in text:
        return []
    patterns = _patterns()
    found: list[tuple[str, int, int]] = []
    for match in _candidates(text, patterns):
        before, url, protocol, domain, path = match.groups()
        end = match.end()
        start = end - len(url)
        if not _host_fits(url, protocol or _DEFAULT_PROTOCOL, domain):
            continue
        if protocol is None:
            if before.endswith(_INVALID_WITHOUT_PROTOCOL_BEFORE):
                continue
            ascii_found = [
                (found_domain.group(0), start + found_domain.start(), start + found_domain.end())
                for found_domain in patterns.ascii_domain.finditer(domain)
            ]
            if not ascii_found:
                continue
            if path:  # the path belongs to the last ASCII domain
                last, last_start, _ = ascii_found[-1]
                ascii_found[-1] = (url.replace(domain, last, 1), last_start, end)
            found += ascii_found
            continue
        tco = patterns.tco.search(url)
        if tco:
            if len(tco.group(1)) > _MAX_TCO_SLUG_LENGTH:
                continue
            url = tco.group(0)
            end = start + len(url)
        found.append((url, start, end))
    return found


def utf16_spans(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(start, end) code point indices of `text` as UTF-16 code unit indices."""
    if not spans or len(text.encode("utf-16-le", "surrogatepass")) == 2 * len(text):
        return spans
    astral = [0]  # astral characters before each code point index, up to the last end
    for char in text[: spans[-1][1]]:
        astral.append(astral[-1] + (char >= "\U00010000"))
    return [(start + astral[start], end + astral[end]) for start, end in spans]


def extract_urls_with_indices(text: str) -> list[tuple[str, int, int]]:
    """The URLs X would count, as (url, start, end) in UTF-16 units of `text`, end exclusive."""
    found = url_spans(text)
    spans = utf16_spans(text, [(start, end) for _, start, end in found])
    return [(url, start, end) for (url, _, _), (start, end) in zip(found, spans, strict=True)]


_PCHAR = r"(?:[a-z\u0400-\u04ff0-9\-._~]|%[0-9a-f]{2}|[!$&'()*+,;=]|[:|@])"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])"
_NON_ASCII = "[^\\x00-\\x7f]"
_LABEL_CHAR = f"(?:[a-z0-9]|{_NON_ASCII})"
_UNICODE_LABEL = f"{_LABEL_CHAR}(?:(?:[a-z0-9-]|{_NON_ASCII})*{_LABEL_CHAR})?"
_UNICODE_SUBLABEL = f"{_LABEL_CHAR}(?:(?:[a-z0-9_-]|{_NON_ASCII})*{_LABEL_CHAR})?"
_UNICODE_TLD = f"(?:[a-z]|{_NON_ASCII})(?:(?:[a-z0-9-]|{_NON_ASCII})*{_LABEL_CHAR})?"


@cache
def _validity_patterns() -> tuple[
    re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]
]:
    """isValidUrl's RFC 3986 grammar: URL parts, authority, path, query/fragment."""
    parts = re.compile(r"(?:([^:/?#]+)://)?([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.DOTALL)
    authority = re.compile(
        r"(?:(?:[a-z\u0400-\u04ff0-9\-._~]|%[0-9a-f]{2}|[!$&'()*+,;=]|:)*@)?"
        f"(?:{_OCTET}(?:\\.{_OCTET}){{3}}|\\[[a-f0-9:.]+\\]"
        f"|(?:{_UNICODE_SUBLABEL}\\.)*(?:{_UNICODE_LABEL}\\.){_UNICODE_TLD})"
        r"(?::[0-9]{1,5})?",
        re.IGNORECASE,
    )
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
