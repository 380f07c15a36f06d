"""GET /v1/changes: public listing changes in commit order, for operators and partner exchanges."""

import asyncio

from exchange.kernel import db, outbox
from tests.parties import published_demand
from tests.support import bearer, offer_body, operator_key, published_offer, verified_org


async def _partner(client, operator):
    response = await client.post(
        "/v1/partners",
        json={"name": "Sàn công nghệ Đà Nẵng", "email": "sync@partner.example.vn"},
        headers=bearer(operator),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _all_changes(client, key, since=None, limit=100):
    items = []
    while True:
        url = f"/v1/changes?limit={limit}" + (f"&since={since}" if since else "")
        response = await client.get(url, headers=bearer(key))
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        since = page["next_cursor"]
        if not page["has_more"]:
            return items, since


async def test_feed_shows_published_and_removed_listings_never_drafts(client, conn):
    operator = await operator_key(conn)
    partner = (await _partner(client, operator))["api_key"]
    _, owner = await verified_org(client, operator)
    draft = (
        await client.post("/v1/offers", json=offer_body(title="Never published draft"), headers=bearer(owner))
    ).json()
    offer = await published_offer(client, owner, operator)
    items, cursor = await _all_changes(client, partner)
    assert [(i["listing_id"], i["status"]) for i in items] == [(offer["id"], "published")]
    item = items[0]
    assert item["kind"] == "offer" and item["version"] == offer["version"]
    assert item["listing"]["id"] == offer["id"] and item["listing"]["title"] == offer["title"]
    assert "confidential_details" not in item["listing"] and "contact" not in item["listing"]
    assert draft["id"] not in str(items)
    # Nothing new: the cursor stays, and a further read is empty.
    again = (await client.get(f"/v1/changes?since={cursor}", headers=bearer(partner))).json()
    assert again == {"items": [], "next_cursor": cursor, "has_more": False}
    # Withdrawn: the removal is in the feed, without the listing.
    await client.post(f"/v1/offers/{offer['id']}/withdraw", headers=bearer(owner))
    demand_owner = (await verified_org(client, operator, "enterprise"))[1]
    demand = await published_demand(client, demand_owner, operator)
    items, cursor = await _all_changes(client, partner, cursor)
    assert [(i["listing_id"], i["status"], i["listing"] is None) for i in items] == [
        (offer["id"], "withdrawn", True),
        (demand["id"], "published", False),
    ]
    assert items[1]["listing"]["kind"] == "demand" and "contact" not in items[1]["listing"]
    # Operators read the same feed; pages of one follow each other.
    paged, _ = await _all_changes(client, operator, limit=1)
    assert [i["status"] for i in paged] == ["published", "withdrawn", "published"]


async def test_who_may_read_the_feed_and_manage_partners(client, conn):
    operator = await operator_key(conn)
    _, member = await verified_org(client, operator)
    assert (await client.get("/v1/changes")).status_code == 401
    assert (await client.get("/v1/changes", headers=bearer(member))).status_code == 403
    assert (await client.get("/v1/changes?since=garbage", headers=bearer(operator))).status_code == 400
    assert (await client.get("/v1/changes?limit=0", headers=bearer(operator))).status_code == 400
    assert (await client.post("/v1/partners", json={"name": "X", "email": "x@p.example.vn"})).status_code == 401
    assert (
        await client.post("/v1/partners", json={"name": "X", "email": "x@p.example.vn"}, headers=bearer(member))
    ).status_code == 403
    created = await _partner(client, operator)
    key = created["api_key"]
    assert created["partner"]["role"] == "partner"
    assert (await client.get("/v1/me", headers=bearer(key))).json()["role"] == "partner"
    # A partner reads the feed and nothing an organization or operator does.
    assert (await client.get("/v1/changes", headers=bearer(key))).status_code == 200
    assert (await client.post("/v1/offers", json=offer_body(), headers=bearer(key))).status_code == 403
    assert (await client.get("/v1/deals", headers=bearer(key))).status_code == 403
    assert (await client.get("/v1/interests", headers=bearer(key))).status_code == 403
    assert (
        await client.post("/v1/partners", json={"name": "Y", "email": "y@p.example.vn"}, headers=bearer(key))
    ).status_code == 403
    pid = created["partner"]["id"]
    assert (await client.delete(f"/v1/partners/{pid}", headers=bearer(member))).status_code == 403
    assert (await client.delete(f"/v1/partners/{pid}", headers=bearer(operator))).status_code == 204
    assert (await client.get("/v1/changes", headers=bearer(key))).status_code == 401
    assert (await client.delete(f"/v1/partners/{pid}", headers=bearer(operator))).status_code == 404


async def test_a_change_committing_late_is_not_skipped(client, conn, database_url):
    """A transaction that took its feed id first but commits last must not fall behind a reader's cursor."""
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    first = await published_offer(client, owner, operator, title="Offer published first of all")
    second = await published_offer(client, owner, operator, title="Offer published second of all")
    slow = await db.connect(database_url)
    try:
        tx = slow.transaction()
        await tx.start()
        # The slow writer takes the lower feed id (an edit's change) and holds its transaction open.
        await slow.execute(
            "INSERT INTO listing_changes (listing_id, kind, status, version) VALUES ($1, 'offer', 'withdrawn', 99)",
            first["id"],
        )
        await client.post(f"/v1/offers/{second['id']}/withdraw", headers=bearer(owner))
        items, cursor = await _all_changes(client, operator)
        # The fast withdrawal committed, but it is held back behind the open transaction.
        assert [(i["listing_id"], i["status"]) for i in items] == [
            (first["id"], "published"),
            (second["id"], "published"),
        ]
        await tx.commit()
    finally:
        await slow.close()
    items, _ = await _all_changes(client, operator, cursor)
    assert [(i["listing_id"], i["status"]) for i in items] == [(first["id"], "withdrawn"), (second["id"], "withdrawn")]


async def test_concurrent_writers_every_change_served_once_in_order(live, conn):
    client = live  # served over a socket: these requests really run at once
    operator = await operator_key(conn)
    owners = [(await verified_org(client, operator))[1] for _ in range(3)]
    seen: list[dict] = []
    cursor = None
    done = asyncio.Event()

    async def write(owner: str) -> None:
        for i in range(4):
            await published_offer(client, owner, operator, title=f"Concurrent offer {i} of {owner[-6:]}")

    async def read() -> None:
        nonlocal cursor
        while True:
            finished = done.is_set()
            items, cursor = await _all_changes(client, operator, cursor)
            seen.extend(items)
            if finished:
                return
            await asyncio.sleep(0)

    reader = asyncio.create_task(read())
    await asyncio.gather(*(write(o) for o in owners))
    done.set()
    await reader
    published = await conn.fetch("SELECT id, version FROM listings WHERE status = 'published'")
    assert len(published) == 12
    assert sorted((i["listing_id"], i["version"]) for i in seen) == sorted(
        (str(r["id"]), r["version"]) for r in published
    )
    positions = [i["position"] for i in seen]
    assert len(set(positions)) == len(positions)
    # Served in the feed's order: reading everything again from the start gives the same sequence.
    replay, _ = await _all_changes(client, operator)
    assert [i["position"] for i in replay] == positions


async def test_the_feed_outlives_the_outbox_rows_it_was_written_beside(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    await client.post(f"/v1/offers/{offer['id']}/withdraw", headers=bearer(owner))
    before, _ = await _all_changes(client, operator)
    await conn.execute("UPDATE outbox SET processed_at = now() - interval '30 days'")
    assert await outbox.prune(conn, 7) > 0
    assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    after, _ = await _all_changes(client, operator)
    assert [(i["listing_id"], i["status"]) for i in after] == [(offer["id"], "published"), (offer["id"], "withdrawn")]
    assert after == before
