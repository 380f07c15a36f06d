"""Search benchmark on many published listings: loading, search through the API beside Meilisearch itself, matching, index lag."""

import argparse
import asyncio
import os
import random
import secrets
import string
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import msgspec
from meilisearch_python_sdk.index._common import process_search_parameters

from bench import search_corpus
from bench.http_bench import (
    Figures,
    Started,
    address,
    bench_run,
    concurrency_list,
    cpu_model,
    cycle_source,
    drive,
    expect,
    get_request,
    percentile,
    post_request,
    postgres_version,
    run_async,
)
from exchange.dev import processes
from exchange.dev import stack as devstack
from exchange.kernel import db
from exchange.kernel.settings import Settings, settings_from_env
from listings import public as public_listings
from listings import service as listings
from listings.repo import CONTENT_COLUMNS, SEED_COLUMNS
from listings.schemas import DemandCreate, OfferCreate
from matching import documents, embeddings, engine, indexer, repo, search
from matching.schemas import SearchFilters
from tests.support import bearer

INSTITUTES, ENTERPRISES = 12, 8
MATCH_SAMPLE = 40
LAG_PUBLICATIONS, LAG_WITHDRAWALS = 50, 20
LAG_POLL_SECONDS = 0.01
LAG_GIVE_UP_SECONDS = 30.0
# COPY speaks binary, which has no jsonb encoder here: the one jsonb column, contact, is left out (it is never public).
JSONB_COLUMNS = ("licence_terms",)
COPY_COLUMNS = ("kind", "owner_org_id", "created_by", *(c for c in CONTENT_COLUMNS if c != "contact"), *SEED_COLUMNS)
# The absolute p99 target of issue 3 was withdrawn for this ratio (issue 15).
TARGET_DEFAULT_RATIO, TARGET_LAG_MS = 0.45, 1000.0


STARTED = time.perf_counter()
LOAD_AT_START = os.getloadavg()


def step(message: str) -> None:
    """Progress on stderr, with the seconds since start."""
    print(f"[{time.perf_counter() - STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


class Orgs(msgspec.Struct):
    """The organizations setup registered: ids by kind and one key of each kind."""

    institutes: list[str]
    enterprises: list[str]
    institute_key: str


def register(client: httpx.Client, operator_key: str, kind: str, n: int) -> tuple[str, str]:
    """Register and verify one organization; return (id, owner key)."""
    suffix = secrets.token_hex(4)
    body = {
        "name": f"Bench {kind} {n} {suffix}",
        "kind": kind,
        "province": search_corpus.REGIONS[n % len(search_corpus.REGIONS)],
        "contact_email": f"bench-{suffix}@{kind}.example.vn",
    }
    registered = expect(client.post("/v1/organizations", json=body), 201)
    org_id = registered["organization"]["id"]
    expect(client.post(f"/v1/organizations/{org_id}/verify", headers=bearer(operator_key)), 200)
    return org_id, registered["api_key"]


def register_orgs(url: str, operator_key: str) -> Orgs:
    """The institutes that own the offers and the enterprises that own the demands."""
    with httpx.Client(base_url=url, timeout=30.0, trust_env=False) as client:
        institutes = [register(client, operator_key, "institute", n) for n in range(INSTITUTES)]
        enterprises = [register(client, operator_key, "enterprise", n) for n in range(ENTERPRISES)]
    return Orgs([i for i, _ in institutes], [e for e, _ in enterprises], institutes[0][1])


def listing_values(n: int, orgs: Orgs, now: datetime) -> dict:
    """The n-th listing's columns: its content completed and scored by the service's own code, published."""
    kind, body = search_corpus.listing_body(n)
    data = msgspec.convert(body, OfferCreate if kind == "offer" else DemandCreate)
    values = listings.content_columns(kind, data, default_region="01")
    owners = orgs.institutes if kind == "offer" else orgs.enterprises
    published = now - timedelta(days=n % 300, minutes=n % 1440)
    values.update(
        kind=kind,
        owner_org_id=owners[n % len(owners)],
        created_by=None,
        id=uuid.uuid4(),
        status="published",
        created_at=published - timedelta(days=2),
        submitted_at=published - timedelta(days=1),
        published_at=published,
        expires_at=published + timedelta(days=365),
    )
    return values


async def copy_listings(conn, rows: list[dict]) -> None:
    """COPY rows into listings, one COPY per kind with the columns that kind sets (the others keep their defaults)."""
    for kind in engine.KINDS:
        of_kind = [r for r in rows if r["kind"] == kind]
        if of_kind:
            # Binary COPY has no encoder for jsonb: licence terms, which the corpus never sets, keep their default.
            columns = [c for c in COPY_COLUMNS if c in of_kind[0] and c not in JSONB_COLUMNS]
            await conn.copy_records_to_table(
                "listings", records=[tuple(r[c] for c in columns) for r in of_kind], columns=columns
            )


async def shared_vectors(conn, rows: list[dict]) -> int:
    """Give every listing the vector of the first listing of its vector group, cached under its own text's hash."""
    # Computing 20,000 vectors takes about an hour on 2 cores; one per group keeps Meilisearch's work (20,000
    # vectors stored and searched) while the benchmark's process computes only a few dozen.
    first: dict[tuple, str] = {}
    for n, row in enumerate(rows):
        first.setdefault(search_corpus.vector_group(n), text_of(row))
    vectors, latent_terms = await embeddings.encoded(list(first.values()))
    computed, latents = dict(zip(first, vectors, strict=True)), dict(zip(first, latent_terms, strict=True))
    groups = {embeddings.text_hash(text_of(row)): search_corpus.vector_group(n) for n, row in enumerate(rows)}
    await repo.cache_vectors(
        conn, {key: computed[g] for key, g in groups.items()}, {key: latents[g] for key, g in groups.items()}
    )
    return len(computed)


def text_of(row: dict) -> str:
    """What the vector of a listing is computed from (its columns, read as a listing's view is)."""
    return documents.view_embedding_text(row)


async def default_index(pool, client, settings: Settings) -> str:
    """The same offer documents in a second index left with Meilisearch's default settings (its vectors left out)."""
    uid = engine.index_uid(settings, "offer") + "_defaults"
    await client.create_index(uid, primary_key="id", wait=True)
    after = None
    while True:
        async with pool.acquire() as conn:
            rows = await public_listings.public_rows_after(conn, "offer", after, 1000)
        if not rows:
            return uid
        docs = [{k: v for k, v in documents.document(r, None).items() if k != "_vectors"} for r in rows]
        await engine.wait_for(client, [await client.index(uid).add_documents(docs, primary_key="id")])
        after = rows[-1].id


async def load(settings: Settings, orgs: Orgs, count: int) -> dict[str, float]:
    """COPY `count` published listings into PostgreSQL, then build both indexes with the indexer's own reindex."""
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=3)
    client = engine.open_client(settings)
    figures: dict[str, float] = {}
    try:
        started = time.perf_counter()
        now = datetime.now(UTC)
        rows = [listing_values(n, orgs, now) for n in range(count)]
        figures["build_s"] = time.perf_counter() - started
        figures["distinct_texts"] = len({(r["title"], r["description"]) for r in rows})
        figures["distinct_titles"] = len({r["title"] for r in rows})
        started = time.perf_counter()
        async with pool.acquire() as conn:
            await copy_listings(conn, rows)
            await conn.execute("ANALYZE listings")
        figures["copy_s"] = time.perf_counter() - started
        step("  computing the shared vectors ...")
        started = time.perf_counter()
        async with pool.acquire() as conn:
            figures["vector_groups"] = await shared_vectors(conn, rows)
        figures["vectors_s"] = time.perf_counter() - started
        step(f"  reindexing {count} listings ...")
        started = time.perf_counter()
        counts = await indexer.reindex(pool, client, settings)
        figures["reindex_s"] = time.perf_counter() - started
        figures.update({f"indexed_{kind}": n for kind, n in counts.items()})
        step("  the default-settings index ...")
        started = time.perf_counter()
        figures["default_uid"] = await default_index(pool, client, settings)  # type: ignore[assignment]
        figures["default_s"] = time.perf_counter() - started
        async with pool.acquire() as conn:
            figures["vectors"] = await conn.fetchval("SELECT count(*) FROM embedding_cache")
            demand_ids = [
                str(r["id"])
                for r in await conn.fetch(
                    "SELECT id FROM listings WHERE kind = 'demand' AND status = 'published' ORDER BY random() LIMIT $1",
                    MATCH_SAMPLE,
                )
            ]
        figures["demand_ids"] = demand_ids  # type: ignore[assignment]
        return figures
    finally:
        await client.aclose()
        await pool.close()


def api_path(params: dict) -> str:
    """GET /v1/search/offers with these query parameters."""
    return "/v1/search/offers?" + urlencode(params, doseq=True)


def meili_body(params: dict) -> bytes:
    """The body matching.search sends to Meilisearch for these API parameters (the same arguments, built by the SDK)."""
    modes = params.get("transfer_mode")
    filters = SearchFilters(
        sector=params.get("sector"),
        trl_min=params.get("trl_min"),
        trl_max=params.get("trl_max"),
        transfer_mode=[modes] if isinstance(modes, str) else list(modes or []),
        region=params.get("region"),
        price_max=params.get("price_max"),
        language=params.get("language"),
        ip_status=params.get("ip_status"),
    )
    arguments = search.search_arguments(
        "offer",
        q=params.get("q"),
        filters=filters,
        sort=params.get("sort", "relevance"),
        limit=20,
        offset=0,
        facet_names=search.facet_list("offer", params.get("facets")),
    )
    body = process_search_parameters(q=arguments.pop("query"), **arguments)
    return msgspec.json.encode(body)


def default_body(params: dict) -> bytes:
    """The same query for the default-settings index: its words only (that index filters, sorts and facets nothing)."""
    return msgspec.json.encode({"q": params.get("q") or "", "limit": 20, "attributesToRetrieve": ["listing"]})


def check_queries(
    service_url: str, stack: devstack.Stack, uids: tuple[str, str], bodies: list[tuple[bytes, bytes]]
) -> list[tuple[int, int, int]]:
    """Each query's estimated total through the API, straight from Meilisearch (they must agree) and in the default index."""
    totals = []
    headers = {"Authorization": f"Bearer {stack.meili_master_key}", "Content-Type": "application/json"}
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        for params, pair in zip(search_corpus.QUERIES, bodies, strict=True):
            api = expect(client.get(service_url + api_path(params)), 200)
            ours, default = (
                expect(client.post(f"{stack.meili_url}/indexes/{uid}/search", content=body, headers=headers), 200)
                for uid, body in zip(uids, pair, strict=True)
            )
            totals.append((api["estimated_total"], ours["estimatedTotalHits"], default["estimatedTotalHits"]))
    return totals


def keyed_get(host: str, path: str, key: str) -> bytes:
    """The bytes of a GET with a bearer key."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nAuthorization: Bearer {key}\r\n\r\n".encode()


async def measure_search(
    service_url: str,
    service_pid: int,
    stack: devstack.Stack,
    uids: tuple[str, str],
    bodies: list[tuple[bytes, bytes]],
    args: argparse.Namespace,
) -> list[tuple[int, Figures, Figures, Figures]]:
    """The rotating queries at each concurrency through the API, straight to Meilisearch, then to the default index."""
    s_host, s_port, s_header = address(service_url)
    m_host, m_port, m_header = address(stack.meili_url)
    api = cycle_source([get_request(s_header, api_path(p)) for p in search_corpus.QUERIES])
    ours, default = (
        cycle_source([post_request(m_header, f"/indexes/{uid}/search", stack.meili_master_key, b[i]) for b in bodies])
        for i, uid in enumerate(uids)
    )
    rows = []
    for c in args.concurrency:
        step(f"  search at {c} ...")
        through_api = await drive(s_host, s_port, api, c, args.duration, None, service_pid)
        direct = await drive(m_host, m_port, ours, c, args.duration, None, None)
        plain = await drive(m_host, m_port, default, c, args.duration, None, None)
        rows.append((c, through_api, direct, plain))
    return rows


async def measure_matching(
    service_url: str, service_pid: int, operator_key: str, demand_ids: list[str], args: argparse.Namespace
) -> list[tuple[int, Figures]]:
    """GET /v1/demands/{id}/matches for the sampled demands, as an operator, at 1 and 4 clients."""
    host, port, header = address(service_url)
    source = cycle_source([keyed_get(header, f"/v1/demands/{i}/matches", operator_key) for i in demand_ids])
    rows = []
    for c in (1, 4):
        step(f"  matching at {c} ...")
        rows.append((c, await drive(host, port, source, c, args.duration, None, service_pid)))
    return rows


def unique_word() -> str:
    """A made-up word no listing contains, so that searching for it finds only the listing that carries it."""
    return "zq" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))


async def wait_search(client: httpx.AsyncClient, word: str, listing_id: str, present: bool, since: float) -> float:
    """Poll the search for `word` until the listing is (or is no longer) among the hits; seconds since `since`."""
    while True:
        response = await client.get("/v1/search/offers", params={"q": word, "limit": 5})
        seen = response.status_code == 200 and any(h["listing"]["id"] == listing_id for h in response.json()["hits"])
        if seen == present:
            return time.perf_counter() - since
        if time.perf_counter() - since > LAG_GIVE_UP_SECONDS:
            raise RuntimeError(
                f"listing {listing_id} still {'absent' if present else 'present'} after {LAG_GIVE_UP_SECONDS:g} s"
            )
        await asyncio.sleep(LAG_POLL_SECONDS)


async def measure_lag(service_url: str, operator_key: str, owner_key: str) -> tuple[list[float], list[float]]:
    """Publish offers one at a time (create, submit, approve) and withdraw some; seconds until search agrees."""
    offers = [n for n in range(1000) if search_corpus.listing_text(n)[0] == "offer"]
    published, withdrawn = [], []
    async with httpx.AsyncClient(base_url=service_url, timeout=30.0, trust_env=False) as client:
        ids = []
        for _ in range(LAG_PUBLICATIONS):
            word = unique_word()
            _, body = search_corpus.listing_body(random.choice(offers))
            body = {**body, "title": f"{body['title']} (mẫu {word})"}
            created = expect(await client.post("/v1/offers", json=body, headers=bearer(owner_key)), 201)
            expect(await client.post(f"/v1/offers/{created['id']}/submit", headers=bearer(owner_key)), 200)
            expect(await client.post(f"/v1/offers/{created['id']}/approve", headers=bearer(operator_key)), 200)
            published.append(await wait_search(client, word, created["id"], True, time.perf_counter()))
            ids.append((created["id"], word))
        for listing_id, word in ids[:LAG_WITHDRAWALS]:
            expect(await client.post(f"/v1/offers/{listing_id}/withdraw", headers=bearer(owner_key)), 200)
            withdrawn.append(await wait_search(client, word, listing_id, False, time.perf_counter()))
    return published, withdrawn


def ms(seconds: list[float], q: float) -> str:
    """A percentile of seconds, in milliseconds."""
    return f"{percentile(sorted(seconds), q) * 1000:.0f}"


def share(a: Figures, b: Figures) -> float:
    """a's requests per second as a share of b's."""
    return a.rps / b.rps if b.rps else 0.0


def verdict(ok: bool) -> str:
    """Whether a figure meets its target."""
    return "met" if ok else "MISSED"


def print_report(args, stack_pg: str, load_figures: dict, totals, search_rows, match_rows, lag) -> None:
    """Every figure, with the targets beside them."""
    cores = os.cpu_count() or 0
    before, after = (", ".join(f"{v:.2f}" for v in load) for load in (LOAD_AT_START, os.getloadavg()))
    print(
        f"machine: {cores} cores, {cpu_model()}; PostgreSQL {stack_pg}; load average {before} at start, {after} at the end"
    )
    print(
        f"service: `exchange serve --workers {args.workers}` on the embedded stack, RUN_JOBS on (the indexer runs in the service)"
    )
    print(
        f"listings: {args.listings} published ({load_figures['indexed_offer']} offers, {load_figures['indexed_demand']} demands), "
        f"{load_figures['distinct_texts']:.0f} distinct texts ({load_figures['distinct_titles']:.0f} distinct titles): "
        f"{search_corpus.TOPIC_SHARE:.0%} about 20 hand-written topics, the rest about random glossary technologies"
    )
    print()
    print("1. loading")
    print(f"   build rows (content_columns, quality score): {load_figures['build_s']:.1f} s")
    print(f"   COPY into PostgreSQL + ANALYZE:              {load_figures['copy_s']:.1f} s")
    print(
        f"   shared vectors:                              {load_figures['vectors_s']:.1f} s "
        f"({load_figures['vector_groups']:.0f} computed, one per kind, sector and language, cached for every listing)"
    )
    print(f"   indexer.reindex into Meilisearch:            {load_figures['reindex_s']:.1f} s")
    print(f"   default-settings copy of the offers:         {load_figures['default_s']:.1f} s")
    print()
    agree = sum(1 for a, m, _ in totals if a == m)
    hits = sorted(a for a, _, _ in totals)
    plain = sorted(d for _, _, d in totals)
    print(
        f"2. search: {len(search_corpus.QUERIES)} rotating queries on GET /v1/search/offers, then the same straight to "
        f"Meilisearch (ours: the body matching.search sends; default: the default-settings index, q and limit only), "
        f"{args.duration:g} s per run after 1 s warm-up"
    )
    print(
        f"   estimated totals agree API = Meilisearch on {agree}/{len(totals)} queries;"
        f" hits per query min {hits[0]}, median {hits[len(hits) // 2]}, max {hits[-1]}"
        f" (default index: {plain[0]}, {plain[len(plain) // 2]}, {plain[-1]})"
    )
    print(
        "   conc |  API p50 |  API p99 | API req/s | errors | ours p50 | ours req/s | default p50 | default req/s |"
        " API/ours | API/default | ours/default | service CPU %"
    )
    for c, a, m, d in search_rows:
        print(
            f"   {c:4d} | {a.p50_ms:8.2f} | {a.p99_ms:8.2f} | {a.rps:9.0f} | {a.errors + m.errors + d.errors:6d} | "
            f"{m.p50_ms:8.2f} | {m.rps:10.0f} | {d.p50_ms:11.2f} | {d.rps:13.0f} | {share(a, m):8.2f} | "
            f"{share(a, d):11.2f} | {share(m, d):12.2f} | {a.cpu.get('server', float('nan')):5.0f}"
        )
    for c, a, _, d in search_rows:
        if c == 8:
            print(
                f"   target API throughput >= {TARGET_DEFAULT_RATIO:g} x default-settings index at 8 clients: "
                f"{share(a, d):.2f}, {verdict(share(a, d) >= TARGET_DEFAULT_RATIO)}"
            )
    print()
    print(f"3. matching: GET /v1/demands/{{id}}/matches over {MATCH_SAMPLE} sampled demands, operator key")
    print("   conc |  p50 ms |  p99 ms | req/s | requests | errors")
    for c, f in match_rows:
        print(f"   {c:4d} | {f.p50_ms:7.1f} | {f.p99_ms:7.1f} | {f.rps:5.1f} | {f.count:8d} | {f.errors:6d}")
    print()
    published, withdrawn = lag
    print(
        "4. index lag: from the approve (withdraw) response to the first search that shows (stops showing) it,"
        f" polled every {LAG_POLL_SECONDS * 1000:g} ms"
    )
    print(
        f"   publish  ({len(published)}): p50 {ms(published, 0.5)} ms, p99 {ms(published, 0.99)} ms, max {ms(published, 1.0)} ms; "
        f"target p99 < {TARGET_LAG_MS:g} ms: {verdict(percentile(sorted(published), 0.99) * 1000 < TARGET_LAG_MS)}"
    )
    print(
        f"   withdraw ({len(withdrawn)}): p50 {ms(withdrawn, 0.5)} ms, p99 {ms(withdrawn, 0.99)} ms, max {ms(withdrawn, 1.0)} ms"
    )
    errors = [(f"search API at {c}", a) for c, a, _, _ in search_rows if a.errors]
    errors += [(f"Meilisearch at {c}", m) for c, _, m, _ in search_rows if m.errors]
    errors += [(f"default index at {c}", d) for c, _, _, d in search_rows if d.errors]
    errors += [(f"matching at {c}", f) for c, f in match_rows if f.errors]
    print()
    if not errors:
        print("errors: none")
    for name, figures in errors:
        for kind, count in figures.kinds.most_common():
            print(f"ERROR {name}: {count} x {kind}: {figures.samples[kind]}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.search_bench", description=__doc__)
    p.add_argument("--listings", type=int, default=20_000, help="published listings to load (default 20000)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds measured per run (default 5)")
    p.add_argument(
        "--concurrency", type=concurrency_list, default=[1, 8, 32], help="search clients per run, e.g. 1,8,32"
    )
    p.add_argument("--workers", type=int, default=1, help="worker processes of the service (default 1)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the stack and the service, load, measure, print, and stop everything this run started."""
    args = parse_args(argv)
    with bench_run("exchange-search-bench-") as started:
        try:
            return measure(args, started)
        except (RuntimeError, httpx.HTTPError) as exc:
            print(f"bench: {exc}", file=sys.stderr)
            log = started.workdir / "service.log"
            if log.exists():
                print(processes.log_tail(log), file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\ninterrupted; stopping what this run started", file=sys.stderr)
            return 130


def measure(args: argparse.Namespace, started: Started) -> int:
    """Load the listings into the service's stack, measure everything and print the report."""
    stack = started.start_stack()
    operator_key = secrets.token_urlsafe(32)
    os.environ["RUN_JOBS"] = "true"
    service_url, proc = started.start_service(stack, operator_key, False, args.workers)
    settings = settings_from_env({**os.environ, **stack.env()})
    orgs = register_orgs(service_url, operator_key)
    step(f"loading {args.listings} listings ...")
    load_figures = run_async(load(settings, orgs, args.listings))
    uids = (engine.index_uid(settings, "offer"), load_figures["default_uid"])
    bodies = [(meili_body(p), default_body(p)) for p in search_corpus.QUERIES]
    totals = check_queries(service_url, stack, uids, bodies)
    step("measuring ...")
    search_rows = run_async(measure_search(service_url, proc.pid, stack, uids, bodies, args))
    match_rows = run_async(measure_matching(service_url, proc.pid, operator_key, load_figures["demand_ids"], args))
    step("  index lag ...")
    lag = run_async(measure_lag(service_url, operator_key, orgs.institute_key))
    step("done")
    print_report(
        args, run_async(postgres_version(stack.database_url)), load_figures, totals, search_rows, match_rows, lag
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
