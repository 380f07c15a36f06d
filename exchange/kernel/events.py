"""The outbox events one package writes and another consumes: one definition, imported by both sides."""

from datetime import datetime
from uuid import UUID

import msgspec

from exchange.kernel import outbox


class ListingChanged(outbox.Event, frozen=True, kw_only=True, tag="listing.changed"):
    """A listing was created, edited or moved (written by listings); the indexer reads it back for the rest."""

    id: UUID
    kind: str
    status: str
    version: int


class ListingIndexed(outbox.Event, frozen=True, kw_only=True, tag="listing.indexed"):
    """A listing's change is now visible to search (written by matching's indexer; subscriptions react to it)."""

    id: UUID
    kind: str
    status: str
    version: int
    searchable: bool


class EventMoney(msgspec.Struct, frozen=True, kw_only=True):
    """An amount in the currency's minor unit."""

    amount: int
    currency: str


class DealAgreed(outbox.Event, frozen=True, kw_only=True, tag="deal.agreed"):
    """Buyer and seller confirmed the same terms_version (written by deals); payments issues the fee invoices."""

    deal_id: UUID
    value: EventMoney
    buyer_org_id: UUID
    seller_org_id: UUID
    broker_org_id: UUID | None
    terms_version: int
    agreed_at: datetime


class DealCancelled(outbox.Event, frozen=True, kw_only=True, tag="deal.cancelled"):
    """A deal was cancelled before it closed (written by deals); payments refunds what was paid."""

    deal_id: UUID
    reason: str
    cancelled_at: datetime
    stage_before: str


class DealInvoiced(outbox.Event, frozen=True, kw_only=True, tag="deal.invoiced"):
    """The deal's fee invoices exist (written by payments); the deal waits for its fees."""

    deal_id: UUID
    invoice_ids: list[UUID]
    fee_schedule_version: int


class DealFeesPaid(outbox.Event, frozen=True, kw_only=True, tag="deal.fees_paid"):
    """Every fee invoice of the deal is paid (written by payments); the deal closes."""

    deal_id: UUID


class NdaAccepted(outbox.Event, frozen=True, kw_only=True, tag="nda.accepted"):
    """An organization accepted a version of an offer's NDA (written by ndas), for whoever should be told."""

    acceptance_id: UUID
    offer_id: UUID
    offer_owner_org_id: UUID
    org_id: UUID
    member_id: UUID
    version: int
    sha256: str
    accepted_at: datetime


class AuctionClosed(outbox.Event, frozen=True, kw_only=True, tag="auction.closed"):
    """An auction closed at its end (written by auctions): its outcome, and the winner and deal if it was won.

    Never the reserve's amount; the winning amount is public once the auction is closed."""

    auction_id: UUID
    offer_id: UUID
    seller_org_id: UUID
    kind: str
    outcome: str
    bid_count: int
    winner_org_id: UUID | None
    winning_amount: EventMoney | None
    deal_id: UUID | None
    closed_at: datetime


class AuctionCancelled(outbox.Event, frozen=True, kw_only=True, tag="auction.cancelled"):
    """An auction was cancelled before its close (written by auctions), by its seller or an operator."""

    auction_id: UUID
    offer_id: UUID
    seller_org_id: UUID
    reason: str
    bid_count: int
    cancelled_at: datetime


class InterestExpressed(outbox.Event, frozen=True, kw_only=True, tag="interest.expressed"):
    """An organization asked the owner of a listing to connect (written by interests), for the owner to be told."""

    interest_id: UUID
    target_id: UUID
    target_kind: str
    from_org_id: UUID
    to_org_id: UUID


class InterestAccepted(outbox.Event, frozen=True, kw_only=True, tag="interest.accepted"):
    """The listing's owner accepted an interest (written by interests), for the sender to be told."""

    interest_id: UUID
    target_id: UUID
    target_kind: str
    from_org_id: UUID
    to_org_id: UUID


class InterestDeclined(outbox.Event, frozen=True, kw_only=True, tag="interest.declined"):
    """The listing's owner declined an interest (written by interests), for the sender to be told."""

    interest_id: UUID
    target_id: UUID
    target_kind: str
    from_org_id: UUID
    to_org_id: UUID


class DealTermsProposed(outbox.Event, frozen=True, kw_only=True, tag="deal.terms_proposed"):
    """A party or the broker proposed new terms on a deal (written by deals), for the parties to be told."""

    deal_id: UUID
    terms_version: int
    value: EventMoney
    proposed_by_org_id: UUID | None


class InvoicePaid(outbox.Event, frozen=True, kw_only=True, tag="invoice.paid"):
    """A fee invoice became paid (written by payments when Stripe says so), for the paying organization."""

    invoice_id: UUID
    deal_id: UUID
    org_id: UUID


class InvoiceRefunded(outbox.Event, frozen=True, kw_only=True, tag="invoice.refunded"):
    """A paid fee invoice was refunded in full (written by payments), for the paying organization."""

    invoice_id: UUID
    deal_id: UUID
    org_id: UUID
