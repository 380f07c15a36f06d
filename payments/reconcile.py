"""Reconciliation: every invoice against its PaymentIntent in Stripe, and Stripe's intents against the invoices."""

import sys
from collections.abc import Callable
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel import db
from exchange.kernel.settings import Settings
from payments import repo
from payments.gateway import Gateway, StripeError, open_gateway
from payments.repo import InvoiceRow

# The PaymentIntent statuses each invoice status is consistent with.
_EXPECTED = {
    "open": {"requires_payment_method", "requires_confirmation", "canceled"},
    "processing": {"processing", "requires_action", "requires_capture"},
    "failed": {"requires_payment_method", "canceled"},
    "paid": {"succeeded"},
    "refunded": {"succeeded"},
    "void": {"canceled", "requires_payment_method"},
}
_MONEY_TAKEN = frozenset({"succeeded", "processing", "requires_capture"})


class Disagreement(msgspec.Struct, frozen=True, kw_only=True):
    """One way the database and Stripe disagree."""

    invoice_id: UUID | None
    payment_intent_id: str | None
    problem: str


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """What was compared and what disagreed."""

    invoices: int
    intents_checked: int
    foreign_intents: int
    disagreements: list[Disagreement]


def _invoice_id_of(intent: Any) -> str | None:
    metadata = intent.metadata.to_dict() if intent.metadata else {}
    return metadata.get("invoice_id")


async def _check_invoice(gateway: Gateway, invoice: InvoiceRow) -> list[Disagreement]:
    def problem(text: str) -> Disagreement:
        return Disagreement(invoice_id=invoice.id, payment_intent_id=invoice.payment_intent_id, problem=text)

    if invoice.payment_intent_id is None:
        if invoice.status in ("paid", "refunded", "processing"):
            return [problem(f"invoice is {invoice.status} but has no PaymentIntent")]
        return []
    try:
        intent = await gateway.retrieve_intent(invoice.payment_intent_id)
    except StripeError as exc:
        return [problem(f"PaymentIntent cannot be read from Stripe ({exc.__class__.__name__})")]
    found = []
    if intent.amount != invoice.amount or intent.currency.upper() != invoice.currency.upper():
        found.append(
            problem(
                f"amount differs: invoice {invoice.amount} {invoice.currency}, Stripe {intent.amount} {intent.currency.upper()}"
            )
        )
    metadata_id = _invoice_id_of(intent)
    if metadata_id != str(invoice.id):
        found.append(problem(f"PaymentIntent metadata names invoice {metadata_id}"))
    if intent.status not in _EXPECTED[invoice.status]:
        found.append(problem(f"status differs: invoice {invoice.status}, PaymentIntent {intent.status}"))
    if intent.status == "succeeded":
        refunded = await gateway.refunded_amount(intent.id)
        if invoice.status == "refunded" and refunded < invoice.amount:
            found.append(problem(f"invoice is refunded but Stripe shows {refunded} of {invoice.amount} refunded"))
        if invoice.status == "paid" and refunded > 0:
            found.append(problem(f"invoice is paid but Stripe shows {refunded} refunded"))
        if invoice.status == "void" and refunded < intent.amount:
            found.append(problem("invoice is void but its PaymentIntent took money that was not refunded"))
    return found


async def _load(conn: asyncpg.Connection) -> tuple[list[InvoiceRow], dict[str, UUID]]:
    return await repo.all_invoices(conn), await repo.intents_by_id(conn)


async def reconcile(
    conn: asyncpg.Connection, gateway: Gateway, progress: Callable[[str], None] | None = None
) -> Report:
    """Compare every invoice with Stripe, then look for intents made for invoices that never recorded them."""
    return await _compare(*await _load(conn), gateway, progress)


async def _compare(
    invoices: list[InvoiceRow], known: dict[str, UUID], gateway: Gateway, progress: Callable[[str], None] | None
) -> Report:
    by_id = {i.id: i for i in invoices}
    disagreements: list[Disagreement] = []
    for number, invoice in enumerate(invoices, start=1):
        disagreements.extend(await _check_invoice(gateway, invoice))
        if progress and number % 100 == 0:
            progress(f"{number}/{len(invoices)} invoices compared")
    checked = foreign = 0
    async for intent in gateway.all_intents():
        checked += 1
        invoice_id = _invoice_id_of(intent)
        try:
            invoice = by_id.get(UUID(invoice_id)) if invoice_id else None
        except ValueError:
            invoice = None
        if invoice is None:
            foreign += 1  # another system's, or another database's when a sandbox account is shared
            continue
        if intent.id == invoice.payment_intent_id:
            continue
        if intent.status == "canceled":
            continue
        if intent.id not in known:
            # Created in Stripe by a transaction that then failed (the row never stored its id).
            text = f"orphan PaymentIntent ({intent.status}) never recorded for the invoice"
        else:
            text = f"an earlier attempt is still {intent.status}"
        if intent.status in _MONEY_TAKEN:
            text += ": it took money"
        disagreements.append(Disagreement(invoice_id=invoice.id, payment_intent_id=intent.id, problem=text))
    return Report(invoices=len(invoices), intents_checked=checked, foreign_intents=foreign, disagreements=disagreements)


def render(report: Report) -> list[str]:
    """The lines `exchange reconcile` prints."""
    lines = [f"invoice {d.invoice_id or '-'} / {d.payment_intent_id or '-'}: {d.problem}" for d in report.disagreements]
    lines.append(
        f"{report.invoices} invoices and {report.intents_checked} PaymentIntents compared"
        f" ({report.foreign_intents} belong to no invoice here): {len(report.disagreements)} disagreement(s)"
    )
    return lines


async def main(settings: Settings) -> int:
    """`exchange reconcile`: print every disagreement; 1 when there is any, else 0."""
    conn = await db.connect(settings.database_url)
    try:
        invoices, known = await _load(conn)
    finally:
        # Closed before Stripe is asked anything: no connection waits on it.
        await conn.close()
    async with open_gateway(settings) as gateway:
        report = await _compare(invoices, known, gateway, lambda line: print(line, file=sys.stderr))
    for line in render(report):
        print(line)
    return 1 if report.disagreements else 0
