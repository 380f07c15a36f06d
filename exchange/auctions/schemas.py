"""API schemas of auctions and their bids."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import Meta

from exchange.auctions.rules import Kind, Outcome, Status
from exchange.kernel.schemas import ApiStruct, InputStruct, Money, text
from exchange.kernel.taxonomy import TRANSFER_MODE_CODES

TransferMode = Literal[tuple(sorted(TRANSFER_MODE_CODES))]  # type: ignore[valid-type]
Moment = Annotated[datetime, Meta(tz=True, description="RFC 3339 with a time zone")]


class AuctionCreate(InputStruct, kw_only=True):
    """An auction of one's published offer.

    english: open ascending bids, each at least `min_increment` above the leading one (1 % of the starting price,
    rounded up, when left out). sealed_bid: one hidden bid per organization, replaceable until the close.
    The reserve, if any, is never shown: bids below it can be placed but cannot win."""

    offer_id: UUID
    kind: Kind
    starting_price: Money
    starts_at: Moment
    ends_at: Moment
    reserve: Money | None = None
    min_increment: Money | None = None
    transfer_mode: TransferMode | None = None
    """The transfer mode of the deal the winner gets; one of the offer's (its first when left out)."""
    terms_summary: text(1, 5000) | None = None  # type: ignore[valid-type]
    """The terms of the deal the winner gets (a default naming the auction when left out)."""


class BidIn(InputStruct, kw_only=True):
    """A bid: english at least the starting price and min_increment above the leading bid; sealed at least the
    starting price (a second sealed bid of the same organization replaces the first)."""

    amount: Money


class CancelIn(InputStruct, kw_only=True):
    """Why the auction is cancelled."""

    reason: text(3, 2000)  # type: ignore[valid-type]


class AuctionOut(ApiStruct, kw_only=True):
    """An auction as anyone may see it: never the reserve's amount, never a sealed bid before the close."""

    id: UUID
    offer_id: UUID
    seller_org_id: UUID
    kind: Kind
    status: Status
    """scheduled until starts_at, open until it is closed (bids are refused from ends_at on), closed, cancelled."""
    starting_price: Money
    min_increment: Money | None
    has_reserve: bool
    reserve_met: bool
    """The leading bid meets the reserve (no reserve: any bid does); for sealed bids known only after the close."""
    starts_at: datetime
    ends_at: datetime
    """When bidding ends; a bid in the last 5 minutes of an english auction moves it to 5 minutes past that bid."""
    scheduled_ends_at: datetime
    bid_count: int
    """Bids placed (sealed: organizations bidding, a replaced bid counting once)."""
    highest_bid: Money | None
    """English: the leading bid. Sealed: null until the close."""
    minimum_bid: Money | None
    """The lowest amount a bid may have now; null once bidding is over."""
    outcome: Outcome | None
    """After the close: won, no_bids or reserve_not_met."""
    winner_org_id: UUID | None
    winning_bid: Money | None
    deal_id: UUID | None
    """The deal the close opened: shown to its buyer, its seller and operators."""
    transfer_mode: str
    terms_summary: str
    closed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class BidOut(ApiStruct, kw_only=True):
    """A bid, as its bidder (and, after a sealed close, the seller and operators) sees it."""

    id: UUID
    auction_id: UUID
    bidder_org_id: UUID
    amount: Money
    placed_at: datetime
    """When the current amount was bid (a replaced sealed bid: when it was replaced)."""
    replaced_count: int
    created_at: datetime
