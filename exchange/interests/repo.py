"""SQL for interests and the disclosures an accepted interest grants."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel.db import keyset, keyset_args, row_to, rows_to


class InterestRow(msgspec.Struct, frozen=True, kw_only=True):
    """An interests row."""

    id: UUID
    target_id: UUID
    target_kind: str
    to_org_id: UUID
    from_org_id: UUID
    from_member_id: UUID
    listing_id: UUID | None
    offer_id: UUID | None
    demand_id: UUID | None
    message: str
    status: str
    decided_at: datetime | None
    decided_by: UUID | None
    created_at: datetime
    updated_at: datetime
    version: int


class ListingBrief(msgspec.Struct, frozen=True, kw_only=True):
    """What interests need to know about a listing."""

    id: UUID
    kind: str
    owner_org_id: UUID
    public: bool


class Disclosure(msgspec.Struct, frozen=True, kw_only=True):
    """An organization's contact and, when given, one of its listings' private fields."""

    org_id: UUID
    name: str
    contact_email: str
    listing_id: UUID | None
    listing_kind: str | None
    contact: dict[str, Any] | None
    confidential_details: str | None


async def listing_brief(conn: asyncpg.Connection, listing_id: UUID) -> ListingBrief | None:
    """A listing's kind, owner and whether it is public now."""
    row = await conn.fetchrow(
        "SELECT id, kind, owner_org_id, listing_is_public(status, expires_at) AS public FROM listings WHERE id = $1",
        listing_id,
    )
    return row_to(row, ListingBrief) if row else None


async def find_pending(conn: asyncpg.Connection, target_id: UUID, from_org_id: UUID) -> UUID | None:
    """The id of this organization's pending interest in this listing, if any."""
    return await conn.fetchval(
        "SELECT id FROM interests WHERE target_id = $1 AND from_org_id = $2 AND status = 'pending'",
        target_id,
        from_org_id,
    )


async def insert(conn: asyncpg.Connection, values: dict[str, Any]) -> InterestRow | None:
    """Insert an interest; None when the same organization already has one pending on the listing."""
    row = await conn.fetchrow(
        """INSERT INTO interests (target_id, target_kind, to_org_id, from_org_id, from_member_id, listing_id,
                                  offer_id, demand_id, message)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (target_id, from_org_id) WHERE status = 'pending' DO NOTHING
           RETURNING *""",
        values["target_id"],
        values["target_kind"],
        values["to_org_id"],
        values["from_org_id"],
        values["from_member_id"],
        values["listing_id"],
        values["offer_id"],
        values["demand_id"],
        values["message"],
    )
    return row_to(row, InterestRow) if row else None


async def get(conn: asyncpg.Connection, interest_id: UUID, *, for_update: bool = False) -> InterestRow | None:
    """One interest, optionally locked."""
    sql = "SELECT * FROM interests WHERE id = $1" + (" FOR UPDATE" if for_update else "")
    row = await conn.fetchrow(sql, interest_id)
    return row_to(row, InterestRow) if row else None


async def decide(conn: asyncpg.Connection, interest_id: UUID, status: str, member_id: UUID) -> InterestRow:
    """Record the owner's decision."""
    row = await conn.fetchrow(
        """UPDATE interests SET status = $2, decided_at = now(), decided_by = $3, updated_at = now(), version = version + 1
           WHERE id = $1 RETURNING *""",
        interest_id,
        status,
        member_id,
    )
    return row_to(row, InterestRow)


async def disclose(conn: asyncpg.Connection, listing_id: UUID, org_id: UUID, interest_id: UUID) -> None:
    """Let an organization see a listing's contact and confidential details."""
    await conn.execute(
        "INSERT INTO listing_disclosures (listing_id, org_id, interest_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        listing_id,
        org_id,
        interest_id,
    )


async def disclose_accepted(
    conn: asyncpg.Connection,
    interest_id: UUID,
    target_id: UUID,
    from_org_id: UUID,
    listing_id: UUID | None,
    to_org_id: UUID,
) -> None:
    """An accepted interest shows the sender the target's details, and the recipient the sender's listing's, if any."""
    await disclose(conn, target_id, from_org_id, interest_id)
    if listing_id is not None:
        await disclose(conn, listing_id, to_org_id, interest_id)


async def list_page(
    conn: asyncpg.Connection,
    org_id: UUID,
    box: str,
    status: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[InterestRow]:
    """An organization's received or sent interests, newest first."""
    column = "to_org_id" if box == "received" else "from_org_id"
    rows = await conn.fetch(
        f"""SELECT * FROM interests
            WHERE {column} = $1
              AND ($2::text IS NULL OR status = $2)
              AND {keyset(3)}""",
        org_id,
        status,
        *keyset_args(after, limit),
    )
    return rows_to(rows, InterestRow)


async def disclosure(conn: asyncpg.Connection, org_id: UUID, listing_id: UUID | None) -> Disclosure:
    """An organization's contact email and, when given, its listing's contact and confidential details."""
    row = await conn.fetchrow(
        """SELECT o.id AS org_id, o.name, o.contact_email, l.id AS listing_id, l.kind AS listing_kind, l.contact,
                  CASE WHEN l.kind = 'offer' THEN l.confidential_details END AS confidential_details
           FROM organizations o LEFT JOIN listings l ON l.id = $2 AND l.owner_org_id = o.id
           WHERE o.id = $1""",
        org_id,
        listing_id,
    )
    return row_to(row, Disclosure)


SEEDED_COLUMNS = (
    "id", "target_id", "target_kind", "to_org_id", "from_org_id", "from_member_id", "listing_id", "offer_id",
    "demand_id", "message", "status", "decided_at", "decided_by", "created_at",
)  # fmt: skip


async def insert_seeded(conn: asyncpg.Connection, values: dict[str, Any]) -> bool:
    """Insert a demo interest with its fixed id and past times (updated when decided); False when it is there already."""
    places = ", ".join(f"${n}" for n in range(1, len(SEEDED_COLUMNS) + 2))
    inserted = await conn.fetchval(
        f"""INSERT INTO interests ({", ".join(SEEDED_COLUMNS)}, updated_at)
            VALUES ({places}) ON CONFLICT DO NOTHING RETURNING true""",
        *(values[c] for c in SEEDED_COLUMNS),
        values["decided_at"] or values["created_at"],
    )
    return bool(inserted)
