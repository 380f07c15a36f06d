"""Vietnamese typed without diacritics is read by the model with the spellings the catalogue's own texts use."""

import uuid

import msgspec

from exchange.kernel.outbox import OutboxRow
from listings import public as listings
from matching import documents, embeddings, indexer, repo, spelling
from tests.matching.test_first_matches import DEMAND, published_by_words
from tests.parties import settings_without_jobs  # noqa: F401 - overrides the settings fixture here
from tests.support import bearer, demand_body, offer_body

PLAIN_DEMAND = demand_body(
    title="Can cong nghe xu ly nuoc thai chan nuoi heo bang mang sinh hoc MBR",
    description=(
        "Trang trai heo 3.000 con cua chung toi thai khoang 60 m3 nuoc thai chan nuoi moi ngay. Can he thong xu ly "
        "nuoc thai bang mang sinh hoc MBR dat QCVN 62-MT:2016/BTNMT, dien tich nho, chi phi van hanh thap."
    ),
    language="vi",
    keywords=["nuoc thai", "chan nuoi", "MBR"],
)


async def spellings_events(conn) -> list[OutboxRow]:
    """The events that ask for spellings to be counted, as the spellings job would claim them."""
    rows = await conn.fetch(
        "SELECT id, topic, aggregate_id, payload, attempts, created_at FROM outbox"
        " WHERE topic = 'listing.spellings_seen' ORDER BY id"
    )
    return [msgspec.convert(dict(r), OutboxRow) for r in rows]


async def test_a_plain_vietnamese_demand_is_read_with_the_diacritics_of_the_catalogue(client, conn, settings):
    [offer], demand, _ = await published_by_words(client, conn, settings, [offer_body()], PLAIN_DEMAND)

    # Only the offer is Vietnamese written with diacritics; each text is counted once however often it is indexed.
    [event] = await spellings_events(conn)
    assert str(event.aggregate_id) == offer["id"]
    async with conn.transaction():
        await indexer.add_spellings(conn, [event])
    [offer_row] = await listings.rows_by_id(conn, [uuid.UUID(offer["id"])])
    offer_text = documents.embedding_text(offer_row)
    counted = await repo.spellings_of(conn, ["nuoc thai", "xu ly"])
    assert counted["nuoc thai"] == {"nước thải": offer_text.lower().count("nước thải")}
    async with conn.transaction():
        await indexer.add_spellings(conn, [event])
    assert await repo.spellings_of(conn, ["nuoc thai", "xu ly"]) == counted

    [row] = await listings.rows_by_id(conn, [uuid.UUID(demand["id"])])
    text = documents.embedding_text(row)
    key = indexer.text_key(row)
    assert key == embeddings.text_hash(text, restored=True) != embeddings.text_hash(text)
    read = (await indexer.restored(conn, {key: (text, row.language)}))[key]
    # The offer never writes "cần" (need): that word stays as typed.
    assert read.startswith("Can công nghệ xử lý nước thải chăn nuôi heo bằng màng sinh học MBR")
    assert "QCVN 62-MT:2016/BTNMT" in read

    # The vector job's path caches the latent terms of what it read: the restored text's, nearer the offer's.
    await indexer.vectors_for(conn, [row], enabled=True)
    (_, [offer_terms]), (_, [plain_terms]) = (
        await embeddings.encoded([offer_text]),
        await embeddings.encoded([text]),
    )
    cached = (await repo.cached_latents(conn, [key]))[key]
    assert cached.ids == (await embeddings.encoded([read]))[1][0].ids
    assert embeddings.similarity(cached, offer_terms) > embeddings.similarity(plain_terms, offer_terms)


async def test_texts_not_vietnamese_typed_without_diacritics_are_read_as_written(client, conn, settings):
    _, demand, _ = await published_by_words(client, conn, settings, [], demand_body())
    assert await spellings_events(conn) == []
    [row] = await listings.rows_by_id(conn, [uuid.UUID(demand["id"])])
    text = documents.embedding_text(row)
    assert not spelling.restorable(text, row.language)
    assert indexer.text_key(row) == embeddings.text_hash(text)
    assert await indexer.restored(conn, {b"k": (text, row.language)}) == {b"k": text}


async def test_a_plain_vietnamese_offer_computed_by_a_matches_request_is_cached_where_its_job_looks(
    client, conn, settings
):
    written = offer_body()
    plain = {name: value for name, value in written.items() if name != "summary"}
    plain.update(
        title=PLAIN_DEMAND["title"], description=PLAIN_DEMAND["description"], keywords=PLAIN_DEMAND["keywords"]
    )
    [_, offer], demand, enterprise = await published_by_words(client, conn, settings, [written, plain], DEMAND)
    async with conn.transaction():
        await indexer.add_spellings(conn, await spellings_events(conn))
    rows = {str(r.id): r for r in await listings.rows_by_id(conn, [uuid.UUID(demand["id"]), uuid.UUID(offer["id"])])}
    demand_row, offer_row = rows[demand["id"]], rows[offer["id"]]
    await indexer.vectors_for(conn, [demand_row], enabled=True)

    response = await client.get(f"/v1/demands/{demand['id']}/matches", headers=bearer(enterprise))

    assert response.status_code == 200, response.text
    [item] = [i for i in response.json()["items"] if i["listing"]["id"] == offer["id"]]
    assert item["explanation"]["semantic_similarity"] > 0
    key = indexer.text_key(offer_row)
    assert key != embeddings.text_hash(documents.embedding_text(offer_row))
    assert key in await repo.cached_latents(conn, [key])
