"""Outbox events of deals, and the consumer that moves deals when their fees are invoiced and paid."""

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from uuid import UUID

import asyncpg
import msgspec

from exchange import outbox
from exchange.deals import repo, rules
from exchange.settings import Settings

log = logging.getLogger("exchange.deals")


class EventMoney(msgspec.Struct, frozen=True, kw_only=True):
    """An amount in the currency's minor unit."""

    amount: int
    currency: str


class DealAgreed(outbox.Event, frozen=True, kw_only=True, tag="deal.agreed"):
    """Buyer and seller confirmed the same terms_version; payments issues the fee invoices."""

    deal_id: UUID
    value: EventMoney
    buyer_org_id: UUID
    seller_org_id: UUID
    broker_org_id: UUID | None
    terms_version: int
    agreed_at: datetime


class DealCancelled(outbox.Event, frozen=True, kw_only=True, tag="deal.cancelled"):
    """A deal was cancelled before it closed; payments refunds what was paid."""

    deal_id: UUID
    reason: str
    cancelled_at: datetime
    stage_before: str


# Emitted by payments; decoded here from the payload alone (no import of that package).
class DealInvoiced(outbox.Event, frozen=True, kw_only=True, tag="deal.invoiced"):
    """Payments issued the deal's fee invoices."""

    deal_id: UUID
    invoice_ids: list[UUID]
    fee_schedule_version: int


class DealFeesPaid(outbox.Event, frozen=True, kw_only=True, tag="deal.fees_paid"):
    """Every fee invoice of the deal is paid."""

    deal_id: UUID


Consumed = DealInvoiced | DealFeesPaid
TOPICS = ("deal.invoiced", "deal.fees_paid")


async def apply(conn: asyncpg.Connection, event: Consumed) -> list[str]:
    """Move the deal as the event says; a duplicate, or an event about a cancelled deal, changes nothing."""
    deal = await repo.get(conn, event.deal_id, for_update=True)
    if deal is None:
        log.warning("%s about unknown deal %s ignored", type(event).__name__, event.deal_id)
        return []
    if isinstance(event, DealInvoiced):
        stages = rules.stages_on_invoiced(deal.stage)
    else:
        stages = rules.stages_on_fees_paid(deal.stage)
    at = datetime.now(timezone.utc)
    for stage in stages:
        if stage == "fee_pending" and isinstance(event, DealInvoiced):
            await repo.update(conn, deal.id, {"stage": stage, "invoiced_at": at, "fee_schedule_version": event.fee_schedule_version})
            details = {"invoice_ids": [str(i) for i in event.invoice_ids], "fee_schedule_version": event.fee_schedule_version}
            await repo.append_event(conn, deal.id, None, None, "fees_invoiced", details)
        elif stage == "fee_pending":
            await repo.update(conn, deal.id, {"stage": stage, "invoiced_at": at})
            await repo.append_event(conn, deal.id, None, None, "fees_invoiced", {"note": "fees were paid before the invoices were reported"})
        else:
            await repo.update(conn, deal.id, {"stage": stage, "closed_at": at})
            await repo.append_event(conn, deal.id, None, None, "closed", {"note": "every fee invoice is paid"})
    return stages


async def handle(conn: asyncpg.Connection, rows: list[outbox.OutboxRow]) -> None:
    """Apply each claimed event in order."""
    for row in rows:
        await apply(conn, msgspec.convert(row.payload, Consumed))


@contextlib.asynccontextmanager
async def consumers(_: Settings) -> AsyncIterator[list[outbox.Consumer]]:
    """The deals consumer (registered in exchange.jobs.CONSUMER_SOURCES)."""
    yield [outbox.Consumer("deals", TOPICS, handle, batch_size=1)]
