"""SQL for organizations, members and API keys."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel.db import keyset, keyset_args, row_to, rows_to


class OrgRow(msgspec.Struct, frozen=True, kw_only=True):
    """An organizations row."""

    id: UUID
    name: str
    kind: str
    status: str
    province: str
    contact_email: str
    tax_code: str | None
    website: str | None
    description: str | None
    rejection_reason: str | None
    verified_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int
    suspended_from: str | None = None
    suspension_reason: str | None = None
    suspended_at: datetime | None = None


class MemberRow(msgspec.Struct, frozen=True, kw_only=True):
    """A members row."""

    id: UUID
    org_id: UUID | None
    name: str
    email: str
    role: str
    created_at: datetime
    removed_at: datetime | None
    operator_role: str | None = None


class KeyRow(msgspec.Struct, frozen=True, kw_only=True):
    """An api_keys row (without its hash)."""

    id: UUID
    member_id: UUID
    prefix: str
    name: str | None
    created_at: datetime
    revoked_at: datetime | None


_ORG_COLUMNS = frozenset({"name", "province", "contact_email", "tax_code", "website", "description"})


async def insert_org(conn: asyncpg.Connection, values: dict[str, Any]) -> OrgRow:
    """Insert a new organization (pending verification)."""
    row = await conn.fetchrow(
        """INSERT INTO organizations (name, kind, province, contact_email, tax_code, website, description)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *""",
        values["name"],
        values["kind"],
        values["province"],
        values["contact_email"],
        values.get("tax_code"),
        values.get("website"),
        values.get("description"),
    )
    return row_to(row, OrgRow)


async def get_org(conn: asyncpg.Connection, org_id: UUID, *, for_update: bool = False) -> OrgRow | None:
    """One organization, optionally locked for the rest of the transaction."""
    sql = "SELECT * FROM organizations WHERE id = $1" + (" FOR UPDATE" if for_update else "")
    row = await conn.fetchrow(sql, org_id)
    return row_to(row, OrgRow) if row else None


async def update_org(conn: asyncpg.Connection, org_id: UUID, changes: dict[str, Any], status: str) -> OrgRow:
    """Apply profile changes (whitelisted columns only) and bump the version."""
    columns = [c for c in changes if c in _ORG_COLUMNS]
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=3))
    sql = f"""UPDATE organizations SET {assignments + "," if assignments else ""} status = $2,
              verified_at = CASE WHEN $2 = 'verified' THEN verified_at END,
              updated_at = now(), version = version + 1 WHERE id = $1 RETURNING *"""
    row = await conn.fetchrow(sql, org_id, status, *(changes[c] for c in columns))
    return row_to(row, OrgRow)


async def set_org_verification(conn: asyncpg.Connection, org_id: UUID, status: str, reason: str | None) -> OrgRow:
    """Record an operator's verification decision."""
    row = await conn.fetchrow(
        """UPDATE organizations SET status = $2, rejection_reason = $3,
           verified_at = CASE WHEN $2 = 'verified' THEN now() END,
           updated_at = now(), version = version + 1 WHERE id = $1 RETURNING *""",
        org_id,
        status,
        reason,
    )
    return row_to(row, OrgRow)


async def insert_member(
    conn: asyncpg.Connection, org_id: UUID | None, name: str, email: str, role: str, operator_role: str | None = None
) -> MemberRow:
    """Add a member (org_id None, and an operator_role, for an operator)."""
    row = await conn.fetchrow(
        "INSERT INTO members (org_id, name, email, role, operator_role) VALUES ($1, $2, $3, $4, $5) RETURNING *",
        org_id,
        name,
        email,
        role,
        operator_role,
    )
    return row_to(row, MemberRow)


async def get_member(conn: asyncpg.Connection, member_id: UUID, *, for_update: bool = False) -> MemberRow | None:
    """One current (not removed) member."""
    sql = "SELECT * FROM members WHERE id = $1 AND removed_at IS NULL" + (" FOR UPDATE" if for_update else "")
    row = await conn.fetchrow(sql, member_id)
    return row_to(row, MemberRow) if row else None


async def list_members(
    conn: asyncpg.Connection, org_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[MemberRow]:
    """Current members of an organization, oldest first, keyset-paginated."""
    rows = await conn.fetch(
        f"SELECT * FROM members WHERE org_id = $1 AND removed_at IS NULL AND {keyset(2, newest_first=False)}",
        org_id,
        *keyset_args(after, limit),
    )
    return rows_to(rows, MemberRow)


async def count_owners(conn: asyncpg.Connection, org_id: UUID) -> int:
    """How many current owners an organization has."""
    return await conn.fetchval(
        "SELECT count(*) FROM members WHERE org_id = $1 AND role = 'owner' AND removed_at IS NULL", org_id
    )


async def lock_org_members(conn: asyncpg.Connection, org_id: UUID) -> None:
    """Serialise membership changes of one organization (the last owner must stay)."""
    await conn.execute("SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE", org_id)


async def remove_member(conn: asyncpg.Connection, member_id: UUID) -> list[UUID]:
    """Remove a member and revoke its keys in the same transaction; return the ids of the keys revoked."""
    await conn.execute("UPDATE members SET removed_at = now() WHERE id = $1", member_id)
    rows = await conn.fetch(
        "UPDATE api_keys SET revoked_at = now() WHERE member_id = $1 AND revoked_at IS NULL RETURNING id", member_id
    )
    return [r["id"] for r in rows]


async def insert_key(
    conn: asyncpg.Connection, member_id: UUID, key_hash: bytes, prefix: str, name: str | None
) -> KeyRow:
    """Store a new key's hash."""
    row = await conn.fetchrow(
        "INSERT INTO api_keys (member_id, key_hash, prefix, name) VALUES ($1, $2, $3, $4) RETURNING *",
        member_id,
        key_hash,
        prefix,
        name,
    )
    return row_to(row, KeyRow)


async def key_exists(conn: asyncpg.Connection, key_hash: bytes) -> bool:
    """Whether any key (revoked or not) has this hash."""
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM api_keys WHERE key_hash = $1)", key_hash)


async def get_key(conn: asyncpg.Connection, key_id: UUID) -> KeyRow | None:
    """One key."""
    row = await conn.fetchrow("SELECT * FROM api_keys WHERE id = $1", key_id)
    return row_to(row, KeyRow) if row else None


async def list_keys(conn: asyncpg.Connection, member_id: UUID) -> list[KeyRow]:
    """A member's current keys, newest first."""
    rows = await conn.fetch(
        "SELECT * FROM api_keys WHERE member_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC", member_id
    )
    return rows_to(rows, KeyRow)


async def revoke_key(conn: asyncpg.Connection, key_id: UUID) -> None:
    """Revoke one key; it stops working with this commit."""
    await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id)


async def list_orgs(
    conn: asyncpg.Connection, status: str | None, pattern: str | None, after: tuple[datetime, UUID] | None, limit: int
) -> list[OrgRow]:
    """Organizations oldest first, optionally of one status and matching a LIKE pattern on name, tax code or an email."""
    rows = await conn.fetch(
        f"""SELECT * FROM organizations o
           WHERE ($1::text IS NULL OR status = $1)
             AND ($2::text IS NULL OR name ILIKE $2 OR tax_code ILIKE $2 OR contact_email ILIKE $2
                  OR EXISTS (SELECT 1 FROM members m WHERE m.org_id = o.id AND m.removed_at IS NULL AND m.email ILIKE $2))
             AND {keyset(3, newest_first=False)}""",
        status,
        pattern,
        *keyset_args(after, limit),
    )
    return rows_to(rows, OrgRow)


async def suspend_org(conn: asyncpg.Connection, org_id: UUID, reason: str) -> OrgRow:
    """Suspend an organization, remembering the status it had."""
    row = await conn.fetchrow(
        """UPDATE organizations SET suspended_from = status, status = 'suspended', suspension_reason = $2,
           suspended_at = now(), updated_at = now(), version = version + 1 WHERE id = $1 RETURNING *""",
        org_id,
        reason,
    )
    return row_to(row, OrgRow)


async def reinstate_org(conn: asyncpg.Connection, org_id: UUID) -> OrgRow:
    """Give a suspended organization back the status it had."""
    row = await conn.fetchrow(
        """UPDATE organizations SET status = suspended_from, suspended_from = NULL, suspension_reason = NULL,
           suspended_at = NULL, updated_at = now(), version = version + 1 WHERE id = $1 RETURNING *""",
        org_id,
    )
    return row_to(row, OrgRow)


async def list_operators(conn: asyncpg.Connection, after: tuple[datetime, UUID] | None, limit: int) -> list[MemberRow]:
    """Current operators, oldest first, keyset-paginated."""
    rows = await conn.fetch(
        f"SELECT * FROM members WHERE role = 'operator' AND removed_at IS NULL AND {keyset(1, newest_first=False)}",
        *keyset_args(after, limit),
    )
    return rows_to(rows, MemberRow)


async def get_operator(conn: asyncpg.Connection, member_id: UUID) -> MemberRow | None:
    """One current operator, locked for the rest of the transaction."""
    row = await conn.fetchrow(
        "SELECT * FROM members WHERE id = $1 AND role = 'operator' AND removed_at IS NULL FOR UPDATE", member_id
    )
    return row_to(row, MemberRow) if row else None


async def lock_admins(conn: asyncpg.Connection) -> int:
    """Lock the current admins (so two removals cannot both take the last one) and count them."""
    rows = await conn.fetch(
        "SELECT id FROM members WHERE operator_role = 'admin' AND removed_at IS NULL ORDER BY id FOR UPDATE"
    )
    return len(rows)


async def set_operator_role(conn: asyncpg.Connection, member_id: UUID, role: str) -> MemberRow:
    """Change an operator's role."""
    row = await conn.fetchrow("UPDATE members SET operator_role = $2 WHERE id = $1 RETURNING *", member_id, role)
    return row_to(row, MemberRow)


async def find_operator(conn: asyncpg.Connection, email: str) -> MemberRow | None:
    """The current operator with this email."""
    row = await conn.fetchrow(
        "SELECT * FROM members WHERE org_id IS NULL AND lower(email) = lower($1) AND removed_at IS NULL", email
    )
    return row_to(row, MemberRow) if row else None
