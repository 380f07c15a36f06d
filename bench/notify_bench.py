"""Pushed matches at volume: from an offer's approval to every matching subscription told, with many subscriptions.

Publishes demands (each subscribes its owner to matching offers) and adds query subscriptions with filters, then
measures, for single offers published one at a time and for a burst approved at once, how long after the approve
response the subscription matcher has recorded every notification. The same single-offer run with a tenth of the
subscriptions active is printed beside it: how the cost grows with the number of subscriptions.
"""

import argparse
import asyncio
import secrets
import sys
import time
from typing import Any

import asyncpg
import httpx

from bench import search_corpus
from bench.http_bench import Started, expect, percentile, run_async, run_measured
from matching.subscriptions import ALERT_MIN_SCORE
from tests.support import bearer

POLL_SECONDS = 0.02
SETUP_TIMEOUT = 900.0
ENTERPRISES = 40
INSTITUTES = 4
# Demands whose alerts about the burst are checked against their matches lists.
CHECKED_DEMANDS = 100
# Query subscriptions: a topic's name in one language, with one filter each, as members would write them.
FILTERS = ({}, {"trl_min": 5}, {"region": "79"}, {"transfer_mode": ["license"]})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.notify_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=1000, help="subscriptions in all (default 1000)")
    parser.add_argument("--demand-share", type=float, default=0.7, help="share that are published demands' own")
    parser.add_argument("--single", type=int, default=20, help="offers published one at a time (default 20)")
    parser.add_argument("--burst", type=int, default=200, help="offers approved at once (default 200)")
    return parser.parse_args(argv)


def organizations(client: httpx.Client, operator: str, kind: str, count: int, tag: str) -> list[str]:
    """Register and verify organizations of a kind; their owners' keys."""
    keys = []
    for n in range(count):
        body = {
            "name": f"Notify bench {kind} {tag}-{n}",
            "kind": kind,
            "province": "79",
            "contact_email": f"nb-{tag}-{kind}-{n}@example.vn",
        }
        registered = expect(client.post("/v1/organizations", json=body), 201)
        expect(
            client.post(f"/v1/organizations/{registered['organization']['id']}/verify", headers=bearer(operator)), 200
        )
        keys.append(registered["api_key"])
    return keys


def bodies(kind: str, count: int, start: int) -> list[dict[str, Any]]:
    """Create bodies of one kind from the search benchmark's corpus (mostly distinct texts)."""
    out, n = [], start
    while len(out) < count:
        listing_kind, body = search_corpus.listing_body(n)
        if listing_kind == kind:
            out.append(body)
        n += 1
    return out


def submitted(client: httpx.Client, kind: str, key: str, body: dict[str, Any]) -> str:
    """A listing created and submitted for review; its id."""
    listing = expect(client.post(f"/v1/{kind}s", json=body, headers=bearer(key)), 201)
    expect(client.post(f"/v1/{kind}s/{listing['id']}/submit", headers=bearer(key)), 200)
    return listing["id"]


async def backlog(conn: asyncpg.Connection) -> int:
    """Outbox events of listings and subscriptions not handled yet."""
    return await conn.fetchval(
        "SELECT count(*) FROM outbox WHERE processed_at IS NULL"
        " AND topic IN ('listing.changed', 'listing.vector_needed', 'listing.indexed')"
    )


async def wait_settled(database_url: str, timeout: float) -> float:
    """Wait until the indexer, the vectors and the matcher have nothing left; seconds waited."""
    started = time.monotonic()
    conn = await asyncpg.connect(database_url)
    try:
        while await backlog(conn):
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"setup: background work not done after {timeout:.0f} s")
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    return time.monotonic() - started


async def matched(conn: asyncpg.Connection, ids: list[str]) -> dict[str, int | None]:
    """For each listing: its notifications once the matcher has handled its publication's indexing, else None."""
    rows = await conn.fetch(
        """SELECT o.aggregate_id::text AS id,
                  bool_and(o.processed_at IS NOT NULL) AS done,
                  (SELECT count(*) FROM notifications n WHERE n.listing_id = o.aggregate_id) AS told
           FROM outbox o WHERE o.topic = 'listing.indexed' AND o.aggregate_id = ANY($1::uuid[])
             AND (o.payload ->> 'searchable')::boolean
           GROUP BY o.aggregate_id""",
        ids,
    )
    return {r["id"]: r["told"] if r["done"] else None for r in rows}


async def time_to_told(
    client: httpx.AsyncClient, database_url: str, operator: str, ids: list[str]
) -> tuple[list[float], float, float, int]:
    """Approve these offers at once; seconds from each approve response to its matches recorded, the whole span
    from the first approval sent, when the last vector was in, and the notifications made."""
    conn = await asyncpg.connect(database_url)
    try:
        sent = time.monotonic()
        sent_at = await conn.fetchval("SELECT clock_timestamp()")

        async def approve(listing_id: str) -> tuple[str, float]:
            response = await client.post(f"/v1/offers/{listing_id}/approve", headers=bearer(operator))
            expect(response, 200)
            return listing_id, time.monotonic()

        answered = dict(await asyncio.gather(*(approve(i) for i in ids)))
        done: dict[str, float] = {}
        told = 0
        while len(done) < len(ids):
            if time.monotonic() - sent > SETUP_TIMEOUT:
                raise RuntimeError(f"{len(ids) - len(done)} offers never matched within {SETUP_TIMEOUT:.0f} s")
            for listing_id, count in (await matched(conn, [i for i in ids if i not in done])).items():
                if count is not None:
                    done[listing_id] = time.monotonic()
                    told += count
            await asyncio.sleep(POLL_SECONDS)
        # When the last one's vector was in (its listing.indexed written): what is left is the matcher's.
        vectors_in = await conn.fetchval(
            "SELECT extract(epoch FROM max(created_at) - $2::timestamptz) FROM outbox WHERE topic = 'listing.indexed'"
            " AND aggregate_id = ANY($1::uuid[]) AND (payload ->> 'searchable')::boolean",
            ids,
            sent_at,
        )
        return sorted(done[i] - answered[i] for i in ids), max(done.values()) - sent, vectors_in, told
    finally:
        await conn.close()


async def singles(url: str, database_url: str, operator: str, ids: list[str]) -> tuple[list[float], int]:
    """Publish offers one at a time, waiting for each to be matched; the latencies and the notifications made."""
    latencies, told = [], 0
    async with httpx.AsyncClient(base_url=url, timeout=120.0, trust_env=False) as client:
        for listing_id in ids:
            [latency], _, _, count = await time_to_told(client, database_url, operator, [listing_id])
            latencies.append(latency)
            told += count
    return sorted(latencies), told


async def burst(url: str, database_url: str, operator: str, ids: list[str]) -> tuple[list[float], float, float, int]:
    """Approve a burst of offers at once."""
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=url, timeout=120.0, trust_env=False, limits=limits) as client:
        return await time_to_told(client, database_url, operator, ids)


async def active_subscriptions(database_url: str, keep: int | None) -> int:
    """Leave `keep` subscriptions active (demands' own and query ones in the same proportion), or all when None."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE subscriptions SET active = true WHERE deleted_at IS NULL")
        if keep is not None:
            await conn.execute(
                """UPDATE subscriptions SET active = false WHERE id NOT IN (
                     SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY demand_id IS NULL ORDER BY id) AS n,
                                            count(*) OVER (PARTITION BY demand_id IS NULL) AS total FROM subscriptions) s
                     WHERE n <= ceil(total * $1::float8))""",
                keep / max(1, await conn.fetchval("SELECT count(*) FROM subscriptions")),
            )
        return await conn.fetchval("SELECT count(*) FROM subscriptions WHERE active")
    finally:
        await conn.close()


async def alerts_against_lists(url: str, database_url: str, operator: str, ids: list[str]) -> str:
    """Whether the burst's alerts to demands carry the score each demand's matches list shows, and miss none of it."""
    await wait_settled(database_url, SETUP_TIMEOUT)
    conn = await asyncpg.connect(database_url)
    try:
        demands = await conn.fetch(
            "SELECT s.id, s.demand_id::text AS demand FROM subscriptions s WHERE s.demand_id IS NOT NULL AND s.active"
            " AND EXISTS (SELECT 1 FROM notifications n WHERE n.subscription_id = s.id AND n.listing_id = ANY($1::uuid[]))"
            " ORDER BY s.demand_id LIMIT $2",
            ids,
            CHECKED_DEMANDS,
        )
        told = {
            (r["demand"], r["offer"]): r["score"]
            for r in await conn.fetch(
                "SELECT s.demand_id::text AS demand, n.listing_id::text AS offer, n.score FROM notifications n"
                " JOIN subscriptions s ON s.id = n.subscription_id WHERE s.id = ANY($1::uuid[])",
                [d["id"] for d in demands],
            )
        }
        twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM notifications GROUP BY subscription_id, listing_id HAVING count(*) > 1) t"
        )
    finally:
        await conn.close()
    burst = set(ids)
    listed: dict[tuple[str, str], float] = {}
    async with httpx.AsyncClient(base_url=url, timeout=120.0, trust_env=False) as client:
        for d in demands:
            response = await client.get(f"/v1/demands/{d['demand']}/matches?limit=100", headers=bearer(operator))
            for item in expect(response, 200)["items"]:
                if item["listing"]["id"] in burst:
                    listed[(d["demand"], item["listing"]["id"])] = item["score"]
    told_burst = {pair: score for pair, score in told.items() if pair[1] in burst}
    same = sum(1 for pair, score in told_burst.items() if abs(listed.get(pair, -1.0) - score) <= 1e-4)
    unlisted = sum(1 for pair in told_burst if pair not in listed)
    missed = sum(1 for pair, score in listed.items() if score >= ALERT_MIN_SCORE and pair not in told_burst)
    return (
        f"alerts of the burst checked against the matches lists of {len(demands)} demands: {same} of {len(told_burst)}"
        f" with the list's score, {unlisted} of an offer not in the list, {missed} list matches >= {ALERT_MIN_SCORE}"
        f" told no alert; (subscription, listing) pairs told twice: {twice}"
    )


def line(label: str, latencies: list[float], told: int, extra: str = "") -> str:
    """One row of the table: percentiles in ms."""
    p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
    return f"| {label} | {len(latencies)} | {p50:.0f} | {p99:.0f} | {latencies[-1] * 1000:.0f} | {told} |{extra}"


def measure(args: argparse.Namespace, started: Started) -> int:
    """Set up the subscriptions, run the single and burst publications, print the figures."""
    stack = started.start_stack()
    operator = secrets.token_urlsafe(32)
    url, _ = started.start_service(stack, operator, seed=False, workers=1)
    tag = secrets.token_hex(3)
    demands = round(args.subscriptions * args.demand_share)
    queries = args.subscriptions - demands
    with httpx.Client(base_url=url, timeout=120.0, trust_env=False) as client:
        print(f"publishing {demands} demands and adding {queries} query subscriptions ...", file=sys.stderr, flush=True)
        enterprises = organizations(client, operator, "enterprise", ENTERPRISES, tag)
        institutes = organizations(client, operator, "institute", INSTITUTES, tag)
        for n, body in enumerate(bodies("demand", demands, 0)):
            listing_id = submitted(client, "demand", enterprises[n % ENTERPRISES], body)
            expect(client.post(f"/v1/demands/{listing_id}/approve", headers=bearer(operator)), 200)
        topics = search_corpus.TOPICS
        for n in range(queries):
            topic = topics[n % len(topics)]
            name = (topic.vi if n % 2 else topic.en)[0]
            sub = {"kind": "offers", "query": name, "filters": FILTERS[n % len(FILTERS)]}
            expect(client.post("/v1/subscriptions", json=sub, headers=bearer(enterprises[n % ENTERPRISES])), 201)
        waited = run_async(wait_settled(stack.database_url, SETUP_TIMEOUT))
        print(f"set up; background work settled {waited:.0f} s after the last demand", file=sys.stderr, flush=True)
        offers = bodies("offer", 2 * args.single + args.burst, 0)
        ids = [submitted(client, "offer", institutes[n % INSTITUTES], body) for n, body in enumerate(offers)]
    few = max(1, args.subscriptions // 10)
    rows = []
    for keep, chunk in ((few, ids[: args.single]), (None, ids[args.single : 2 * args.single])):
        active = run_async(active_subscriptions(stack.database_url, keep))
        print(f"single offers with {active} subscriptions active ...", file=sys.stderr, flush=True)
        latencies, told = run_async(singles(url, stack.database_url, operator, chunk))
        rows.append(line(f"one offer at a time, {active} subscriptions", latencies, told, " – |"))
    print(f"a burst of {args.burst} offers ...", file=sys.stderr, flush=True)
    latencies, span, vectors_in, told = run_async(burst(url, stack.database_url, operator, ids[2 * args.single :]))
    rows.append(line(f"burst of {args.burst}, {active} subscriptions", latencies, told, f" {span:.1f} |"))
    rows.append(f"(the burst's last vector was in {vectors_in:.1f} s after the first approval was sent)")
    rows.append(run_async(alerts_against_lists(url, stack.database_url, operator, ids[2 * args.single :])))
    print(f"{demands} published demands (their own subscriptions) + {queries} query subscriptions with filters")
    print("time from the approve response until the matcher has recorded every notification of the offer (ms):")
    print("| run | offers | p50 | p99 | max | notifications | all told (s) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, stopping what it started on the way out."""
    args = parse_args(argv)
    return run_measured("exchange-notify-bench-", "notify_bench", lambda started: measure(args, started))


if __name__ == "__main__":
    sys.exit(main())
