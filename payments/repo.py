"""SQL of fee schedules, fee deals, invoices, PaymentIntents and Stripe events."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel.db import keyset, keyset_args, row_to, rows_to


class ScheduleRow(msgspec.Struct, frozen=True, kw_only=True):
    """A stored fee schedule version."""

    version: int
    effective_from: datetime
    currency: str
    tiers: list[dict[str, Any]]
    minimum_fee: int
    maximum_fee: int | None
    buyer_bps: int
    seller_bps: int
    created_at: datetime


class InvoiceRow(msgspec.Struct, frozen=True, kw_only=True):
    """A stored invoice."""

    id: UUID
    deal_id: UUID
    org_id: UUID
    party: str
    instalment: int
    instalments: int
    amount: int
    currency: str
    status: str
    fee_schedule_version: int
    payment_intent_id: str | None
    payment_attempts: int
    next_action: dict[str, Any] | None
    last_payment_error: dict[str, Any] | None
    refund_id: str | None
    paid_at: datetime | None
    refunded_at: datetime | None
    voided_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class FeeDealRow(msgspec.Struct, frozen=True, kw_only=True):
    """What payments knows of a deal."""

    deal_id: UUID
    fee_schedule_version: int | None
    invoiced_at: datetime | None
    fees_paid_at: datetime | None
    cancelled_at: datetime | None


_SCHEDULE_COLUMNS = (
    "version, effective_from, currency, tiers, minimum_fee, maximum_fee, buyer_bps, seller_bps, created_at"
)


async def schedule_at(conn: asyncpg.Connection, at: datetime | None = None) -> ScheduleRow:
    """The schedule in force at a moment (now when None)."""
    row = await conn.fetchrow(
        f"SELECT {_SCHEDULE_COLUMNS} FROM fee_schedules WHERE effective_from <= coalesce($1, now())"
        " ORDER BY effective_from DESC, version DESC LIMIT 1",
        at,
    )
    if row is None:  # only a moment before the first schedule; use the first one
        row = await conn.fetchrow(f"SELECT {_SCHEDULE_COLUMNS} FROM fee_schedules ORDER BY version LIMIT 1")
    return row_to(row, ScheduleRow)


async def insert_schedule(conn: asyncpg.Connection, values: dict[str, Any], created_by: UUID) -> ScheduleRow:
    """Store the next version, effective from the transaction's start; versions are serialised by a lock."""
    await conn.execute("LOCK TABLE fee_schedules IN SHARE ROW EXCLUSIVE MODE")
    row = await conn.fetchrow(
        "INSERT INTO fee_schedules (version, tiers, minimum_fee, maximum_fee, buyer_bps, seller_bps, created_by)"
        " SELECT coalesce(max(version), 0) + 1, $1, $2, $3, $4, $5, $6 FROM fee_schedules"
        f" RETURNING {_SCHEDULE_COLUMNS}",
        values["tiers"],
        values["minimum_fee"],
        values["maximum_fee"],
        values["buyer_bps"],
        values["seller_bps"],
        created_by,
    )
    return row_to(row, ScheduleRow)


async def latest_schedule_version(conn: asyncpg.Connection) -> int:
    """The newest version number."""
    return await conn.fetchval("SELECT max(version) FROM fee_schedules")


# --- fee deals ------------------------------------------------------------------------


async def lock_fee_deal(conn: asyncpg.Connection, deal_id: UUID) -> FeeDealRow:
    """The deal's row, created empty if new, locked until the transaction ends."""
    await conn.execute("INSERT INTO fee_deals (deal_id) VALUES ($1) ON CONFLICT DO NOTHING", deal_id)
    row = await conn.fetchrow(
        "SELECT deal_id, fee_schedule_version, invoiced_at, fees_paid_at, cancelled_at FROM fee_deals"
        " WHERE deal_id = $1 FOR UPDATE",
        deal_id,
    )
    return row_to(row, FeeDealRow)


async def record_agreement(conn: asyncpg.Connection, deal_id: UUID, values: dict[str, Any]) -> None:
    """Remember the agreed deal and the schedule version its invoices use."""
    await conn.execute(
        "UPDATE fee_deals SET value_amount = $2, currency = $3, buyer_org_id = $4, seller_org_id = $5,"
        " broker_org_id = $6, terms_version = $7, agreed_at = $8, fee_schedule_version = $9, invoiced_at = now(),"
        " updated_at = now() WHERE deal_id = $1",
        deal_id,
        values["value_amount"],
        values["currency"],
        values["buyer_org_id"],
        values["seller_org_id"],
        values["broker_org_id"],
        values["terms_version"],
        values["agreed_at"],
        values["fee_schedule_version"],
    )


async def mark_fees_paid(conn: asyncpg.Connection, deal_id: UUID) -> bool:
    """Set fees_paid_at once; True only the first time."""
    return bool(
        await conn.fetchval(
            "UPDATE fee_deals SET fees_paid_at = now(), updated_at = now()"
            " WHERE deal_id = $1 AND fees_paid_at IS NULL AND cancelled_at IS NULL RETURNING true",
            deal_id,
        )
    )


async def mark_cancelled(conn: asyncpg.Connection, deal_id: UUID, reason: str | None, at: datetime | None) -> None:
    """Remember a cancellation (so a late agreement event invoices nothing)."""
    await conn.execute(
        "UPDATE fee_deals SET cancelled_at = coalesce(cancelled_at, $2, now()), cancel_reason = coalesce(cancel_reason, $3),"
        " updated_at = now() WHERE deal_id = $1",
        deal_id,
        at,
        reason,
    )


# --- invoices ---------------------------------------------------------------------------

_INVOICE_COLUMNS = (
    "id, deal_id, org_id, party, instalment, instalments, amount, currency, status, fee_schedule_version,"
    " payment_intent_id, payment_attempts, next_action, last_payment_error, refund_id, paid_at, refunded_at,"
    " voided_at, created_at, updated_at, version"
)


async def insert_invoice(conn: asyncpg.Connection, values: dict[str, Any]) -> bool:
    """Create one invoice unless that (deal, party, instalment) exists; True when created."""
    return bool(
        await conn.fetchval(
            "INSERT INTO invoices (deal_id, org_id, party, instalment, instalments, amount, currency, fee_schedule_version)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (deal_id, party, instalment) DO NOTHING RETURNING true",
            values["deal_id"],
            values["org_id"],
            values["party"],
            values["instalment"],
            values["instalments"],
            values["amount"],
            values["currency"],
            values["fee_schedule_version"],
        )
    )


async def get_invoice(conn: asyncpg.Connection, invoice_id: UUID, *, lock: bool = False) -> InvoiceRow | None:
    """One invoice, optionally locked for update."""
    row = await conn.fetchrow(
        f"SELECT {_INVOICE_COLUMNS} FROM invoices WHERE id = $1" + (" FOR UPDATE" if lock else ""), invoice_id
    )
    return row_to(row, InvoiceRow) if row else None


async def invoice_for_intent(conn: asyncpg.Connection, intent_id: str) -> UUID | None:
    """The invoice a PaymentIntent was created for (current or earlier attempt)."""
    return await conn.fetchval("SELECT invoice_id FROM payment_intents WHERE id = $1", intent_id)


async def deal_invoices(conn: asyncpg.Connection, deal_id: UUID, *, lock: bool = False) -> list[InvoiceRow]:
    """Every invoice of a deal in a stable order (the order locks are taken in)."""
    rows = await conn.fetch(
        f"SELECT {_INVOICE_COLUMNS} FROM invoices WHERE deal_id = $1 ORDER BY party, instalment"
        + (" FOR UPDATE" if lock else ""),
        deal_id,
    )
    return rows_to(rows, InvoiceRow)


async def list_invoices(
    conn: asyncpg.Connection,
    *,
    org_id: UUID | None,
    deal_id: UUID | None,
    status: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[InvoiceRow]:
    """A page of invoices, newest first; org_id None means every organization's (operators)."""
    conditions, args = [], []
    for column, value in (("org_id", org_id), ("deal_id", deal_id), ("status", status)):
        if value is not None:
            args.append(value)
            conditions.append(f"{column} = ${len(args)}")
    where = " AND ".join([*conditions, keyset(len(args) + 1)])
    rows = await conn.fetch(f"SELECT {_INVOICE_COLUMNS} FROM invoices WHERE {where}", *args, *keyset_args(after, limit))
    return rows_to(rows, InvoiceRow)


async def update_invoice(conn: asyncpg.Connection, invoice_id: UUID, **changes: Any) -> InvoiceRow:
    """Change columns of an invoice, bumping its version."""
    names = list(changes)
    sets = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
    row = await conn.fetchrow(
        f"UPDATE invoices SET {sets}, updated_at = now(), version = version + 1 WHERE id = $1 RETURNING {_INVOICE_COLUMNS}",
        invoice_id,
        *(changes[n] for n in names),
    )
    return row_to(row, InvoiceRow)


async def record_intent(conn: asyncpg.Connection, intent_id: str, invoice_id: UUID, attempt: int, amount: int) -> None:
    """Remember a PaymentIntent created for an invoice."""
    await conn.execute(
        "INSERT INTO payment_intents (id, invoice_id, attempt, amount) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        intent_id,
        invoice_id,
        attempt,
        amount,
    )


async def all_invoices(conn: asyncpg.Connection) -> list[InvoiceRow]:
    """Every invoice (reconciliation)."""
    return rows_to(await conn.fetch(f"SELECT {_INVOICE_COLUMNS} FROM invoices ORDER BY created_at, id"), InvoiceRow)


async def intents_by_id(conn: asyncpg.Connection) -> dict[str, UUID]:
    """Every recorded PaymentIntent id and its invoice (reconciliation)."""
    return {r["id"]: r["invoice_id"] for r in await conn.fetch("SELECT id, invoice_id FROM payment_intents")}


# --- Stripe events ----------------------------------------------------------------------


async def insert_event(
    conn: asyncpg.Connection, event_id: str, type_: str, object_id: str | None, created: datetime | None
) -> bool:
    """Store a verified event once; True the first time."""
    return bool(
        await conn.fetchval(
            "INSERT INTO stripe_events (id, type, object_id, created) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING RETURNING true",
            event_id,
            type_,
            object_id,
            created,
        )
    )


# --- reservations and read-back ---------------------------------------------------------


async def take_lease(conn: asyncpg.Connection, invoice_id: UUID, token: UUID, seconds: float) -> bool:
    """Reserve an invoice for one caller's Stripe calls unless another holds it; the reservation lapses by itself."""
    return bool(
        await conn.fetchval(
            "UPDATE invoices SET stripe_lease = $2, stripe_lease_until = now() + make_interval(secs => $3)"
            " WHERE id = $1 AND (stripe_lease IS NULL OR stripe_lease_until < now()) RETURNING true",
            invoice_id,
            token,
            seconds,
        )
    )


async def end_lease(conn: asyncpg.Connection, invoice_id: UUID, token: UUID) -> None:
    """Give up a reservation (nothing when it has lapsed and another holds the invoice)."""
    await conn.execute(
        "UPDATE invoices SET stripe_lease = NULL, stripe_lease_until = NULL WHERE id = $1 AND stripe_lease = $2",
        invoice_id,
        token,
    )


async def claim_read_back(conn: asyncpg.Connection, older_than: float, limit: int) -> list[tuple[str, int]]:
    """Mark as read back, and return (PaymentIntent, invoice version) of, unsettled invoices neither changed nor read
    back for `older_than` seconds, oldest first; invoices another process is claiming are skipped (ETags stay)."""
    rows = await conn.fetch(
        "UPDATE invoices SET read_back_at = now() WHERE id IN ("
        " SELECT id FROM invoices"
        " WHERE status IN ('open', 'processing', 'failed') AND payment_intent_id IS NOT NULL"
        " AND coalesce(read_back_at, updated_at) < now() - make_interval(secs => $1)"
        " ORDER BY coalesce(read_back_at, updated_at) LIMIT $2 FOR UPDATE SKIP LOCKED)"
        " RETURNING payment_intent_id, version",
        older_than,
        limit,
    )
    return [(r["payment_intent_id"], r["version"]) for r in rows]
