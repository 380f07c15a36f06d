"""Paying an invoice: its one live PaymentIntent, created or reused, and confirmed on the server when asked."""

import logging
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel.auth import Principal, require
from exchange.kernel.errors import Conflict, Forbidden, InvalidTransition, field_error
from payments import repo
from payments.gateway import CANCELLABLE, CardError, Gateway, GatewayError, StripeError
from payments.invoices import SETTLED, apply_intent, next_action, payment_error, visible
from payments.repo import InvoiceRow
from payments.schemas import InvoiceOut, PaymentOut

log = logging.getLogger("payments")


class PayResult(msgspec.Struct, frozen=True, kw_only=True):
    """A pay call's outcome."""

    intent: Any
    invoice: InvoiceRow
    declined: dict[str, Any] | None = None


def payment_out(result: PayResult, invoice: InvoiceOut) -> PaymentOut:
    """A pay call's answer: the intent's id, client secret, status and next action, and the invoice."""
    intent = result.intent
    return PaymentOut(
        payment_intent_id=intent.id,
        client_secret=intent.client_secret,
        status=intent.status,
        next_action=next_action(intent),
        invoice=invoice,
    )


def _reusable(intent: Any, payment_method: str | None) -> bool:
    """Whether this attempt's PaymentIntent can still carry the payment."""
    if intent.status in ("canceled", "succeeded"):
        return intent.status == "succeeded"
    if intent.status == "requires_payment_method":
        return intent.last_payment_error is None
    if intent.status == "requires_action":
        return payment_method is None or payment_method == intent.payment_method
    return True


async def _create_intent(
    conn: asyncpg.Connection, gateway: Gateway, invoice: InvoiceRow, payment_method: str | None
) -> tuple[Any, InvoiceRow]:
    attempt = invoice.payment_attempts + 1
    metadata = {
        "invoice_id": str(invoice.id),
        "deal_id": str(invoice.deal_id),
        "party": invoice.party,
        "instalment": str(invoice.instalment),
    }
    # Stripe replays a create with the same key: a retry after this transaction failed gets the same
    # intent back instead of a second one (the sandbox ignores the key; reconcile finds such orphans).
    key = f"tmx-invoice-{invoice.id}-attempt-{attempt}-{payment_method or 'client'}"
    intent = await gateway.create_intent(
        amount=invoice.amount, metadata=metadata, payment_method=payment_method, idempotency_key=key
    )
    await repo.record_intent(conn, intent.id, invoice.id, attempt, invoice.amount)
    invoice = await repo.update_invoice(
        conn,
        invoice.id,
        payment_intent_id=intent.id,
        payment_attempts=attempt,
        next_action=None,
    )
    return intent, invoice


async def pay(
    conn: asyncpg.Connection,
    gateway: Gateway,
    principal: Principal | None,
    invoice_id: UUID,
    payment_method: str | None,
) -> PayResult:
    """Create or reuse the invoice's one live PaymentIntent; with a PaymentMethod, confirm it on the server."""
    principal = require(principal)
    invoice = visible(await repo.get_invoice(conn, invoice_id, lock=True), principal)
    if not principal.is_member_of(invoice.org_id, "editor"):
        raise Forbidden("only the invoiced organization's editors and owners may pay it")
    if invoice.status in ("refunded", "void"):
        raise InvalidTransition(f"the invoice is {invoice.status} and cannot be paid")
    try:
        return await _pay_locked(conn, gateway, invoice, payment_method)
    except StripeError as exc:
        log.warning("Stripe refused a payment step for invoice %s: %s", invoice.id, exc.__class__.__name__)
        if payment_method and (exc.http_status == 404 or getattr(exc, "param", None) == "payment_method"):
            raise field_error("payment_method", "Stripe knows no such PaymentMethod") from None
        if exc.http_status and 400 <= exc.http_status < 500:
            raise Conflict(
                f"the payment gateway refused the request: {exc.user_message or 'invalid request'}"
            ) from None
        raise GatewayError("the payment gateway did not answer; nothing was charged twice, try again") from None


async def _pay_locked(
    conn: asyncpg.Connection, gateway: Gateway, invoice: InvoiceRow, payment_method: str | None
) -> PayResult:
    intent = None
    if invoice.payment_intent_id:
        intent = await gateway.retrieve_intent(invoice.payment_intent_id)
        invoice = await apply_intent(conn, gateway, invoice, intent)
        if invoice.status in SETTLED or intent.status in ("processing", "requires_capture"):
            return PayResult(intent=intent, invoice=invoice)
        if not _reusable(intent, payment_method):
            if intent.status in CANCELLABLE:
                # The old attempt must be unusable before a new one exists: never two live intents.
                intent = await gateway.cancel_intent(intent.id)
            intent = None
    if intent is None:
        intent, invoice = await _create_intent(conn, gateway, invoice, payment_method)
    elif (
        payment_method
        and intent.payment_method != payment_method
        and intent.status in ("requires_payment_method", "requires_confirmation")
    ):
        intent = await gateway.set_payment_method(intent.id, payment_method)
    if payment_method and intent.status == "requires_confirmation":
        try:
            intent = await gateway.confirm_intent(intent.id, f"tmx-confirm-{intent.id}-{payment_method}")
        except CardError as declined:
            intent = await gateway.retrieve_intent(intent.id)
            invoice = await apply_intent(conn, gateway, invoice, intent, declined)
            return PayResult(intent=intent, invoice=invoice, declined=payment_error(intent, declined) or {})
    invoice = await apply_intent(conn, gateway, invoice, intent)
    return PayResult(intent=intent, invoice=invoice)
