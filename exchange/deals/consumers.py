"""The consumer that moves deals when their fees are invoiced and paid."""

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg

from exchange.deals import repo, rules
from exchange.kernel import outbox
from exchange.kernel.events import DealFeesPaid, DealInvoiced
from exchange.kernel.settings import Settings

log = logging.getLogger("exchange.deals")


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
    at = datetime.now(UTC)
    for stage in stages:
        if stage == "fee_pending" and isinstance(event, DealInvoiced):
            await repo.update(
                conn, deal.id, {"stage": stage, "invoiced_at": at, "fee_schedule_version": event.fee_schedule_version}
            )
            details = {
                "invoice_ids": [str(i) for i in event.invoice_ids],
                "fee_schedule_version": event.fee_schedule_version,
            }
            await repo.append_event(conn, deal.id, None, None, "fees_invoiced", details)
        elif stage == "fee_pending":
            await repo.update(conn, deal.id, {"stage": stage, "invoiced_at": at})
            await repo.append_event(
                conn, deal.id, None, None, "fees_invoiced", {"note": "fees were paid before the invoices were reported"}
            )
        else:
            await repo.update(conn, deal.id, {"stage": stage, "closed_at": at})
            await repo.append_event(conn, deal.id, None, None, "closed", {"note": "every fee invoice is paid"})
    return stages


async def handle(conn: asyncpg.Connection, rows: list[outbox.OutboxRow]) -> None:
    """Apply each claimed event in order."""
    for row in rows:
        await apply(conn, outbox.decode(row, Consumed))


@contextlib.asynccontextmanager
async def consumers(_: Settings) -> AsyncIterator[list[outbox.Consumer]]:
    """The deals consumer (registered in exchange.jobs.CONSUMER_SOURCES)."""
    yield [outbox.Consumer("deals", TOPICS, handle, batch_size=1)]
