"""Payments' outbox consumers: deal events invoice and cancel, stored Stripe events are acted on."""

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg

from exchange.kernel import outbox
from exchange.kernel.events import DealAgreed, DealCancelled, DealFeesPaid, DealInvoiced
from exchange.kernel.settings import Settings
from payments import fees, repo, webhooks
from payments.gateway import CANCELLABLE, Gateway, open_gateway
from payments.invoices import SETTLED, apply_intent
from payments.refunds import RefundDue, refund
from payments.schedules import to_schedule

DealEvent = DealAgreed | DealCancelled
DEAL_TOPICS = ("deal.agreed", "deal.cancelled")
STRIPE_TOPICS = ("payments.stripe_event",)
REFUND_TOPICS = ("payments.refund_due",)


class StillProcessing(Exception):
    """A payment is being processed by Stripe; the cancellation is retried once it settles."""


async def on_deal_agreed(conn: asyncpg.Connection, event: DealAgreed) -> None:
    """Invoice buyer and seller under the schedule in force when the deal was agreed (once per deal)."""
    deal = await repo.lock_fee_deal(conn, event.deal_id)
    if deal.invoiced_at is not None or deal.cancelled_at is not None:
        return
    schedule = await repo.schedule_at(conn, event.agreed_at)
    breakdown = fees.compute(event.value.amount, to_schedule(schedule))
    for party, org_id, parts in (
        ("buyer", event.buyer_org_id, breakdown.buyer_instalments),
        ("seller", event.seller_org_id, breakdown.seller_instalments),
    ):
        for number, amount in enumerate(parts, start=1):
            await repo.insert_invoice(
                conn,
                {
                    "deal_id": event.deal_id,
                    "org_id": org_id,
                    "party": party,
                    "instalment": number,
                    "instalments": len(parts),
                    "amount": amount,
                    "currency": "VND",
                    "fee_schedule_version": schedule.version,
                },
            )
    await repo.record_agreement(
        conn,
        event.deal_id,
        {
            "value_amount": event.value.amount,
            "currency": event.value.currency,
            "buyer_org_id": event.buyer_org_id,
            "seller_org_id": event.seller_org_id,
            "broker_org_id": event.broker_org_id,
            "terms_version": event.terms_version,
            "agreed_at": event.agreed_at,
            "fee_schedule_version": schedule.version,
        },
    )
    invoices = await repo.deal_invoices(conn, event.deal_id)
    await outbox.emit(
        conn,
        event.deal_id,
        DealInvoiced(
            deal_id=event.deal_id,
            invoice_ids=[i.id for i in invoices],
            fee_schedule_version=schedule.version,
        ),
    )
    if not invoices and await repo.mark_fees_paid(conn, event.deal_id):
        await outbox.emit(conn, event.deal_id, DealFeesPaid(deal_id=event.deal_id))


async def on_deal_cancelled(conn: asyncpg.Connection, gateway: Gateway, event: DealCancelled) -> None:
    """Cancel intents in flight, then void what is unpaid and have what was paid refunded."""
    # Stripe first, before any row is locked: this transaction keeps the locks it takes until it commits.
    intents = {}
    for invoice in await repo.deal_invoices(conn, event.deal_id):
        if invoice.status in SETTLED or not invoice.payment_intent_id:
            continue
        intent = await gateway.retrieve_intent(invoice.payment_intent_id)
        if intent.status in CANCELLABLE:
            intent = await gateway.cancel_intent(intent.id)
        elif intent.status == "processing":
            raise StillProcessing(f"invoice {invoice.id}: its payment is still processing")
        intents[invoice.id] = intent
    invoices = await repo.deal_invoices(conn, event.deal_id, lock=True)
    await repo.lock_fee_deal(conn, event.deal_id)
    await repo.mark_cancelled(conn, event.deal_id, event.reason, event.cancelled_at)
    for invoice in invoices:
        if invoice.status in ("void", "refunded"):
            continue
        if invoice.id in intents:
            # An intent made since it was read is another attempt: apply_intent leaves the invoice alone for it.
            invoice = await apply_intent(conn, invoice, intents[invoice.id])
        if invoice.status == "paid":
            await outbox.emit(conn, invoice.deal_id, RefundDue(invoice_id=invoice.id))
        else:
            await repo.update_invoice(conn, invoice.id, status="void", voided_at=datetime.now(UTC), next_action=None)


async def on_refund_due(conn: asyncpg.Connection, gateway: Gateway, event: RefundDue) -> None:
    """Give a paid invoice back (a second event for it finds it refunded and does nothing)."""
    invoice = await repo.get_invoice(conn, event.invoice_id)
    if invoice is not None and invoice.status == "paid":
        await refund(conn, gateway, invoice)


def for_gateway(gateway: Gateway) -> list[outbox.Consumer]:
    """The consumers of deal events and of Stripe events, sharing one gateway."""

    async def handle_deals(conn: asyncpg.Connection, rows: list[outbox.OutboxRow]) -> None:
        for row in rows:
            event = outbox.decode(row, DealEvent)
            if isinstance(event, DealAgreed):
                await on_deal_agreed(conn, event)
            else:
                await on_deal_cancelled(conn, gateway, event)

    async def handle_stripe(conn: asyncpg.Connection, rows: list[outbox.OutboxRow]) -> None:
        for row in rows:
            await webhooks.process(conn, gateway, outbox.decode(row, webhooks.StripeEventReceived))

    async def handle_refunds(conn: asyncpg.Connection, rows: list[outbox.OutboxRow]) -> None:
        for row in rows:
            await on_refund_due(conn, gateway, outbox.decode(row, RefundDue))

    return [
        outbox.Consumer("payments.deals", DEAL_TOPICS, handle_deals, batch_size=1),
        outbox.Consumer("payments.stripe", STRIPE_TOPICS, handle_stripe, batch_size=1),
        outbox.Consumer("payments.refunds", REFUND_TOPICS, handle_refunds, batch_size=1),
    ]


@contextlib.asynccontextmanager
async def consumers(settings: Settings) -> AsyncIterator[list[outbox.Consumer]]:
    """Payments' consumers with their own Stripe client (registered in exchange.jobs.CONSUMER_SOURCES)."""
    async with open_gateway(settings) as gateway:
        yield for_gateway(gateway)
