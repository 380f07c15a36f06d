"""SQL for auctions and their bids."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel.db import keyset, keyset_args, row_to, rows_to


class AuctionRow(msgspec.Struct, frozen=True, kw_only=True):
    """An auctions row, with whether its offer is public now."""

    id: UUID
    offer_id: UUID
    seller_org_id: UUID
    created_by: UUID
    kind: str
    status: str
    currency: str
    starting_amount: int
    reserve_amount: int | None
    min_increment: int | None
    transfer_mode: str
    terms_summary: str
    starts_at: datetime
    ends_at: datetime
    scheduled_ends_at: datetime
    bid_count: int
    high_amount: int | None
    outcome: str | None
    winning_bid_id: UUID | None
    winner_org_id: UUID | None
    winning_amount: int | None
    deal_id: UUID | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    cancelled_by: UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
    offer_public: bool
    offer_title: str


class BidRow(msgspec.Struct, frozen=True, kw_only=True):
    """An auction_bids row."""

    id: UUID
    auction_id: UUID
    bidder_org_id: UUID
    member_id: UUID
    sealed: bool
    amount: int
    currency: str
    placed_at: datetime
    replaced_count: int
    created_at: datetime


# The offer's standing, beside every auction read (the same test as listings' is_public).
_OFFER = """(SELECT l.status = 'published' AND (l.expires_at IS NULL OR l.expires_at > now())
              FROM listings l WHERE l.id = a.offer_id) AS offer_public,
            (SELECT l.title FROM listings l WHERE l.id = a.offer_id) AS offer_title"""


# What the seller gives when creating an auction, in the order of the INSERTs' first parameters.
_CREATED = (
    "offer_id",
    "seller_org_id",
    "created_by",
    "kind",
    "starting_amount",
    "reserve_amount",
    "min_increment",
    "transfer_mode",
    "terms_summary",
    "starts_at",
    "ends_at",
)
_CREATED_COLUMNS = ", ".join(_CREATED)


async def insert(conn: asyncpg.Connection, values: dict[str, Any]) -> AuctionRow:
    """Insert an auction (open, or scheduled until starts_at); a second running auction of the offer is a
    UniqueViolationError."""
    row = await conn.fetchrow(
        f"""INSERT INTO auctions AS a ({_CREATED_COLUMNS}, scheduled_ends_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING a.*, {_OFFER}""",
        *(values[c] for c in _CREATED),
    )
    return row_to(row, AuctionRow)


async def get(conn: asyncpg.Connection, auction_id: UUID, *, for_update: bool = False) -> AuctionRow | None:
    """One auction; for_update locks it, which is what orders every bid, cancel and close of one auction."""
    sql = f"SELECT a.*, {_OFFER} FROM auctions a WHERE a.id = $1" + (" FOR UPDATE OF a" if for_update else "")
    row = await conn.fetchrow(sql, auction_id)
    return row_to(row, AuctionRow) if row else None


async def clock(conn: asyncpg.Connection) -> datetime:
    """The database's clock now (not the transaction's start): read after taking a lock, it is when the act happens."""
    return await conn.fetchval("SELECT clock_timestamp()")


async def claim_due(conn: asyncpg.Connection) -> AuctionRow | None:
    """Lock one open auction past its ends_at that no other closer holds (nor a bid in flight)."""
    row = await conn.fetchrow(
        f"""SELECT a.*, {_OFFER} FROM auctions a
            WHERE a.status = 'open' AND a.ends_at <= clock_timestamp()
            ORDER BY a.ends_at LIMIT 1 FOR UPDATE OF a SKIP LOCKED"""
    )
    return row_to(row, AuctionRow) if row else None


# Columns a bid, a cancel or the close may set; everything else is fixed at creation.
MUTABLE_COLUMNS = (
    "status",
    "ends_at",
    "bid_count",
    "high_amount",
    "outcome",
    "winning_bid_id",
    "winner_org_id",
    "winning_amount",
    "deal_id",
    "closed_at",
    "cancelled_at",
    "cancel_reason",
    "cancelled_by",
)


async def update_open(conn: asyncpg.Connection, auction_id: UUID, values: dict[str, Any]) -> AuctionRow | None:
    """Write columns of an auction still open, bumping its version; None when it is no longer open."""
    columns = [c for c in MUTABLE_COLUMNS if c in values]
    assignments = "".join(f"{c} = ${i}, " for i, c in enumerate(columns, start=2))
    row = await conn.fetchrow(
        f"""UPDATE auctions a SET {assignments}updated_at = now(), version = version + 1
            WHERE a.id = $1 AND a.status = 'open' RETURNING a.*, {_OFFER}""",
        auction_id,
        *(values[c] for c in columns),
    )
    return row_to(row, AuctionRow) if row else None


async def list_page(
    conn: asyncpg.Connection,
    *,
    everything: bool,
    org_id: UUID | None,
    offer_id: UUID | None,
    kind: str | None,
    status: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[AuctionRow]:
    """Auctions newest first: of public offers, of the caller's organization, or (everything) all of them."""
    rows = await conn.fetch(
        f"""SELECT * FROM (SELECT a.*, {_OFFER} FROM auctions a) AS a
            WHERE ($1::bool OR a.offer_public OR a.seller_org_id = $2)
              AND ($3::uuid IS NULL OR a.offer_id = $3)
              AND ($4::text IS NULL OR a.kind = $4)
              AND ($5::text IS NULL
                   OR ($5 = 'scheduled' AND a.status = 'open' AND a.starts_at > now())
                   OR ($5 = 'open' AND a.status = 'open' AND a.starts_at <= now())
                   OR ($5 IN ('closed', 'cancelled') AND a.status = $5))
              AND {keyset(6)}""",
        everything,
        org_id,
        offer_id,
        kind,
        status,
        *keyset_args(after, limit),
    )
    return rows_to(rows, AuctionRow)


async def insert_bid(
    conn: asyncpg.Connection, auction_id: UUID, org_id: UUID, member_id: UUID, sealed: bool, amount: int, at: datetime
) -> BidRow:
    """Record a new bid placed at `at`."""
    row = await conn.fetchrow(
        """INSERT INTO auction_bids (auction_id, bidder_org_id, member_id, sealed, amount, placed_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
        auction_id,
        org_id,
        member_id,
        sealed,
        amount,
        at,
    )
    return row_to(row, BidRow)


async def sealed_bid_of(conn: asyncpg.Connection, auction_id: UUID, org_id: UUID) -> BidRow | None:
    """An organization's sealed bid in an auction, if it has one."""
    row = await conn.fetchrow(
        "SELECT * FROM auction_bids WHERE auction_id = $1 AND bidder_org_id = $2 AND sealed", auction_id, org_id
    )
    return row_to(row, BidRow) if row else None


async def replace_bid(conn: asyncpg.Connection, bid_id: UUID, member_id: UUID, amount: int, at: datetime) -> BidRow:
    """A sealed bid's new amount, bid at `at`."""
    row = await conn.fetchrow(
        """UPDATE auction_bids SET amount = $3, member_id = $2, placed_at = $4, replaced_count = replaced_count + 1
           WHERE id = $1 RETURNING *""",
        bid_id,
        member_id,
        amount,
        at,
    )
    return row_to(row, BidRow)


async def bids_before(conn: asyncpg.Connection, auction_id: UUID, ends_at: datetime) -> list[BidRow]:
    """Every bid of an auction placed before its end (the close ranks them)."""
    rows = await conn.fetch("SELECT * FROM auction_bids WHERE auction_id = $1 AND placed_at < $2", auction_id, ends_at)
    return rows_to(rows, BidRow)


async def bids_page(
    conn: asyncpg.Connection,
    auction_id: UUID,
    org_id: UUID | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[BidRow]:
    """An auction's bids, newest first: all of them, or one organization's."""
    rows = await conn.fetch(
        f"""SELECT * FROM auction_bids
            WHERE auction_id = $1 AND ($2::uuid IS NULL OR bidder_org_id = $2)
              AND {keyset(3, column="placed_at")}""",
        auction_id,
        org_id,
        *keyset_args(after, limit),
    )
    return rows_to(rows, BidRow)


async def has_bid(conn: asyncpg.Connection, auction_id: UUID, org_id: UUID) -> bool:
    """Whether an organization has bid in an auction."""
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM auction_bids WHERE auction_id = $1 AND bidder_org_id = $2)", auction_id, org_id
    )


async def insert_seeded(conn: asyncpg.Connection, values: dict[str, Any]) -> bool:
    """Insert a demo auction with its fixed id and its bid count and leading amount; False when it (or another running
    auction of the offer) is there already."""
    inserted = await conn.fetchval(
        f"""INSERT INTO auctions ({_CREATED_COLUMNS}, scheduled_ends_at, id, bid_count, high_amount, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $10)
           ON CONFLICT DO NOTHING RETURNING true""",
        *(values[c] for c in _CREATED),
        values["id"],
        values["bid_count"],
        values["high_amount"],
    )
    return bool(inserted)
