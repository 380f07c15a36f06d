"""API schemas of the statistics, the change feed and partner keys."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from exchange.kernel.schemas import ApiStruct, Email, InputStruct, Money, text


class ListingStats(ApiStruct, kw_only=True):
    """Listings counted by status (every listing), and by sector and province (published ones only)."""

    total: int
    by_status: dict[str, int]
    """Every listing by status; a published listing past its expiry counts as expired."""
    by_sector: dict[str, int]
    """Published, unexpired listings by sector code."""
    by_province: dict[str, int]
    """Published, unexpired listings by province code."""


class OffersVsDemands(ApiStruct, kw_only=True):
    """Published, unexpired offers and demands."""

    offers: int
    demands: int


class InterestStats(ApiStruct, kw_only=True):
    """Interests expressed, and how many the listing owners accepted."""

    total: int
    pending: int
    accepted: int
    declined: int
    acceptance_rate: float | None
    """accepted / (accepted + declined): the share of decided interests that were accepted; pending ones are not
    counted; null while none is decided. Rounded to 4 decimals."""
    median_days_to_first_interest: float | None
    """Over listings that received at least one interest: the median of the days from the listing's publication to
    its first interest; null when none has. Rounded to 2 decimals."""


class DealStats(ApiStruct, kw_only=True):
    """Deals by stage and the value agreed."""

    total: int
    by_stage: dict[str, int]
    """Every stage, zeros included."""
    agreed_count: int
    """Deals whose terms both sides confirmed and that were not cancelled (stages agreed, fee_pending, closed)."""
    agreed_value: Money
    """The sum of the agreed value of those deals (cancelled deals excluded, even after agreement)."""


class OriginStats(ApiStruct, kw_only=True):
    """The deals of one origin."""

    count: int
    """Every deal of this origin, whatever its stage."""
    agreed_count: int
    """Those in stages agreed, fee_pending or closed (not cancelled)."""
    agreed_value: Money
    """The sum of their agreed value."""


class DealsByOrigin(ApiStruct, kw_only=True):
    """Deals by how they came about; together they are every deal `deals` counts."""

    negotiated: OriginStats
    """Terms proposed and confirmed by both sides."""
    express_licence: OriginStats
    """An offer's licence terms accepted online in one step."""
    auction: OriginStats
    """An auction's winning bid."""


class AuctionStats(ApiStruct, kw_only=True):
    """Auctions by where they stand; closed ones by outcome."""

    scheduled: int
    open: int
    won: int
    """Closed with a winner (and so an agreed deal)."""
    reserve_not_met: int
    """Closed with bids, none meeting the reserve."""
    no_bids: int
    cancelled: int


class DealRoomStats(ApiStruct, kw_only=True):
    """The deal room (version 1.1): how deals come about, NDAs accepted and auctions by outcome."""

    deals_by_origin: DealsByOrigin
    ndas_accepted: int
    """Acceptances of an offer's NDA (each organization and version once)."""
    auctions: AuctionStats


class FeeStats(ApiStruct, kw_only=True):
    """The exchange's fee invoices."""

    invoiced: Money
    """Every fee invoice issued and not voided (refunded ones included: they were invoiced)."""
    collected: Money
    """Invoices paid and not refunded."""
    refunded: Money
    """Invoices paid and then refunded."""


class ReviewStats(ApiStruct, kw_only=True):
    """The operators' review queue."""

    queue_length: int
    """Listings pending review now."""
    median_hours_to_decision: float | None
    """The median of the hours from a listing's submission to its approval or rejection, over every decision taken;
    null before the first. Rounded to 2 decimals."""


class MonthStats(ApiStruct, kw_only=True):
    """One calendar month (UTC) of the series over time."""

    period: str
    """The month, as YYYY-MM."""
    agreed_value: Money
    """The agreed value of the deals agreed in this month (not cancelled since)."""
    fees: Money
    """The fees invoiced in this month (not voided)."""


class StatsOut(ApiStruct, kw_only=True):
    """Aggregates of the whole exchange, all read from one consistent snapshot of the database."""

    as_of: datetime
    listings: ListingStats
    offers_vs_demands: OffersVsDemands
    interests: InterestStats
    deals: DealStats
    deal_room: DealRoomStats
    fees: FeeStats
    reviews: ReviewStats
    over_time: list[MonthStats]
    """Month by month, from the first month with an agreed deal or an invoice to this one (empty before either)."""


class ChangeOut(ApiStruct, kw_only=True):
    """One change of a listing in commit order."""

    position: str
    """The cursor after this item: pass it as `since` to continue from here."""
    listing_id: UUID
    kind: Literal["offer", "demand"]
    status: str
    """The listing's status after this change."""
    version: int
    """The listing's version after this change."""
    changed_at: datetime
    listing: dict[str, Any] | None
    """The listing's current public view when it is public now, else null (remove it from your copy)."""


class ChangesPage(ApiStruct, kw_only=True):
    """A page of the change feed."""

    items: list[ChangeOut]
    next_cursor: str
    """Where to continue: the position of the last item, or the `since` given when nothing new has committed."""
    has_more: bool
    """More changes are available right now."""


class PartnerCreate(InputStruct, kw_only=True):
    """A partner exchange that may read the change feed."""

    name: text(1, 200)
    email: Email


class PartnerOut(ApiStruct, kw_only=True):
    """A partner exchange's member (it belongs to no organization)."""

    id: UUID
    name: str
    email: str
    role: Literal["partner"]
    created_at: datetime


class PartnerWithKeyOut(ApiStruct, kw_only=True):
    """A new partner and its API key, shown once."""

    partner: PartnerOut
    api_key: str
    api_key_id: UUID
