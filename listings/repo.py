"""SQL for offers and demands (one table, one lifecycle)."""

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel.db import keyset, keyset_args, row_to, rows_to


class ListingRow(msgspec.Struct, frozen=True, kw_only=True):
    """A listings row."""

    id: UUID
    kind: str
    owner_org_id: UUID
    created_by: UUID | None
    status: str
    title: str
    summary: str | None
    description: str
    language: str
    sector: str
    keywords: list[str]
    strategic_groups: list[str]
    region: str
    transfer_modes: list[str]
    contact: dict[str, Any] | None
    trl: int | None
    ip_status: str | None
    patent_numbers: list[str]
    price_amount: int | None
    price_currency: str | None
    price_type: str | None
    confidential_details: str | None
    trl_min: int | None
    budget_amount: int | None
    budget_currency: str | None
    deadline: date | None
    quality_score: int
    quality_hints: list[str]
    rejection_reason: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    published_at: datetime | None
    expires_at: datetime | None
    version: int
    licence_terms: dict[str, Any] | None = None
    external_id: str | None = None
    # Set only by get() for the viewer it was read for: an accepted interest disclosed contact and confidential details.
    disclosed: bool = False


class StoredView(msgspec.Struct, frozen=True):
    """What a public read needs of one listing: its stored public JSON and the facts that decide whether it may be sent."""

    public_body: bytes | None
    version: int
    owner_org_id: UUID
    status: str
    expires_at: datetime | None
    updated_at: datetime
    disclosed: bool


class StoredItem(msgspec.Struct, frozen=True):
    """One public listing of a page, as its stored public JSON."""

    id: UUID
    created_at: datetime
    owner_org_id: UUID
    public_body: bytes | None
    expires_at: datetime | None
    soon: bool


# Content columns a create or an edit may set; everything else moves only through the lifecycle.
CONTENT_COLUMNS = (
    "title",
    "summary",
    "description",
    "language",
    "sector",
    "keywords",
    "strategic_groups",
    "region",
    "transfer_modes",
    "contact",
    "trl",
    "ip_status",
    "patent_numbers",
    "price_amount",
    "price_currency",
    "price_type",
    "confidential_details",
    "trl_min",
    "budget_amount",
    "budget_currency",
    "deadline",
    "licence_terms",
    "external_id",
    "quality_score",
    "quality_hints",
)


# Set only when loading demo data, which arrives with fixed ids and a lifecycle already lived.
SEED_COLUMNS = ("id", "status", "created_at", "submitted_at", "published_at", "expires_at")


async def insert(
    conn: asyncpg.Connection, kind: str, owner_org_id: UUID, created_by: UUID | None, values: dict[str, Any]
) -> ListingRow | None:
    """Insert a listing (a draft unless seeded otherwise); None when a seeded id already exists."""
    columns = [c for c in (*CONTENT_COLUMNS, *SEED_COLUMNS) if c in values]
    placeholders = ", ".join(f"${i}" for i in range(4, len(columns) + 4))
    sql = (
        f"INSERT INTO listings (kind, owner_org_id, created_by, {', '.join(columns)})"
        f" VALUES ($1, $2, $3, {placeholders}) ON CONFLICT (id) DO NOTHING RETURNING *"
    )
    row = await conn.fetchrow(sql, kind, owner_org_id, created_by, *(values[c] for c in columns))
    return row_to(row, ListingRow) if row else None


async def get(
    conn: asyncpg.Connection,
    kind: str,
    listing_id: UUID,
    *,
    for_update: bool = False,
    viewer_org_id: UUID | None = None,
) -> ListingRow | None:
    """One listing of a kind, optionally locked for the rest of the transaction, with whether it is disclosed to the viewer."""
    sql = (
        "SELECT l.*, EXISTS (SELECT 1 FROM listing_disclosures d WHERE d.listing_id = l.id AND d.org_id = $3) AS disclosed"
        " FROM listings l WHERE l.id = $1 AND l.kind = $2" + (" FOR UPDATE OF l" if for_update else "")
    )
    row = await conn.fetchrow(sql, listing_id, kind, viewer_org_id)
    return row_to(row, ListingRow) if row else None


async def update_content(conn: asyncpg.Connection, listing_id: UUID, values: dict[str, Any], status: str) -> ListingRow:
    """Write edited content and the status the edit leads to; bump the version."""
    columns = [c for c in CONTENT_COLUMNS if c in values]
    assignments = "".join(f"{c} = ${i}, " for i, c in enumerate(columns, start=3))
    sql = (
        f"UPDATE listings SET {assignments}status = $2,"
        " submitted_at = CASE WHEN $2 = 'pending_review' AND status <> 'pending_review' THEN now() ELSE submitted_at END,"
        " updated_at = now(), version = version + 1 WHERE id = $1 RETURNING *"
    )
    row = await conn.fetchrow(sql, listing_id, status, *(values[c] for c in columns))
    return row_to(row, ListingRow)


async def move(
    conn: asyncpg.Connection, listing_id: UUID, status: str, *, ttl_days: int, reason: str | None = None
) -> ListingRow:
    """Move a listing to a new status, stamping the times that status implies."""
    row = await conn.fetchrow(
        """UPDATE listings SET status = $2,
             rejection_reason = CASE WHEN $2 = 'rejected' THEN $3 ELSE NULL END,
             submitted_at = CASE WHEN $2 = 'pending_review' THEN now() ELSE submitted_at END,
             published_at = CASE WHEN $2 = 'published' THEN coalesce(CASE WHEN status = 'published' THEN published_at END, now())
                                 ELSE published_at END,
             expires_at = CASE WHEN $2 = 'published' THEN now() + make_interval(days => $4) ELSE expires_at END,
             updated_at = now(), version = version + 1
           WHERE id = $1 RETURNING *""",
        listing_id,
        status,
        reason,
        ttl_days,
    )
    return row_to(row, ListingRow)


async def list_page(
    conn: asyncpg.Connection,
    kind: str,
    *,
    owner_org_id: UUID | None,
    statuses: list[str] | None,
    public_only: bool,
    sector: str | None,
    region: str | None,
    language: str | None,
    expires_before: datetime | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
    queue: bool = False,
) -> list[ListingRow]:
    """Listings newest first, keyset-paginated on (created_at, id), with optional filters; a queue is paged on
    (submitted_at, id), oldest first."""
    order = keyset(9, newest_first=False, column="submitted_at") if queue else keyset(9)
    rows = await conn.fetch(
        f"""SELECT * FROM listings
           WHERE kind = $1
             AND ($2::uuid IS NULL OR owner_org_id = $2)
             AND ($3::text[] IS NULL OR status = ANY($3))
             AND (NOT $4 OR listing_is_public(status, expires_at))
             AND ($5::text IS NULL OR sector = $5)
             AND ($6::text IS NULL OR region = $6)
             AND ($7::text IS NULL OR language = $7)
             AND ($8::timestamptz IS NULL OR (status = 'published' AND expires_at <= $8))
             AND {order}""",
        kind,
        owner_org_id,
        statuses,
        public_only,
        sector,
        region,
        language,
        expires_before,
        *keyset_args(after, limit),
    )
    return rows_to(rows, ListingRow)


async def expire_due(conn: asyncpg.Connection) -> list[ListingRow]:
    """Store 'expired' on every published listing past its expiry date."""
    rows = await conn.fetch(
        """UPDATE listings SET status = 'expired', updated_at = now(), version = version + 1
           WHERE id IN (SELECT id FROM listings WHERE status = 'published' AND NOT listing_is_public(status, expires_at)
                        FOR UPDATE SKIP LOCKED)
           RETURNING *"""
    )
    return rows_to(rows, ListingRow)


async def org_status(conn: asyncpg.Connection, org_id: UUID) -> str | None:
    """The status of the listing owner's organization, share-locked: a suspension waits for this transaction."""
    return await conn.fetchval("SELECT status FROM organizations WHERE id = $1 FOR SHARE", org_id)


async def suspend_owned(conn: asyncpg.Connection, org_id: UUID) -> list[ListingRow]:
    """Take every published listing of an organization out of publication."""
    rows = await conn.fetch(
        """UPDATE listings SET status = 'suspended', updated_at = now(), version = version + 1
           WHERE owner_org_id = $1 AND status = 'published' RETURNING *""",
        org_id,
    )
    return rows_to(rows, ListingRow)


async def reinstate_owned(conn: asyncpg.Connection, org_id: UUID) -> list[ListingRow]:
    """Publish an organization's suspended listings again; those past their expiry come back expired."""
    rows = await conn.fetch(
        """UPDATE listings SET status = CASE WHEN expires_at IS NULL OR expires_at > now() THEN 'published' ELSE 'expired' END,
                  updated_at = now(), version = version + 1
           WHERE owner_org_id = $1 AND status = 'suspended' RETURNING *""",
        org_id,
    )
    return rows_to(rows, ListingRow)


async def get_many(conn: asyncpg.Connection, ids: list[UUID]) -> list[ListingRow]:
    """The listings with these ids, of any kind and status (missing ids are left out)."""
    rows = await conn.fetch("SELECT * FROM listings WHERE id = ANY($1::uuid[])", ids)
    return rows_to(rows, ListingRow)


async def public_ids_page(conn: asyncpg.Connection, kind: str, after: UUID | None, limit: int) -> list[ListingRow]:
    """Published, unexpired listings of a kind in id order, for rebuilding an index page by page."""
    rows = await conn.fetch(
        "SELECT * FROM listings WHERE kind = $1 AND listing_is_public(status, expires_at)"
        " AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3",
        kind,
        after,
        limit,
    )
    return rows_to(rows, ListingRow)


async def count_public(conn: asyncpg.Connection, kind: str) -> int:
    """How many listings of a kind are public now."""
    return await conn.fetchval(
        "SELECT count(*) FROM listings WHERE kind = $1 AND listing_is_public(status, expires_at)",
        kind,
    )


async def insert_change(conn: asyncpg.Connection, row: ListingRow) -> None:
    """Record this state of a listing for the change feed, in the transaction that made it."""
    await conn.execute(
        "INSERT INTO listing_changes (listing_id, kind, status, version) VALUES ($1, $2, $3, $4)",
        row.id,
        row.kind,
        row.status,
        row.version,
    )


async def set_public_body(conn: asyncpg.Connection, listing_id: UUID, body: bytes) -> None:
    """Store the public JSON of a listing, in the transaction that wrote the row it was rendered from."""
    await conn.execute("UPDATE listings SET public_body = $2 WHERE id = $1", listing_id, body)


async def set_public_bodies(conn: asyncpg.Connection, bodies: list[tuple[UUID, bytes]]) -> None:
    """Store the public JSON of many listings (locked by this transaction) in one pipelined batch."""
    await conn.executemany("UPDATE listings SET public_body = $2 WHERE id = $1", bodies)


async def unrendered(conn: asyncpg.Connection, limit: int) -> list[ListingRow]:
    """Published listings without a stored public JSON, locked for the rest of the transaction (others skip them)."""
    rows = await conn.fetch(
        "SELECT * FROM listings WHERE status = 'published' AND public_body IS NULL LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )
    return rows_to(rows, ListingRow)


async def stored_view(
    conn: asyncpg.Connection, kind: str, listing_id: UUID, viewer_org_id: UUID | None
) -> StoredView | None:
    """One listing's stored public JSON with its status and times, and whether it is disclosed to the viewer."""
    row = await conn.fetchrow(
        """SELECT l.public_body, l.version, l.owner_org_id, l.status, l.expires_at, l.updated_at,
                  $3::uuid IS NOT NULL
                  AND EXISTS (SELECT 1 FROM listing_disclosures d WHERE d.listing_id = l.id AND d.org_id = $3)
           FROM listings l WHERE l.id = $1 AND l.kind = $2""",
        listing_id,
        kind,
        viewer_org_id,
    )
    # Built from the columns in order rather than through a dict: this is the hot read, and the row has no names
    # that collide with a Record's own attributes to worry about.
    return StoredView(*row) if row else None


async def stored_page(
    conn: asyncpg.Connection,
    kind: str,
    *,
    sector: str | None,
    region: str | None,
    language: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
    soon_within: timedelta,
) -> list[StoredItem]:
    """Public listings newest first as their stored public JSON, with the same filters and order as list_page."""
    rows = await conn.fetch(
        f"""SELECT id, created_at, owner_org_id, public_body, expires_at, coalesce(expires_at - now() <= $5, false)
           FROM listings
           WHERE kind = $1
             AND listing_is_public(status, expires_at)
             AND ($2::text IS NULL OR sector = $2)
             AND ($3::text IS NULL OR region = $3)
             AND ($4::text IS NULL OR language = $4)
             AND {keyset(6)}""",
        kind,
        sector,
        region,
        language,
        soon_within,
        *keyset_args(after, limit),
    )
    return [StoredItem(*r) for r in rows]


class PublicEntry(msgspec.Struct, frozen=True):
    """A public listing as a sitemap names it."""

    kind: str
    id: UUID
    updated_at: datetime


async def public_entries(conn: asyncpg.Connection, offset: int, limit: int) -> list[PublicEntry]:
    """Public listings of both kinds in id order, from an offset (for the pages of a sitemap)."""
    rows = await conn.fetch(
        "SELECT kind, id, updated_at FROM listings WHERE listing_is_public(status, expires_at)"
        " ORDER BY id OFFSET $1 LIMIT $2",
        offset,
        limit,
    )
    return [PublicEntry(*row) for row in rows]


async def external_ids_taken(conn: asyncpg.Connection, org_id: UUID, external_ids: list[str]) -> set[str]:
    """Which of these external ids the organization's listings already carry."""
    rows = await conn.fetch(
        "SELECT external_id FROM listings WHERE owner_org_id = $1 AND external_id = ANY($2::text[])",
        org_id,
        external_ids,
    )
    return {r["external_id"] for r in rows}
