"""Rules for auctions: who may create, see, bid in, cancel them, and how one closes into a deal.

Every act on one auction (a bid, a cancel, the close) first locks its row, then reads the database clock: the lock
orders them, and the clock read under it is when the act happened. A bid is accepted only before ends_at on that
clock, and the closer never takes an auction whose row a bid holds, so every accepted bid counts and no later one does.
"""

import logging
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from exchange.auctions import repo, rules
from exchange.auctions.repo import AuctionRow, BidRow
from exchange.auctions.schemas import AuctionCreate, AuctionOut, BidIn, BidOut, CancelIn
from exchange.deals import public as deals
from exchange.kernel import audit, auth, outbox
from exchange.kernel.auth import Principal
from exchange.kernel.errors import Conflict, Forbidden, NotFound, field_error
from exchange.kernel.events import AuctionCancelled, AuctionClosed, EventMoney
from exchange.kernel.schemas import Money
from listings import public as listings

log = logging.getLogger("exchange.auctions")


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def _money(amount: int | None) -> Money | None:
    return None if amount is None else Money(amount=amount)


def is_seller(principal: Principal | None, row: AuctionRow) -> bool:
    """The caller is a member of the organization auctioning its offer."""
    return principal is not None and principal.is_member_of(row.seller_org_id)


def to_out(row: AuctionRow, principal: Principal | None, at: datetime | None = None) -> AuctionOut:
    """An auction as this caller may see it: the reserve's amount never, sealed amounts not before the close, the
    deal only to its parties and operators."""
    at = at or now()
    status = rules.status_at(row.status, row.starts_at, at)
    english = row.kind == "english"
    sees_deal = principal is not None and (
        principal.is_operator or is_seller(principal, row) or principal.org_id == row.winner_org_id
    )
    minimum = None
    if status in ("scheduled", "open") and at < row.ends_at:
        minimum = _money(
            rules.minimum_bid(row.starting_amount, row.high_amount if english else None, row.min_increment)
        )
    return AuctionOut(
        id=row.id,
        offer_id=row.offer_id,
        seller_org_id=row.seller_org_id,
        kind=row.kind,  # type: ignore[arg-type]
        status=status,
        starting_price=Money(amount=row.starting_amount),
        min_increment=_money(row.min_increment),
        has_reserve=row.reserve_amount is not None,
        reserve_met=rules.reserve_met(row.kind, row.status, row.high_amount, row.outcome, row.reserve_amount),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        scheduled_ends_at=row.scheduled_ends_at,
        bid_count=row.bid_count,
        highest_bid=_money(row.high_amount if english else row.winning_amount),
        minimum_bid=minimum,
        outcome=row.outcome,  # type: ignore[arg-type]
        winner_org_id=row.winner_org_id,
        winning_bid=_money(row.winning_amount),
        deal_id=row.deal_id if sees_deal else None,
        transfer_mode=row.transfer_mode,
        terms_summary=row.terms_summary,
        closed_at=row.closed_at,
        cancelled_at=row.cancelled_at,
        cancel_reason=row.cancel_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


def bid_out(row: BidRow) -> BidOut:
    """A bid as those who may see it see it."""
    return BidOut(
        id=row.id,
        auction_id=row.auction_id,
        bidder_org_id=row.bidder_org_id,
        amount=Money(amount=row.amount),
        placed_at=row.placed_at,
        replaced_count=row.replaced_count,
        created_at=row.created_at,
    )


def _visible(principal: Principal | None, row: AuctionRow) -> bool:
    return row.offer_public or is_seller(principal, row) or (principal is not None and principal.is_operator)


async def get(
    conn: asyncpg.Connection, principal: Principal | None, auction_id: UUID, *, for_update: bool = False
) -> AuctionRow:
    """An auction of a public offer for anyone; any auction for its seller and operators; else 404."""
    row = await repo.get(conn, auction_id, for_update=for_update)
    if row is None or not _visible(principal, row):
        raise NotFound("no such auction")
    return row


async def create(conn: asyncpg.Connection, principal: Principal | None, data: AuctionCreate) -> AuctionRow:
    """Editors of the organization owning a published offer put it up for auction (one running auction per offer)."""
    principal = auth.require(principal)
    try:
        offer = await listings.visible(conn, principal, "offer", data.offer_id)
    except NotFound:
        raise field_error("offer_id", "no such offer") from None
    auth.require_member_of(principal, offer.owner_org_id, "editor")
    if not listings.is_public(offer):
        raise field_error("offer_id", "the offer must be published")
    if data.transfer_mode is not None and data.transfer_mode not in offer.transfer_modes:
        raise field_error("transfer_mode", "must be one of the offer's transfer modes")
    reserve = data.reserve.amount if data.reserve else None
    increment = data.min_increment.amount if data.min_increment else None
    rules.check_terms(data.kind, data.starting_price.amount, reserve, increment, data.starts_at, data.ends_at, now())
    if data.kind == "english" and increment is None:
        increment = rules.default_increment(data.starting_price.amount)
    values = {
        "offer_id": offer.id,
        "seller_org_id": offer.owner_org_id,
        "created_by": principal.member_id,
        "kind": data.kind,
        "starting_amount": data.starting_price.amount,
        "reserve_amount": reserve,
        "min_increment": increment,
        "transfer_mode": data.transfer_mode or (offer.transfer_modes[0] if offer.transfer_modes else "license"),
        "terms_summary": data.terms_summary or f"Won at auction: {offer.title}"[:5000],
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
    }
    try:
        return await repo.insert(conn, values)
    except asyncpg.UniqueViolationError:
        raise Conflict("this offer already has an open or scheduled auction") from None


async def list_page(
    conn: asyncpg.Connection,
    principal: Principal | None,
    offer_id: UUID | None,
    kind: str | None,
    status: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[AuctionRow]:
    """Auctions of public offers, newest first; a seller also sees its own, operators every one."""
    return await repo.list_page(
        conn,
        everything=principal is not None and principal.is_operator,
        org_id=principal.org_id if principal else None,
        offer_id=offer_id,
        kind=kind,
        status=status,
        after=after,
        limit=limit,
    )


async def bid(
    conn: asyncpg.Connection, principal: Principal | None, auction_id: UUID, data: BidIn
) -> tuple[BidRow, bool]:
    """Editors of a verified organization other than the seller bid; True when a bid was created (False: a sealed
    bid replaced). An english bid within the last 5 minutes moves ends_at to 5 minutes past it."""
    principal = auth.require(principal)
    if principal.org_id is None or not principal.is_member_of(principal.org_id, "editor"):
        raise Forbidden("only editors of a verified organization may bid")
    if principal.org_status != "verified":
        raise Forbidden("only verified organizations may bid")
    row = await get(conn, principal, auction_id, for_update=True)
    if principal.org_id == row.seller_org_id:
        raise Forbidden("the seller cannot bid in its own auction")
    at = await repo.clock(conn)
    rules.require_open(row.status, row.starts_at, row.ends_at, at, "bid")
    amount = data.amount.amount
    if row.kind == "english":
        rules.check_amount(amount, rules.minimum_bid(row.starting_amount, row.high_amount, row.min_increment))
        placed = await repo.insert_bid(conn, row.id, principal.org_id, principal.member_id, False, amount, at)
        changes = {
            "bid_count": row.bid_count + 1,
            "high_amount": amount,
            "ends_at": rules.extended_end(row.ends_at, at),
        }
        await repo.update_open(conn, row.id, changes)
        return placed, True
    rules.check_amount(amount, row.starting_amount)
    mine = await repo.sealed_bid_of(conn, row.id, principal.org_id)
    if mine is not None:
        replaced = await repo.replace_bid(conn, mine.id, principal.member_id, amount, at)
        await repo.update_open(conn, row.id, {})
        return replaced, False
    placed = await repo.insert_bid(conn, row.id, principal.org_id, principal.member_id, True, amount, at)
    await repo.update_open(conn, row.id, {"bid_count": row.bid_count + 1})
    return placed, True


async def bids(
    conn: asyncpg.Connection,
    principal: Principal | None,
    auction_id: UUID,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[BidRow]:
    """The seller and operators see every bid (of a sealed auction only once it closed); a bidder sees its own."""
    principal = auth.require(principal)
    row = await get(conn, principal, auction_id)
    if principal.is_operator or is_seller(principal, row):
        if row.kind == "sealed_bid" and row.status != "closed":
            raise Forbidden("sealed bids are shown only once the auction has closed")
        return await repo.bids_page(conn, row.id, None, after, limit)
    if principal.org_id is not None and await repo.has_bid(conn, row.id, principal.org_id):
        return await repo.bids_page(conn, row.id, principal.org_id, after, limit)
    raise Forbidden("only the seller, operators and the bidders (their own bids) may see bids")


async def cancel(
    conn: asyncpg.Connection, principal: Principal | None, auction_id: UUID, data: CancelIn, request_id: str | None
) -> AuctionRow:
    """The seller's editors cancel before the first bid; operators any time before the close."""
    principal = auth.require(principal)
    row = await get(conn, principal, auction_id, for_update=True)
    if not principal.is_operator:
        auth.require_member_of(principal, row.seller_org_id, "editor")
    at = await repo.clock(conn)
    if row.status != "open":
        raise Conflict(f"the auction is {row.status}: cannot cancel it")
    if at >= row.ends_at:
        raise Conflict("the auction has ended and is being closed: cannot cancel it")
    if not principal.is_operator and row.bid_count:
        raise Conflict("bids were placed: only operators may cancel the auction now")
    if principal.is_operator:
        await audit.record(conn, principal, "cancel", "auction", row.id, data.reason, request_id)
    moved = await repo.update_open(
        conn,
        row.id,
        {"status": "cancelled", "cancelled_at": at, "cancel_reason": data.reason, "cancelled_by": principal.member_id},
    )
    assert moved is not None  # the row is locked and was open
    await outbox.emit(
        conn,
        row.id,
        AuctionCancelled(
            auction_id=row.id,
            offer_id=row.offer_id,
            seller_org_id=row.seller_org_id,
            reason=data.reason,
            cancelled_at=at,
            bid_count=row.bid_count,
        ),
    )
    return moved


async def close(conn: asyncpg.Connection, row: AuctionRow) -> AuctionRow:
    """Close a locked auction past its end: the best bid meeting the reserve wins a deal agreed at its amount."""
    at = await repo.clock(conn)
    candidates = await repo.bids_before(conn, row.id, row.ends_at)
    outcome, best = rules.winner(
        [rules.Candidate(id=b.id, amount=b.amount, placed_at=b.placed_at) for b in candidates], row.reserve_amount
    )
    values: dict[str, object] = {"status": "closed", "outcome": outcome, "closed_at": at}
    winning = next((b for b in candidates if best is not None and b.id == best.id), None)
    if winning is not None:
        deal = await deals.open_agreed(
            conn,
            origin="auction",
            offer_id=row.offer_id,
            buyer_org_id=winning.bidder_org_id,
            seller_org_id=row.seller_org_id,
            title=f"Auction: {row.offer_title}"[:200],
            value=Money(amount=winning.amount),
            transfer_mode=row.transfer_mode,
            summary=row.terms_summary,
            created_by=winning.member_id,
            details={"auction_id": str(row.id), "bid_id": str(winning.id), "auction_kind": row.kind},
        )
        values |= {
            "winning_bid_id": winning.id,
            "winner_org_id": winning.bidder_org_id,
            "winning_amount": winning.amount,
            "deal_id": deal.id,
        }
    closed = await repo.update_open(conn, row.id, values)
    assert closed is not None  # the row is locked and was open
    await outbox.emit(
        conn,
        row.id,
        AuctionClosed(
            auction_id=row.id,
            offer_id=row.offer_id,
            seller_org_id=row.seller_org_id,
            kind=row.kind,
            outcome=outcome,
            bid_count=row.bid_count,
            winner_org_id=closed.winner_org_id,
            winning_amount=EventMoney(amount=winning.amount, currency="VND") if winning else None,
            deal_id=closed.deal_id,
            closed_at=at,
        ),
    )
    log.info("auction %s closed: %s", row.id, outcome, extra={"auction_id": str(row.id), "outcome": outcome})
    return closed


async def close_next_due(conn: asyncpg.Connection) -> AuctionRow | None:
    """Close one auction past its end that no other closer (nor a bid) holds, in the caller's transaction."""
    row = await repo.claim_due(conn)
    return None if row is None else await close(conn, row)


async def close_if_due(conn: asyncpg.Connection, auction_id: UUID) -> AuctionRow | None:
    """Close this auction if it is open and past its end, waiting for whoever holds it; None when there is nothing
    to close (already closed by another closer, cancelled, or not yet over)."""
    row = await repo.get(conn, auction_id, for_update=True)
    if row is None or row.status != "open" or await repo.clock(conn) < row.ends_at:
        return None
    return await close(conn, row)
