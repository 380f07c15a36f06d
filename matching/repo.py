"""SQL of the matching package: cached embeddings, Vietnamese spellings, subscriptions and notifications."""

from collections import Counter
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel.db import keyset, keyset_args, row_to, rows_to
from matching.embeddings import Latents


async def cached_vectors(conn: asyncpg.Connection, hashes: list[bytes]) -> dict[bytes, list[float]]:
    """Vectors already computed for these text hashes."""
    rows = await conn.fetch("SELECT text_hash, vector FROM embedding_cache WHERE text_hash = ANY($1::bytea[])", hashes)
    return {r["text_hash"]: list(r["vector"]) for r in rows}


async def cached_latents(conn: asyncpg.Connection, hashes: list[bytes]) -> dict[bytes, Latents]:
    """Latent terms already computed for these text hashes."""
    rows = await conn.fetch(
        "SELECT text_hash, latent_ids, latent_weights FROM embedding_cache WHERE text_hash = ANY($1::bytea[])", hashes
    )
    return {r["text_hash"]: Latents(list(r["latent_ids"]), list(r["latent_weights"])) for r in rows}


async def cache_vectors(
    conn: asyncpg.Connection, vectors: dict[bytes, list[float]], latents: dict[bytes, Latents]
) -> None:
    """Remember freshly computed vectors and latent terms."""
    if vectors:
        await conn.executemany(
            "INSERT INTO embedding_cache (text_hash, vector, latent_ids, latent_weights) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (text_hash) DO NOTHING",
            [(key, vector, latents[key].ids, latents[key].weights) for key, vector in vectors.items()],
        )


# The advisory lock of a text hash h: its first 8 bytes.
_TEXT_LOCK = "('x' || substr(encode(h, 'hex'), 1, 16))::bit(64)::bigint"


async def lock_texts(conn: asyncpg.Connection, hashes: list[bytes]) -> None:
    """Serialise the computing of these texts' vectors until this transaction ends (in one order: no deadlock)."""
    await conn.execute(
        f"SELECT pg_advisory_xact_lock({_TEXT_LOCK}) FROM (SELECT DISTINCT h FROM unnest($1::bytea[]) AS h ORDER BY h) AS o",
        hashes,
    )


async def texts_locked_if_free(conn: asyncpg.Connection, hashes: list[bytes]) -> list[bytes]:
    """Those of these texts no other transaction is computing, locked until this one ends; it waits for none."""
    rows = await conn.fetch(
        f"SELECT h FROM (SELECT DISTINCT h FROM unnest($1::bytea[]) AS h) AS d WHERE pg_try_advisory_xact_lock({_TEXT_LOCK})",
        hashes,
    )
    return [r["h"] for r in rows]


async def learn_spellings(conn: asyncpg.Connection, texts: dict[bytes, Counter[tuple[str, str]]]) -> int:
    """Add the spellings of texts not counted yet (by hash); how many were new."""
    new = await conn.fetch(
        "INSERT INTO spelled_texts (text_hash) SELECT unnest($1::bytea[]) ON CONFLICT DO NOTHING RETURNING text_hash",
        list(texts),
    )
    counts: Counter[tuple[str, str]] = Counter()
    for r in new:
        counts.update(texts[r["text_hash"]])
    if counts:
        # In one order, so that two workers adding shared words wait for each other instead of deadlocking.
        keys = sorted(counts)
        await conn.execute(
            "INSERT INTO spellings (folded, written, count)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])"
            " ON CONFLICT (folded, written) DO UPDATE SET count = spellings.count + excluded.count",
            [k[0] for k in keys],
            [k[1] for k in keys],
            [counts[k] for k in keys],
        )
    return len(new)


async def spellings_of(conn: asyncpg.Connection, folded: list[str]) -> dict[str, dict[str, int]]:
    """The known spellings of these words and pairs (without diacritics), with how often each is written."""
    rows = await conn.fetch(
        "SELECT folded, written, count FROM spellings WHERE folded = ANY($1::text[])", sorted(set(folded))
    )
    known: dict[str, dict[str, int]] = {}
    for r in rows:
        known.setdefault(r["folded"], {})[r["written"]] = r["count"]
    return known


async def lock_listings(conn: asyncpg.Connection, ids: list[UUID]) -> None:
    """Serialise indexers working on the same listings until this transaction ends (in id order: no deadlock)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(k) FROM"
        " (SELECT hashtextextended(id::text, 7341) AS k FROM unnest($1::uuid[]) AS id ORDER BY 1) AS keys",
        ids,
    )


class SubscriptionRow(msgspec.Struct, frozen=True, kw_only=True):
    """A subscriptions row."""

    id: UUID
    member_id: UUID
    org_id: UUID | None
    kind: str
    query: str | None
    filters: dict[str, Any]
    webhook_url: str | None
    webhook_secret: str | None
    demand_id: UUID | None
    active: bool
    active_since: datetime
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    version: int


class NotificationRow(msgspec.Struct, frozen=True, kw_only=True):
    """A notifications row."""

    id: UUID
    subscription_id: UUID
    listing_id: UUID
    listing_version: int
    score: float
    created_at: datetime
    delivery_status: str
    delivery_attempts: int
    delivered_at: datetime | None
    last_error: str | None


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """A notification with where and how its webhook is sent."""

    notification: NotificationRow
    webhook_url: str | None
    webhook_secret: str | None
    deleted: bool


async def insert_subscription(
    conn: asyncpg.Connection,
    member_id: UUID,
    org_id: UUID | None,
    kind: str,
    query: str | None,
    filters: dict[str, Any],
    webhook_url: str | None,
    webhook_secret: str | None,
) -> SubscriptionRow:
    """Store a new subscription."""
    row = await conn.fetchrow(
        "INSERT INTO subscriptions (member_id, org_id, kind, query, filters, webhook_url, webhook_secret)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        member_id,
        org_id,
        kind,
        query,
        filters,
        webhook_url,
        webhook_secret,
    )
    return row_to(row, SubscriptionRow)


async def count_own_subscriptions(conn: asyncpg.Connection, member_id: UUID) -> int:
    """How many subscriptions a member made (not counting deleted ones or those of its demands)."""
    return await conn.fetchval(
        "SELECT count(*) FROM subscriptions WHERE member_id = $1 AND deleted_at IS NULL AND demand_id IS NULL",
        member_id,
    )


async def own_subscription(conn: asyncpg.Connection, subscription_id: UUID, member_id: UUID) -> SubscriptionRow | None:
    """A member's subscription, unless deleted."""
    row = await conn.fetchrow(
        "SELECT * FROM subscriptions WHERE id = $1 AND member_id = $2 AND deleted_at IS NULL",
        subscription_id,
        member_id,
    )
    return row_to(row, SubscriptionRow) if row else None


async def subscriptions_page(
    conn: asyncpg.Connection, member_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[SubscriptionRow]:
    """A member's subscriptions, newest first, keyset-paginated on (created_at, id)."""
    rows = await conn.fetch(
        f"SELECT * FROM subscriptions WHERE member_id = $1 AND deleted_at IS NULL AND {keyset(2)}",
        member_id,
        *keyset_args(after, limit),
    )
    return rows_to(rows, SubscriptionRow)


async def delete_subscription(conn: asyncpg.Connection, subscription_id: UUID) -> None:
    """Stop a subscription for good and forget its secret; its notifications stay for the record."""
    await conn.execute(
        "UPDATE subscriptions SET active = false, deleted_at = now(), webhook_secret = NULL, updated_at = now(),"
        " version = version + 1 WHERE id = $1",
        subscription_id,
    )


async def lock_subscriptions_of(conn: asyncpg.Connection, listing_ids: list[UUID]) -> None:
    """Serialise the subscription work on these listings until this transaction ends (the indexer uses other keys)."""
    # In one order, so two workers locking overlapping batches cannot deadlock.
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(id::text, 7342))"
        " FROM (SELECT id FROM unnest($1::uuid[]) AS id ORDER BY id) AS ordered",
        listing_ids,
    )


_SYNC_DEMAND = """
WITH d AS (
    SELECT l.id, l.owner_org_id,
           coalesce(
               (SELECT m.id FROM members m WHERE m.id = l.created_by AND m.removed_at IS NULL),
               (SELECT m.id FROM members m WHERE m.org_id = l.owner_org_id AND m.role = 'owner'
                  AND m.removed_at IS NULL ORDER BY m.created_at, m.id LIMIT 1)
           ) AS member_id
    FROM listings l
    WHERE l.id = $1 AND l.kind = 'demand' AND listing_is_public(l.status, l.expires_at)
)
INSERT INTO subscriptions (member_id, org_id, kind, demand_id)
SELECT member_id, owner_org_id, 'offers', id FROM d WHERE member_id IS NOT NULL
ON CONFLICT (demand_id) DO UPDATE SET active = true, active_since = now(), updated_at = now(),
    version = subscriptions.version + 1
    WHERE NOT subscriptions.active AND subscriptions.deleted_at IS NULL
"""

_DEACTIVATE_DEMAND = """
UPDATE subscriptions SET active = false, updated_at = now(), version = version + 1
WHERE demand_id = $1 AND active
  AND NOT EXISTS (SELECT 1 FROM listings WHERE id = $1 AND listing_is_public(status, expires_at))
"""


async def sync_demand_subscription(conn: asyncpg.Connection, demand_id: UUID) -> None:
    """Give a public demand's owner its subscription to new offers (again), or pause it when the demand is not public."""
    await conn.execute(_SYNC_DEMAND, demand_id)
    await conn.execute(_DEACTIVATE_DEMAND, demand_id)


async def eligible_pairs(conn: asyncpg.Connection, listing_ids: list[UUID]) -> list[tuple[UUID, UUID]]:
    """(subscription, listing) pairs that may be told: active since before its publication, of another organization,
    held by a current member, and not told of that listing yet."""
    rows = await conn.fetch(
        """SELECT s.id AS subscription_id, l.id AS listing_id
           FROM listings l
           JOIN subscriptions s ON s.active AND s.kind = l.kind || 's' AND s.active_since <= l.published_at
                AND (s.org_id IS NULL OR s.org_id <> l.owner_org_id)
           JOIN members m ON m.id = s.member_id AND m.removed_at IS NULL
           WHERE l.id = ANY($1::uuid[]) AND l.published_at IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.subscription_id = s.id AND n.listing_id = l.id)
           ORDER BY s.id, l.id""",
        listing_ids,
    )
    return [(r["subscription_id"], r["listing_id"]) for r in rows]


async def subscriptions_by_id(conn: asyncpg.Connection, ids: list[UUID]) -> list[SubscriptionRow]:
    """These subscriptions, in id order."""
    rows = await conn.fetch("SELECT * FROM subscriptions WHERE id = ANY($1::uuid[]) ORDER BY id", ids)
    return rows_to(rows, SubscriptionRow)


async def insert_notifications(
    conn: asyncpg.Connection, listing_id: UUID, listing_version: int, scores: dict[UUID, float]
) -> list[NotificationRow]:
    """One notification per subscription for this listing; those that exist already are left alone (not returned)."""
    if not scores:
        return []
    rows = await conn.fetch(
        """INSERT INTO notifications (subscription_id, listing_id, listing_version, score, delivery_status)
           SELECT s.id, $3, $4, x.score, CASE WHEN s.webhook_url IS NULL THEN 'none' ELSE 'pending' END
           FROM unnest($1::uuid[], $2::float8[]) AS x (subscription_id, score)
           JOIN subscriptions s ON s.id = x.subscription_id
           ORDER BY s.id
           ON CONFLICT (subscription_id, listing_id) DO NOTHING
           RETURNING *""",
        list(scores),
        list(scores.values()),
        listing_id,
        listing_version,
    )
    return rows_to(rows, NotificationRow)


async def notifications_page(
    conn: asyncpg.Connection, subscription_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[NotificationRow]:
    """A subscription's notifications, newest first, keyset-paginated on (created_at, id)."""
    rows = await conn.fetch(
        f"SELECT * FROM notifications WHERE subscription_id = $1 AND {keyset(2)}",
        subscription_id,
        *keyset_args(after, limit),
    )
    return rows_to(rows, NotificationRow)


async def delivery(conn: asyncpg.Connection, notification_id: UUID) -> Delivery | None:
    """A notification locked for delivery, with its subscription's webhook."""
    row = await conn.fetchrow(
        "SELECT n.*, s.webhook_url, s.webhook_secret, s.deleted_at IS NOT NULL AS deleted"
        " FROM notifications n JOIN subscriptions s ON s.id = n.subscription_id WHERE n.id = $1 FOR UPDATE OF n",
        notification_id,
    )
    if row is None:
        return None
    values = dict(row)
    extra = {k: values.pop(k) for k in ("webhook_url", "webhook_secret", "deleted")}
    return Delivery(notification=msgspec.convert(values, NotificationRow), **extra)


async def finish_delivery(
    conn: asyncpg.Connection, notification_id: UUID, status: str, attempts: int, error: str | None
) -> None:
    """Record how a webhook delivery ended."""
    await conn.execute(
        "UPDATE notifications SET delivery_status = $2, delivery_attempts = $3, last_error = $4,"
        " delivered_at = CASE WHEN $2 = 'delivered' THEN now() END WHERE id = $1",
        notification_id,
        status,
        attempts,
        error,
    )
