"""Statistics from one snapshot, the listing change feed in commit order, and partner keys."""

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
import msgspec
from msgspec import Meta

from exchange.kernel import audit, auth
from exchange.kernel.auth import Principal
from exchange.kernel.errors import Forbidden, NotFound
from exchange.kernel.http import decode_cursor, encode_cursor
from exchange.kernel.schemas import Money
from exchange.stats import export, repo
from exchange.stats.schemas import (
    AuctionStats,
    ChangeOut,
    ChangesPage,
    DealRoomStats,
    DealsByOrigin,
    DealStats,
    FeeStats,
    InterestStats,
    ListingStats,
    MonthStats,
    OffersVsDemands,
    OriginStats,
    PartnerCreate,
    PartnerOut,
    PartnerWithKeyOut,
    ReviewStats,
    StatsOut,
)
from listings import public as listings

LISTING_STATUSES = ("draft", "pending_review", "published", "rejected", "withdrawn", "expired", "suspended")
DEAL_STAGES = ("open", "negotiating", "agreed", "fee_pending", "closed", "cancelled")


AUCTION_STATES = ("scheduled", "open", "won", "reserve_not_met", "no_bids", "cancelled")


def _vnd(amount: int) -> Money:
    return Money(amount=int(amount), currency="VND")


def _origin(origins: dict[str, asyncpg.Record], origin: str) -> OriginStats:
    row = origins.get(origin)
    if row is None:
        return OriginStats(count=0, agreed_count=0, agreed_value=_vnd(0))
    return OriginStats(count=row["n"], agreed_count=row["agreed_n"], agreed_value=_vnd(row["agreed_total"]))


async def stats(conn: asyncpg.Connection) -> StatsOut:
    """Every aggregate, read inside one REPEATABLE READ READ ONLY transaction so they all describe the same moment."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        as_of = await conn.fetchval("SELECT now()")
        listing_rows = await repo.listing_counts(conn)
        interests = await repo.interest_counts(conn)
        median = await repo.median_days_to_first_interest(conn)
        deals = await repo.deal_counts(conn)
        origins = await repo.deals_by_origin(conn)
        ndas_accepted = await repo.ndas_accepted(conn)
        auctions = await repo.auction_counts(conn)
        fees = await repo.fee_sums(conn)
        queue_length = await repo.review_queue_length(conn)
        hours = await repo.median_hours_to_decision(conn)
        months = await repo.monthly_values(conn)
    by_status: Counter[str] = Counter({s: 0 for s in LISTING_STATUSES})
    by_sector: Counter[str] = Counter()
    by_province: Counter[str] = Counter()
    published: Counter[str] = Counter({"offer": 0, "demand": 0})
    for r in listing_rows:
        by_status[r["status"]] += r["n"]
        if r["status"] == "published":
            by_sector[r["sector"]] += r["n"]
            by_province[r["region"]] += r["n"]
            published[r["kind"]] += r["n"]
    accepted, declined = interests.get("accepted", 0), interests.get("declined", 0)
    return StatsOut(
        as_of=as_of,
        listings=ListingStats(
            total=sum(by_status.values()),
            by_status=dict(by_status),
            by_sector=dict(sorted(by_sector.items())),
            by_province=dict(sorted(by_province.items())),
        ),
        offers_vs_demands=OffersVsDemands(offers=published["offer"], demands=published["demand"]),
        interests=InterestStats(
            total=sum(interests.values()),
            pending=interests.get("pending", 0),
            accepted=accepted,
            declined=declined,
            acceptance_rate=round(accepted / (accepted + declined), 4) if accepted + declined else None,
            median_days_to_first_interest=round(median, 2) if median is not None else None,
        ),
        deals=DealStats(
            total=sum(deals.values()),
            by_stage={s: deals.get(s, 0) for s in DEAL_STAGES},
            agreed_count=sum(r["agreed_n"] for r in origins.values()),
            agreed_value=_vnd(sum(r["agreed_total"] for r in origins.values())),
        ),
        deal_room=DealRoomStats(
            deals_by_origin=DealsByOrigin(
                negotiated=_origin(origins, "negotiated"),
                express_licence=_origin(origins, "express_licence"),
                auction=_origin(origins, "auction"),
            ),
            ndas_accepted=ndas_accepted,
            auctions=AuctionStats(**{state: auctions.get(state, 0) for state in AUCTION_STATES}),
        ),
        fees=FeeStats(invoiced=_vnd(fees[0]), collected=_vnd(fees[1]), refunded=_vnd(fees[2])),
        reviews=ReviewStats(
            queue_length=queue_length, median_hours_to_decision=round(hours, 2) if hours is not None else None
        ),
        over_time=[
            MonthStats(period=m["period"], agreed_value=_vnd(m["agreed_value"]), fees=_vnd(m["fees"])) for m in months
        ],
    )


async def export_csv(conn: asyncpg.Connection, principal: Principal | None) -> tuple[str, bytes]:
    """The statistics as CSV for finance operators (and admins): a file name of the snapshot's date, and the body."""
    auth.require_operator(principal, "finance")
    snapshot = await stats(conn)
    return f"techmart-stats-{snapshot.as_of.date().isoformat()}.csv", export.to_csv(export.rows(snapshot))


# A feed position: the transaction and id of the last change read.
FeedPosition = tuple[Literal["c"], Annotated[int, Meta(ge=0)], Annotated[int, Meta(ge=0)]]


def encode_position(txid: int, id_: int) -> str:
    """An opaque feed position."""
    return encode_cursor("c", txid, id_)


def decode_position(since: str | None) -> tuple[int, int]:
    """Read a position made by encode_position; the start of the feed when absent."""
    position = decode_cursor(since, FeedPosition, parameter="since")
    return (position[1], position[2]) if position else (0, 0)


def _require_feed_reader(principal: Principal | None) -> Principal:
    principal = auth.require(principal)
    if principal.role not in ("operator", "partner"):
        raise Forbidden("the change feed is for operators and partner exchanges")
    return principal


async def changes(conn: asyncpg.Connection, principal: Principal | None, since: str | None, limit: int) -> ChangesPage:
    """Public listing changes after `since`, in an order no later commit can insert into."""
    _require_feed_reader(principal)
    txid, id_ = decode_position(since)
    rows = await repo.changes_after(conn, txid, id_, limit + 1)
    page = rows[:limit]
    current = {r.id: r for r in await listings.rows_by_id(conn, list({c.listing_id for c in page}))}
    at = datetime.now(UTC)
    items = []
    for change in page:
        row = current.get(change.listing_id)
        public = row is not None and listings.is_public(row, at)
        items.append(
            ChangeOut(
                position=encode_position(change.txid, change.id),
                listing_id=change.listing_id,
                kind=change.kind,
                status=change.status,
                version=change.version,
                changed_at=change.changed_at,
                listing=msgspec.to_builtins(listings.public_view(row, at)) if public and row is not None else None,
            )
        )
    next_cursor = items[-1].position if items else encode_position(txid, id_)
    return ChangesPage(items=items, next_cursor=next_cursor, has_more=len(rows) > limit)


async def create_partner(
    conn: asyncpg.Connection, principal: Principal | None, data: PartnerCreate, request_id: str
) -> PartnerWithKeyOut:
    """An admin registers a partner exchange; its key is shown once."""
    actor = auth.require_operator(principal, "admin")
    partner = await repo.insert_partner(conn, data.name, data.email)
    key = auth.new_key()
    key_id = await repo.insert_key(conn, partner.id, key.key_hash, key.prefix)
    await audit.record(conn, actor, "partner_create", "member", partner.id, None, request_id)
    await audit.record(conn, actor, "key_create", "api_key", key_id, None, request_id)
    return PartnerWithKeyOut(
        partner=msgspec.convert(msgspec.structs.asdict(partner), PartnerOut), api_key=key.secret, api_key_id=key_id
    )


async def remove_partner(
    conn: asyncpg.Connection, principal: Principal | None, member_id: UUID, request_id: str
) -> None:
    """An admin removes a partner; its keys stop working with this commit."""
    actor = auth.require_operator(principal, "admin")
    revoked = await repo.remove_partner(conn, member_id)
    if revoked is None:
        raise NotFound("no such partner")
    await audit.record(conn, actor, "partner_delete", "member", member_id, None, request_id)
    for key_id in revoked:
        await audit.record(conn, actor, "key_revoke", "api_key", key_id, None, request_id)
