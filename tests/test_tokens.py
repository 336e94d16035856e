"""Confirmation tokens: bound to one call (tool, every argument, key) and to the content it
previewed, tamper-evident, expiring (SPEC §6)."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opentweet_mcp.guard.tokens import ConfirmationRefused, ConfirmationTokens, MintedToken

SECRET = b"s" * 32
TOOL = "publish_post"
REQUEST = "a" * 64  # the digest of every argument
KEY = "b" * 64
CONTENT = "e" * 64  # the publication digest
NOW = 1_750_000_000.0
ALPHABET = string.ascii_letters + string.digits + "-_.=+/ Z"
A22 = "A" * 22


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def refused(code: str, tokens: ConfirmationTokens, token: str, **call: str) -> str:
    args = {"tool": TOOL, "arguments_digest": REQUEST, "key_digest": KEY, **call}
    with pytest.raises(ConfirmationRefused) as info:
        tokens.verify(token, **args)
    assert info.value.code == code, str(info.value)
    return str(info.value)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(clock: Clock) -> ConfirmationTokens:
    return ConfirmationTokens(SECRET, clock=clock)


@pytest.fixture
def minted(tokens: ConfirmationTokens) -> MintedToken:
    return tokens.mint(TOOL, REQUEST, KEY, CONTENT)


def test_round_trip(tokens: ConfirmationTokens, minted: MintedToken) -> None:
    verified = tokens.verify(minted.token, TOOL, REQUEST, KEY)
    assert tokens.content_matches(verified, CONTENT)
    assert not tokens.content_matches(verified, "f" * 64)  # what goes out changed
    assert verified.nonce == minted.nonce
    assert verified.expires_at == minted.expires_at
    assert minted.expires_at == datetime.fromtimestamp(NOW + 600, UTC)
    assert minted.expires_at.tzinfo is not None
    assert minted.expires_at_iso == "2025-06-15T15:16:40Z"


def test_compact_ascii_shape(minted: MintedToken) -> None:
    assert minted.token.isascii() and minted.token.startswith("ct2.")
    assert 70 <= len(minted.token) <= 90
    assert minted.token.split(".")[2] == minted.nonce


def test_each_mint_has_a_fresh_nonce(tokens: ConfirmationTokens) -> None:
    minted = [tokens.mint(TOOL, REQUEST, KEY, CONTENT) for _ in range(50)]
    assert len({m.nonce for m in minted}) == 50
    assert len({m.token for m in minted}) == 50


@pytest.mark.parametrize(
    "call",
    [
        {"tool": "delete_post"},
        {"arguments_digest": "c" * 64},
        {"key_digest": "d" * 64},
        {"arguments_digest": REQUEST[:-1]},
    ],
)
def test_other_call_is_a_mismatch(
    tokens: ConfirmationTokens, minted: MintedToken, call: dict[str, str]
) -> None:
    message = refused("mismatch", tokens, minted.token, **call)
    assert "without a token" in message and "fresh preview" in message


def test_other_secret_is_a_mismatch(clock: Clock, minted: MintedToken) -> None:
    other = ConfirmationTokens(b"t" * 32, clock=clock)
    refused("mismatch", other, minted.token)


def test_from_secret() -> None:
    configured = ConfirmationTokens.from_secret(SECRET)
    token = configured.mint(TOOL, REQUEST, KEY, CONTENT).token
    ConfirmationTokens(SECRET).verify(token, TOOL, REQUEST, KEY)  # same secret, other instance
    first, second = ConfirmationTokens.from_secret(None), ConfirmationTokens.from_secret(None)
    token = first.mint(TOOL, REQUEST, KEY, CONTENT).token
    first.verify(token, TOOL, REQUEST, KEY)
    refused("mismatch", second, token)


def test_empty_secret_is_rejected() -> None:
    with pytest.raises(ValueError):
        ConfirmationTokens(b"")


def test_expiry(tokens: ConfirmationTokens, clock: Clock, minted: MintedToken) -> None:
    clock.now = NOW + 599
    tokens.verify(minted.token, TOOL, REQUEST, KEY)
    clock.now = NOW + 600
    message = refused("expired", tokens, minted.token)
    assert minted.expires_at_iso in message


def test_mac_is_checked_before_expiry(
    tokens: ConfirmationTokens, clock: Clock, minted: MintedToken
) -> None:
    clock.now = NOW + 10_000
    refused("mismatch", tokens, minted.token, tool="delete_post")


def test_extending_the_expiry_breaks_the_mac(
    tokens: ConfirmationTokens, clock: Clock, minted: MintedToken
) -> None:
    prefix, expiry, nonce, content, mac = minted.token.split(".")
    forged = f"{prefix}.{int(expiry) + 3600}.{nonce}.{content}.{mac}"
    clock.now = NOW + 1000
    refused("mismatch", tokens, forged)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "ct2",
        "ct2....",
        # the previous format: a token minted before this one is refused as malformed
        "ct1.1750000600.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        f"ct2.0750000600.{A22}.{A22}.{A22}",
        f"ct2.-1.{A22}.{A22}.{A22}",
        f"ct2.99999999999999.{A22}.{A22}.{A22}",
        f"ct2.1750000600.{A22}.{A22}",
        # non-canonical base64: stray low bits in the last character
        f"ct2.1750000600.{A22[:-1]}B.{A22}.{A22}",
        f"ct2.1750000600.{A22}.{A22[:-1]}B.{A22}",
        f"ct2.1750000600.{A22}.{A22}.{A22[:-1]}B",
        f"ct2.1750000600.{A22}==.{A22}.{A22}",
        "x" * 10_000,
    ],
)
def test_malformed(tokens: ConfirmationTokens, token: str) -> None:
    message = refused("malformed", tokens, token)
    assert "malformed" in message


def test_surrounding_whitespace_is_malformed(
    tokens: ConfirmationTokens, minted: MintedToken
) -> None:
    refused("malformed", tokens, f" {minted.token}")
    refused("malformed", tokens, f"{minted.token}\n")


def test_messages_never_hold_secret_or_digests(clock: Clock) -> None:
    secret = b"hunter2-" * 4
    tokens = ConfirmationTokens(secret, clock=clock)
    minted = tokens.mint(TOOL, REQUEST, KEY, CONTENT)
    messages = [
        refused("mismatch", tokens, minted.token, arguments_digest="c" * 64),
        refused("malformed", tokens, minted.token[:-3]),
    ]
    clock.now = NOW + 601
    messages.append(refused("expired", tokens, minted.token))
    for message in messages:
        for needle in (secret.decode(), "hunter2", REQUEST, KEY, CONTENT, "c" * 64):
            assert needle not in message
    for text in (repr(tokens), repr(minted)):
        assert "hunter2" not in text and minted.token not in text


def test_refusal_code_and_str() -> None:
    exc = ConfirmationRefused("why", "used")
    assert str(exc) == "why" and exc.code == "used"


MUTATION_TOKENS = ConfirmationTokens(SECRET, clock=lambda: NOW)
MUTATION_TARGET = MUTATION_TOKENS.mint(TOOL, REQUEST, KEY, CONTENT).token


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(["replace", "delete", "insert"]),
    position=st.integers(min_value=0, max_value=len(MUTATION_TARGET)),
    char=st.sampled_from(ALPHABET),
)
def test_any_single_character_mutation_is_refused(kind: str, position: int, char: str) -> None:
    token = MUTATION_TARGET
    index = min(position, len(token) - 1)
    if kind == "replace":
        mutated = token[:index] + char + token[index + 1 :]
    elif kind == "delete":
        mutated = token[:index] + token[index + 1 :]
    else:
        mutated = token[:position] + char + token[position:]
    if mutated == token:
        return
    with pytest.raises(ConfirmationRefused) as info:
        MUTATION_TOKENS.verify(mutated, TOOL, REQUEST, KEY)
    assert info.value.code in {"malformed", "mismatch"}


def test_every_substitution_in_the_token_is_refused() -> None:
    """Exhaustive companion of the property test: every position, every base64url character."""
    token = MUTATION_TARGET
    alphabet = string.ascii_letters + string.digits + "-_."
    for index, original in enumerate(token):
        for char in alphabet:
            if char == original:
                continue
            mutated = token[:index] + char + token[index + 1 :]
            with pytest.raises(ConfirmationRefused):
                MUTATION_TOKENS.verify(mutated, TOOL, REQUEST, KEY)
