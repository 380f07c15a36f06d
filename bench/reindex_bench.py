"""`exchange reindex` at volume: rebuilding both indexes of N listings, with vectors cached, beside Meilisearch alone.

Loads N published listings straight into PostgreSQL (their texts drawn from the matching evaluation set, so a few
hundred distinct texts carry every vector), then times the indexer's reindex twice: the first computes each distinct
text's vector, the second reuses them all, as a rebuild of a running exchange does. Beside it, the same documents
are added to a fresh index of the same settings with nothing else around: what Meilisearch itself needs.
"""

import argparse
import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from bench.http_bench import Started, run_async, run_measured
from exchange.kernel import db
from exchange.kernel.settings import Settings
from listings import public as listings
from listings import service as listing_service
from listings.schemas import DemandCreate, OfferCreate
from matching import documents, engine, indexer

DATA = Path(__file__).resolve().parent / "matching_eval"
REGIONS = ("01", "79", "48", "31", "92", "75", "56", "24")
CREATE_TYPES = {"offer": OfferCreate, "demand": DemandCreate}


def templates() -> list[tuple[str, dict[str, Any]]]:
    """Every listing of the evaluation set as (kind, create body)."""
    out = []
    for kind, name in (("offer", "offers"), ("demand", "demands")):
        for item in json.loads((DATA / f"{name}.json").read_text(encoding="utf-8")):
            fields = CREATE_TYPES[kind].__struct_fields__
            out.append((kind, {k: v for k, v in item.items() if k in fields and v is not None}))
    return out


def rows(count: int, orgs: dict[str, uuid.UUID]) -> list[dict[str, Any]]:
    """Column values of `count` published listings cycling through the templates."""
    now = datetime.now(UTC)
    made = []
    shapes = templates()
    for n in range(count):
        kind, body = shapes[n % len(shapes)]
        data = msgspec.convert(body | {"region": REGIONS[n % len(REGIONS)]}, CREATE_TYPES[kind])
        values = listing_service.content_columns(kind, data, default_region="01")
        # COPY has no binary encoder for jsonb; the contact is never part of a search document, and the templates
        # carry no licence terms.
        values.pop("contact", None)
        values.pop("licence_terms", None)
        published = now - timedelta(days=n % 300)
        values.update(
            kind=kind,
            owner_org_id=orgs[kind],
            id=uuid.uuid4(),
            status="published",
            created_at=published,
            published_at=published,
            expires_at=published + timedelta(days=365),
        )
        made.append(values)
    return made


async def load(settings: Settings, count: int) -> None:
    """Migrate, add an institute and an enterprise, COPY the listings in."""
    conn = await db.connect(settings.database_url)
    try:
        await db.migrate(conn)
        orgs = {}
        for kind, org_kind in (("offer", "institute"), ("demand", "enterprise")):
            orgs[kind] = await conn.fetchval(
                "INSERT INTO organizations (name, kind, province, contact_email, status)"
                " VALUES ($1, $2, '79', $3, 'verified') RETURNING id",
                f"Reindex bench {org_kind}",
                org_kind,
                f"reindex-{org_kind}@example.vn",
            )
        made = rows(count, orgs)
        for kind in engine.KINDS:
            of_kind = [r for r in made if r["kind"] == kind]
            columns = list(of_kind[0])
            await conn.copy_records_to_table(
                "listings", records=[tuple(r[c] for c in columns) for r in of_kind], columns=columns
            )
        await conn.execute("ANALYZE listings")
    finally:
        await conn.close()


async def reindex(settings: Settings) -> tuple[float, dict[str, int], int]:
    """One run of the indexer's reindex: seconds, listings per kind, vectors cached after it."""
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=3)
    client = engine.open_client(settings)
    try:
        started = time.perf_counter()
        counts = await indexer.reindex(pool, client, settings)
        seconds = time.perf_counter() - started
        async with pool.acquire() as conn:
            vectors = await conn.fetchval("SELECT count(*) FROM embedding_cache")
        return seconds, counts, vectors
    finally:
        await client.aclose()
        await pool.close()


async def meilisearch_alone(settings: Settings) -> float:
    """Seconds to add the same documents (vectors included) to fresh indexes of the same settings, sent at once."""
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=2)
    client = engine.open_client(settings)
    try:
        async with pool.acquire() as conn:
            prepared = {}
            for kind in engine.KINDS:
                listed = await listings.public_rows_after(conn, kind, None, 10**9)
                vectors = await indexer.vectors_for(conn, listed, settings.embeddings)
                prepared[kind] = [documents.document(r, v) for r, v in zip(listed, vectors, strict=True)]
        for kind in engine.KINDS:
            await engine.ensure_index(client, f"alone_{kind}", kind)
        started = time.perf_counter()
        tasks = []
        for kind, docs in prepared.items():
            for start in range(0, len(docs), indexer.REINDEX_PAGE):
                page = docs[start : start + indexer.REINDEX_PAGE]
                tasks.append(await client.index(f"alone_{kind}").add_documents(page, primary_key="id"))
        await engine.wait_for(client, tasks)
        return time.perf_counter() - started
    finally:
        await client.aclose()
        await pool.close()


def measure(args: argparse.Namespace, started: Started) -> int:
    """Load, rebuild twice, add alone, print."""
    stack = started.start_stack()
    settings = Settings(
        database_url=stack.database_url,
        meili_url=stack.meili_url,
        meili_master_key=stack.meili_master_key,
        embeddings=not args.no_embeddings,
    )
    print(f"loading {args.listings} listings ...", file=sys.stderr, flush=True)
    run_async(load(settings, args.listings))
    print("reindex, vectors not cached yet ...", file=sys.stderr, flush=True)
    first, counts, vectors = run_async(reindex(settings))
    print("reindex again, every vector cached ...", file=sys.stderr, flush=True)
    second, _, _ = run_async(reindex(settings))
    print("the same documents into fresh indexes, Meilisearch alone ...", file=sys.stderr, flush=True)
    alone = run_async(meilisearch_alone(settings))
    print(f"{counts['offer']} offers + {counts['demand']} demands, {vectors} distinct texts with a vector")
    print("| run | seconds | listings/s |")
    print("|---|---|---|")
    total = sum(counts.values())
    for label, seconds in (
        ("exchange reindex, computing the vectors", first),
        ("exchange reindex, vectors cached", second),
        ("Meilisearch alone, same documents", alone),
    ):
        print(f"| {label} | {seconds:.1f} | {total / seconds:.0f} |")
    print(f"cached reindex / Meilisearch alone: {second / alone:.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, stopping what it started on the way out."""
    parser = argparse.ArgumentParser(prog="python -m bench.reindex_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=20_000, help="listings to load (default 20000)")
    parser.add_argument("--no-embeddings", action="store_true", help="index without vectors")
    args = parser.parse_args(argv)
    return run_measured("exchange-reindex-bench-", "reindex_bench", lambda started: measure(args, started))


if __name__ == "__main__":
    sys.exit(main())
