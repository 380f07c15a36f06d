"""What other domains may ask of deals: open one already agreed (an express licence, an auction's result)."""

from typing import Any, Literal
from uuid import UUID

import asyncpg

from exchange.deals import repo, service
from exchange.deals.repo import DealRow
from exchange.deals.schemas import DealOut
from exchange.kernel.schemas import Money

__all__ = ["DealOut", "DealRow", "insert_seeded", "open_agreed", "to_out"]

to_out = service.to_out


async def open_agreed(
    conn: asyncpg.Connection,
    *,
    origin: Literal["express_licence", "auction"],
    offer_id: UUID,
    buyer_org_id: UUID,
    seller_org_id: UUID,
    title: str,
    value: Money,
    transfer_mode: str,
    summary: str,
    created_by: UUID,
    details: dict[str, Any],
) -> DealRow:
    """A deal agreed at once on the given terms (terms_version 1, confirmed by both sides), in the caller's transaction.

    Its DealAgreed event goes through the outbox like any agreement, so payments issues the fee invoices."""
    at = service.now()
    deal = await repo.insert_agreed(
        conn,
        {
            "title": title,
            "offer_id": offer_id,
            "buyer_org_id": buyer_org_id,
            "seller_org_id": seller_org_id,
            "created_by": created_by,
            "origin": origin,
            "value_amount": value.amount,
            "value_currency": value.currency,
            "transfer_mode": transfer_mode,
            "terms_summary": summary,
            "agreed_at": at,
        },
    )
    trail = {
        "origin": origin,
        "offer_id": str(offer_id),
        "buyer_org_id": str(buyer_org_id),
        "seller_org_id": str(seller_org_id),
        "value": {"amount": value.amount, "currency": value.currency},
        "transfer_mode": transfer_mode,
        "summary": summary,
    }
    await repo.append_event(conn, deal.id, created_by, buyer_org_id, "created", trail | details)
    await service.record_nda(conn, deal)
    await repo.append_event(conn, deal.id, None, None, "agreed", {"terms_version": 1, "origin": origin})
    await service.emit_agreed(conn, deal)
    return deal


async def insert_seeded(conn: asyncpg.Connection, values: dict[str, Any], members: dict[UUID, UUID]) -> bool:
    """Load one demo deal (fixed id, stage, past times) with the trail its times imply, each entry by the member of
    `members` (org id -> member id) who acted; an agreed one goes through the outbox like any agreement, so payments
    issues its fee invoices. False when it is there already."""
    deal = await repo.insert_seeded(conn, values)
    if deal is None:
        return False
    buyer = (members[deal.buyer_org_id], deal.buyer_org_id)
    seller = (members[deal.seller_org_id], deal.seller_org_id)
    trail: list[tuple[Any, ...]] = [(deal.created_at, *buyer, "created", service.created_details(deal))]
    if deal.terms_proposed_at is not None and deal.terms_proposed_by_org_id is not None:
        proposer = (members[deal.terms_proposed_by_org_id], deal.terms_proposed_by_org_id)
        trail.append((deal.terms_proposed_at, *proposer, "terms_proposed", service.terms_details(deal)))
    if deal.agreed_at is not None:
        for side, actor in (("seller", seller), ("buyer", buyer)):
            trail.append((deal.agreed_at, *actor, "confirmed", {"side": side, "terms_version": deal.terms_version}))
        trail.append((deal.agreed_at, *buyer, "agreed", {"terms_version": deal.terms_version}))
    if deal.cancelled_at is not None:
        before = "negotiating" if deal.terms_proposed_at is not None else "open"
        trail.append((deal.cancelled_at, *buyer, "cancelled", {"reason": deal.cancel_reason, "stage_before": before}))
    for at, member_id, org_id, action, details in trail:
        await repo.append_event(conn, deal.id, member_id, org_id, action, details, at)
    if deal.stage == "agreed":
        await service.emit_agreed(conn, deal)
    return True
