"""Waiting for the indexer and the outbox: poll until what a test expects holds, within a deadline."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

DEADLINE_SECONDS = 20.0


async def until(
    probe: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], what: str, deadline: float = DEADLINE_SECONDS
) -> Any:
    """Poll probe until done(result) holds; fail with the last result after the deadline."""
    stop = time.monotonic() + deadline
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > stop:
            raise AssertionError(f"{what} never happened; last seen: {result!r}")
        await asyncio.sleep(0.05)


async def search_until(
    client: Any,
    kind: str,
    params: dict[str, Any],
    done: Callable[[dict[str, Any]], bool],
    deadline: float = DEADLINE_SECONDS,
) -> dict[str, Any]:
    """Search until `done(body)` holds; fail with the last answer if it never does."""

    async def search() -> tuple[int, Any]:
        response = await client.get(f"/v1/search/{kind}s", params=params)
        return response.status_code, response.json()

    _, body = await until(
        search, lambda r: r[0] == 200 and done(r[1]), f"search {params} satisfying the test", deadline
    )
    return body


def ids(body: dict[str, Any]) -> list[str]:
    """The listing ids of a search answer, in order."""
    return [hit["listing"]["id"] for hit in body["hits"]]


async def visible(client: Any, kind: str, listing_id: str, deadline: float = DEADLINE_SECONDS) -> dict[str, Any]:
    """Wait until a listing can be found by a search filtered to nothing but public listings."""
    return await search_until(client, kind, {"limit": 100}, lambda b: listing_id in ids(b), deadline)


async def indexed(conn: Any, listing_id: str, deadline: float = DEADLINE_SECONDS) -> None:
    """Wait until the indexer has finished making a listing searchable, its vector included (listing.indexed says so)."""

    async def announced() -> bool:
        return await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE topic = 'listing.indexed' AND aggregate_id = $1::uuid"
            " AND (payload ->> 'searchable')::boolean)",
            listing_id,
        )

    await until(announced, bool, f"indexing of listing {listing_id}", deadline)


async def settled(conn: Any, listing_id: str, deadline: float = DEADLINE_SECONDS) -> None:
    """Wait until every index and subscription event of this listing so far has been handled."""

    async def pending() -> dict[str, int]:
        return dict(
            await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE topic = 'listing.indexed') AS indexed,"
                " count(*) FILTER (WHERE processed_at IS NULL) AS open FROM outbox"
                " WHERE aggregate_id = $1::uuid AND topic IN ('listing.changed', 'listing.vector_needed', 'listing.indexed')",
                listing_id,
            )
        )

    await until(
        pending,
        lambda r: r["indexed"] > 0 and r["open"] == 0,
        f"handling of every event of listing {listing_id}",
        deadline,
    )
