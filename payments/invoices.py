"""Invoices: who sees them, and how a PaymentIntent as Stripe reports it moves one (and closes the deal's fees)."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel import outbox
from exchange.kernel.auth import Principal, require
from exchange.kernel.errors import Forbidden, NotFound
from exchange.kernel.events import DealFeesPaid, InvoicePaid
from payments import repo
from payments.gateway import CardError
from payments.refunds import RefundDue
from payments.repo import InvoiceRow
from payments.schemas import InvoiceOut

# Invoice statuses no PaymentIntent moves any more, and the PaymentIntent statuses of a payment under way.
SETTLED = frozenset({"paid", "refunded", "void"})
_IN_FLIGHT = frozenset({"processing", "requires_action", "requires_capture"})


def invoice_out(row: InvoiceRow) -> InvoiceOut:
    """An invoice as the API shows it."""
    values = msgspec.structs.asdict(row)
    values["amount"] = {"amount": row.amount, "currency": row.currency}
    return msgspec.convert(values, InvoiceOut)


def visible(row: InvoiceRow | None, principal: Principal) -> InvoiceRow:
    """Only the invoiced organization's members and operators see an invoice; others get 404."""
    if row is None or not (principal.is_operator or principal.is_member_of(row.org_id)):
        raise NotFound("no such invoice")
    return row


async def get_invoice(conn: asyncpg.Connection, principal: Principal | None, invoice_id: UUID) -> InvoiceRow:
    """One invoice for its organization's members and operators."""
    return visible(await repo.get_invoice(conn, invoice_id), require(principal))


async def list_invoices(
    conn: asyncpg.Connection,
    principal: Principal | None,
    *,
    deal_id: UUID | None,
    status: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[InvoiceRow]:
    """A page of the caller's organization's invoices (every invoice for operators)."""
    principal = require(principal)
    if not principal.is_operator and principal.org_id is None:
        raise Forbidden("only members of an organization and operators have invoices")
    org_id = None if principal.is_operator else principal.org_id
    return await repo.list_invoices(conn, org_id=org_id, deal_id=deal_id, status=status, after=after, limit=limit)


def status_from_intent(current: str, intent_status: str, failed: bool) -> str:
    """The invoice status after reading its PaymentIntent: states only move forward from paid on."""
    if current in SETTLED:
        return current
    if intent_status == "succeeded":
        return "paid"
    if intent_status in _IN_FLIGHT:
        return "processing"
    if failed and intent_status in ("requires_payment_method", "canceled"):
        return "failed"
    return "open"


def _as_dict(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    return value.to_dict() if hasattr(value, "to_dict") else dict(value)


def next_action(intent: Any) -> dict[str, Any] | None:
    """What the payer must do next (3-D Secure), while the intent waits for it."""
    return _as_dict(intent.next_action) if intent.status == "requires_action" else None


def payment_error(intent: Any, error: CardError | None = None) -> dict[str, Any] | None:
    """What went wrong with the last attempt, from Stripe's answer (code and message only)."""
    source = _as_dict(getattr(intent, "last_payment_error", None)) or {}
    if error is not None:
        source = {"code": error.code, "message": error.user_message, **source}
    if not source:
        return None
    return {k: source[k] for k in ("code", "decline_code", "message") if source.get(k)}


async def settle(conn: asyncpg.Connection, intent: Any, error: CardError | None = None) -> InvoiceRow | None:
    """Lock the invoice a PaymentIntent read back from Stripe was made for and bring it in line with it.

    Pay, verified webhook events and the read-back job all settle here: under the row lock, and moving only forward,
    however many of them race; None for an intent of no invoice here."""
    invoice_id = await repo.invoice_for_intent(conn, intent.id)
    invoice = await repo.get_invoice(conn, invoice_id, lock=True) if invoice_id else None
    return await apply_intent(conn, invoice, intent, error) if invoice else None


async def apply_intent(
    conn: asyncpg.Connection, invoice: InvoiceRow, intent: Any, error: CardError | None = None
) -> InvoiceRow:
    """Bring a locked invoice in line with its PaymentIntent as Stripe reports it; no change, no write."""
    if intent.id != invoice.payment_intent_id:
        # An earlier attempt, cancelled before the current one was created: nothing to learn from it.
        return invoice
    if invoice.status == "void" and intent.status == "succeeded":
        # Paid after the deal was cancelled (the payer confirmed while it was being voided): given back by the refund
        # consumer, since no row lock is held while Stripe answers.
        invoice = await repo.update_invoice(
            conn, invoice.id, status="paid", paid_at=datetime.now(UTC), next_action=None
        )
        await outbox.emit(conn, invoice.deal_id, RefundDue(invoice_id=invoice.id))
        await outbox.emit(conn, invoice.id, _paid(invoice))
        return invoice
    error_details = payment_error(intent, error)
    status = status_from_intent(invoice.status, intent.status, error_details is not None)
    changes: dict[str, Any] = {}
    if status != invoice.status:
        changes["status"] = status
    action = next_action(intent)
    if status in ("open", "processing", "failed") and action != invoice.next_action:
        changes["next_action"] = action
    if status == "failed" and error_details != invoice.last_payment_error:
        changes["last_payment_error"] = error_details
    elif status != "failed" and invoice.last_payment_error is not None:
        changes["last_payment_error"] = None
    if status == "paid" and invoice.paid_at is None:
        changes.update(paid_at=datetime.now(UTC), next_action=None)
    if not changes:
        return invoice
    updated = await repo.update_invoice(conn, invoice.id, **changes)
    if updated.status == "paid" and invoice.status != "paid":
        await outbox.emit(conn, updated.id, _paid(updated))
        await _close_if_all_paid(conn, updated.deal_id)
    return updated


def _paid(invoice: InvoiceRow) -> InvoicePaid:
    return InvoicePaid(invoice_id=invoice.id, deal_id=invoice.deal_id, org_id=invoice.org_id)


async def _close_if_all_paid(conn: asyncpg.Connection, deal_id: UUID) -> None:
    """Emit deal.fees_paid once, when every invoice of the deal is paid."""
    await repo.lock_fee_deal(conn, deal_id)
    invoices = await repo.deal_invoices(conn, deal_id)
    if invoices and all(i.status == "paid" for i in invoices) and await repo.mark_fees_paid(conn, deal_id):
        await outbox.emit(conn, deal_id, DealFeesPaid(deal_id=deal_id))
