"""Rules of fees, invoices and payments: who may do what, and how Stripe's answers move an invoice."""

import logging
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel import outbox
from exchange.kernel.auth import Principal, require, require_operator
from exchange.kernel.events import DealAgreed, DealCancelled, DealFeesPaid, DealInvoiced
from exchange.kernel.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidTransition,
    NotFound,
    Unprocessable,
    field_error,
    param_error,
)
from exchange.kernel.schemas import FieldError, Money
from payments import fees, repo
from payments.gateway import CardError, Gateway, StripeError
from payments.repo import InvoiceRow, ScheduleRow
from payments.schemas import (
    InvoiceOut,
    PartyShare,
    PaymentOut,
    Quote,
    QuoteTier,
    ScheduleIn,
    ScheduleOut,
    SplitOut,
    TierOut,
)

log = logging.getLogger("payments")

# PaymentIntent statuses a payer can still complete, and those Stripe lets us cancel.
_IN_FLIGHT = frozenset({"processing", "requires_action", "requires_capture"})
_CANCELLABLE = frozenset({"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"})


class GatewayError(DomainError):
    """Stripe did not answer as expected; nothing was recorded as paid."""

    status, type, title = 502, "payment-gateway-error", "Payment gateway error"


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(timezone.utc)


def _vnd(amount: int) -> Money:
    return Money(amount=amount, currency="VND")


# --- schedules and quotes -------------------------------------------------------------


def to_schedule(row: ScheduleRow) -> fees.Schedule:
    """The arithmetic view of a stored schedule."""
    return fees.Schedule(
        tiers=tuple(fees.Tier(up_to=t.get("up_to"), bps=t["bps"]) for t in row.tiers),
        minimum_fee=row.minimum_fee, maximum_fee=row.maximum_fee, buyer_bps=row.buyer_bps, seller_bps=row.seller_bps,
    )


def schedule_out(row: ScheduleRow) -> ScheduleOut:
    """A stored schedule as the API shows it."""
    return ScheduleOut(
        version=row.version, effective_from=row.effective_from, currency=row.currency,
        tiers=[TierOut(up_to=t.get("up_to"), bps=t["bps"]) for t in row.tiers],
        minimum_fee=_vnd(row.minimum_fee),
        maximum_fee=None if row.maximum_fee is None else _vnd(row.maximum_fee),
        split=SplitOut(buyer_bps=row.buyer_bps, seller_bps=row.seller_bps),
        max_charge=_vnd(fees.STRIPE_MAX_CHARGE_VND), created_at=row.created_at,
    )


async def current_schedule(conn: asyncpg.Connection) -> ScheduleRow:
    """The schedule in force now."""
    return await repo.schedule_at(conn)


async def put_schedule(conn: asyncpg.Connection, principal: Principal | None, data: ScheduleIn) -> ScheduleRow:
    """Store a new version effective now (operators); a 422 names every invalid field."""
    operator = require_operator(principal)
    schedule = fees.Schedule(
        tiers=tuple(fees.Tier(up_to=t.up_to, bps=t.bps) for t in data.tiers),
        minimum_fee=data.minimum_fee.amount,
        maximum_fee=None if data.maximum_fee is None else data.maximum_fee.amount,
        buyer_bps=data.split.buyer_bps, seller_bps=data.split.seller_bps,
    )
    problems = fees.check(schedule)
    if problems:
        detail = "; ".join(f"{f}: {m}" for f, m in problems)
        raise Unprocessable(detail, errors=[FieldError(field=f, message=m) for f, m in problems])
    values = {
        "tiers": [{"up_to": t.up_to, "bps": t.bps} for t in schedule.tiers],
        "minimum_fee": schedule.minimum_fee, "maximum_fee": schedule.maximum_fee,
        "buyer_bps": schedule.buyer_bps, "seller_bps": schedule.seller_bps,
    }
    return await repo.insert_schedule(conn, values, operator.member_id)


def _share(bps: int, amount: int, parts: tuple[int, ...]) -> PartyShare:
    return PartyShare(share_bps=bps, amount=_vnd(amount), instalments=[_vnd(p) for p in parts])


def quote_of(row: ScheduleRow, amount: int) -> Quote:
    """The breakdown of a deal value under a schedule."""
    b = fees.compute(amount, to_schedule(row))
    return Quote(
        schedule_version=row.version, deal_value=_vnd(amount),
        tiers=[QuoteTier(start=line.start, up_to=line.up_to, bps=line.bps, base=_vnd(line.base)) for line in b.lines],
        tiered_fee=_vnd(b.tiered_fee), clamped=b.clamp, fee=_vnd(b.fee),
        buyer=_share(row.buyer_bps, b.buyer, b.buyer_instalments),
        seller=_share(row.seller_bps, b.seller, b.seller_instalments),
    )


async def quote(conn: asyncpg.Connection, amount: int | None, currency: str) -> Quote:
    """The fee a deal of this value would pay now."""
    if amount is None:
        raise param_error("amount", "required: the deal value in VND")
    if currency.upper() != "VND":
        raise param_error("currency", "only VND is supported")
    return quote_of(await repo.schedule_at(conn), amount)


# --- invoices -----------------------------------------------------------------------------


def invoice_out(row: InvoiceRow) -> InvoiceOut:
    """An invoice as the API shows it."""
    values = msgspec.structs.asdict(row)
    values["amount"] = {"amount": row.amount, "currency": row.currency}
    return msgspec.convert(values, InvoiceOut)


def _visible(row: InvoiceRow | None, principal: Principal) -> InvoiceRow:
    """Only the invoiced organization's members and operators see an invoice; others get 404."""
    if row is None or not (principal.is_operator or principal.is_member_of(row.org_id)):
        raise NotFound("no such invoice")
    return row


async def get_invoice(conn: asyncpg.Connection, principal: Principal | None, invoice_id: UUID) -> InvoiceRow:
    """One invoice for its organization's members and operators."""
    return _visible(await repo.get_invoice(conn, invoice_id), require(principal))


async def list_invoices(
    conn: asyncpg.Connection, principal: Principal | None, *, deal_id: UUID | None, status: str | None,
    after: tuple[datetime, UUID] | None, limit: int,
) -> list[InvoiceRow]:
    """A page of the caller's organization's invoices (every invoice for operators)."""
    p = require(principal)
    if not p.is_operator and p.org_id is None:
        raise Forbidden("only members of an organization and operators have invoices")
    org_id = None if p.is_operator else p.org_id
    return await repo.list_invoices(conn, org_id=org_id, deal_id=deal_id, status=status, after=after, limit=limit)


# --- how a PaymentIntent moves an invoice ----------------------------------------------


def status_from_intent(current: str, intent_status: str, failed: bool) -> str:
    """The invoice status after reading its PaymentIntent: states only move forward from paid on."""
    if current in ("paid", "refunded", "void"):
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


def _payment_error(intent: Any, error: CardError | None = None) -> dict[str, Any] | None:
    """What went wrong with the last attempt, from Stripe's answer (code and message only)."""
    source = _as_dict(getattr(intent, "last_payment_error", None)) or {}
    if error is not None:
        source = {"code": error.code, "message": error.user_message, **source}
    if not source:
        return None
    return {k: source[k] for k in ("code", "decline_code", "message") if source.get(k)}


async def apply_intent(
    conn: asyncpg.Connection, gateway: Gateway, invoice: InvoiceRow, intent: Any, error: CardError | None = None
) -> InvoiceRow:
    """Bring a locked invoice in line with its PaymentIntent as Stripe reports it; no change, no write."""
    if intent.id != invoice.payment_intent_id:
        # An earlier attempt, cancelled before the current one was created: nothing to learn from it.
        return invoice
    if invoice.status == "void" and intent.status == "succeeded":
        # Paid after the deal was cancelled (the payer confirmed while it was being voided): give it back.
        invoice = await repo.update_invoice(conn, invoice.id, status="paid", paid_at=now(), next_action=None)
        return await refund(conn, gateway, invoice)
    error_details = _payment_error(intent, error)
    status = status_from_intent(invoice.status, intent.status, error_details is not None)
    changes: dict[str, Any] = {}
    if status != invoice.status:
        changes["status"] = status
    next_action = _as_dict(intent.next_action) if intent.status == "requires_action" else None
    if status in ("open", "processing", "failed") and next_action != invoice.next_action:
        changes["next_action"] = next_action
    if status == "failed" and error_details != invoice.last_payment_error:
        changes["last_payment_error"] = error_details
    elif status != "failed" and invoice.last_payment_error is not None:
        changes["last_payment_error"] = None
    if status == "paid" and invoice.paid_at is None:
        changes.update(paid_at=now(), next_action=None)
    if not changes:
        return invoice
    updated = await repo.update_invoice(conn, invoice.id, **changes)
    if updated.status == "paid" and invoice.status != "paid":
        await _close_if_all_paid(conn, updated.deal_id)
    return updated


async def _close_if_all_paid(conn: asyncpg.Connection, deal_id: UUID) -> None:
    """Emit deal.fees_paid once, when every invoice of the deal is paid."""
    await repo.lock_fee_deal(conn, deal_id)
    invoices = await repo.deal_invoices(conn, deal_id)
    if invoices and all(i.status == "paid" for i in invoices) and await repo.mark_fees_paid(conn, deal_id):
        await outbox.emit(conn, deal_id, DealFeesPaid(deal_id=deal_id))


# --- paying ---------------------------------------------------------------------------------


class PayResult(msgspec.Struct, frozen=True, kw_only=True):
    """A pay call's outcome."""

    intent: Any
    invoice: InvoiceRow
    declined: dict[str, Any] | None = None


def payment_out(result: PayResult, invoice: InvoiceOut) -> PaymentOut:
    """A pay call's answer: the intent's id, client secret, status and next action, and the invoice."""
    intent = result.intent
    return PaymentOut(
        payment_intent_id=intent.id, client_secret=intent.client_secret, status=intent.status,
        next_action=_as_dict(intent.next_action) if intent.status == "requires_action" else None, invoice=invoice,
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


async def _create_intent(conn: asyncpg.Connection, gateway: Gateway, invoice: InvoiceRow, payment_method: str | None) -> tuple[Any, InvoiceRow]:
    attempt = invoice.payment_attempts + 1
    metadata = {
        "invoice_id": str(invoice.id), "deal_id": str(invoice.deal_id), "party": invoice.party,
        "instalment": str(invoice.instalment),
    }
    # Stripe replays a create with the same key: a retry after this transaction failed gets the same
    # intent back instead of a second one (the sandbox ignores the key; reconcile finds such orphans).
    key = f"tmx-invoice-{invoice.id}-attempt-{attempt}-{payment_method or 'client'}"
    intent = await gateway.create_intent(amount=invoice.amount, metadata=metadata, payment_method=payment_method, idempotency_key=key)
    await repo.record_intent(conn, intent.id, invoice.id, attempt, invoice.amount)
    invoice = await repo.update_invoice(
        conn, invoice.id, payment_intent_id=intent.id, payment_attempts=attempt, next_action=None,
    )
    return intent, invoice


async def pay(
    conn: asyncpg.Connection, gateway: Gateway, principal: Principal | None, invoice_id: UUID, payment_method: str | None
) -> PayResult:
    """Create or reuse the invoice's one live PaymentIntent; with a PaymentMethod, confirm it on the server."""
    p = require(principal)
    invoice = _visible(await repo.get_invoice(conn, invoice_id, lock=True), p)
    if not p.is_member_of(invoice.org_id, "editor"):
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
            raise Conflict(f"the payment gateway refused the request: {exc.user_message or 'invalid request'}") from None
        raise GatewayError("the payment gateway did not answer; nothing was charged twice, try again") from None


async def _pay_locked(conn: asyncpg.Connection, gateway: Gateway, invoice: InvoiceRow, payment_method: str | None) -> PayResult:
    intent = None
    if invoice.payment_intent_id:
        intent = await gateway.retrieve_intent(invoice.payment_intent_id)
        invoice = await apply_intent(conn, gateway, invoice, intent)
        if invoice.status in ("paid", "refunded", "void") or intent.status in ("processing", "requires_capture"):
            return PayResult(intent=intent, invoice=invoice)
        if not _reusable(intent, payment_method):
            if intent.status in _CANCELLABLE:
                # The old attempt must be unusable before a new one exists: never two live intents.
                intent = await gateway.cancel_intent(intent.id)
            intent = None
    if intent is None:
        intent, invoice = await _create_intent(conn, gateway, invoice, payment_method)
    elif payment_method and intent.payment_method != payment_method and intent.status in ("requires_payment_method", "requires_confirmation"):
        intent = await gateway.set_payment_method(intent.id, payment_method)
    if payment_method and intent.status == "requires_confirmation":
        try:
            intent = await gateway.confirm_intent(intent.id, f"tmx-confirm-{intent.id}-{payment_method}")
        except CardError as declined:
            intent = await gateway.retrieve_intent(intent.id)
            invoice = await apply_intent(conn, gateway, invoice, intent, declined)
            return PayResult(intent=intent, invoice=invoice, declined=_payment_error(intent, declined) or {})
    invoice = await apply_intent(conn, gateway, invoice, intent)
    return PayResult(intent=intent, invoice=invoice)


# --- refunds ----------------------------------------------------------------------------------


async def refund(conn: asyncpg.Connection, gateway: Gateway, invoice: InvoiceRow) -> InvoiceRow:
    """Refund a paid invoice in full through Stripe and mark it refunded once Stripe's refunds add up."""
    assert invoice.payment_intent_id is not None
    already = await gateway.refunded_amount(invoice.payment_intent_id)
    refund_id = invoice.refund_id
    if already < invoice.amount:
        created = await gateway.refund(invoice.payment_intent_id, invoice.amount - already, f"tmx-refund-{invoice.id}-{already}")
        refund_id = created.id
    if await gateway.refunded_amount(invoice.payment_intent_id) < invoice.amount:
        raise GatewayError("Stripe does not show the refund yet; try again")
    return await repo.update_invoice(conn, invoice.id, status="refunded", refunded_at=now(), refund_id=refund_id)


async def refund_invoice(conn: asyncpg.Connection, gateway: Gateway, principal: Principal | None, invoice_id: UUID) -> InvoiceRow:
    """An operator refunds one paid invoice in full."""
    require_operator(principal)
    invoice = await repo.get_invoice(conn, invoice_id, lock=True)
    if invoice is None:
        raise NotFound("no such invoice")
    if invoice.status != "paid":
        raise InvalidTransition(f"only a paid invoice can be refunded; this one is {invoice.status}")
    try:
        return await refund(conn, gateway, invoice)
    except StripeError as exc:
        log.warning("Stripe refused the refund of invoice %s: %s", invoice.id, exc.__class__.__name__)
        raise GatewayError("the payment gateway refused or did not answer the refund; nothing was marked refunded") from None


# --- consumers ----------------------------------------------------------------------------------


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
            await repo.insert_invoice(conn, {
                "deal_id": event.deal_id, "org_id": org_id, "party": party, "instalment": number,
                "instalments": len(parts), "amount": amount, "currency": "VND",
                "fee_schedule_version": schedule.version,
            })
    await repo.record_agreement(conn, event.deal_id, {
        "value_amount": event.value.amount, "currency": event.value.currency, "buyer_org_id": event.buyer_org_id,
        "seller_org_id": event.seller_org_id, "broker_org_id": event.broker_org_id,
        "terms_version": event.terms_version, "agreed_at": event.agreed_at, "fee_schedule_version": schedule.version,
    })
    invoices = await repo.deal_invoices(conn, event.deal_id)
    await outbox.emit(conn, event.deal_id, DealInvoiced(
        deal_id=event.deal_id, invoice_ids=[i.id for i in invoices], fee_schedule_version=schedule.version,
    ))
    if not invoices and await repo.mark_fees_paid(conn, event.deal_id):
        await outbox.emit(conn, event.deal_id, DealFeesPaid(deal_id=event.deal_id))


class StillProcessing(Exception):
    """A payment is being processed by Stripe; the cancellation is retried once it settles."""


async def on_deal_cancelled(conn: asyncpg.Connection, gateway: Gateway, event: DealCancelled) -> None:
    """Void what is unpaid, cancel intents in flight and refund what was paid."""
    invoices = await repo.deal_invoices(conn, event.deal_id, lock=True)
    await repo.lock_fee_deal(conn, event.deal_id)
    await repo.mark_cancelled(conn, event.deal_id, event.reason, event.cancelled_at)
    for invoice in invoices:
        if invoice.status in ("void", "refunded"):
            continue
        if invoice.status != "paid" and invoice.payment_intent_id:
            intent = await gateway.retrieve_intent(invoice.payment_intent_id)
            if intent.status in _CANCELLABLE:
                intent = await gateway.cancel_intent(intent.id)
            elif intent.status == "processing":
                raise StillProcessing(f"invoice {invoice.id}: its payment is still processing")
            invoice = await apply_intent(conn, gateway, invoice, intent)
        if invoice.status == "paid":
            await refund(conn, gateway, invoice)
        else:
            await repo.update_invoice(conn, invoice.id, status="void", voided_at=now(), next_action=None)
