"""SQL for deals and their append-only trail."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel.db import keyset, keyset_args, row_to, rows_to


class DealRow(msgspec.Struct, frozen=True, kw_only=True):
    """A deals row."""

    id: UUID
    title: str
    offer_id: UUID
    demand_id: UUID | None
    buyer_org_id: UUID
    seller_org_id: UUID
    broker_org_id: UUID | None
    stage: str
    value_amount: int | None
    value_currency: str | None
    transfer_mode: str | None
    terms_summary: str | None
    terms_version: int
    terms_proposed_at: datetime | None
    terms_proposed_by_org_id: UUID | None
    buyer_confirmed_version: int | None
    seller_confirmed_version: int | None
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
    origin: str


class EventRow(msgspec.Struct, frozen=True, kw_only=True):
    """A deal_events row."""

    id: UUID
    seq: int
    deal_id: UUID
    at: datetime
    actor_member_id: UUID | None
    actor_org_id: UUID | None
    action: str
    details: dict[str, Any]


class ListingParty(msgspec.Struct, frozen=True, kw_only=True):
    """A listing's kind, owner and whether it was ever published."""

    kind: str
    owner_org_id: UUID
    ever_published: bool


class OrgBrief(msgspec.Struct, frozen=True, kw_only=True):
    """An organization's kind and verification status."""

    kind: str
    status: str


async def listing_party(conn: asyncpg.Connection, listing_id: UUID) -> ListingParty | None:
    """Who owns a listing, and whether it has ever been public (drafts never take part in a deal)."""
    row = await conn.fetchrow(
        "SELECT kind, owner_org_id, published_at IS NOT NULL AS ever_published FROM listings WHERE id = $1", listing_id
    )
    return row_to(row, ListingParty) if row else None


async def org_brief(conn: asyncpg.Connection, org_id: UUID) -> OrgBrief | None:
    """An organization's kind and status."""
    row = await conn.fetchrow("SELECT kind, status FROM organizations WHERE id = $1", org_id)
    return row_to(row, OrgBrief) if row else None


async def accepted_interest_links(
    conn: asyncpg.Connection, org_a: UUID, org_b: UUID, offer_id: UUID, demand_id: UUID | None
) -> bool:
    """True when an accepted interest between these two organizations links this offer (and this demand, if it names one)."""
    return await conn.fetchval(
        """SELECT EXISTS (
             SELECT 1 FROM interests
             WHERE status = 'accepted' AND offer_id = $3
               AND ((from_org_id = $1 AND to_org_id = $2) OR (from_org_id = $2 AND to_org_id = $1))
               AND ($4::uuid IS NULL OR demand_id IS NULL OR demand_id = $4))""",
        org_a,
        org_b,
        offer_id,
        demand_id,
    )


async def insert(conn: asyncpg.Connection, values: dict[str, Any]) -> DealRow:
    """Insert a deal in stage open."""
    row = await conn.fetchrow(
        """INSERT INTO deals (title, offer_id, demand_id, buyer_org_id, seller_org_id, broker_org_id, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *""",
        values["title"],
        values["offer_id"],
        values["demand_id"],
        values["buyer_org_id"],
        values["seller_org_id"],
        values["broker_org_id"],
        values["created_by"],
    )
    return row_to(row, DealRow)


async def insert_agreed(conn: asyncpg.Connection, values: dict[str, Any]) -> DealRow:
    """Insert a deal already agreed on its first terms, confirmed by both sides (an express licence, an auction)."""
    row = await conn.fetchrow(
        """INSERT INTO deals (title, offer_id, buyer_org_id, seller_org_id, created_by, origin, stage,
                              value_amount, value_currency, transfer_mode, terms_summary, terms_version,
                              terms_proposed_at, terms_proposed_by_org_id, buyer_confirmed_version,
                              seller_confirmed_version, agreed_at)
           VALUES ($1, $2, $3, $4, $5, $6, 'agreed', $7, $8, $9, $10, 1, $11, $4, 1, 1, $11) RETURNING *""",
        values["title"],
        values["offer_id"],
        values["buyer_org_id"],
        values["seller_org_id"],
        values["created_by"],
        values["origin"],
        values["value_amount"],
        values["value_currency"],
        values["transfer_mode"],
        values["terms_summary"],
        values["agreed_at"],
    )
    return row_to(row, DealRow)


async def get(conn: asyncpg.Connection, deal_id: UUID, *, for_update: bool = False) -> DealRow | None:
    """One deal; for_update locks it so every transition sees the latest committed stage and terms."""
    sql = "SELECT * FROM deals WHERE id = $1" + (" FOR UPDATE" if for_update else "")
    row = await conn.fetchrow(sql, deal_id)
    return row_to(row, DealRow) if row else None


# Columns a transition may set; everything else is fixed at creation.
MUTABLE_COLUMNS = (
    "stage",
    "value_amount",
    "value_currency",
    "transfer_mode",
    "terms_summary",
    "terms_version",
    "terms_proposed_at",
    "terms_proposed_by_org_id",
    "buyer_confirmed_version",
    "seller_confirmed_version",
    "agreed_at",
    "fee_schedule_version",
    "invoiced_at",
    "closed_at",
    "cancelled_at",
    "cancel_reason",
)


async def update(conn: asyncpg.Connection, deal_id: UUID, values: dict[str, Any]) -> DealRow:
    """Write a transition's columns; bump the version."""
    columns = [c for c in MUTABLE_COLUMNS if c in values]
    assignments = "".join(f"{c} = ${i}, " for i, c in enumerate(columns, start=2))
    row = await conn.fetchrow(
        f"UPDATE deals SET {assignments}updated_at = now(), version = version + 1 WHERE id = $1 RETURNING *",
        deal_id,
        *(values[c] for c in columns),
    )
    return row_to(row, DealRow)


async def append_event(
    conn: asyncpg.Connection,
    deal_id: UUID,
    actor_member_id: UUID | None,
    actor_org_id: UUID | None,
    action: str,
    details: dict[str, Any],
    at: datetime | None = None,
) -> None:
    """Append one entry to a deal's trail (at now, unless a demo history gives its time)."""
    await conn.execute(
        """INSERT INTO deal_events (deal_id, actor_member_id, actor_org_id, action, details, at)
           VALUES ($1, $2, $3, $4, $5, coalesce($6, now()))""",
        deal_id,
        actor_member_id,
        actor_org_id,
        action,
        details,
        at,
    )


SEEDED_COLUMNS = (
    "id", "title", "offer_id", "demand_id", "buyer_org_id", "seller_org_id", "created_by", "stage", "value_amount",
    "value_currency", "transfer_mode", "terms_summary", "terms_version", "terms_proposed_at",
    "terms_proposed_by_org_id", "buyer_confirmed_version", "seller_confirmed_version", "agreed_at", "cancelled_at",
    "cancel_reason", "created_at", "updated_at",
)  # fmt: skip


async def insert_seeded(conn: asyncpg.Connection, values: dict[str, Any]) -> DealRow | None:
    """Insert a demo deal with its fixed id, stage and past times; None when it is there already."""
    places = ", ".join(f"${n}" for n in range(1, len(SEEDED_COLUMNS) + 1))
    row = await conn.fetchrow(
        f"INSERT INTO deals ({', '.join(SEEDED_COLUMNS)}) VALUES ({places}) ON CONFLICT DO NOTHING RETURNING *",
        *(values.get(c) for c in SEEDED_COLUMNS),
    )
    return row_to(row, DealRow) if row is not None else None


async def list_page(
    conn: asyncpg.Connection, org_id: UUID | None, stage: str | None, after: tuple[datetime, UUID] | None, limit: int
) -> list[DealRow]:
    """Deals of an organization as buyer, seller or broker (all deals when org_id is None), newest first."""
    rows = await conn.fetch(
        f"""SELECT * FROM deals
           WHERE ($1::uuid IS NULL OR buyer_org_id = $1 OR seller_org_id = $1 OR broker_org_id = $1)
             AND ($2::text IS NULL OR stage = $2)
             AND {keyset(3)}""",
        org_id,
        stage,
        *keyset_args(after, limit),
    )
    return rows_to(rows, DealRow)


async def events_page(conn: asyncpg.Connection, deal_id: UUID, after_seq: int, limit: int) -> list[EventRow]:
    """A deal's trail in the order it was written."""
    rows = await conn.fetch(
        "SELECT * FROM deal_events WHERE deal_id = $1 AND seq > $2 ORDER BY seq LIMIT $3", deal_id, after_seq, limit
    )
    return rows_to(rows, EventRow)
