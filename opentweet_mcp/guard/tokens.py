"""Confirmation tokens: proof that a gated call is the one that was previewed (docs/approvals.md).

A token is `ct2.<expiry>.<nonce>.<content>.<call>`: the expiry in whole Unix seconds, a random
128-bit nonce and two HMAC-SHA256 tags (128 bits each) under the server secret, every part
base64url without padding. `content` covers the nonce and the publication digest (what will
go out, read from live state). `call` covers all the token's text before it, the tool, the
digest of every argument, the caller's key digest (which includes the API root) and the
ledger that records spent tokens: checked before any request, it refuses a token for other
arguments, another tool, key, root, ledger or secret, and any change to the token. `content`
is checked after the call has read that state again: it tells "what would go out changed
since the preview" apart from a wrong token. The digests are not in the token: the verifier
recomputes them from the call it is asked to run, which is why the messages here can never
leak them.

Encodings must be canonical (no leading zeros, no stray bits in the last base64 character):
otherwise two spellings of one token would both verify, and the nonce — the single-use handle
the ledger consumes — could be replayed under a second spelling.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from opentweet_mcp.validate import iso_z

PREFIX = "ct2"
NONCE_BYTES = 16
_TAG_BYTES = 16
_MAX_LENGTH = 128
_SHAPE = re.compile(
    rf"{PREFIX}\.([1-9][0-9]{{0,10}})\.([A-Za-z0-9_-]{{22}})"
    r"\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})",
    re.ASCII,
)


class ConfirmationRefused(Exception):
    """A confirmation that cannot be accepted; nothing was sent.

    `code` says why: `malformed`, `expired`, `mismatch` or `used` (and
    `elicitation_unavailable` from the gate). Content that changed since the preview is not a
    refusal: the gate answers with a fresh preview. The message is written for the model to read
    and never contains the secret or a digest.
    """

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class MintedToken:
    token: str
    nonce: str
    expires_at: datetime  # aware, UTC
    expires_at_iso: str  # e.g. 2025-01-01T12:00:00Z

    def __repr__(self) -> str:
        # the token is a bearer credential for one call; keep it out of logs
        return f"MintedToken(nonce={self.nonce!r}, expires_at={self.expires_at_iso!r})"


@dataclass(frozen=True)
class VerifiedToken:
    nonce: str
    expires_at: datetime
    content_tag: bytes = field(repr=False)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str, size: int) -> bytes | None:
    """Decode canonical unpadded base64url of exactly `size` bytes, else None."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != size or _b64(raw) != text:
        return None
    return raw


class ConfirmationTokens:
    """Mints and verifies confirmation tokens under one server secret.

    Verification is stateless: single use is the ledger's job (the gate claims the nonce).
    """

    def __init__(
        self,
        secret: bytes,
        ttl_seconds: float = 600,
        clock: Callable[[], float] = time.time,
        scope: str = "",
    ) -> None:
        if not secret:
            raise ValueError("the confirmation secret must not be empty")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._secret = secret
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._scope = scope

    @classmethod
    def from_secret(cls, secret: bytes | None, scope: str = "") -> ConfirmationTokens:
        """Use the configured secret, or a random one for this process; `scope` names the
        ledger that records which tokens are spent.

        A random secret means tokens die with the process, which is the safe default: a
        configured secret is only needed when several replicas must accept each other's tokens,
        and then only those sharing the ledger do, since only there is a token single-use.
        """
        return cls(secret if secret else secrets.token_bytes(32), scope=scope)

    def __repr__(self) -> str:
        return f"ConfirmationTokens(ttl_seconds={self.ttl_seconds})"

    def _tag(self, *parts: str) -> bytes:
        # Length-prefixed fields: no choice of values can make two different calls collide.
        message = b"".join(len(raw).to_bytes(4, "big") + raw for raw in (p.encode() for p in parts))
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_TAG_BYTES]

    def mint(
        self, tool: str, arguments_digest: str, key_digest: str, content_digest: str
    ) -> MintedToken:
        expiry = int(self._clock() + self.ttl_seconds)
        nonce = _b64(secrets.token_bytes(NONCE_BYTES))
        content = _b64(self._tag("content", nonce, content_digest))
        body = f"{PREFIX}.{expiry}.{nonce}.{content}"
        call = _b64(self._tag("call", self._scope, body, tool, arguments_digest, key_digest))
        expires_at = datetime.fromtimestamp(expiry, UTC)
        return MintedToken(f"{body}.{call}", nonce, expires_at, iso_z(expires_at))

    def verify(
        self, token: str, tool: str, arguments_digest: str, key_digest: str
    ) -> VerifiedToken:
        """Check `token` against the call about to be made, before any request; raise
        ConfirmationRefused if it is not this call's. The content is checked later
        (`content_matches`), once the call has read what would go out."""
        match = (
            _SHAPE.fullmatch(token)
            if isinstance(token, str) and len(token) <= _MAX_LENGTH
            else None
        )
        if (
            match is None
            or _unb64(match[2], NONCE_BYTES) is None
            or (content := _unb64(match[3], _TAG_BYTES)) is None
            or (call := _unb64(match[4], _TAG_BYTES)) is None
        ):
            raise ConfirmationRefused(
                "the confirmation_token is malformed; pass it exactly as it was returned, "
                f"or call {tool} again without a token for a fresh preview",
                "malformed",
            )
        body = token[: match.start(4) - 1]
        expected = self._tag("call", self._scope, body, tool, arguments_digest, key_digest)
        if not hmac.compare_digest(call, expected):
            raise ConfirmationRefused(
                f"the confirmation_token does not match this {tool} call: it was issued for "
                "other arguments, another tool or another API key, or before the server "
                "restarted; repeat the previewed call with exactly the same arguments, or call "
                f"{tool} again without a token for a fresh preview",
                "mismatch",
            )
        expiry = int(match[1])
        expires_at = datetime.fromtimestamp(expiry, UTC)
        if self._clock() >= expiry:
            raise ConfirmationRefused(
                f"the confirmation_token expired at {iso_z(expires_at)}; call {tool} again "
                "without a token for a fresh preview and show it to the user again",
                "expired",
            )
        return VerifiedToken(match[2], expires_at, content)

    def content_matches(self, verified: VerifiedToken, content_digest: str) -> bool:
        """Whether what would go out now is what the token's preview showed."""
        expected = self._tag("content", verified.nonce, content_digest)
        return hmac.compare_digest(verified.content_tag, expected)
