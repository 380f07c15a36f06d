"""The indexer's two steps against the real Meilisearch: words first, the vector after, never a withdrawn listing back."""

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from meilisearch_python_sdk.models.settings import MeilisearchSettings, UserProvidedEmbedder

from exchange.kernel import db
from exchange.kernel.outbox import OutboxRow
from listings import public as listings
from matching import documents, embeddings, engine, indexer
from tests.matching.waiting import indexed, search_until, settled
from tests.support import bearer, offer_body, operator_key, published, verified_org


async def document(settings, listing_id: str) -> httpx.Response:
    """The offer's document as Meilisearch holds it, with its vector."""
    headers = {"Authorization": f"Bearer {settings.meili_master_key}"}
    async with httpx.AsyncClient(base_url=settings.meili_url, headers=headers, trust_env=False) as meili:
        return await meili.get(
            f"/indexes/{engine.index_uid(settings, 'offer')}/documents/{listing_id}", params={"retrieveVectors": "true"}
        )


async def test_a_vector_computed_for_a_listing_withdrawn_meanwhile_does_not_bring_it_back(client, conn, settings):
    operator = await operator_key(conn)
    _, institute = await verified_org(client, operator, "institute")
    offer = await published(client, "offer", institute, operator, offer_body(title="Lò nhiệt phân biochar rút lại"))
    await indexed(conn, offer["id"])
    assert (await client.post(f"/v1/offers/{offer['id']}/withdraw", headers=bearer(institute))).status_code == 200
    await search_until(client, "offer", {"q": "biochar"}, lambda body: body["hits"] == [])
    await settled(conn, offer["id"])
    before = await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'listing.indexed'")

    # The vector step of the publication, arriving late (as when the model was slow).
    late = OutboxRow(
        id=0,
        topic="listing.vector_needed",
        aggregate_id=uuid.UUID(offer["id"]),
        attempts=0,
        payload={"id": offer["id"], "kind": "offer", "version": 3},
        created_at=datetime.now(UTC),
    )
    async with conn.transaction():
        await indexer.add_vectors(client.app.state.meili, settings, conn, [late])

    assert (await document(settings, offer["id"])).status_code == 404
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'listing.indexed'") == before


async def test_a_new_text_is_searchable_before_its_vector_and_gets_it_after(client, conn, settings):
    operator = await operator_key(conn)
    _, institute = await verified_org(client, operator, "institute")
    offer = await published(client, "offer", institute, operator, offer_body(title="Lò nhiệt phân biochar mới"))
    await settled(conn, offer["id"])
    topics = [
        r["topic"]
        for r in await conn.fetch(
            "SELECT topic FROM outbox WHERE aggregate_id = $1::uuid AND topic <> 'listing.changed' ORDER BY id",
            offer["id"],
        )
    ]
    # Repeated events of one publication may each ask for the vector; it is announced once it is in.
    assert "listing.vector_needed" in topics and topics[-1] == "listing.indexed"
    [stored] = (await document(settings, offer["id"])).json()["_vectors"][engine.EMBEDDER]["embeddings"]
    [(cached, ids, weights)] = await conn.fetch("SELECT vector, latent_ids, latent_weights FROM embedding_cache")
    assert len(stored) == embeddings.DIMENSIONS
    assert max(abs(a - b) for a, b in zip(stored, cached, strict=True)) < 1e-5
    # Its latent terms are computed with it (distinct features, at unit length), and the vector is folded of them.
    assert 0 < len(ids) == len(set(ids)) == len(weights) <= embeddings.LATENTS
    assert not set(ids) & embeddings.UNINFORMATIVE
    assert sum(w * w for w in weights) == pytest.approx(1.0, abs=1e-4)
    folded = embeddings.folded(embeddings.Latents(list(ids), list(weights)))
    assert max(abs(a - b) for a, b in zip(folded, cached, strict=True)) < 1e-5


async def test_a_listing_never_published_sends_meilisearch_nothing(client, conn, settings):
    operator = await operator_key(conn)
    _, institute = await verified_org(client, operator, "institute")
    created = await client.post("/v1/offers", json=offer_body(), headers=bearer(institute))
    assert created.status_code == 201, created.text
    submitted = await client.post(f"/v1/offers/{created.json()['id']}/submit", headers=bearer(institute))
    assert submitted.status_code == 200, submitted.text
    await settled(conn, created.json()["id"])
    headers = {"Authorization": f"Bearer {settings.meili_master_key}"}
    async with httpx.AsyncClient(base_url=settings.meili_url, headers=headers, trust_env=False) as meili:
        tasks = await meili.get(
            "/tasks",
            params={
                "indexUids": engine.index_uid(settings, "offer"),
                "types": "documentDeletion,documentAdditionOrUpdate",
            },
        )
    assert tasks.status_code == 200 and tasks.json()["results"] == []


async def test_two_workers_needing_one_new_text_compute_its_vector_once(client, conn, database_url, monkeypatch):
    operator = await operator_key(conn)
    _, institute = await verified_org(client, operator, "institute")
    created = await client.post(
        "/v1/offers", json=offer_body(title="Bể lọc sinh học nhỏ gọn chưa có vector"), headers=bearer(institute)
    )
    assert created.status_code == 201, created.text
    [row] = await listings.rows_by_id(conn, [uuid.UUID(created.json()["id"])])
    computed: list[str] = []
    original = embeddings.encoded

    async def counted(texts: list[str]) -> tuple[list[list[float]], list[embeddings.Latents]]:
        computed.extend(texts)
        return await original(texts)

    monkeypatch.setattr(embeddings, "encoded", counted)

    async def worker() -> list[list[float] | None]:
        other = await db.connect(database_url)
        try:
            async with other.transaction():
                return await indexer.vectors_for(other, [row], True)
        finally:
            await other.close()

    first, second = await asyncio.gather(worker(), worker())
    # The second worker read the first one's vector back from the cache (stored as float4).
    assert first[0] is not None and second[0] is not None
    assert max(abs(a - b) for a, b in zip(first[0], second[0], strict=True)) < 1e-6
    assert computed == [documents.embedding_text(row)]


async def test_an_index_set_up_with_an_older_embedder_loses_it_and_takes_documents(settings):
    client = engine.open_client(settings)
    uid = f"{settings.meili_index_prefix}older-{uuid.uuid4().hex[:8]}"
    try:
        await client.create_index(uid, primary_key="id", wait=True)
        older = MeilisearchSettings(embedders={"e5": UserProvidedEmbedder(dimensions=384)})
        await engine.wait_for(client, [await client.index(uid).update_settings(older)])
        await engine.ensure_index(client, uid, "offer")
        assert set((await client.index(uid).get_embedders()).embedders) == {engine.EMBEDDER}
        # A document carrying only the current embedder's vector is taken (with the older one left, its batch failed).
        vector = embeddings.folded(embeddings.Latents([5, 9], [0.6, 0.8]))
        task = await client.index(uid).add_documents([{"id": "a", "title": "x", "_vectors": {engine.EMBEDDER: vector}}])
        await engine.wait_for(client, [task])
    finally:
        await client.delete_index_if_exists(uid)
        await client.aclose()
