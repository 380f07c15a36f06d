"""Auction rules as pure functions: status at a moment, who may bid what, anti-sniping, and who wins."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

import msgspec

from exchange.kernel.errors import Conflict, field_error

Kind = Literal["english", "sealed_bid"]
Status = Literal["scheduled", "open", "closed", "cancelled"]
Outcome = Literal["won", "no_bids", "reserve_not_met"]

# A bid this close to the end moves the end to this long after the bid, so nobody wins by bidding at the last second.
SNIPING_WINDOW = timedelta(minutes=5)
# An english auction created without min_increment steps by 1 % of its starting price (at least 1 VND).
DEFAULT_INCREMENT_BPS = 100


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """A bid as the close ranks it."""

    id: UUID
    amount: int
    placed_at: datetime


def status_at(stored: str, starts_at: datetime, at: datetime) -> Status:
    """The status shown at a moment: a stored 'open' auction is scheduled until starts_at, so no job has to open it."""
    if stored == "open" and at < starts_at:
        return "scheduled"
    return stored  # type: ignore[return-value]


def default_increment(starting_amount: int) -> int:
    """The step of an english auction created without one: 1 % of the starting price, rounded up, at least 1."""
    return max(1, -(-starting_amount * DEFAULT_INCREMENT_BPS // 10_000))


def check_terms(
    kind: str,
    starting_amount: int,
    reserve_amount: int | None,
    min_increment: int | None,
    starts_at: datetime,
    ends_at: datetime,
    at: datetime,
) -> None:
    """422 naming the field when an auction's terms do not hold together."""
    if starting_amount <= 0:
        raise field_error("starting_price.amount", "must be greater than 0")
    if reserve_amount is not None and reserve_amount < starting_amount:
        raise field_error("reserve.amount", "must be at least the starting price")
    if kind == "sealed_bid" and min_increment is not None:
        raise field_error("min_increment", "applies to english auctions only")
    if min_increment is not None and min_increment <= 0:
        raise field_error("min_increment.amount", "must be greater than 0")
    if ends_at <= starts_at:
        raise field_error("ends_at", "must be after starts_at")
    if ends_at <= at:
        raise field_error("ends_at", "must be in the future")


def require_open(stored: str, starts_at: datetime, ends_at: datetime, at: datetime, doing: str) -> None:
    """409 unless the auction takes bids at this moment (past ends_at counts as over, even before the job closed it)."""
    status = status_at(stored, starts_at, at)
    if status == "scheduled":
        raise Conflict(f"the auction has not started yet: cannot {doing} before starts_at")
    if status != "open":
        raise Conflict(f"the auction is {status}: cannot {doing}")
    if at >= ends_at:
        raise Conflict(f"the auction ended at ends_at: cannot {doing}")


def minimum_bid(starting_amount: int, high_amount: int | None, min_increment: int | None) -> int:
    """The lowest amount an english bid may have now (sealed bids: the starting price)."""
    if high_amount is None or min_increment is None:
        return starting_amount
    return max(starting_amount, high_amount + min_increment)


def check_amount(amount: int, minimum: int) -> None:
    """422 naming amount when a bid is below the minimum."""
    if amount < minimum:
        raise field_error("amount", f"must be at least {minimum} VND")


def extended_end(ends_at: datetime, at: datetime) -> datetime:
    """Where ends_at goes after a bid at `at`: SNIPING_WINDOW past the bid when the bid came within the window."""
    return max(ends_at, at + SNIPING_WINDOW)


def winner(bids: Sequence[Candidate], reserve_amount: int | None) -> tuple[Outcome, Candidate | None]:
    """The highest bid (the earliest on a tie) if it meets the reserve; else why there is no winner."""
    if not bids:
        return "no_bids", None
    best = min(bids, key=lambda b: (-b.amount, b.placed_at, b.id))
    if reserve_amount is not None and best.amount < reserve_amount:
        return "reserve_not_met", None
    return "won", best


def reserve_met(kind: str, status: str, high_amount: int | None, outcome: str | None, reserve: int | None) -> bool:
    """Whether the leading bid meets the reserve; a sealed auction says so only once closed (else it would tell
    a bidder replacing its bid where the reserve lies)."""
    if status == "closed":
        return outcome == "won"
    if kind != "english" or high_amount is None:
        return False
    return reserve is None or high_amount >= reserve
