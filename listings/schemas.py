"""API schemas of offers and demands."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, UnsetType

from exchange.kernel.schemas import ApiStruct, Email, InputStruct, Money, text
from exchange.kernel.taxonomy import IpStatus, Language, SectorCode, StrategicGroup, TransferMode
from listings.quality import Quality

PriceType = Literal["indicative", "floor", "firm"]
ListingStatus = Literal["draft", "pending_review", "published", "rejected", "withdrawn", "expired", "suspended"]

Title = text(3, 200)
Summary = text(0, 500)
Description = text(1, 20000)
Keyword = text(1, 60)
Keywords = Annotated[list[Keyword], Meta(max_length=10, description="At most 10 keywords")]
Groups = Annotated[list[StrategicGroup], Meta(max_length=10)]
Modes = Annotated[list[TransferMode], Meta(max_length=7)]
PatentNumbers = Annotated[list[text(1, 40)], Meta(max_length=20)]
Trl = Annotated[int, Meta(ge=1, le=9)]
Region = text(1, 100, "Province code, or a current or former province name")
Confidential = text(0, 10000)
ExternalId = text(1, 200, "The owner's own id of the listing (unique per organization), so that a re-import finds it")
TermMonths = Annotated[int, Meta(ge=1, le=600, description="How long the licence runs, in months")]


class LicenceTerms(InputStruct, kw_only=True):
    """Terms on which anyone may take a licence online in one step (POST /v1/offers/{id}/licence).

    Only non-exclusive terms can be express: `exclusive: true` is refused (422). The offer serves them with
    `licence_terms_sha256`: the hex SHA-256 of the `licence_terms` object's JSON exactly as served, that is compact
    (no whitespace), keys in this order (value {amount, currency}, transfer_mode, summary, term_months, exclusive) and
    non-ASCII characters as UTF-8, not escaped: what `JSON.stringify(offer.licence_terms)` or Python's
    `json.dumps(terms, separators=(",", ":"), ensure_ascii=False)` gives of the object as received."""

    value: Money
    transfer_mode: TransferMode
    summary: text(1, 5000)
    term_months: TermMonths
    exclusive: bool = False


class Contact(InputStruct, kw_only=True):
    """Who to talk to; revealed only to the owner, operators and accepted parties."""

    name: text(1, 200)
    email: Email | None = None
    phone: Annotated[str, Meta(max_length=40, pattern=r"^[+0-9 ().-]{6,40}$")] | None = None


class OfferCreate(InputStruct, kw_only=True):
    """A new technology offer, created as a draft. Without `language` it is detected from the text; without
    `region` it is the organization's province."""

    title: Title
    description: Description
    sector: SectorCode
    language: Language | None = None
    region: Region | None = None
    summary: Summary | None = None
    keywords: Keywords = msgspec.field(default_factory=list)
    strategic_groups: Groups = msgspec.field(default_factory=list)
    trl: Trl | None = None
    ip_status: IpStatus = "none"
    patent_numbers: PatentNumbers = msgspec.field(default_factory=list)
    transfer_modes: Modes = msgspec.field(default_factory=list)
    price: Money | None = None
    price_type: PriceType = "indicative"
    confidential_details: Confidential | None = None
    contact: Contact | None = None
    licence_terms: LicenceTerms | None = None
    external_id: ExternalId | None = None


class OfferUpdate(InputStruct, kw_only=True):
    """Changes to an offer; fields not given stay as they are."""

    title: Title | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    language: Language | UnsetType = UNSET
    sector: SectorCode | UnsetType = UNSET
    region: Region | UnsetType = UNSET
    summary: Summary | None | UnsetType = UNSET
    keywords: Keywords | UnsetType = UNSET
    strategic_groups: Groups | UnsetType = UNSET
    trl: Trl | None | UnsetType = UNSET
    ip_status: IpStatus | UnsetType = UNSET
    patent_numbers: PatentNumbers | UnsetType = UNSET
    transfer_modes: Modes | UnsetType = UNSET
    price: Money | None | UnsetType = UNSET
    price_type: PriceType | UnsetType = UNSET
    confidential_details: Confidential | None | UnsetType = UNSET
    contact: Contact | None | UnsetType = UNSET
    licence_terms: LicenceTerms | None | UnsetType = UNSET
    external_id: ExternalId | None | UnsetType = UNSET


class DemandCreate(InputStruct, kw_only=True):
    """A new technology demand, created as a draft. Without `language` it is detected from the text; without
    `region` it is the organization's province."""

    title: Title
    description: Description
    sector: SectorCode
    language: Language | None = None
    region: Region | None = None
    keywords: Keywords = msgspec.field(default_factory=list)
    strategic_groups: Groups = msgspec.field(default_factory=list)
    trl_min: Trl | None = None
    budget_max: Money | None = None
    preferred_transfer_modes: Modes = msgspec.field(default_factory=list)
    deadline: date | None = None
    contact: Contact | None = None
    external_id: ExternalId | None = None


class DemandUpdate(InputStruct, kw_only=True):
    """Changes to a demand; fields not given stay as they are."""

    title: Title | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    language: Language | UnsetType = UNSET
    sector: SectorCode | UnsetType = UNSET
    region: Region | UnsetType = UNSET
    keywords: Keywords | UnsetType = UNSET
    strategic_groups: Groups | UnsetType = UNSET
    trl_min: Trl | None | UnsetType = UNSET
    budget_max: Money | None | UnsetType = UNSET
    preferred_transfer_modes: Modes | UnsetType = UNSET
    deadline: date | None | UnsetType = UNSET
    contact: Contact | None | UnsetType = UNSET
    external_id: ExternalId | None | UnsetType = UNSET


class RejectIn(InputStruct, kw_only=True):
    """An operator's reason for rejecting a listing."""

    reason: text(3, 2000)


class _ListingOut(ApiStruct, kw_only=True):
    """Fields every listing has. Private fields are left out for callers who may not see them."""

    id: UUID
    kind: Literal["offer", "demand"]
    owner_org_id: UUID
    status: ListingStatus
    title: str
    description: str
    language: Language
    sector: str
    keywords: list[str]
    strategic_groups: list[str]
    region: str
    quality: Quality
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    published_at: datetime | None
    expires_at: datetime | None
    expiring_soon: bool
    version: int
    contact: Contact | None | UnsetType = UNSET
    rejection_reason: str | None | UnsetType = UNSET
    external_id: str | None | UnsetType = UNSET


class OfferOut(_ListingOut, kw_only=True):
    """A technology offer."""

    summary: str | None
    trl: int | None
    ip_status: str
    patent_numbers: list[str]
    transfer_modes: list[str]
    price: Money | None
    price_type: str
    licence_terms: LicenceTerms | None = None
    """Express licence terms, or null when the offer has none."""
    licence_terms_sha256: str | None = None
    """The hex SHA-256 of `licence_terms` as served (see LicenceTerms), to send back when taking the licence."""
    confidential_details: str | None | UnsetType = UNSET


class DemandOut(_ListingOut, kw_only=True):
    """A technology demand."""

    trl_min: int | None
    budget_max: Money | None
    preferred_transfer_modes: list[str]
    deadline: date | None
