"""SQL of mail: settings, recipients, the queue and the digest items."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

DEFAULT_TOPICS = ["matches", "interests", "deals", "invoices", "expiry"]


class MailSettingsRow(msgspec.Struct, frozen=True, kw_only=True):
    """A member's notification settings (the defaults when never set)."""

    email: bool = True
    language: str = "vi"
    digest: str = "immediate"
    topics: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_TOPICS))


class Recipient(msgspec.Struct, frozen=True, kw_only=True):
    """A member who may be mailed, with its settings."""

    member_id: UUID
    name: str
    address: str
    org_id: UUID | None
    email: bool
    language: str
    digest: str
    topics: list[str]


class QueuedMail(msgspec.Struct, frozen=True, kw_only=True):
    """A message in the queue, as the sender claims it."""

    id: UUID
    kind: str
    topic: str
    recipient: str
    language: str
    subject: str
    body_text: str
    body_html: str
    unsubscribe_url: str
    attempts: int
    created_at: datetime


async def get_settings(conn: asyncpg.Connection, member_id: UUID) -> MailSettingsRow:
    """A member's settings, or the defaults."""
    row = await conn.fetchrow(
        "SELECT email, language, digest, topics FROM mail_settings WHERE member_id = $1", member_id
    )
    return msgspec.convert(dict(row), MailSettingsRow) if row else MailSettingsRow()


async def put_settings(conn: asyncpg.Connection, member_id: UUID, s: MailSettingsRow) -> MailSettingsRow:
    """Store a member's settings whole."""
    row = await conn.fetchrow(
        """INSERT INTO mail_settings (member_id, email, language, digest, topics) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (member_id) DO UPDATE SET email = $2, language = $3, digest = $4, topics = $5,
               updated_at = now()
           RETURNING email, language, digest, topics""",
        member_id,
        s.email,
        s.language,
        s.digest,
        s.topics,
    )
    return msgspec.convert(dict(row), MailSettingsRow)


async def turn_off_topic(conn: asyncpg.Connection, member_id: UUID, topic: str) -> MailSettingsRow | None:
    """Remove one topic from a member's settings (None when no such member)."""
    if not await conn.fetchval("SELECT true FROM members WHERE id = $1", member_id):
        return None
    row = await conn.fetchrow(
        """INSERT INTO mail_settings (member_id, topics) VALUES ($1, array_remove($3::text[], $2))
           ON CONFLICT (member_id) DO UPDATE SET topics = array_remove(mail_settings.topics, $2), updated_at = now()
           RETURNING email, language, digest, topics""",
        member_id,
        topic,
        DEFAULT_TOPICS,
    )
    return msgspec.convert(dict(row), MailSettingsRow)


_RECIPIENTS = """
SELECT m.id AS member_id, m.name, m.email AS address, m.org_id,
       coalesce(s.email, true) AS email, coalesce(s.language, 'vi') AS language,
       coalesce(s.digest, 'immediate') AS digest, coalesce(s.topics, $2::text[]) AS topics
FROM members m LEFT JOIN mail_settings s ON s.member_id = m.id
WHERE m.removed_at IS NULL AND {where}
ORDER BY m.created_at, m.id
"""


async def org_members(conn: asyncpg.Connection, org_ids: list[UUID]) -> list[Recipient]:
    """Every current member of these organizations."""
    rows = await conn.fetch(_RECIPIENTS.format(where="m.org_id = ANY($1::uuid[])"), org_ids, DEFAULT_TOPICS)
    return [msgspec.convert(dict(r), Recipient) for r in rows]


async def member(conn: asyncpg.Connection, member_id: UUID) -> Recipient | None:
    """One current member."""
    row = await conn.fetchrow(_RECIPIENTS.format(where="m.id = $1"), member_id, DEFAULT_TOPICS)
    return msgspec.convert(dict(row), Recipient) if row else None


async def enqueue(conn: asyncpg.Connection, values: dict[str, Any]) -> bool:
    """Queue a message once per (key, member, kind); False when it was queued before."""
    columns = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    inserted = await conn.fetchval(
        f"INSERT INTO mail_queue ({', '.join(columns)}) VALUES ({placeholders})"
        " ON CONFLICT (key, member_id, kind) DO NOTHING RETURNING true",
        *values.values(),
    )
    return bool(inserted)


async def claim(conn: asyncpg.Connection, lease_seconds: float) -> QueuedMail | None:
    """Take the next due message for lease_seconds (committed at once, so no lock is held while sending)."""
    row = await conn.fetchrow(
        """UPDATE mail_queue SET leased_until = now() + make_interval(secs => $1), attempts = attempts + 1
           WHERE id = (SELECT id FROM mail_queue
                       WHERE status = 'pending' AND available_at <= now()
                         AND (leased_until IS NULL OR leased_until < now())
                       ORDER BY available_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING id, kind, topic, recipient, language, subject, body_text, body_html, unsubscribe_url, attempts,
                     created_at""",
        lease_seconds,
    )
    return msgspec.convert(dict(row), QueuedMail) if row else None


async def sent(conn: asyncpg.Connection, mail_id: UUID) -> None:
    """Record a message as sent."""
    await conn.execute(
        "UPDATE mail_queue SET status = 'sent', sent_at = now(), leased_until = NULL, last_error = NULL WHERE id = $1",
        mail_id,
    )


async def failed(conn: asyncpg.Connection, mail_id: UUID, error: str, retry_in: float, give_up: bool) -> None:
    """Record a failed try: due again after retry_in seconds, or given up."""
    await conn.execute(
        """UPDATE mail_queue SET leased_until = NULL, last_error = $2,
               available_at = now() + make_interval(secs => $3),
               status = CASE WHEN $4 THEN 'failed' ELSE status END
           WHERE id = $1""",
        mail_id,
        error,
        retry_in,
        give_up,
    )


async def add_digest_item(conn: asyncpg.Connection, member_id: UUID, notification_id: UUID, listing_id: UUID) -> None:
    """Keep a match for the member's next digest (once)."""
    await conn.execute(
        "INSERT INTO mail_digest_items (member_id, notification_id, listing_id) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        member_id,
        notification_id,
        listing_id,
    )


async def due_digest_items(conn: asyncpg.Connection, before: datetime) -> dict[UUID, list[UUID]]:
    """Per member, the listings of matches kept before `before` and not yet in a digest (locked until commit)."""
    rows = await conn.fetch(
        """SELECT member_id, listing_id FROM mail_digest_items
           WHERE digested_at IS NULL AND created_at < $1
           ORDER BY member_id, created_at FOR UPDATE SKIP LOCKED""",
        before,
    )
    found: dict[UUID, list[UUID]] = {}
    for r in rows:
        found.setdefault(r["member_id"], []).append(r["listing_id"])
    return found


async def mark_digested(conn: asyncpg.Connection, member_id: UUID, before: datetime) -> None:
    """The member's kept matches before `before` are in a digest now."""
    await conn.execute(
        "UPDATE mail_digest_items SET digested_at = now() WHERE member_id = $1 AND digested_at IS NULL"
        " AND created_at < $2",
        member_id,
        before,
    )


class ListingView(msgspec.Struct, frozen=True, kw_only=True):
    """What mail may say about a listing: public fields only."""

    id: UUID
    kind: str
    owner_org_id: UUID
    status: str
    title: str
    sector: str
    region: str
    expires_at: datetime | None


async def listings(conn: asyncpg.Connection, ids: list[UUID]) -> dict[UUID, ListingView]:
    """Listings by id (any status: the caller decides what may be shown)."""
    rows = await conn.fetch(
        "SELECT id, kind, owner_org_id, status, title, sector, region, expires_at FROM listings"
        " WHERE id = ANY($1::uuid[])",
        ids,
    )
    return {r["id"]: msgspec.convert(dict(r), ListingView) for r in rows}


async def notification(conn: asyncpg.Connection, notification_id: UUID) -> asyncpg.Record | None:
    """A subscription's notification with its subscriber."""
    return await conn.fetchrow(
        "SELECT n.id, n.listing_id, s.member_id, s.org_id FROM notifications n"
        " JOIN subscriptions s ON s.id = n.subscription_id WHERE n.id = $1",
        notification_id,
    )


async def org_name(conn: asyncpg.Connection, org_id: UUID) -> str:
    """An organization's public name."""
    return await conn.fetchval("SELECT name FROM organizations WHERE id = $1", org_id) or ""


async def interest(conn: asyncpg.Connection, interest_id: UUID) -> asyncpg.Record | None:
    """An interest's message and status."""
    return await conn.fetchrow("SELECT id, message, status FROM interests WHERE id = $1", interest_id)


async def deal(conn: asyncpg.Connection, deal_id: UUID) -> asyncpg.Record | None:
    """A deal's title, stage, parties and current terms."""
    return await conn.fetchrow(
        "SELECT id, title, stage, buyer_org_id, seller_org_id, broker_org_id, value_amount, value_currency,"
        " terms_version, cancel_reason FROM deals WHERE id = $1",
        deal_id,
    )


async def invoices(conn: asyncpg.Connection, ids: list[UUID]) -> list[asyncpg.Record]:
    """Fee invoices with their deal's title."""
    return await conn.fetch(
        "SELECT i.id, i.deal_id, i.org_id, i.party, i.instalment, i.instalments, i.amount, i.currency, i.status,"
        " d.title AS deal_title FROM invoices i LEFT JOIN deals d ON d.id = i.deal_id"
        " WHERE i.id = ANY($1::uuid[]) ORDER BY i.party, i.instalment",
        ids,
    )


async def expiring_listings(conn: asyncpg.Connection, within_days: int) -> list[ListingView]:
    """Published listings whose expiry falls within the coming days and that no warning was queued for yet."""
    rows = await conn.fetch(
        """SELECT l.id, l.kind, l.owner_org_id, l.status, l.title, l.sector, l.region, l.expires_at FROM listings l
           WHERE l.status = 'published' AND l.expires_at > now()
             AND l.expires_at <= now() + make_interval(days => $1)
             AND NOT EXISTS (SELECT 1 FROM mail_queue q WHERE q.kind = 'listing_expiring'
                             AND q.key = l.id::text || ':' || to_char(l.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'))
           ORDER BY l.expires_at""",
        within_days,
    )
    return [msgspec.convert(dict(r), ListingView) for r in rows]


async def bidder_orgs(conn: asyncpg.Connection, auction_id: UUID) -> list[UUID]:
    """The organizations that bid in an auction."""
    rows = await conn.fetch("SELECT DISTINCT bidder_org_id FROM auction_bids WHERE auction_id = $1", auction_id)
    return [r["bidder_org_id"] for r in rows]


async def prune(conn: asyncpg.Connection, older_than_days: int) -> int:
    """Delete sent or given-up mail and digested matches older than this; return how many messages went."""
    await conn.execute(
        "DELETE FROM mail_digest_items WHERE digested_at < now() - make_interval(days => $1)", older_than_days
    )
    return await conn.fetchval(
        "WITH gone AS (DELETE FROM mail_queue WHERE status <> 'pending'"
        " AND created_at < now() - make_interval(days => $1) RETURNING 1) SELECT count(*) FROM gone",
        older_than_days,
    )
