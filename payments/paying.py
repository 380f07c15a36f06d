"""Paying an invoice: its one live PaymentIntent, created or reused, and confirmed on the server when asked.

No connection or row lock is held while Stripe answers: the invoice is reserved (committed), Stripe is called, and
each outcome is recorded in a short transaction of its own, so a pay cut short anywhere leaves the invoice for a
retry or the read-back job to settle."""

import asyncio
import logging
from typing import Any
from uuid import UUID

import msgspec

from exchange.kernel.auth import Principal, require
from exchange.kernel.db import Begin
from exchange.kernel.errors import Conflict, Forbidden, InvalidTransition, field_error
from payments import leases, repo
from payments.gateway import (
    CANCELLABLE,
    CardError,
    Gateway,
    GatewayError,
    GatewayUnavailable,
    NoAnswer,
    StripeError,
)
from payments.invoices import SETTLED, next_action, payment_error, settle, visible
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


async def _settle(begin: Begin, intent: Any, error: CardError | None = None) -> InvoiceRow:
    async with begin() as conn:
        invoice = await settle(conn, intent, error)
    assert invoice is not None, "pay settles only intents it recorded"
    return invoice


async def _create_intent(
    begin: Begin, gateway: Gateway, invoice: InvoiceRow, payment_method: str | None
) -> tuple[Any, InvoiceRow]:
    attempt = invoice.payment_attempts + 1
    metadata = {
        "invoice_id": str(invoice.id),
        "deal_id": str(invoice.deal_id),
        "party": invoice.party,
        "instalment": str(invoice.instalment),
    }
    # The attempt number moves on only once its intent is recorded, so a retry after this call got no answer sends the
    # same key and Stripe replays the same intent instead of making a second (the sandbox ignores the key; reconcile
    # finds such orphans, never confirmed).
    key = f"tmx-invoice-{invoice.id}-attempt-{attempt}-{payment_method or 'client'}"
    intent = await gateway.create_intent(
        amount=invoice.amount, metadata=metadata, payment_method=payment_method, idempotency_key=key
    )
    async with begin() as conn:
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
    begin: Begin,
    gateway: Gateway,
    principal: Principal | None,
    invoice_id: UUID,
    payment_method: str | None,
    deadline: float,
) -> PayResult:
    """Create or reuse the invoice's one live PaymentIntent; with a PaymentMethod, confirm it on the server.

    Waiting for the invoice (another pay of it under way) and Stripe's answers together take at most `deadline`."""
    principal = require(principal)

    def payable(invoice: InvoiceRow | None) -> InvoiceRow:
        invoice = visible(invoice, principal)
        if not principal.is_member_of(invoice.org_id, "editor"):
            raise Forbidden("only the invoiced organization's editors and owners may pay it")
        if invoice.status in ("refunded", "void"):
            raise InvalidTransition(f"the invoice is {invoice.status} and cannot be paid")
        return invoice

    until = asyncio.get_running_loop().time() + deadline
    try:
        async with leases.reserved(begin, invoice_id, payable, until) as invoice, asyncio.timeout_at(until):
            return await _pay_reserved(begin, gateway, invoice, payment_method)
    except TimeoutError:
        log.warning("Stripe did not answer the payment of invoice %s within %g s", invoice_id, deadline)
        raise GatewayUnavailable(
            "the payment gateway did not answer in time; nothing was charged twice, pay again shortly"
        ) from None
    except StripeError as exc:
        log.warning("Stripe refused a payment step for invoice %s: %s", invoice_id, exc.__class__.__name__)
        if isinstance(exc, NoAnswer):
            raise GatewayUnavailable(
                "the payment gateway did not answer; nothing was charged twice, pay again shortly"
            ) from None
        if payment_method and (exc.http_status == 404 or getattr(exc, "param", None) == "payment_method"):
            raise field_error("payment_method", "Stripe knows no such PaymentMethod") from None
        if exc.http_status and 400 <= exc.http_status < 500:
            raise Conflict(
                f"the payment gateway refused the request: {exc.user_message or 'invalid request'}"
            ) from None
        raise GatewayError("the payment gateway failed; nothing was charged twice, try again") from None


async def _pay_reserved(begin: Begin, gateway: Gateway, invoice: InvoiceRow, payment_method: str | None) -> PayResult:
    intent = None
    if invoice.payment_intent_id:
        intent = await gateway.retrieve_intent(invoice.payment_intent_id)
        invoice = await _settle(begin, intent)
        if invoice.status in SETTLED or intent.status in ("processing", "requires_capture"):
            return PayResult(intent=intent, invoice=invoice)
        if not _reusable(intent, payment_method):
            if intent.status in CANCELLABLE:
                # The old attempt must be unusable before a new one exists: never two live intents.
                intent = await gateway.cancel_intent(intent.id)
            intent = None
    if intent is None:
        intent, invoice = await _create_intent(begin, gateway, invoice, payment_method)
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
            invoice = await _settle(begin, intent, declined)
            return PayResult(intent=intent, invoice=invoice, declined=payment_error(intent, declined) or {})
    invoice = await _settle(begin, intent)
    return PayResult(intent=intent, invoice=invoice)
