"""The indexer: drains listing events from the outbox into Meilisearch, and rebuilds the indexes."""

import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

import asyncpg
import msgspec
from meilisearch_python_sdk import AsyncClient

from exchange.kernel import outbox
from exchange.kernel.events import ListingChanged, ListingIndexed
from exchange.kernel.outbox import OutboxRow
from exchange.kernel.settings import Settings
from listings import public as listings
from listings.public import Listing
from matching import documents, embeddings, engine, repo, spelling
from matching.embeddings import Latents

log = logging.getLogger("matching.indexer")

BATCH_SIZE = 100
# Listings read and sent per page when rebuilding an index.
REINDEX_PAGE = 1000
# Computing vectors takes about 0.2 s a listing. Each batch is one Meilisearch task and, once announced, one matching
# pass over every demand its offers reach: in a burst of 200 offers with 700 subscribed demands, batches of 25 instead
# of 10 took Meilisearch 11-12 CPU-seconds instead of 19 and PostgreSQL 4 instead of 8. A lone listing goes alone.
VECTOR_BATCH_SIZE = 25
LISTING_CHANGED = ListingChanged.__struct_config__.tag

T = TypeVar("T")


def key_of(text: str, language: str | None) -> bytes:
    """The cache key of a listing's text: Vietnamese typed without diacritics is read restored, under a key of its own."""
    return embeddings.text_hash(text, spelling.restorable(text, language))


def text_key(row: Listing) -> bytes:
    """The cache key of the text a listing's vector is computed from."""
    return key_of(documents.embedding_text(row), row.language)


class SpellingsSeen(outbox.Event, frozen=True, kw_only=True, tag="listing.spellings_seen"):
    """A public Vietnamese listing written with diacritics: its spellings are to be counted (once per text)."""

    id: UUID


class VectorNeeded(outbox.Event, frozen=True, kw_only=True, tag="listing.vector_needed"):
    """A listing is searchable by its words; the vector of its new text is still to be computed and set."""

    id: UUID
    kind: str
    version: int


async def vectors_for(conn: asyncpg.Connection, rows: list[Listing], enabled: bool) -> list[list[float] | None]:
    """The vector of each listing: from the cache when its text is unchanged, else computed now."""
    if not enabled:
        return [None] * len(rows)
    keys = [text_key(r) for r in rows]
    texts = {k: (documents.embedding_text(r), r.language) for k, r in zip(keys, rows, strict=True)}
    known = await encoded_once(conn, texts, repo.cached_vectors, lambda vector, _: vector)
    return [known[k] for k in keys]


async def encoded_once(
    conn: asyncpg.Connection,
    texts: dict[bytes, tuple[str, str | None]],
    cached: Callable[[asyncpg.Connection, list[bytes]], Awaitable[dict[bytes, T]]],
    part: Callable[[list[float], Latents], T],
    wait: bool = True,
) -> dict[bytes, T]:
    """What `cached` reads of each text and its language (by the text's key), computing and caching first the texts
    nobody has yet.

    A text another process is computing is waited for and its result reused; without `wait` it is left out."""
    known = await cached(conn, list(texts))
    if unknown := [k for k in texts if k not in known]:
        # The locks are held until the results are cached, even on a connection outside any transaction (a request's).
        async with conn.transaction():
            if wait:
                await repo.lock_texts(conn, unknown)
            else:
                unknown = await repo.texts_locked_if_free(conn, unknown)
            known.update(await cached(conn, unknown))
            missing = {k: texts[k] for k in unknown if k not in known}
            read = await restored(conn, missing)
            vectors, latents = await embeddings.encoded(list(read.values()))
            await repo.cache_vectors(
                conn, dict(zip(missing, vectors, strict=True)), dict(zip(missing, latents, strict=True))
            )
            known.update((k, part(v, t)) for k, v, t in zip(missing, vectors, latents, strict=True))
    return known


async def restored(conn: asyncpg.Connection, texts: dict[bytes, tuple[str, str | None]]) -> dict[bytes, str]:
    """What the model reads of each text and its language: Vietnamese typed without diacritics with the diacritics
    the catalogue spells its words with."""
    plain = {
        k: text[: embeddings.MAX_CHARS] for k, (text, language) in texts.items() if spelling.restorable(text, language)
    }
    known = (
        await repo.spellings_of(conn, [w for text in plain.values() for w in spelling.wanted(text)]) if plain else {}
    )
    return {k: spelling.restored(plain[k], known) if k in plain else text for k, (text, _) in texts.items()}


async def learn_spellings(conn: asyncpg.Connection, rows: list[Listing]) -> int:
    """Count the spellings of those of these listings that are Vietnamese written with diacritics; how many texts
    were new."""
    texts = {}
    for row in rows:
        text = documents.embedding_text(row)
        if spelling.spelled_by(text, row.language):
            texts[hashlib.sha256(text.encode()).digest()] = spelling.spellings(text)
    return await repo.learn_spellings(conn, texts) if texts else 0


async def push(
    client: AsyncClient,
    settings: Settings,
    conn: asyncpg.Connection,
    rows: list[Listing],
    removed: dict[str, list[UUID]],
) -> set[UUID]:
    """Upsert these public listings and delete the removed ids; return once Meilisearch has applied all of it.

    A listing goes in with the vector its text already has; the ids returned are those whose text has none yet."""
    # Keyword search must see a listing within a second of its publication, and a new text's vector takes 0.2 s
    # on a quiet machine (far more on a busy one): the vector consumer computes it and sets it afterwards.
    keys = {r.id: text_key(r) for r in rows}
    known = await repo.cached_vectors(conn, list(keys.values())) if settings.embeddings else {}
    tasks = []
    for kind in engine.KINDS:
        index = client.index(engine.index_uid(settings, kind))
        docs = [documents.document(r, known.get(keys[r.id])) for r in rows if r.kind == kind]
        if docs:
            tasks.append(await index.add_documents(docs, primary_key="id"))
        if removed.get(kind):
            tasks.append(await index.delete_documents([str(i) for i in removed[kind]]))
    await engine.wait_for(client, tasks)
    return {listing_id for listing_id, key in keys.items() if settings.embeddings and key not in known}


async def index_events(
    client: AsyncClient, settings: Settings, conn: asyncpg.Connection, events: list[OutboxRow]
) -> None:
    """Bring the indexes in line with the current state of the listings these events are about."""
    kinds = {e.aggregate_id: outbox.decode(e, ListingChanged).kind for e in events}
    ids = sorted(kinds)
    # Two indexers must not push an older state of a listing after a newer one.
    await repo.lock_listings(conn, ids)
    current = {r.id: r for r in await listings.rows_by_id(conn, ids)}
    now = datetime.now(UTC)
    public = [r for r in current.values() if listings.is_public(r, now)]
    public_ids = {r.id for r in public}
    removed: dict[str, list[UUID]] = {}
    for listing_id in ids:
        row = current.get(listing_id)
        # A listing never published was never indexed: its drafts and reviews send Meilisearch nothing.
        if listing_id not in public_ids and (row is None or row.published_at is not None):
            removed.setdefault(kinds[listing_id], []).append(listing_id)
    without_vector = await push(client, settings, conn, public, removed)
    for listing_id in ids:
        row = current.get(listing_id)
        if row is None:
            continue
        if row.id in public_ids and spelling.spelled_by(documents.embedding_text(row), row.language):
            await outbox.emit(conn, row.id, SpellingsSeen(id=row.id))
        if row.id in without_vector:
            await outbox.emit(conn, row.id, VectorNeeded(id=row.id, kind=row.kind, version=row.version))
        else:
            await outbox.emit(conn, row.id, indexed_event(row, searchable=row.id in public_ids))


def indexed_event(row: Listing, searchable: bool) -> ListingIndexed:
    """The announcement that this state of a listing is what search now holds."""
    return ListingIndexed(id=row.id, kind=row.kind, status=row.status, version=row.version, searchable=searchable)


async def add_vectors(
    client: AsyncClient, settings: Settings, conn: asyncpg.Connection, events: list[OutboxRow]
) -> None:
    """Compute the vectors of listings pushed without one and set them, unless the listing changed meanwhile."""
    ids = sorted({e.aggregate_id for e in events})
    started = time.perf_counter()
    rows = await listings.rows_by_id(conn, ids)
    # Computed before taking the listings' locks, so the indexer is not held up by the model.
    vectors = {r.id: v for r, v in zip(rows, await vectors_for(conn, rows, settings.embeddings), strict=True)}
    computed_at = time.perf_counter()
    await repo.lock_listings(conn, ids)
    now = datetime.now(UTC)
    computed = {r.id: text_key(r) for r in rows}
    # A listing withdrawn since is out of the index (a partial update would bring a husk of it back); one whose
    # text changed since has a newer event of its own.
    ready = [
        r
        for r in await listings.rows_by_id(conn, ids)
        if listings.is_public(r, now) and computed.get(r.id) == text_key(r)
    ]
    await push_vectors(client, settings, ready, [vectors[r.id] for r in ready])
    for row in ready:
        await outbox.emit(conn, row.id, indexed_event(row, searchable=True))
    log.debug(
        "vectors of %d listings: computed in %.3f s, set in %.3f s",
        len(rows),
        computed_at - started,
        time.perf_counter() - computed_at,
    )


async def add_spellings(conn: asyncpg.Connection, events: list[OutboxRow]) -> None:
    """Count the spellings of the public Vietnamese listings these events name, in a transaction of its own: the
    words shared by every text are locked only as long as that takes."""
    now = datetime.now(UTC)
    rows = await listings.rows_by_id(conn, sorted({e.aggregate_id for e in events}))
    await learn_spellings(conn, [r for r in rows if listings.is_public(r, now)])


async def push_vectors(
    client: AsyncClient, settings: Settings, rows: list[Listing], vectors: list[list[float] | None]
) -> None:
    """Set the vectors of listings already in the index (a partial update: nothing else of them changes)."""
    tasks = []
    for kind in engine.KINDS:
        updates = [
            {"id": str(r.id), "_vectors": {engine.EMBEDDER: v}}
            for r, v in zip(rows, vectors, strict=True)
            if r.kind == kind
        ]
        if updates:
            tasks.append(
                await client.index(engine.index_uid(settings, kind)).update_documents(updates, primary_key="id")
            )
    await engine.wait_for(client, tasks)


@contextlib.asynccontextmanager
async def consumers(settings: Settings) -> AsyncIterator[list[outbox.Consumer]]:
    """The indexer as an outbox consumer, holding its own Meilisearch client."""
    client = engine.open_client(settings)
    ready = False

    async def handle(conn: asyncpg.Connection, events: list[OutboxRow]) -> None:
        nonlocal ready
        if not ready:
            await engine.ensure_indexes(client, settings)
            ready = True
        await index_events(client, settings, conn, events)

    async def add(conn: asyncpg.Connection, events: list[OutboxRow]) -> None:
        await add_vectors(client, settings, conn, events)

    try:
        yield [
            outbox.Consumer("search-indexer", (LISTING_CHANGED,), handle, BATCH_SIZE),
            outbox.Consumer("search-vectors", (VectorNeeded.__struct_config__.tag,), add, VECTOR_BATCH_SIZE),
            outbox.Consumer("search-spellings", (SpellingsSeen.__struct_config__.tag,), add_spellings, BATCH_SIZE),
        ]
    finally:
        await client.aclose()


async def reindex(
    pool: asyncpg.Pool, client: AsyncClient, settings: Settings, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Rebuild both indexes from PostgreSQL into fresh ones and swap them in; searches are answered throughout."""
    counts = {}
    async with pool.acquire() as conn:
        start = await conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
    # Both live indexes must exist to be swapped with their fresh copies.
    await engine.ensure_indexes(client, settings)
    for kind in engine.KINDS:
        live = engine.index_uid(settings, kind)
        fresh = f"{live}_rebuild_{int(datetime.now(UTC).timestamp())}"
        await engine.ensure_index(client, fresh, kind)
        counts[kind] = 0
        after: UUID | None = None
        # Sent without waiting for each: Meilisearch takes consecutive additions to one index in as few batches as
        # it can, so the vector store is written a few times, not once per page.
        tasks = []
        while True:
            async with pool.acquire() as conn:
                rows = await listings.public_rows_after(conn, kind, after, REINDEX_PAGE)
                if not rows:
                    break
                # Counted first and committed at once: the page's plain texts are read with its own spellings, and the
                # words every text shares are not held locked while the model reads.
                async with conn.transaction():
                    await learn_spellings(conn, rows)
                vectors = await vectors_for(conn, rows, settings.embeddings)
            docs = [documents.document(r, v) for r, v in zip(rows, vectors, strict=True)]
            tasks.append(await client.index(fresh).add_documents(docs, primary_key="id"))
            after = rows[-1].id
            counts[kind] += len(rows)
            if progress:
                progress(kind, len(rows))
        await engine.wait_for(client, tasks)
        await engine.wait_for(client, [await client.swap_indexes([(live, fresh)])])
        await engine.wait_for(client, [await client.index(fresh).delete()])
    # Listings that changed while the copy was being built: push their current state into the swapped-in index.
    async with pool.acquire() as conn, conn.transaction():
        changed = await conn.fetch(
            "SELECT DISTINCT ON (aggregate_id) id, topic, aggregate_id, payload, attempts, created_at FROM outbox"
            " WHERE id > $1 AND topic = $2 ORDER BY aggregate_id, id DESC",
            start,
            LISTING_CHANGED,
        )
        if changed:
            await index_events(client, settings, conn, [msgspec.convert(dict(r), OutboxRow) for r in changed])
    return counts
