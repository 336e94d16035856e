"""Host names as URL parsers read them: the IP address a host spells in any of its forms
(127.1, 0x7f.0.0.1, 2130706433, ::ffff:127.0.0.1, full-width digits …), for the one spelling
of an API root and for refusing media URLs that point inside a network."""

from __future__ import annotations

import ipaddress
import unicodedata

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")


def _ipv4_number(label: str) -> int | None:
    """A WHATWG URL IPv4 part (decimal, 0x hex or 0-prefixed octal), or None if not one."""
    if label[:2].lower() == "0x":
        digits, base = label[2:], 16
    elif len(label) > 1 and label.startswith("0"):
        digits, base = label[1:], 8
    else:
        digits, base = label, 10
    try:
        return int(digits, base) if digits else 0
    except ValueError:
        return None


def _ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address a URL parser reads from `host` when it ends in a number, or None for a
    name; ValueError when it is neither."""
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    last = labels[-1]
    if not (last.isdigit() or (last[:2].lower() == "0x" and _ipv4_number(last) is not None)):
        return None
    numbers = [_ipv4_number(label) for label in labels]
    if len(numbers) > 4 or any(n is None for n in numbers):
        raise ValueError("is not a valid IPv4 address")
    parts = [n for n in numbers if n is not None]
    if any(n > 255 for n in parts[:-1]) or parts[-1] >= 256 ** (5 - len(parts)):
        raise ValueError("is not a valid IPv4 address")
    value = parts[-1]
    for index, part in enumerate(parts[:-1]):
        value += part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def host_name(host: str) -> str:
    """A host as a URL parser compares it: compatibility forms folded, lower case, no
    trailing dot."""
    return unicodedata.normalize("NFKC", host).casefold().translate(_DOTS).rstrip(".")


def address(host: str) -> IPAddress | None:
    """The IP address `host` spells (brackets and zone index dropped), or None for a name;
    ValueError when it looks like an address but is not one."""
    name = host_name(host).strip("[]")
    if ":" in name:
        return ipaddress.IPv6Address(name.split("%")[0])
    return _ipv4(name)


def _embedded(found: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries: mapped, 6to4, Teredo, NAT64, or the
    deprecated IPv4-compatible form."""
    if found.ipv4_mapped or found.sixtofour:
        return found.ipv4_mapped or found.sixtofour
    if found.teredo:
        return found.teredo[1]
    if any(found in network for network in _NAT64) or (int(found) >> 32 == 0 and int(found) > 1):
        return ipaddress.IPv4Address(int(found) & 0xFFFFFFFF)
    return None


def internal_host(host: str) -> bool:
    """Whether `host` names this machine or a private network by itself: a local name, or an
    address literal that is not globally routable (loopback, private, link-local, …)."""
    name = host_name(host)
    if name == "localhost" or name.endswith(_PRIVATE_SUFFIXES):
        return True
    found = address(name)
    if isinstance(found, ipaddress.IPv6Address):
        inner = _embedded(found)
        if inner is not None and not inner.is_global:
            return True
    return found is not None and not found.is_global


def canonical_host(host: str) -> str:
    """One spelling of a host: an address in its standard form (127.1 and ::ffff:127.0.0.1
    → 127.0.0.1), a name as given."""
    try:
        found = address(host)
    except ValueError:
        return host
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        found = found.ipv4_mapped
    return host if found is None else found.compressed
