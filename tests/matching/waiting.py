"""Waiting for the indexer: poll a search until it shows what a test expects, within a deadline."""

import asyncio
import time
from collections.abc import Callable
from typing import Any


DEADLINE_SECONDS = 20.0


async def search_until(
    client: Any, kind: str, params: dict[str, Any], done: Callable[[dict[str, Any]], bool], deadline: float = DEADLINE_SECONDS
) -> dict[str, Any]:
    """Search until `done(body)` holds; fail with the last answer if it never does."""
    stop = time.monotonic() + deadline
    while True:
        response = await client.get(f"/v1/search/{kind}s", params=params)
        body = response.json()
        if response.status_code == 200 and done(body):
            return body
        if time.monotonic() > stop:
            raise AssertionError(f"search {params} never satisfied the test: {response.status_code} {body}")
        await asyncio.sleep(0.05)


def ids(body: dict[str, Any]) -> list[str]:
    """The listing ids of a search answer, in order."""
    return [hit["listing"]["id"] for hit in body["hits"]]


async def visible(client: Any, kind: str, listing_id: str, deadline: float = DEADLINE_SECONDS) -> dict[str, Any]:
    """Wait until a listing can be found by a search filtered to nothing but public listings."""
    return await search_until(client, kind, {"limit": 100}, lambda b: listing_id in ids(b), deadline)


async def indexed(conn: Any, listing_id: str, deadline: float = DEADLINE_SECONDS) -> None:
    """Wait until the indexer has finished making a listing searchable, its vector included (listing.indexed says so)."""
    stop = time.monotonic() + deadline
    while not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE topic = 'listing.indexed' AND aggregate_id = $1::uuid"
        " AND (payload ->> 'searchable')::boolean)", listing_id
    ):
        if time.monotonic() > stop:
            raise AssertionError(f"listing {listing_id} was never indexed")
        await asyncio.sleep(0.05)


async def settled(conn: Any, listing_id: str, deadline: float = DEADLINE_SECONDS) -> None:
    """Wait until every index and subscription event of this listing so far has been handled."""
    stop = time.monotonic() + deadline
    while True:
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE topic = 'listing.indexed') AS indexed,"
            " count(*) FILTER (WHERE processed_at IS NULL) AS open FROM outbox"
            " WHERE aggregate_id = $1::uuid AND topic IN ('listing.changed', 'listing.vector_needed', 'listing.indexed')",
            listing_id,
        )
        if row["indexed"] > 0 and row["open"] == 0:
            return
        if time.monotonic() > stop:
            raise AssertionError(f"the events of listing {listing_id} were never all handled: {dict(row)}")
        await asyncio.sleep(0.05)
