"""What the shell may use of auctions: the closing job's step, and loading the demo auction."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from exchange.auctions import repo, rules, service
from exchange.auctions.repo import AuctionRow

__all__ = ["AuctionRow", "close_if_due", "close_next_due", "insert_seeded"]

close_next_due = service.close_next_due
close_if_due = service.close_if_due


async def insert_seeded(
    conn: asyncpg.Connection, auction: dict[str, Any], bids: list[tuple[UUID, UUID, int, datetime]]
) -> bool:
    """Load one demo english auction (fixed id) with its bids (organization, member, amount, when), in order;
    False when it is there already."""
    high = max((amount for _, _, amount, _ in bids), default=None)
    values = auction | {"bid_count": len(bids), "high_amount": high}
    values.setdefault("min_increment", rules.default_increment(auction["starting_amount"]))
    if not await repo.insert_seeded(conn, values):
        return False
    for org_id, member_id, amount, at in bids:
        await repo.insert_bid(conn, auction["id"], org_id, member_id, False, amount, at)
    return True
