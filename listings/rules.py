"""The listing lifecycle as pure functions: which action moves which status where."""

import hashlib
import unicodedata
from datetime import datetime, timedelta

import msgspec

from exchange.kernel.errors import InvalidTransition

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "submit": (frozenset({"draft", "rejected", "withdrawn", "expired"}), "pending_review"),
    "approve": (frozenset({"pending_review"}), "published"),
    "reject": (frozenset({"pending_review"}), "rejected"),
    "withdraw": (frozenset({"draft", "pending_review", "published", "expired"}), "withdrawn"),
    "renew": (frozenset({"published", "expired"}), "published"),
}

# Owners are told this long before a published listing expires.
EXPIRING_SOON = timedelta(days=14)

# Fields an owner may change on a published listing without sending it back to review.
FREE_EDIT_FIELDS = frozenset({"price", "price_type", "contact", "licence_terms", "external_id"})


def next_status(current: str, action: str) -> str:
    """The status an action leads to, or InvalidTransition naming the current status."""
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        starts = ", ".join(sorted(allowed))
        raise InvalidTransition(f"cannot {action} a listing that is {current}; {action} applies to: {starts}")
    return target


def status_after_edit(current: str, changed_fields: set[str]) -> str:
    """Editing a published listing sends it back to review unless only price, contact, licence terms or its external id changed."""
    if current == "published" and changed_fields - FREE_EDIT_FIELDS:
        return "pending_review"
    return current


def effective_status(status: str, expires_at: datetime | None, now: datetime) -> str:
    """A published listing past its expiry is expired even before the sweeper has stored it."""
    if status == "published" and expires_at is not None and expires_at <= now:
        return "expired"
    return status


def is_public(status: str, expires_at: datetime | None, now: datetime) -> bool:
    """Only published, unexpired listings are public."""
    return effective_status(status, expires_at, now) == "published"


def is_expiring_soon(status: str, expires_at: datetime | None, now: datetime) -> bool:
    """A published listing within EXPIRING_SOON of its expiry: time for its owner to renew it."""
    return is_public(status, expires_at, now) and expires_at is not None and expires_at - now <= EXPIRING_SOON


def guess_language(text: str) -> str:
    """'vi' when the text carries Vietnamese letters or tone marks, else 'en'."""
    folded = unicodedata.normalize("NFD", text)
    return "vi" if "đ" in text.lower() or any(unicodedata.combining(c) for c in folded) else "en"


def licence_terms_sha256(terms: msgspec.Struct | None) -> str | None:
    """The hex SHA-256 of licence terms as served: their compact JSON, fields in order, UTF-8 (None without terms)."""
    return None if terms is None else hashlib.sha256(msgspec.json.encode(terms)).hexdigest()
