"""Refunds: a paid invoice given back in full through Stripe."""

import logging
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from exchange.kernel import audit
from exchange.kernel.auth import Principal, require_operator
from exchange.kernel.errors import InvalidTransition, NotFound
from payments import repo
from payments.gateway import Gateway, GatewayError, StripeError
from payments.repo import InvoiceRow

log = logging.getLogger("payments")


async def refund(conn: asyncpg.Connection, gateway: Gateway, invoice: InvoiceRow) -> InvoiceRow:
    """Refund a paid invoice in full through Stripe and mark it refunded once Stripe's refunds add up."""
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
    return await repo.update_invoice(
        conn, invoice.id, status="refunded", refunded_at=datetime.now(UTC), refund_id=refund_id
    )


async def refund_invoice(
    conn: asyncpg.Connection, gateway: Gateway, principal: Principal | None, invoice_id: UUID, request_id: str
) -> InvoiceRow:
    """A finance operator refunds one paid invoice in full."""
    actor = require_operator(principal, "finance")
    invoice = await repo.get_invoice(conn, invoice_id, lock=True)
    if invoice is None:
        raise NotFound("no such invoice")
    if invoice.status != "paid":
        raise InvalidTransition(f"only a paid invoice can be refunded; this one is {invoice.status}")
    try:
        refunded = await refund(conn, gateway, invoice)
    except StripeError as exc:
        log.warning("Stripe refused the refund of invoice %s: %s", invoice.id, exc.__class__.__name__)
        raise GatewayError(
            "the payment gateway refused or did not answer the refund; nothing was marked refunded"
        ) from None
    await audit.record(conn, actor, "refund", "invoice", invoice_id, None, request_id)
    return refunded
