"""Signed unsubscribe tokens: one member, one topic, an expiry, and an HMAC over the three."""

import base64
import hashlib
import hmac
import time
from uuid import UUID

import msgspec

from exchange.kernel.settings import Settings

TOPICS = ("matches", "interests", "deals", "invoices", "expiry")
TOKEN_DAYS = 60
_MAC_BYTES = 16


class Unsubscribe(msgspec.Struct, frozen=True, kw_only=True):
    """What a valid token names."""

    member_id: UUID
    topic: str
    expires_at: int


class BadToken(ValueError):
    """The token is malformed, tampered with, or expired."""


def secret_key(settings: Settings) -> bytes:
    """The signing key: MAIL_SECRET, else derived from a secret the service has anyway (never used as is)."""
    base = settings.mail_secret or settings.stripe_webhook_secret or settings.operator_bootstrap_key
    base = base or settings.database_url
    return hashlib.sha256(b"techmart-mail-unsubscribe\0" + base.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, member_id: UUID, topic: str, now: float | None = None, days: int = TOKEN_DAYS) -> str:
    """A token that turns `topic` off for `member_id` until it expires."""
    expires = int((time.time() if now is None else now) + days * 86400)
    payload = f"{member_id.hex}.{topic}.{expires}".encode()
    return f"{_b64(payload)}.{_b64(hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES])}"


def verify(key: bytes, token: str, now: float | None = None) -> Unsubscribe:
    """What a token names; BadToken unless it is well formed, signed with key and not expired."""
    try:
        encoded, mac = token.split(".")
        payload, given = _unb64(encoded), _unb64(mac)
    except ValueError:
        raise BadToken("not an unsubscribe token") from None
    expected = hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
    if not hmac.compare_digest(expected, given):
        raise BadToken("the token's signature does not match")
    try:
        member, topic, expires = payload.decode().split(".")
        found = Unsubscribe(member_id=UUID(hex=member), topic=topic, expires_at=int(expires))
    except ValueError:
        raise BadToken("not an unsubscribe token") from None
    if found.topic not in TOPICS:
        raise BadToken("the token names no topic")
    if found.expires_at < (time.time() if now is None else now):
        raise BadToken("the token has expired; use the link of a newer email or change your settings")
    return found
