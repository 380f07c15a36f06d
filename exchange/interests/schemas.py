"""API schemas of interests."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from msgspec import UNSET, UnsetType

from exchange.kernel.schemas import ApiStruct, InputStruct, text

InterestStatus = Literal["pending", "accepted", "declined"]
Box = Literal["received", "sent"]


class InterestCreate(InputStruct, kw_only=True):
    """An expression of interest in a published listing of another organization."""

    message: text(1, 5000, "What the sender wants and why")
    listing_id: UUID | None = None
    """The sender's own listing of the other kind being answered (an offer for a demand, a demand for an offer)."""


class ContactOut(ApiStruct, kw_only=True):
    """A listing's contact person."""

    name: str
    email: str | None = None
    phone: str | None = None


class PartyDisclosure(ApiStruct, kw_only=True):
    """What one side of an accepted interest reveals to the other."""

    org_id: UUID
    name: str
    contact_email: str
    listing_id: UUID | None
    listing_kind: Literal["offer", "demand"] | None
    contact: ContactOut | None
    confidential_details: str | None
    """Set only when this side's listing is an offer (the offer's confidential details)."""


class Revealed(ApiStruct, kw_only=True):
    """Both sides' contacts, shown to the two parties once the interest is accepted."""

    sender: PartyDisclosure
    recipient: PartyDisclosure


class InterestOut(ApiStruct, kw_only=True):
    """An interest: the sender asks the owner of a listing to connect."""

    id: UUID
    target_id: UUID
    target_kind: Literal["offer", "demand"]
    to_org_id: UUID
    from_org_id: UUID
    from_member_id: UUID
    listing_id: UUID | None
    offer_id: UUID | None
    demand_id: UUID | None
    message: str
    status: InterestStatus
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int
    revealed: Revealed | None | UnsetType = UNSET
    """Only for the two parties: null until accepted, then each side's contact and the offer's confidential details."""
