"""Vectors that keep up: listings approved at once, until every one is matchable with its vector in the index.

For each size (default 100 then 1,000 new listings with distinct texts), the listings are created and submitted, then
approved at once; the run waits until each has its `listing.indexed` event with its vector in (a new text's first
indexing is by its words only, and `listing.vector_needed` follows). Printed beside it, measured in the same run with
the service idle: the model alone in this process on the same texts, the floor no pipeline can beat on this machine.
`--workers 2` serves with two processes, each running the jobs, to show what a second process adds.
"""

import argparse
import asyncio
import secrets
import sys
import time
from uuid import UUID

import asyncpg
import httpx

from bench.http_bench import Started, expect, run_async, run_measured
from bench.notify_bench import organizations, submitted
from bench.search_corpus import listing_body
from listings import public as listings
from matching import documents, embeddings
from tests.support import bearer

POLL_SECONDS = 0.1
TIMEOUT = 1800.0
INSTITUTES = 4
ENTERPRISES = 4
# Texts of the model-alone counterpart: enough for a steady rate, few enough to keep the run short.
MODEL_SAMPLE = 100


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.vectors_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000", help="listings approved at once, per run (default 100,1000)")
    parser.add_argument("--workers", type=int, default=1, help="service processes, each running the jobs (default 1)")
    return parser.parse_args(argv)


async def vectors_in(conn: asyncpg.Connection, ids: list[str], since: object) -> tuple[int, float | None, int]:
    """Of these listings: how many have their vector in the index, when the last came in (seconds after `since`),
    and the most `listing.vector_needed` events any one of them had (1 when no vector was asked for twice)."""
    row = await conn.fetchrow(
        """SELECT count(DISTINCT aggregate_id) AS done,
                  extract(epoch FROM max(created_at) - $2::timestamptz)::float8 AS last
           FROM outbox WHERE topic = 'listing.indexed' AND aggregate_id = ANY($1::uuid[])
             AND created_at >= $2::timestamptz AND (payload ->> 'searchable')::boolean""",
        ids,
        since,
    )
    asked = await conn.fetchval(
        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM outbox WHERE topic = 'listing.vector_needed'"
        " AND aggregate_id = ANY($1::uuid[]) GROUP BY aggregate_id) c",
        ids,
    )
    return row["done"], row["last"], asked


async def approve_all(url: str, database_url: str, operator: str, created: list[tuple[str, str]]) -> tuple[float, int]:
    """Approve every listing at once; seconds from the first approval sent until the last vector was in."""
    ids = [listing_id for _, listing_id in created]
    conn = await asyncpg.connect(database_url)
    try:
        since = await conn.fetchval("SELECT clock_timestamp()")
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(base_url=url, timeout=120.0, trust_env=False, limits=limits) as client:
            gate = asyncio.Semaphore(16)

            async def approve(kind: str, listing_id: str) -> None:
                async with gate:
                    expect(await client.post(f"/v1/{kind}s/{listing_id}/approve", headers=bearer(operator)), 200)

            await asyncio.gather(*(approve(kind, listing_id) for kind, listing_id in created))
        started = time.monotonic()
        while True:
            done, last, asked = await vectors_in(conn, ids, since)
            if done == len(ids):
                return last, asked
            if time.monotonic() - started > TIMEOUT:
                raise RuntimeError(f"{len(ids) - done} of {len(ids)} listings had no vector after {TIMEOUT:.0f} s")
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await conn.close()


async def model_alone(database_url: str, ids: list[str]) -> float:
    """Listings per second of the model alone (vector and latent terms), in this process, on the texts the pipeline embedded."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await listings.rows_by_id(conn, [UUID(i) for i in ids[:MODEL_SAMPLE]])
    finally:
        await conn.close()
    texts = [documents.embedding_text(r) for r in rows]
    await embeddings.encoded(texts[:2])  # the model's load is not part of its rate
    started = time.perf_counter()
    await embeddings.encoded(texts)
    return len(texts) / (time.perf_counter() - started)


def measure(args: argparse.Namespace, started: Started) -> int:
    """Create, approve and time each size, then the model alone; print the table."""
    sizes = [int(s) for s in args.sizes.split(",")]
    stack = started.start_stack()
    operator = secrets.token_urlsafe(32)
    url, _ = started.start_service(stack, operator, seed=False, workers=args.workers)
    tag = secrets.token_hex(3)
    rows, start, every_id = [], 0, []
    with httpx.Client(base_url=url, timeout=120.0, trust_env=False) as client:
        owners = {
            "offer": organizations(client, operator, "institute", INSTITUTES, tag),
            "demand": organizations(client, operator, "enterprise", ENTERPRISES, tag),
        }
        for size in sizes:
            print(f"creating and submitting {size} listings ...", file=sys.stderr, flush=True)
            created = []
            for n in range(start, start + size):
                kind, body = listing_body(n)
                created.append((kind, submitted(client, kind, owners[kind][n % len(owners[kind])], body)))
            start += size
            print(f"approving {size} at once ...", file=sys.stderr, flush=True)
            seconds, asked = run_async(approve_all(url, stack.database_url, operator, created))
            every_id.extend(listing_id for _, listing_id in created)
            rows.append(f"| {size} at once | {seconds:.1f} | {size / seconds:.2f} | {asked} |")
    rate = run_async(model_alone(stack.database_url, every_id))
    print(f"vectors: {args.workers} service process(es), each running the jobs")
    print("| run | all matchable with vectors (s) | listings/s | most vector requests for one listing |")
    print("|---|---|---|---|")
    for row in rows:
        print(row)
    print(f"| model alone, this process, {min(MODEL_SAMPLE, len(every_id))} of the same texts | – | {rate:.2f} | – |")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, stopping what it started on the way out."""
    args = parse_args(argv)
    return run_measured("exchange-vectors-bench-", "vectors_bench", lambda started: measure(args, started))


if __name__ == "__main__":
    sys.exit(main())
