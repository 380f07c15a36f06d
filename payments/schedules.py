"""Fee schedules and quotes: the stored schedule as arithmetic and as the API shows it, and who may set it."""

import asyncpg

from exchange.kernel import audit
from exchange.kernel.auth import Principal, require_operator
from exchange.kernel.errors import Unprocessable, param_error
from exchange.kernel.http import check_if_match
from exchange.kernel.schemas import FieldError, Money
from payments import fees, repo
from payments.repo import ScheduleRow
from payments.schemas import PartyShare, Quote, QuoteTier, ScheduleIn, ScheduleOut, SplitOut, TierOut


def _vnd(amount: int) -> Money:
    return Money(amount=amount, currency="VND")


def to_schedule(row: ScheduleRow) -> fees.Schedule:
    """The arithmetic view of a stored schedule."""
    return fees.Schedule(
        tiers=tuple(fees.Tier(up_to=t.get("up_to"), bps=t["bps"]) for t in row.tiers),
        minimum_fee=row.minimum_fee,
        maximum_fee=row.maximum_fee,
        buyer_bps=row.buyer_bps,
        seller_bps=row.seller_bps,
    )


def schedule_out(row: ScheduleRow) -> ScheduleOut:
    """A stored schedule as the API shows it."""
    return ScheduleOut(
        version=row.version,
        effective_from=row.effective_from,
        currency=row.currency,
        tiers=[TierOut(up_to=t.get("up_to"), bps=t["bps"]) for t in row.tiers],
        minimum_fee=_vnd(row.minimum_fee),
        maximum_fee=None if row.maximum_fee is None else _vnd(row.maximum_fee),
        split=SplitOut(buyer_bps=row.buyer_bps, seller_bps=row.seller_bps),
        max_charge=_vnd(fees.STRIPE_MAX_CHARGE_VND),
        created_at=row.created_at,
    )


async def current_schedule(conn: asyncpg.Connection) -> ScheduleRow:
    """The schedule in force now."""
    return await repo.schedule_at(conn)


async def put_schedule(
    conn: asyncpg.Connection, principal: Principal | None, data: ScheduleIn, if_match: str | None, request_id: str
) -> ScheduleRow:
    """Store a new version effective now (finance, If-Match the latest version); a 422 names every invalid field."""
    operator = require_operator(principal, "finance")
    check_if_match(if_match, await repo.latest_schedule_version(conn))
    schedule = fees.Schedule(
        tiers=tuple(fees.Tier(up_to=t.up_to, bps=t.bps) for t in data.tiers),
        minimum_fee=data.minimum_fee.amount,
        maximum_fee=None if data.maximum_fee is None else data.maximum_fee.amount,
        buyer_bps=data.split.buyer_bps,
        seller_bps=data.split.seller_bps,
    )
    problems = fees.check(schedule)
    if problems:
        detail = "; ".join(f"{f}: {m}" for f, m in problems)
        raise Unprocessable(detail, errors=[FieldError(field=f, message=m) for f, m in problems])
    values = {
        "tiers": [{"up_to": t.up_to, "bps": t.bps} for t in schedule.tiers],
        "minimum_fee": schedule.minimum_fee,
        "maximum_fee": schedule.maximum_fee,
        "buyer_bps": schedule.buyer_bps,
        "seller_bps": schedule.seller_bps,
    }
    row = await repo.insert_schedule(conn, values, operator.member_id)
    await audit.record(conn, operator, "fee_schedule", "fee_schedule", row.version, None, request_id)
    return row


def _share(bps: int, amount: int, parts: tuple[int, ...]) -> PartyShare:
    return PartyShare(share_bps=bps, amount=_vnd(amount), instalments=[_vnd(part) for part in parts])


def quote_of(row: ScheduleRow, amount: int) -> Quote:
    """The breakdown of a deal value under a schedule."""
    b = fees.compute(amount, to_schedule(row))
    return Quote(
        schedule_version=row.version,
        deal_value=_vnd(amount),
        tiers=[QuoteTier(start=line.start, up_to=line.up_to, bps=line.bps, base=_vnd(line.base)) for line in b.lines],
        tiered_fee=_vnd(b.tiered_fee),
        clamped=b.clamp,
        fee=_vnd(b.fee),
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
