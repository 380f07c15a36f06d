"""Rebuilding the indexes: fresh copies swapped in while searches keep being answered."""

import asyncio
import io

import httpx

from matching import engine, reindex, repo
from tests.matching.waiting import ids, search_until, visible
from tests.support import offer_body, operator_key, published, verified_org


class Terminal(io.StringIO):
    """Captured output that says it is a terminal, to see the progress bar."""

    def isatty(self) -> bool:
        return True


async def test_reindex_rebuilds_from_the_database_while_searches_are_answered(client, conn, settings):
    operator = await operator_key(conn)
    _, institute = await verified_org(client, operator, "institute")
    offers = [
        await published(client, "offer", institute, operator, offer_body(title=f"Lò nhiệt phân biochar mẫu {n}"))
        for n in range(3)
    ]
    for offer in offers:
        await visible(client, "offer", offer["id"])
    # A stale document the database no longer backs (as if an event had been lost): a rebuild must drop it.
    headers = {"Authorization": f"Bearer {settings.meili_master_key}"}
    async with httpx.AsyncClient(base_url=settings.meili_url, headers=headers) as meili:
        stale = {
            "id": "00000000-0000-4000-8000-000000000001",
            "title": "biochar ghost",
            "listing": {"id": "ghost"},
            "expires_at": 4_000_000_000,
            "_vectors": {engine.EMBEDDER: None},
        }
        task = (await meili.post(f"/indexes/{engine.index_uid(settings, 'offer')}/documents", json=[stale])).json()
        while (await meili.get(f"/tasks/{task['taskUid']}")).json()["status"] not in ("succeeded", "failed"):
            await asyncio.sleep(0.02)
    await search_until(client, "offer", {"q": "biochar"}, lambda b: "ghost" in ids(b))

    answered: list[int] = []

    async def keep_searching(stop: asyncio.Event) -> None:
        while not stop.is_set():
            response = await client.get("/v1/search/offers", params={"q": "biochar"})
            answered.append(response.status_code)
            await asyncio.sleep(0.01)

    # As in a deployment indexed before spellings were counted: the rebuild counts the catalogue's.
    await conn.execute("TRUNCATE spellings, spelled_texts")
    stop = asyncio.Event()
    searcher = asyncio.create_task(keep_searching(stop))
    out = Terminal()
    try:
        assert await reindex.main(settings, out) == 0
    finally:
        stop.set()
        await searcher
    assert answered and set(answered) == {200}
    body = await search_until(client, "offer", {"q": "biochar"}, lambda b: True)
    assert sorted(ids(body)) == sorted(o["id"] for o in offers)
    assert "offers [##############################] 3/3" in out.getvalue()
    assert "reindexed 3 offers, 0 demands" in out.getvalue()
    assert await conn.fetchval("SELECT count(*) FROM spelled_texts") == 3
    assert (await repo.spellings_of(conn, ["nhiet phan"]))["nhiet phan"]["nhiệt phân"] >= 3
