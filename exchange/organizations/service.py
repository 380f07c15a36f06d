"""Rules for organizations, members and keys: who may do what, and what changes."""

from uuid import UUID

import asyncpg
import msgspec
from msgspec import UNSET

from exchange.kernel import audit, auth
from exchange.kernel.auth import Principal
from exchange.kernel.errors import Conflict, Forbidden, InvalidTransition, NotFound, field_error
from exchange.kernel.http import check_if_match
from exchange.kernel.taxonomy import region_code
from exchange.organizations import repo
from exchange.organizations.repo import KeyRow, MemberRow, OrgRow
from exchange.organizations.schemas import (
    ApiKeyCreate,
    ApiKeyOut,
    MemberCreate,
    MemberOut,
    MemberWithKeyOut,
    MeOut,
    NewApiKeyOut,
    OperatorCreate,
    OperatorOut,
    OperatorWithKeyOut,
    OrganizationCreate,
    OrganizationOut,
    OrganizationUpdate,
    ReasonIn,
    RegistrationOut,
    VerifyDecision,
)
from listings import public as listings

BOOTSTRAP_LOCK_ID = 7_341_190_554

# Changing these asks the operators to verify the organization again.
_IDENTITY_FIELDS = frozenset({"name", "tax_code"})


def org_out(row: OrgRow, viewer: Principal | None) -> OrganizationOut:
    """The profile as this viewer may see it."""
    out = msgspec.convert(msgspec.structs.asdict(row), OrganizationOut, from_attributes=True)
    if viewer and (viewer.is_operator or viewer.org_id == row.id):
        out.rejection_reason = row.rejection_reason
        out.suspension_reason = row.suspension_reason
    else:
        out.rejection_reason = UNSET
        out.suspension_reason = UNSET
    return out


def member_out(row: MemberRow) -> MemberOut:
    """A member as the API shows it."""
    return MemberOut(
        id=row.id, org_id=row.org_id, name=row.name, email=row.email, role=row.role, created_at=row.created_at
    )


def key_out(row: KeyRow) -> ApiKeyOut:
    """A key's public facts."""
    return ApiKeyOut(id=row.id, prefix=row.prefix, name=row.name, created_at=row.created_at, revoked_at=row.revoked_at)


def operator_out(row: MemberRow) -> OperatorOut:
    """An operator as the API shows it."""
    return OperatorOut(id=row.id, name=row.name, email=row.email, role=row.operator_role, created_at=row.created_at)


async def _issue_key(
    conn: asyncpg.Connection, actor: Principal | None, member_id: UUID, name: str | None, request_id: str | None
) -> tuple[KeyRow, str]:
    key = auth.new_key()
    row = await repo.insert_key(conn, member_id, key.key_hash, key.prefix, name)
    await audit.record(conn, actor, "key_create", "api_key", row.id, None, request_id)
    return row, key.secret


async def _revoked(
    conn: asyncpg.Connection, actor: Principal | None, key_ids: list[UUID], request_id: str | None
) -> None:
    for key_id in key_ids:
        await audit.record(conn, actor, "key_revoke", "api_key", key_id, None, request_id)


async def register(conn: asyncpg.Connection, data: OrganizationCreate, request_id: str | None) -> RegistrationOut:
    """Register an organization with its owner and the owner's first key."""
    values = msgspec.structs.asdict(data)
    values["province"] = region_code(data.province, "province")
    org = await repo.insert_org(conn, values)
    owner = await repo.insert_member(
        conn, org.id, data.owner_name or data.name, data.owner_email or data.contact_email, "owner"
    )
    key, secret = await _issue_key(conn, None, owner.id, "first key", request_id)
    return RegistrationOut(organization=org_out(org, None), member=member_out(owner), api_key=secret, api_key_id=key.id)


async def _org(conn: asyncpg.Connection, org_id: UUID, *, for_update: bool = False) -> OrgRow:
    org = await repo.get_org(conn, org_id, for_update=for_update)
    if org is None:
        raise NotFound("no such organization")
    return org


async def get_org(conn: asyncpg.Connection, viewer: Principal | None, org_id: UUID) -> OrganizationOut:
    """A public profile."""
    return org_out(await _org(conn, org_id), viewer)


async def update_org(
    conn: asyncpg.Connection, principal: Principal | None, org_id: UUID, data: OrganizationUpdate, if_match: str | None
) -> OrganizationOut:
    """Edit a profile (owner only)."""
    auth.require_member_of(principal, org_id, "owner")
    org = await _org(conn, org_id, for_update=True)
    check_if_match(if_match, org.version)
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not UNSET}
    if "province" in changes:
        changes["province"] = region_code(changes["province"], "province")
    changed = {k for k, v in changes.items() if getattr(org, k) != v}
    status = org.status
    if changed & _IDENTITY_FIELDS or org.status == "rejected":
        status = "pending_verification"
    return org_out(await repo.update_org(conn, org_id, changes, status), principal)


async def list_orgs(
    conn: asyncpg.Connection,
    principal: Principal | None,
    status: str | None,
    q: str | None,
    after: tuple | None,
    limit: int,
) -> list[OrgRow]:
    """Organizations by status, oldest first, matching q on name, tax code or email (operators)."""
    auth.require_operator(principal)
    pattern = None
    if q and q.strip():
        escaped = q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    return await repo.list_orgs(conn, status, pattern, after, limit)


async def verify(
    conn: asyncpg.Connection, principal: Principal | None, org_id: UUID, data: VerifyDecision, request_id: str
) -> OrganizationOut:
    """A reviewer verifies or rejects an organization waiting for verification."""
    actor = auth.require_operator(principal, "reviewer")
    org = await _org(conn, org_id, for_update=True)
    if org.status != "pending_verification":
        raise InvalidTransition(f"the organization is {org.status}, not pending_verification")
    if data.decision == "reject":
        if not data.reason:
            raise field_error("reason", "a reason is required to reject")
        row = await repo.set_org_verification(conn, org_id, "rejected", data.reason)
    else:
        row = await repo.set_org_verification(conn, org_id, "verified", None)
    action = "reject" if data.decision == "reject" else "verify"
    await audit.record(conn, actor, action, "organization", org_id, data.reason, request_id)
    return org_out(row, actor)


def _reason(data: ReasonIn | None) -> str:
    if data is None:
        raise field_error("reason", "a reason is required")
    return data.reason


async def suspend(
    conn: asyncpg.Connection, principal: Principal | None, org_id: UUID, data: ReasonIn | None, request_id: str
) -> OrganizationOut:
    """An admin suspends an organization: its published listings leave publication and search at once."""
    actor = auth.require_operator(principal, "admin")
    reason = _reason(data)
    org = await _org(conn, org_id, for_update=True)
    if org.status == "suspended":
        raise InvalidTransition("the organization is suspended already")
    row = await repo.suspend_org(conn, org_id, reason)
    await listings.suspend_owned(conn, org_id)
    await audit.record(conn, actor, "suspend", "organization", org_id, reason, request_id)
    return org_out(row, actor)


async def reinstate(
    conn: asyncpg.Connection, principal: Principal | None, org_id: UUID, data: ReasonIn | None, request_id: str
) -> OrganizationOut:
    """An admin reinstates a suspended organization: its unexpired listings are published again."""
    actor = auth.require_operator(principal, "admin")
    reason = _reason(data)
    org = await _org(conn, org_id, for_update=True)
    if org.status != "suspended":
        raise InvalidTransition(f"the organization is {org.status}, not suspended")
    row = await repo.reinstate_org(conn, org_id)
    await listings.reinstate_owned(conn, org_id)
    await audit.record(conn, actor, "reinstate", "organization", org_id, reason, request_id)
    return org_out(row, actor)


async def add_member(
    conn: asyncpg.Connection, principal: Principal | None, org_id: UUID, data: MemberCreate, request_id: str
) -> MemberWithKeyOut:
    """An owner adds a member, who gets a first key."""
    owner = auth.require_member_of(principal, org_id, "owner")
    await repo.lock_org_members(conn, org_id)
    member = await repo.insert_member(conn, org_id, data.name, data.email, data.role)
    key, secret = await _issue_key(conn, owner, member.id, "first key", request_id)
    return MemberWithKeyOut(member=member_out(member), api_key=secret, api_key_id=key.id)


async def list_members(
    conn: asyncpg.Connection, principal: Principal | None, org_id: UUID, after: tuple | None, limit: int
) -> list[MemberRow]:
    """Members of an organization, for its members and operators."""
    principal = auth.require(principal)
    if not (principal.is_operator or principal.is_member_of(org_id)):
        raise Forbidden("only members of this organization may list its members")
    return await repo.list_members(conn, org_id, after, limit)


async def remove_member(
    conn: asyncpg.Connection, principal: Principal | None, member_id: UUID, request_id: str
) -> None:
    """An owner removes a member; the member's keys stop working with this commit."""
    principal = auth.require(principal)
    member = await repo.get_member(conn, member_id)
    if member is None or member.org_id is None:
        raise NotFound("no such member")
    auth.require_member_of(principal, member.org_id, "owner")
    await repo.lock_org_members(conn, member.org_id)
    if member.role == "owner" and await repo.count_owners(conn, member.org_id) <= 1:
        raise Conflict("an organization must keep at least one owner")
    await _revoked(conn, principal, await repo.remove_member(conn, member_id), request_id)


async def create_key(
    conn: asyncpg.Connection, principal: Principal | None, data: ApiKeyCreate, request_id: str
) -> NewApiKeyOut:
    """Any member creates another key for itself."""
    principal = auth.require(principal)
    row, secret = await _issue_key(conn, principal, principal.member_id, data.name, request_id)
    return NewApiKeyOut(**msgspec.structs.asdict(key_out(row)), api_key=secret)


async def list_keys(conn: asyncpg.Connection, principal: Principal | None) -> list[ApiKeyOut]:
    """The caller's current keys."""
    principal = auth.require(principal)
    return [key_out(k) for k in await repo.list_keys(conn, principal.member_id)]


async def revoke_key(conn: asyncpg.Connection, principal: Principal | None, key_id: UUID, request_id: str) -> None:
    """Revoke one of one's own keys."""
    principal = auth.require(principal)
    key = await repo.get_key(conn, key_id)
    if key is None or key.member_id != principal.member_id or key.revoked_at is not None:
        raise NotFound("no such key among yours")
    await repo.revoke_key(conn, key_id)
    await _revoked(conn, principal, [key_id], request_id)


async def me(conn: asyncpg.Connection, principal: Principal | None) -> MeOut:
    """The caller's member, organization and role."""
    principal = auth.require(principal)
    member = await repo.get_member(conn, principal.member_id)
    org = await repo.get_org(conn, principal.org_id) if principal.org_id else None
    return MeOut(
        member=member_out(member),
        organization=org_out(org, principal) if org else None,
        role=principal.role,
        operator_role=principal.operator_role,
    )


async def create_operator(
    conn: asyncpg.Connection, email: str, name: str, role: str | None = None
) -> tuple[OperatorOut, str]:
    """From the command line: create an operator (an admin unless role says otherwise), or give the one with this
    email a new key (and the role, when one is given)."""
    operator = await repo.find_operator(conn, email)
    if operator is None:
        operator = await repo.insert_member(conn, None, name, email, "operator", role or "admin")
        await audit.record(conn, None, "operator_create", "member", operator.id, None, None)
    elif role is not None and role != operator.operator_role:
        operator = await repo.set_operator_role(conn, operator.id, role)
        await audit.record(conn, None, "operator_role", "member", operator.id, f"role {role}", None)
    _, secret = await _issue_key(conn, None, operator.id, "cli", None)
    return operator_out(operator), secret


async def add_operator(
    conn: asyncpg.Connection, principal: Principal | None, data: OperatorCreate, request_id: str
) -> OperatorWithKeyOut:
    """An admin adds an operator in a role, who gets a first key (an email already an operator's is a 409)."""
    actor = auth.require_operator(principal, "admin")
    operator = await repo.insert_member(conn, None, data.name, data.email, "operator", data.role)
    await audit.record(conn, actor, "operator_create", "member", operator.id, f"role {data.role}", request_id)
    key, secret = await _issue_key(conn, actor, operator.id, "first key", request_id)
    return OperatorWithKeyOut(operator=operator_out(operator), api_key=secret, api_key_id=key.id)


async def list_operators(
    conn: asyncpg.Connection, principal: Principal | None, after: tuple | None, limit: int
) -> list[MemberRow]:
    """The current operators (admins)."""
    auth.require_operator(principal, "admin")
    return await repo.list_operators(conn, after, limit)


async def remove_operator(
    conn: asyncpg.Connection, principal: Principal | None, member_id: UUID, request_id: str
) -> None:
    """An admin removes an operator; its keys stop working with this commit. The last admin stays."""
    actor = auth.require_operator(principal, "admin")
    admins = await repo.lock_admins(conn)
    operator = await repo.get_operator(conn, member_id)
    if operator is None:
        raise NotFound("no such operator")
    if operator.operator_role == "admin" and admins <= 1:
        raise Conflict("the exchange must keep at least one admin")
    await audit.record(conn, actor, "operator_delete", "member", member_id, None, request_id)
    await _revoked(conn, actor, await repo.remove_member(conn, member_id), request_id)


async def ensure_bootstrap_operator(conn: asyncpg.Connection, secret: str) -> bool:
    """Make sure an operator holds exactly this key; True when it had to be created."""
    key_hash = auth.hash_key(secret)
    # Several worker processes start at once: one creates, the others then find it.
    await conn.execute("SELECT pg_advisory_xact_lock($1)", BOOTSTRAP_LOCK_ID)
    if await repo.key_exists(conn, key_hash):
        return False
    email = "bootstrap-operator@exchange.invalid"
    operator = await repo.find_operator(conn, email)
    if operator is None:
        operator = await repo.insert_member(conn, None, "Bootstrap operator", email, "operator", "admin")
        await audit.record(conn, None, "operator_create", "member", operator.id, "bootstrap", None)
    key = await repo.insert_key(conn, operator.id, key_hash, secret[:12], "bootstrap")
    await audit.record(conn, None, "key_create", "api_key", key.id, "bootstrap", None)
    return True
