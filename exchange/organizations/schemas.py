"""API schemas of organizations, members and API keys."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from exchange.kernel.schemas import ApiStruct, Email, InputStruct, Url, text

OrgKind = Literal["institute", "enterprise", "broker"]
OrgStatus = Literal["pending_verification", "verified", "rejected", "suspended"]
MemberRole = Literal["owner", "editor", "viewer"]
OperatorRole = Literal["admin", "reviewer", "finance"]

Name = text(2, 200)
TaxCode = Annotated[
    str, Meta(pattern=r"^\d{10}(-\d{3})?$", description="Vietnamese tax code: 10 digits, or 13 for a branch")
]
Province = text(1, 100, "Province code, or a current or former province name")
Text = text(0, 5000)


class OrganizationCreate(InputStruct, kw_only=True):
    """Register an organization; its first member becomes the owner."""

    name: Name
    kind: OrgKind
    province: Province
    contact_email: Email
    tax_code: TaxCode | None = None
    website: Url | None = None
    description: Text | None = None
    owner_name: Name | None = None
    owner_email: Email | None = None


class OrganizationUpdate(InputStruct, kw_only=True):
    """Edit a profile; changing the name or tax code asks for verification again."""

    name: Name | UnsetType = UNSET
    province: Province | UnsetType = UNSET
    contact_email: Email | UnsetType = UNSET
    tax_code: TaxCode | None | UnsetType = UNSET
    website: Url | None | UnsetType = UNSET
    description: Text | None | UnsetType = UNSET


class VerifyDecision(InputStruct, kw_only=True):
    """An operator's verification decision: approve (or its synonym verify), or reject with a reason."""

    decision: Literal["approve", "verify", "reject"] = "approve"
    reason: text(3, 2000) | None = None


class ReasonIn(InputStruct, kw_only=True):
    """Why an admin suspends or reinstates an organization (kept in the audit trail)."""

    reason: text(3, 2000)


class OrganizationOut(ApiStruct, kw_only=True):
    """An organization's profile."""

    id: UUID
    name: str
    kind: OrgKind
    status: OrgStatus
    province: str
    contact_email: str
    tax_code: str | None
    website: str | None
    description: str | None
    verified_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int
    rejection_reason: str | None | UnsetType = UNSET
    suspended_at: datetime | None = None
    suspension_reason: str | None | UnsetType = UNSET


class MemberCreate(InputStruct, kw_only=True):
    """Add a member to an organization."""

    name: Name
    email: Email
    role: MemberRole


class MemberOut(ApiStruct, kw_only=True):
    """A member of an organization, or an operator (no organization)."""

    id: UUID
    org_id: UUID | None
    name: str
    email: str
    role: Literal["owner", "editor", "viewer", "operator", "partner"]
    created_at: datetime


class ApiKeyCreate(InputStruct, kw_only=True):
    """Create another key for oneself."""

    name: text(0, 100) | None = None


class ApiKeyOut(ApiStruct, kw_only=True):
    """A key's public facts; the secret is never shown again."""

    id: UUID
    prefix: str
    name: str | None
    created_at: datetime
    revoked_at: datetime | None


class NewApiKeyOut(ApiKeyOut, kw_only=True):
    """A key just created: `api_key` is the secret, shown this once."""

    api_key: str


class RegistrationOut(ApiStruct, kw_only=True):
    """A registered organization, its owner and the owner's first key (shown once)."""

    organization: OrganizationOut
    member: MemberOut
    api_key: str
    api_key_id: UUID


class MemberWithKeyOut(ApiStruct, kw_only=True):
    """A new member and its first key (shown once)."""

    member: MemberOut
    api_key: str
    api_key_id: UUID


class MeOut(ApiStruct, kw_only=True):
    """The caller: its member, organization and role (and an operator's role on the desk)."""

    member: MemberOut
    organization: OrganizationOut | None
    role: str
    operator_role: OperatorRole | None = None


class OperatorCreate(InputStruct, kw_only=True):
    """A new operator: reviewers verify organizations and moderate listings, finance handles money, admins everything."""

    email: Email
    name: Name
    role: OperatorRole


class OperatorOut(ApiStruct, kw_only=True):
    """One of the exchange's operators."""

    id: UUID
    name: str
    email: str
    role: OperatorRole
    created_at: datetime


class OperatorWithKeyOut(ApiStruct, kw_only=True):
    """A new operator and its first key (shown once)."""

    operator: OperatorOut
    api_key: str
    api_key_id: UUID
