"""API schemas of deals and their trail."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from exchange.deals.rules import Stage
from exchange.kernel.schemas import ApiStruct, InputStruct, Money, text
from exchange.kernel.taxonomy import TRANSFER_MODE_CODES

Origin = Literal["negotiated", "express_licence", "auction"]
TransferMode = Literal[tuple(sorted(TRANSFER_MODE_CODES))]  # type: ignore[valid-type]


class DealCreate(InputStruct, kw_only=True):
    """A new deal between the owner of an offer (seller) and a buyer, optionally led by a broker."""

    offer_id: UUID
    buyer_org_id: UUID
    seller_org_id: UUID
    title: text(3, 200)
    demand_id: UUID | None = None
    broker_org_id: UUID | None = None


class TermsIn(InputStruct, kw_only=True):
    """Proposed terms; every proposal is a new terms_version and clears both confirmations."""

    value: Money
    transfer_mode: TransferMode
    summary: text(1, 5000)


class ConfirmIn(InputStruct, kw_only=True):
    """Confirm the terms of this version (it must be the current one)."""

    terms_version: int


class CancelIn(InputStruct, kw_only=True):
    """Why the deal is cancelled."""

    reason: text(3, 2000)


class TermsOut(ApiStruct, kw_only=True):
    """The terms currently proposed."""

    value: Money
    transfer_mode: str
    summary: str
    proposed_at: datetime
    proposed_by_org_id: UUID | None


class DealOut(ApiStruct, kw_only=True):
    """A deal: stage, current terms and who has confirmed them."""

    id: UUID
    title: str
    offer_id: UUID
    demand_id: UUID | None
    buyer_org_id: UUID
    seller_org_id: UUID
    broker_org_id: UUID | None
    stage: Stage
    terms_version: int
    terms: TermsOut | None
    buyer_confirmed: bool
    """The buyer confirmed the current terms_version."""
    seller_confirmed: bool
    """The seller confirmed the current terms_version."""
    agreed_at: datetime | None
    fee_schedule_version: int | None
    invoiced_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    created_by: UUID
    created_at: datetime
    updated_at: datetime
    version: int
    origin: Origin = "negotiated"
    """How the deal came about: negotiated through terms and confirmations, an express licence, or an auction."""


class DealEventOut(ApiStruct, kw_only=True):
    """One entry of a deal's append-only trail; actor ids are null for the system."""

    id: UUID
    at: datetime
    actor_member_id: UUID | None
    actor_org_id: UUID | None
    action: str
    details: dict[str, Any]
