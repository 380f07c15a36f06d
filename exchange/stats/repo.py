"""SQL for the statistics, the change feed and partner members."""

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel.db import row_to, rows_to


async def listing_counts(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Listings grouped by kind, effective status, sector and region."""
    return await conn.fetch(
        """SELECT kind, listing_status(status, expires_at) AS status,
                  sector, region, count(*) AS n
           FROM listings GROUP BY 1, 2, 3, 4"""
    )


async def interest_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Interests by status."""
    rows = await conn.fetch("SELECT status, count(*) AS n FROM interests GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


async def median_days_to_first_interest(conn: asyncpg.Connection) -> float | None:
    """Median days from a listing's publication to its first interest, over listings with one."""
    return await conn.fetchval(
        """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.first_at - l.published_at) / 86400.0)
           FROM (SELECT target_id, min(created_at) AS first_at FROM interests GROUP BY target_id) f
           JOIN listings l ON l.id = f.target_id
           WHERE l.published_at IS NOT NULL AND f.first_at >= l.published_at"""
    )


async def review_queue_length(conn: asyncpg.Connection) -> int:
    """Listings waiting for a reviewer."""
    return await conn.fetchval("SELECT count(*) FROM listings WHERE status = 'pending_review'")


# A decision is a change to published or rejected right after pending_review; its submission is the change that
# entered that run of pending_review (edits while pending stay pending and do not restart the clock).
_MEDIAN_HOURS_TO_DECISION = """
WITH c AS (
    SELECT listing_id, txid, id, status, changed_at,
           lag(status) OVER (PARTITION BY listing_id ORDER BY txid, id) AS before
    FROM listing_changes
), s AS (
    SELECT status, before, changed_at,
           max(changed_at) FILTER (WHERE status = 'pending_review' AND before IS DISTINCT FROM 'pending_review')
               OVER (PARTITION BY listing_id ORDER BY txid, id) AS submitted_at
    FROM c
)
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM changed_at - submitted_at) / 3600.0)
FROM s
WHERE before = 'pending_review' AND status IN ('published', 'rejected') AND submitted_at IS NOT NULL
"""


async def median_hours_to_decision(conn: asyncpg.Connection) -> float | None:
    """Median hours from a listing's submission to its approval or rejection, over every decision taken."""
    return await conn.fetchval(_MEDIAN_HOURS_TO_DECISION)


async def deal_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Deals by stage."""
    rows = await conn.fetch("SELECT stage, count(*) AS n FROM deals GROUP BY stage")
    return {r["stage"]: r["n"] for r in rows}


async def deals_by_origin(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    """Per origin: how many deals (n), how many reached agreement and were not cancelled (agreed_n), and the sum of
    their value in VND (agreed_total)."""
    rows = await conn.fetch(
        """SELECT origin, count(*) AS n, count(*) FILTER (WHERE agreed) AS agreed_n,
                  coalesce(sum(value_amount) FILTER (WHERE agreed), 0)::bigint AS agreed_total
           FROM (SELECT origin, value_amount,
                        stage IN ('agreed', 'fee_pending', 'closed') AND value_currency = 'VND' AS agreed
                 FROM deals) d
           GROUP BY origin"""
    )
    return {r["origin"]: r for r in rows}


async def ndas_accepted(conn: asyncpg.Connection) -> int:
    """How many NDA acceptances were recorded."""
    return await conn.fetchval("SELECT count(*) FROM nda_acceptances")


async def auction_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Auctions by state: scheduled and open (still running, by their start), each closing outcome, cancelled."""
    rows = await conn.fetch(
        """SELECT CASE WHEN status = 'open' AND starts_at > now() THEN 'scheduled'
                       WHEN status = 'closed' THEN outcome
                       ELSE status END AS state,
                  count(*) AS n
           FROM auctions GROUP BY 1"""
    )
    return {r["state"]: r["n"] for r in rows}


async def fee_sums(conn: asyncpg.Connection) -> tuple[int, int, int]:
    """Fees invoiced (not void), collected (paid) and refunded, in VND."""
    row = await conn.fetchrow(
        """SELECT coalesce(sum(amount) FILTER (WHERE status <> 'void'), 0)::bigint AS invoiced,
                  coalesce(sum(amount) FILTER (WHERE status = 'paid'), 0)::bigint AS collected,
                  coalesce(sum(amount) FILTER (WHERE status = 'refunded'), 0)::bigint AS refunded
           FROM invoices WHERE currency = 'VND'"""
    )
    return row["invoiced"], row["collected"], row["refunded"]


async def monthly_values(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Per calendar month (UTC), from the first with a figure to this one: the agreed value of the deals agreed in it
    (not cancelled, VND) and the fees invoiced in it (not void, VND); months without either are zeros."""
    return await conn.fetch(
        """WITH agreed AS (
               SELECT date_trunc('month', agreed_at AT TIME ZONE 'UTC') AS month, sum(value_amount) AS total
               FROM deals
               WHERE agreed_at IS NOT NULL AND stage IN ('agreed', 'fee_pending', 'closed') AND value_currency = 'VND'
               GROUP BY 1
           ), fees AS (
               SELECT date_trunc('month', created_at AT TIME ZONE 'UTC') AS month, sum(amount) AS total
               FROM invoices WHERE status <> 'void' AND currency = 'VND'
               GROUP BY 1
           ), months AS (
               SELECT generate_series(
                          (SELECT min(month) FROM (SELECT month FROM agreed UNION ALL SELECT month FROM fees) m),
                          date_trunc('month', now() AT TIME ZONE 'UTC'),
                          interval '1 month'
                      ) AS month
           )
           SELECT to_char(months.month, 'YYYY-MM') AS period,
                  coalesce(agreed.total, 0)::bigint AS agreed_value,
                  coalesce(fees.total, 0)::bigint AS fees
           FROM months
           LEFT JOIN agreed USING (month)
           LEFT JOIN fees USING (month)
           ORDER BY months.month"""
    )


class ChangeRow(msgspec.Struct, frozen=True, kw_only=True):
    """One listing change of the feed."""

    id: int
    txid: int
    listing_id: UUID
    kind: str
    status: str
    version: int
    changed_at: datetime


# Only rows of transactions older than every transaction still running are served: those can no longer be
# joined by a row that sorts before them, so a reader that moved past a position never misses a change.
# A change is public when the listing is published by it, or was published by an earlier change (a removal);
# the history of drafts never published does not leave the exchange.
_CHANGES = """
SELECT c.id, c.txid::text::bigint AS txid, c.listing_id, c.kind, c.status, c.version, c.changed_at
FROM listing_changes c
WHERE c.txid < pg_snapshot_xmin(pg_current_snapshot())
  AND (c.txid, c.id) > ($1::text::xid8, $2::bigint)
  AND (c.status = 'published'
       OR EXISTS (SELECT 1 FROM listing_changes p
                  WHERE p.listing_id = c.listing_id AND p.status = 'published' AND (p.txid, p.id) < (c.txid, c.id)))
ORDER BY c.txid, c.id
LIMIT $3
"""


async def changes_after(conn: asyncpg.Connection, txid: int, id_: int, limit: int) -> list[ChangeRow]:
    """Public listing changes after a position, in commit-safe order."""
    return rows_to(await conn.fetch(_CHANGES, str(txid), id_, limit), ChangeRow)


class PartnerRow(msgspec.Struct, frozen=True, kw_only=True):
    """A partner member."""

    id: UUID
    name: str
    email: str
    role: str
    created_at: datetime


async def insert_partner(conn: asyncpg.Connection, name: str, email: str) -> PartnerRow:
    """Add a partner member (no organization)."""
    row = await conn.fetchrow(
        "INSERT INTO members (org_id, name, email, role) VALUES (NULL, $1, $2, 'partner')"
        " RETURNING id, name, email, role, created_at",
        name,
        email,
    )
    return row_to(row, PartnerRow)


async def insert_key(conn: asyncpg.Connection, member_id: UUID, key_hash: bytes, prefix: str) -> UUID:
    """Store a key's hash for a member."""
    return await conn.fetchval(
        "INSERT INTO api_keys (member_id, key_hash, prefix, name) VALUES ($1, $2, $3, 'partner') RETURNING id",
        member_id,
        key_hash,
        prefix,
    )


async def remove_partner(conn: asyncpg.Connection, member_id: UUID) -> list[UUID] | None:
    """Remove a partner and revoke its keys; the ids of the keys revoked, or None when there is no such current partner."""
    removed = await conn.fetchval(
        "UPDATE members SET removed_at = now() WHERE id = $1 AND role = 'partner' AND removed_at IS NULL RETURNING true",
        member_id,
    )
    if not removed:
        return None
    rows = await conn.fetch(
        "UPDATE api_keys SET revoked_at = now() WHERE member_id = $1 AND revoked_at IS NULL RETURNING id", member_id
    )
    return [r["id"] for r in rows]
