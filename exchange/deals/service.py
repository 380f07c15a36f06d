"""Rules for deals: who may open, see and move them, and what every transition records."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.deals import repo, rules
from exchange.deals.repo import DealRow, EventRow
from exchange.deals.schemas import CancelIn, ConfirmIn, DealCreate, DealOut, TermsIn, TermsOut
from exchange.kernel import audit, auth, outbox
from exchange.kernel.auth import Principal
from exchange.kernel.errors import Forbidden, NotFound, field_error
from exchange.kernel.events import DealAgreed, DealCancelled, DealTermsProposed, EventMoney
from exchange.kernel.http import check_if_match
from exchange.kernel.schemas import Money
from exchange.ndas import public as ndas


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def to_out(row: DealRow) -> DealOut:
    """A deal as its parties, broker and operators see it."""
    terms = None
    if row.terms_version and row.value_amount is not None and row.terms_proposed_at is not None:
        terms = TermsOut(
            value=Money(amount=row.value_amount, currency=row.value_currency or "VND"),
            transfer_mode=row.transfer_mode or "",
            summary=row.terms_summary or "",
            proposed_at=row.terms_proposed_at,
            proposed_by_org_id=row.terms_proposed_by_org_id,
        )
    return DealOut(
        id=row.id,
        title=row.title,
        offer_id=row.offer_id,
        demand_id=row.demand_id,
        buyer_org_id=row.buyer_org_id,
        seller_org_id=row.seller_org_id,
        broker_org_id=row.broker_org_id,
        stage=row.stage,
        terms_version=row.terms_version,
        terms=terms,
        buyer_confirmed=row.terms_version > 0 and row.buyer_confirmed_version == row.terms_version,
        seller_confirmed=row.terms_version > 0 and row.seller_confirmed_version == row.terms_version,
        agreed_at=row.agreed_at,
        fee_schedule_version=row.fee_schedule_version,
        invoiced_at=row.invoiced_at,
        closed_at=row.closed_at,
        cancelled_at=row.cancelled_at,
        cancel_reason=row.cancel_reason,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
        origin=row.origin,  # type: ignore[arg-type]
    )


def roles_of(principal: Principal, deal: DealRow) -> set[str]:
    """The parts the caller's organization plays in a deal: buyer, seller, broker."""
    org = principal.org_id
    if org is None:
        return set()
    parts = {"buyer": deal.buyer_org_id, "seller": deal.seller_org_id, "broker": deal.broker_org_id}
    return {name for name, org_id in parts.items() if org_id == org}


def _visible(principal: Principal, deal: DealRow) -> bool:
    return principal.is_operator or bool(roles_of(principal, deal))


async def _record(
    conn: asyncpg.Connection, principal: Principal | None, deal_id: UUID, action: str, details: dict[str, Any]
) -> None:
    await repo.append_event(
        conn,
        deal_id,
        principal.member_id if principal else None,
        principal.org_id if principal else None,
        action,
        details,
    )


async def record_nda(conn: asyncpg.Connection, deal: DealRow) -> None:
    """Show on a new deal's trail the buyer's acceptance of the offer's NDA (the latest version it accepted), if any."""
    accepted = await ndas.latest_acceptance(conn, deal.offer_id, deal.buyer_org_id)
    if accepted is None:
        return
    await repo.append_event(
        conn,
        deal.id,
        accepted.member_id,
        accepted.org_id,
        "nda_accepted",
        {
            "acceptance_id": str(accepted.id),
            "offer_id": str(accepted.offer_id),
            "version": accepted.version,
            "sha256": accepted.sha256,
            "member_id": str(accepted.member_id),
            "accepted_at": accepted.accepted_at.isoformat(),
        },
    )


async def _validated_parties(conn: asyncpg.Connection, data: DealCreate) -> None:
    offer = await repo.listing_party(conn, data.offer_id)
    if offer is None or offer.kind != "offer" or not offer.ever_published:
        raise field_error("offer_id", "no such offer")
    if data.seller_org_id != offer.owner_org_id:
        raise field_error("seller_org_id", "must be the organization that owns the offer")
    if data.demand_id is not None:
        demand = await repo.listing_party(conn, data.demand_id)
        if demand is None or demand.kind != "demand" or not demand.ever_published:
            raise field_error("demand_id", "no such demand")
        if data.buyer_org_id != demand.owner_org_id:
            raise field_error("buyer_org_id", "must be the organization that owns the demand")
    if data.buyer_org_id == data.seller_org_id:
        raise field_error("buyer_org_id", "the buyer and the seller must be different organizations")
    for field, org_id in (("buyer_org_id", data.buyer_org_id), ("seller_org_id", data.seller_org_id)):
        org = await repo.org_brief(conn, org_id)
        if org is None:
            raise field_error(field, "no such organization")
        if org.status != "verified":
            raise field_error(field, "the organization is not verified")
    if data.broker_org_id is not None:
        broker = await repo.org_brief(conn, data.broker_org_id)
        if broker is None or broker.kind != "broker":
            raise field_error("broker_org_id", "must be an organization of kind broker")
        if broker.status != "verified":
            raise field_error("broker_org_id", "the organization is not verified")
        if data.broker_org_id in (data.buyer_org_id, data.seller_org_id):
            raise field_error("broker_org_id", "the broker cannot also be the buyer or the seller")


async def create(conn: asyncpg.Connection, principal: Principal | None, data: DealCreate) -> DealRow:
    """A broker, or either party of an accepted interest linking the offer (and demand), opens a deal."""
    principal = auth.require(principal)
    org_id = principal.org_id
    if org_id is None:
        raise Forbidden(
            "deals are opened by brokers or by the parties of an accepted interest; operators belong to no organization"
        )
    auth.require_member_of(principal, org_id, "editor")
    is_party = org_id in (data.buyer_org_id, data.seller_org_id)
    is_broker = principal.org_kind == "broker" and not is_party
    if not (is_party or is_broker):
        raise Forbidden("only a broker, or the buyer or seller, may open a deal")
    if is_broker:
        if data.broker_org_id not in (None, org_id):
            raise field_error("broker_org_id", "a broker opening a deal is its broker: leave it out or give your own")
        if principal.org_status != "verified":
            raise Forbidden("only verified brokers may open deals")
        data = msgspec.structs.replace(data, broker_org_id=org_id)
    await _validated_parties(conn, data)
    if not is_broker and not await repo.accepted_interest_links(
        conn, data.buyer_org_id, data.seller_org_id, data.offer_id, data.demand_id
    ):
        raise Forbidden(
            "the buyer and the seller need an accepted interest linking this offer (and demand) to open a deal"
        )
    deal = await repo.insert(
        conn,
        {
            "title": data.title,
            "offer_id": data.offer_id,
            "demand_id": data.demand_id,
            "buyer_org_id": data.buyer_org_id,
            "seller_org_id": data.seller_org_id,
            "broker_org_id": data.broker_org_id,
            "created_by": principal.member_id,
        },
    )
    await _record(conn, principal, deal.id, "created", created_details(deal))
    await record_nda(conn, deal)
    return deal


def created_details(deal: DealRow) -> dict[str, Any]:
    """What a deal's "created" trail entry records: its title and parties."""
    return {
        "title": deal.title,
        "offer_id": str(deal.offer_id),
        "demand_id": str(deal.demand_id) if deal.demand_id else None,
        "buyer_org_id": str(deal.buyer_org_id),
        "seller_org_id": str(deal.seller_org_id),
        "broker_org_id": str(deal.broker_org_id) if deal.broker_org_id else None,
    }


def terms_details(deal: DealRow) -> dict[str, Any]:
    """What a "terms_proposed" trail entry records: the deal's terms as just proposed."""
    return {
        "terms_version": deal.terms_version,
        "value": {"amount": deal.value_amount, "currency": deal.value_currency},
        "transfer_mode": deal.transfer_mode,
        "summary": deal.terms_summary,
    }


async def get(
    conn: asyncpg.Connection, principal: Principal | None, deal_id: UUID, *, for_update: bool = False
) -> DealRow:
    """A deal, for its parties, its broker and operators (404 for anyone else)."""
    principal = auth.require(principal)
    deal = await repo.get(conn, deal_id, for_update=for_update)
    if deal is None or not _visible(principal, deal):
        raise NotFound("no such deal")
    return deal


def _require_part(principal: Principal, deal: DealRow, parts: set[str], doing: str) -> set[str]:
    mine = roles_of(principal, deal) & parts
    if not mine or not principal.is_member_of(principal.org_id, "editor"):  # type: ignore[arg-type]
        who = ", ".join(sorted(parts))
        raise Forbidden(f"only editors of the deal's {who} may {doing}")
    return mine


async def propose(
    conn: asyncpg.Connection, principal: Principal | None, deal_id: UUID, data: TermsIn, if_match: str | None
) -> DealRow:
    """Any party or the broker proposes terms: a new terms_version, both confirmations cleared."""
    deal = await get(conn, principal, deal_id, for_update=True)
    principal = auth.require(principal)
    _require_part(principal, deal, {"buyer", "seller", "broker"}, "propose terms")
    check_if_match(if_match, deal.version)
    stage = rules.next_stage(deal.stage, "propose")
    version = deal.terms_version + 1
    moved = await repo.update(
        conn,
        deal.id,
        {
            "stage": stage,
            "value_amount": data.value.amount,
            "value_currency": data.value.currency,
            "transfer_mode": data.transfer_mode,
            "terms_summary": data.summary,
            "terms_version": version,
            "terms_proposed_at": now(),
            "terms_proposed_by_org_id": principal.org_id,
            "buyer_confirmed_version": None,
            "seller_confirmed_version": None,
        },
    )
    await _record(conn, principal, deal.id, "terms_proposed", terms_details(moved))
    await outbox.emit(
        conn,
        deal.id,
        DealTermsProposed(
            deal_id=deal.id,
            terms_version=version,
            value=EventMoney(amount=data.value.amount, currency=data.value.currency),
            proposed_by_org_id=principal.org_id,
        ),
    )
    return moved


async def emit_agreed(conn: asyncpg.Connection, deal: DealRow) -> None:
    """Tell the outbox a deal was agreed, so payments issues its fee invoices."""
    assert deal.value_amount is not None and deal.agreed_at is not None
    await outbox.emit(
        conn,
        deal.id,
        DealAgreed(
            deal_id=deal.id,
            value=EventMoney(amount=deal.value_amount, currency=deal.value_currency or "VND"),
            buyer_org_id=deal.buyer_org_id,
            seller_org_id=deal.seller_org_id,
            broker_org_id=deal.broker_org_id,
            terms_version=deal.terms_version,
            agreed_at=deal.agreed_at,
        ),
    )


async def confirm(
    conn: asyncpg.Connection, principal: Principal | None, deal_id: UUID, data: ConfirmIn, if_match: str | None
) -> DealRow:
    """The buyer or the seller confirms the current terms; when both have, the deal is agreed."""
    deal = await get(conn, principal, deal_id, for_update=True)
    principal = auth.require(principal)
    (side,) = _require_part(principal, deal, {"buyer", "seller"}, "confirm terms")
    check_if_match(if_match, deal.version)
    current = rules.Confirmations(buyer=deal.buyer_confirmed_version, seller=deal.seller_confirmed_version)
    updated, agreed = rules.confirm(deal.stage, deal.terms_version, data.terms_version, side, current)
    if updated == current and not agreed:
        return deal  # a repeated confirmation changes nothing
    values: dict[str, Any] = {"buyer_confirmed_version": updated.buyer, "seller_confirmed_version": updated.seller}
    if agreed:
        values |= {"stage": rules.next_stage(deal.stage, "agree"), "agreed_at": now()}
    moved = await repo.update(conn, deal.id, values)
    await _record(conn, principal, deal.id, "confirmed", {"side": side, "terms_version": data.terms_version})
    if agreed:
        await _record(conn, principal, deal.id, "agreed", {"terms_version": moved.terms_version})
        await emit_agreed(conn, moved)
    return moved


async def cancel(
    conn: asyncpg.Connection,
    principal: Principal | None,
    deal_id: UUID,
    data: CancelIn,
    if_match: str | None,
    request_id: str | None = None,
) -> DealRow:
    """Any party, the broker or a finance operator (it refunds what was paid) cancels a deal that has not closed."""
    deal = await get(conn, principal, deal_id, for_update=True)
    principal = auth.require(principal)
    if principal.is_operator:
        auth.require_operator(principal, "finance")
        await audit.record(conn, principal, "cancel", "deal", deal.id, data.reason, request_id)
    else:
        _require_part(principal, deal, {"buyer", "seller", "broker"}, "cancel it")
    check_if_match(if_match, deal.version)
    stage = rules.next_stage(deal.stage, "cancel")
    moved = await repo.update(conn, deal.id, {"stage": stage, "cancelled_at": now(), "cancel_reason": data.reason})
    await _record(conn, principal, deal.id, "cancelled", {"reason": data.reason, "stage_before": deal.stage})
    assert moved.cancelled_at is not None
    await outbox.emit(
        conn,
        deal.id,
        DealCancelled(
            deal_id=deal.id,
            reason=data.reason,
            cancelled_at=moved.cancelled_at,
            stage_before=deal.stage,
        ),
    )
    return moved


async def list_page(
    conn: asyncpg.Connection,
    principal: Principal | None,
    stage: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[DealRow]:
    """The caller's organization's deals (as buyer, seller or broker); operators see every deal."""
    principal = auth.require(principal)
    if principal.is_operator:
        return await repo.list_page(conn, None, stage, after, limit)
    if principal.org_id is None:
        raise Forbidden("only members of an organization and operators may list deals")
    return await repo.list_page(conn, principal.org_id, stage, after, limit)


async def events(
    conn: asyncpg.Connection, principal: Principal | None, deal_id: UUID, after_seq: int, limit: int
) -> list[EventRow]:
    """A deal's trail, for whoever may see the deal."""
    await get(conn, principal, deal_id)
    return await repo.events_page(conn, deal_id, after_seq, limit)
