"""Refunds: a paid invoice given back in full through Stripe, with no row locked while Stripe answers."""

import asyncio
import logging
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from exchange.kernel import audit, outbox
from exchange.kernel.auth import Principal, require_operator
from exchange.kernel.db import Begin
from exchange.kernel.errors import InvalidTransition, NotFound
from exchange.kernel.events import InvoiceRefunded
from payments import leases, repo
from payments.gateway import Gateway, GatewayError, GatewayUnavailable, NoAnswer, StripeError
from payments.repo import InvoiceRow

log = logging.getLogger("payments")


class RefundDue(outbox.Event, frozen=True, kw_only=True, tag="payments.refund_due"):
    """A paid invoice to give back (its deal was cancelled): refunded by a consumer, outside the settling transaction."""

    invoice_id: UUID


async def give_back(gateway: Gateway, invoice: InvoiceRow) -> str | None:
    """Refund what Stripe does not show refunded yet; the refund's id (None when nothing was left to refund)."""
    assert invoice.payment_intent_id is not None
    already = await gateway.refunded_amount(invoice.payment_intent_id)
    refund_id = invoice.refund_id
    if already < invoice.amount:
        created = await gateway.refund(
            invoice.payment_intent_id, invoice.amount - already, f"tmx-refund-{invoice.id}-{already}"
        )
        refund_id = created.id
    if await gateway.refunded_amount(invoice.payment_intent_id) < invoice.amount:
        raise GatewayError("Stripe does not show the refund yet; try again")
    return refund_id


async def mark_refunded(conn: asyncpg.Connection, invoice_id: UUID, refund_id: str | None) -> InvoiceRow:
    """Record a refund Stripe shows in full (once: an invoice refunded meanwhile is returned as it is)."""
    invoice = await repo.get_invoice(conn, invoice_id, lock=True)
    assert invoice is not None
    if invoice.status != "paid":
        return invoice
    refunded = await repo.update_invoice(
        conn, invoice_id, status="refunded", refunded_at=datetime.now(UTC), refund_id=refund_id
    )
    await outbox.emit(
        conn, invoice_id, InvoiceRefunded(invoice_id=invoice_id, deal_id=refunded.deal_id, org_id=refunded.org_id)
    )
    return refunded


async def refund(conn: asyncpg.Connection, gateway: Gateway, invoice: InvoiceRow) -> InvoiceRow:
    """Refund a paid invoice in full through Stripe, then mark it refunded (consumers, in their own transaction)."""
    return await mark_refunded(conn, invoice.id, await give_back(gateway, invoice))


async def refund_invoice(
    begin: Begin, gateway: Gateway, principal: Principal | None, invoice_id: UUID, deadline: float, request_id: str
) -> InvoiceRow:
    """A finance operator refunds one paid invoice in full; waiting for the invoice and Stripe take at most `deadline`."""
    actor = require_operator(principal, "finance")

    def refundable(invoice: InvoiceRow | None) -> InvoiceRow:
        if invoice is None:
            raise NotFound("no such invoice")
        if invoice.status != "paid":
            raise InvalidTransition(f"only a paid invoice can be refunded; this one is {invoice.status}")
        return invoice

    until = asyncio.get_running_loop().time() + deadline
    try:
        async with leases.reserved(begin, invoice_id, refundable, until) as invoice, asyncio.timeout_at(until):
            refund_id = await give_back(gateway, invoice)
            async with begin() as conn:
                refunded = await mark_refunded(conn, invoice.id, refund_id)
                await audit.record(conn, actor, "refund", "invoice", invoice_id, None, request_id)
                return refunded
    except (TimeoutError, NoAnswer):
        log.warning("Stripe did not answer the refund of invoice %s in time", invoice_id)
        raise GatewayUnavailable(
            "the payment gateway did not answer the refund in time; nothing was marked refunded, retry shortly"
        ) from None
    except StripeError as exc:
        log.warning("Stripe refused the refund of invoice %s: %s", invoice_id, exc.__class__.__name__)
        raise GatewayError(
            "the payment gateway refused or did not answer the refund; nothing was marked refunded"
        ) from None
