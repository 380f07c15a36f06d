"""API schemas of fee schedules, quotes, invoices and payments."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from msgspec import Meta

from exchange.kernel.schemas import ApiStruct, InputStruct, Money

InvoiceStatus = Literal["open", "processing", "paid", "failed", "refunded", "void"]
Party = Literal["buyer", "seller"]
Bps = Annotated[int, Meta(ge=0, le=10_000, description="Basis points: 100 bps = 1 %")]
Amount = Annotated[int, Meta(ge=0, le=10**15)]
PaymentMethodId = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=255,
        pattern=r"^[A-Za-z0-9_]+$",
        description="A Stripe PaymentMethod id such as pm_card_visa",
    ),
]


class TierIn(InputStruct, kw_only=True):
    """A marginal tier: `bps` of the part of the deal value up to `up_to` VND (null on the last tier)."""

    up_to: Amount | None = None
    bps: Bps


class SplitIn(InputStruct, kw_only=True):
    """Who pays which share of the fee, in basis points adding up to 10000."""

    buyer_bps: Bps
    seller_bps: Bps


class ScheduleIn(InputStruct, kw_only=True):
    """A new fee schedule version, effective from now."""

    tiers: Annotated[list[TierIn], Meta(min_length=1, max_length=20)]
    minimum_fee: Money
    maximum_fee: Money | None = None
    split: SplitIn


class TierOut(ApiStruct, kw_only=True):
    """A tier of the schedule."""

    up_to: int | None
    bps: int


class SplitOut(ApiStruct, kw_only=True):
    """The buyer/seller split."""

    buyer_bps: int
    seller_bps: int


class ScheduleOut(ApiStruct, kw_only=True):
    """A fee schedule version."""

    version: int
    effective_from: datetime
    currency: str
    tiers: list[TierOut]
    minimum_fee: Money
    maximum_fee: Money | None
    split: SplitOut
    max_charge: Money
    created_at: datetime


class QuoteTier(ApiStruct, kw_only=True):
    """The part of the value that fell in one tier."""

    start: int
    up_to: int | None
    bps: int
    base: Money


class PartyShare(ApiStruct, kw_only=True):
    """One party's share and the instalments it is invoiced in (each within Stripe's VND limit)."""

    share_bps: int
    amount: Money
    instalments: list[Money]


class Quote(ApiStruct, kw_only=True):
    """The fee a deal of this value would pay under the schedule in force."""

    schedule_version: int
    deal_value: Money
    tiers: list[QuoteTier]
    tiered_fee: Money
    clamped: Literal["minimum", "maximum"] | None
    fee: Money
    buyer: PartyShare
    seller: PartyShare


class InvoiceOut(ApiStruct, kw_only=True):
    """A fee invoice of one party of a deal (one instalment of its share)."""

    id: UUID
    deal_id: UUID
    org_id: UUID
    party: Party
    instalment: int
    instalments: int
    amount: Money
    status: InvoiceStatus
    fee_schedule_version: int
    payment_intent_id: str | None
    next_action: dict[str, Any] | None
    last_payment_error: dict[str, Any] | None
    paid_at: datetime | None
    refunded_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class PayIn(InputStruct, kw_only=True):
    """Pay an invoice: with a PaymentMethod the server confirms; without, confirm with the client_secret."""

    payment_method: PaymentMethodId | None = None


class PaymentOut(ApiStruct, kw_only=True):
    """The PaymentIntent of an invoice and the invoice after this call."""

    payment_intent_id: str
    client_secret: str | None
    status: str
    next_action: dict[str, Any] | None
    invoice: InvoiceOut


class WebhookAck(ApiStruct, kw_only=True):
    """The answer to Stripe."""

    received: bool
    duplicate: bool
