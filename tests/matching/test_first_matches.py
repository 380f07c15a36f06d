"""Matches asked for before the vectors job has run compute the new counterparts' latent terms themselves, once."""

import uuid

import msgspec

from exchange.kernel import db
from exchange.kernel.outbox import OutboxRow
from listings import public as listings
from matching import engine, indexer, repo
from tests.parties import settings_without_jobs  # noqa: F401 - overrides the settings fixture here
from tests.support import bearer, demand_body, offer_body, operator_key, published, verified_org

DEMAND = demand_body(
    title="Cần hệ thống xử lý nước thải chăn nuôi heo bằng màng sinh học MBR",
    description=(
        "Trang trại heo 3.000 con của chúng tôi thải khoảng 60 m3 nước thải chăn nuôi mỗi ngày. Cần hệ thống xử lý "
        "nước thải bằng màng sinh học MBR đạt QCVN 62-MT:2016/BTNMT, diện tích nhỏ, chi phí vận hành thấp."
    ),
    language="vi",
    keywords=["nước thải", "chăn nuôi", "MBR"],
)


async def indexed_by_words(conn, settings) -> None:
    """Index every listing change so far as the indexer job does; the vectors job, off here, is left its events."""
    events = await conn.fetch(
        "SELECT id, topic, aggregate_id, payload, attempts, created_at FROM outbox"
        " WHERE topic = 'listing.changed' ORDER BY id"
    )
    meili = engine.open_client(settings)
    try:
        await engine.ensure_indexes(meili, settings)
        async with conn.transaction():
            await indexer.index_events(meili, settings, conn, [msgspec.convert(dict(e), OutboxRow) for e in events])
    finally:
        await meili.aclose()


async def published_by_words(client, conn, settings, offers: list[dict], demand: dict) -> tuple[list[dict], dict, str]:
    """Offers of an institute and a demand of an enterprise, published and searchable by their words; the demand's
    owner key."""
    operator = await operator_key(conn)
    _, institute = await verified_org(client, operator, "institute")
    _, enterprise = await verified_org(client, operator, "enterprise")
    views = [await published(client, "offer", institute, operator, body) for body in offers]
    view = await published(client, "demand", enterprise, operator, demand)
    await indexed_by_words(conn, settings)
    return views, view, enterprise


async def new_offer_and_demand(client, conn, settings) -> tuple[dict, dict, str, bytes]:
    """A published offer and a demand of the same topic, searchable by their words, with no latent terms cached."""
    [offer], demand, enterprise = await published_by_words(client, conn, settings, [offer_body()], DEMAND)
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'listing.vector_needed'") == 2
    assert await conn.fetchval("SELECT count(*) FROM embedding_cache") == 0
    [row] = await listings.rows_by_id(conn, [uuid.UUID(offer["id"])])
    return offer, demand, enterprise, indexer.text_key(row)


def item_of(response, listing_id: str) -> dict:
    """The match of this listing in a matches response."""
    assert response.status_code == 200, response.text
    [item] = [i for i in response.json()["items"] if i["listing"]["id"] == listing_id]
    return item


async def test_a_new_offer_asked_for_before_its_vector_is_weighed_by_meaning_and_cached(client, conn, settings):
    offer, demand, enterprise, offer_text = await new_offer_and_demand(client, conn, settings)

    response = await client.get(f"/v1/demands/{demand['id']}/matches", headers=bearer(enterprise))

    assert item_of(response, offer["id"])["explanation"]["semantic_similarity"] > 0
    # The demand's own text and the offer's, each computed once: the vectors job will find both cached.
    assert await conn.fetchval("SELECT count(*) FROM embedding_cache") == 2
    assert offer_text in await repo.cached_latents(conn, [offer_text])
    again = await client.get(f"/v1/demands/{demand['id']}/matches", headers=bearer(enterprise))
    assert item_of(again, offer["id"])["score"] == item_of(response, offer["id"])["score"]


async def test_a_text_another_process_is_computing_is_not_waited_for_nor_computed_again(
    client, conn, settings, database_url
):
    offer, demand, enterprise, offer_text = await new_offer_and_demand(client, conn, settings)
    other = await db.connect(database_url)
    # As the vectors job holds it while the model reads the offer's text. PostgreSQL ends that session 10 s later, so
    # that a request that waited for it would then compute and cache the text after all (and the test cannot hang).
    await other.execute("SET idle_in_transaction_session_timeout = '10s'")
    await other.execute("BEGIN")
    await repo.lock_texts(other, [offer_text])
    try:
        response = await client.get(f"/v1/demands/{demand['id']}/matches", headers=bearer(enterprise))
    finally:
        other.terminate()

    # Found by its words, its closeness not known yet: nothing computed for it while another was computing it.
    assert item_of(response, offer["id"])["explanation"]["semantic_similarity"] == 0
    assert offer_text not in await repo.cached_latents(conn, [offer_text])
    assert await conn.fetchval("SELECT count(*) FROM embedding_cache") == 1
