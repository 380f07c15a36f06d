"""Offers and demands against the real database: lifecycle, visibility, expiry and what each write records."""

import asyncio
import uuid

import msgspec

from exchange.kernel.events import ListingChanged
from exchange.seed import seed
from listings.service import expire_due
from tests.matching.waiting import settled
from tests.support import bearer, demand_body, offer_body, operator_key, published_offer, register, verified_org


async def _outbox(conn, listing_id):
    """The statuses of a listing's change events, in order (the background jobs add events of their own about it)."""
    rows = await conn.fetch(
        "SELECT payload FROM outbox WHERE aggregate_id = $1 AND topic = 'listing.changed' ORDER BY id", listing_id
    )
    return [r["payload"]["status"] for r in rows]


async def test_every_lifecycle_step_writes_one_outbox_event(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    assert await _outbox(conn, uuid.UUID(offer["id"])) == ["draft", "pending_review", "published"]
    stored = await conn.fetchrow(
        "SELECT topic, payload FROM outbox WHERE aggregate_id = $1::uuid ORDER BY id DESC LIMIT 1", offer["id"]
    )
    event = msgspec.convert(stored["payload"], ListingChanged)
    assert stored["topic"] == "listing.changed"
    assert (str(event.id), event.kind, event.status, event.version) == (
        offer["id"],
        "offer",
        "published",
        offer["version"],
    )
    withdrawn = await client.post(f"/v1/offers/{offer['id']}/withdraw", headers=bearer(owner))
    assert withdrawn.json()["status"] == "withdrawn"
    assert (await _outbox(conn, uuid.UUID(offer["id"])))[-1] == "withdrawn"


async def test_refused_write_changes_nothing_and_records_nothing(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    # The background jobs' own events about the new listing first, so that the count below is the writes' alone.
    await settled(conn, offer["id"])
    events = await conn.fetchval("SELECT count(*) FROM outbox")
    stale = await client.patch(
        f"/v1/offers/{offer['id']}", json={"title": "A new title for it"}, headers={**bearer(owner), "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    bad = await client.patch(f"/v1/offers/{offer['id']}", json={"trl": 10}, headers=bearer(owner))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "trl"
    assert await conn.fetchval("SELECT count(*) FROM outbox") == events
    row = await conn.fetchrow("SELECT title, version, status FROM listings WHERE id = $1::uuid", offer["id"])
    assert (row["title"], row["version"], row["status"]) == (offer["title"], offer["version"], "published")


async def test_anonymous_bad_body_is_401_not_422(client):
    response = await client.post("/v1/offers", json={"colour": "red"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_expired_listing_leaves_public_view_and_can_be_renewed(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    await conn.execute("UPDATE listings SET expires_at = now() - interval '1 second' WHERE id = $1::uuid", offer["id"])
    # Reads treat it as expired before the sweeper stores it.
    assert (await client.get(f"/v1/offers/{offer['id']}")).status_code == 404
    own = await client.get(f"/v1/offers/{offer['id']}", headers=bearer(owner))
    assert own.json()["status"] == "expired"
    assert offer["id"] not in [o["id"] for o in (await client.get("/v1/offers")).json()["items"]]
    async with conn.transaction():
        assert await expire_due(conn) == 1
    assert await conn.fetchval("SELECT status FROM listings WHERE id = $1::uuid", offer["id"]) == "expired"
    renewed = await client.post(f"/v1/offers/{offer['id']}/renew", headers=bearer(owner))
    assert renewed.status_code == 200
    assert renewed.json()["status"] == "published"
    assert (await client.get(f"/v1/offers/{offer['id']}")).status_code == 200


async def test_owner_sees_what_expires_within_14_days(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    soon = await published_offer(client, owner, operator, title="Offer that expires soon enough")
    later = await published_offer(client, owner, operator, title="Offer that has most of a year")
    await conn.execute("UPDATE listings SET expires_at = now() + interval '10 days' WHERE id = $1::uuid", soon["id"])
    response = await client.get("/v1/offers?mine=true&expires_within_days=14", headers=bearer(owner))
    assert response.status_code == 200
    ids = [o["id"] for o in response.json()["items"]]
    assert ids == [soon["id"]] and later["id"] not in ids
    assert response.json()["items"][0]["expiring_soon"] is True
    assert (await client.get(f"/v1/offers/{later['id']}")).json()["expiring_soon"] is False
    anonymous = await client.get("/v1/offers?expires_within_days=14")
    assert anonymous.status_code == 400
    assert anonymous.json()["errors"][0]["field"] == "mine"


async def test_mine_lists_every_status_of_own_org_only(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    _, other = await verified_org(client, operator, "enterprise", contact_email="e@ent.example.vn")
    draft = (
        await client.post("/v1/offers", json=offer_body(title="A draft of our own offer"), headers=bearer(owner))
    ).json()
    published = await published_offer(client, owner, operator)
    foreign = (
        await client.post("/v1/offers", json=offer_body(title="Someone else's draft"), headers=bearer(other))
    ).json()
    mine = (await client.get("/v1/offers?mine=true", headers=bearer(owner))).json()["items"]
    assert {o["id"] for o in mine} == {draft["id"], published["id"]}
    assert all("confidential_details" in o for o in mine)
    drafts = (await client.get("/v1/offers?mine=true&status=draft", headers=bearer(owner))).json()["items"]
    assert [o["id"] for o in drafts] == [draft["id"]]
    assert (await client.get(f"/v1/offers/{foreign['id']}", headers=bearer(owner))).status_code == 404
    assert (await client.get(f"/v1/offers/{foreign['id']}", headers=bearer(operator))).status_code == 200
    assert (await client.get("/v1/offers?mine=true", headers=bearer(operator))).status_code == 403


async def test_public_list_filters(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    water = await published_offer(client, owner, operator)
    software = await published_offer(
        client,
        owner,
        operator,
        title="Vietnamese speech recognition engine",
        sector="102",
        language="en",
        region="Hà Nội",
    )
    by_sector = (await client.get("/v1/offers?sector=102")).json()["items"]
    assert [o["id"] for o in by_sector] == [software["id"]]
    by_region = (await client.get("/v1/offers?region=Bình Phước")).json()["items"]
    assert [o["id"] for o in by_region] == [water["id"]]
    assert software["region"] == "01"
    assert (await client.get("/v1/offers?sector=999")).status_code == 400
    unknown = await client.get("/v1/offers?region=Atlantis")
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "region"


async def test_idempotent_create_returns_the_first_response(client, conn):
    _, owner = await register(client)
    headers = {**bearer(owner), "Idempotency-Key": "create-offer-1"}
    first = await client.post("/v1/offers", json=offer_body(), headers=headers)
    again = await client.post("/v1/offers", json=offer_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post("/v1/offers", json=offer_body(title="A different body altogether"), headers=headers)
    assert other.status_code == 409
    assert await conn.fetchval("SELECT count(*) FROM listings") == 1


async def test_concurrent_idempotent_creates_make_one_listing(client, conn):
    _, owner = await register(client)
    headers = {**bearer(owner), "Idempotency-Key": "burst"}
    responses = await asyncio.gather(*(client.post("/v1/offers", json=offer_body(), headers=headers) for _ in range(5)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await conn.fetchval("SELECT count(*) FROM listings") == 1


async def test_demand_lifecycle_and_who_may_own_demands(client, conn):
    operator = await operator_key(conn)
    _, enterprise = await verified_org(client, operator, "enterprise", contact_email="e@ent.example.vn")
    _, institute = await verified_org(client, operator, "institute")
    refused = await client.post("/v1/demands", json=demand_body(), headers=bearer(institute))
    assert refused.status_code == 403
    created = await client.post("/v1/demands", json=demand_body(), headers=bearer(enterprise))
    assert created.status_code == 201, created.text
    demand = created.json()
    assert demand["region"] == "92"
    assert demand["budget_max"] == {"amount": 2_000_000_000, "currency": "VND"}
    assert demand["quality"]["score"] >= 70
    demand_id = demand["id"]
    await client.post(f"/v1/demands/{demand_id}/submit", headers=bearer(enterprise))
    approved = await client.post(f"/v1/demands/{demand_id}/approve", headers=bearer(operator))
    assert approved.json()["status"] == "published"
    assert (await client.get(f"/v1/offers/{demand_id}")).status_code == 404
    public = (await client.get(f"/v1/demands/{demand_id}")).json()
    assert "contact" not in public and public["deadline"] == "2027-06-30"


async def test_quality_is_recomputed_on_every_write(client, conn):
    _, owner = await register(client)
    weak = await client.post(
        "/v1/offers",
        json={
            "title": "Máy sấy nông sản",
            "description": "Máy sấy tiết kiệm năng lượng cho nông sản.",
            "language": "vi",
            "sector": "203",
            "region": "82",
        },
        headers=bearer(owner),
    )
    assert weak.status_code == 201
    low = weak.json()["quality"]
    assert low["score"] < 40 and len(low["hints"]) >= 5
    improved = await client.patch(
        f"/v1/offers/{weak.json()['id']}",
        json={"trl": 6, "keywords": ["máy sấy", "nông sản", "bơm nhiệt"], "transfer_modes": ["license"]},
        headers=bearer(owner),
    )
    assert improved.json()["quality"]["score"] == low["score"] + 25


async def test_taxonomy_is_public_and_bilingual(client):
    response = await client.get("/v1/taxonomy")
    assert response.status_code == 200
    body = response.json()
    assert len(body["sectors"]) == 46 and len(body["provinces"]) == 34
    assert {g["code"] for g in body["strategic_groups"]} >= {"digital", "railway"}
    assert all(p["vi"] and p["en"] for p in body["provinces"])


async def test_seed_is_idempotent(conn):
    async with conn.transaction():
        first = await seed(conn)
    count = await conn.fetchval("SELECT count(*) FROM listings")
    assert first["organizations"] >= 30 and first["listings_added"] == count >= 300
    published = await conn.fetchval("SELECT count(*) FROM listings WHERE status = 'published'")
    assert published >= 250
    languages = {r["language"] for r in await conn.fetch("SELECT DISTINCT language FROM listings")}
    assert languages == {"vi", "en"}
    async with conn.transaction():
        second = await seed(conn)
    assert second["listings_added"] == 0
    assert await conn.fetchval("SELECT count(*) FROM listings") == count


async def test_list_fields_are_trimmed_and_deduplicated(client):
    _, owner = await register(client)
    body = offer_body(keywords=[" MBR ", "MBR", "   ", "nước thải"], transfer_modes=["license", "license"])
    created = await client.post("/v1/offers", json=body, headers=bearer(owner))
    assert created.status_code == 201
    assert created.json()["keywords"] == ["MBR", "nước thải"]
    assert created.json()["transfer_modes"] == ["license"]


async def test_racing_edits_with_one_etag_let_exactly_one_through(client, conn):
    _, owner = await register(client)
    created = await client.post("/v1/offers", json=offer_body(), headers=bearer(owner))
    offer_id, tag = created.json()["id"], created.headers["etag"]
    responses = await asyncio.gather(
        *(
            client.patch(
                f"/v1/offers/{offer_id}",
                json={"title": f"Concurrent title number {n}"},
                headers={**bearer(owner), "If-Match": tag},
            )
            for n in range(6)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 412, 412, 412, 412, 412]
    winner = next(r for r in responses if r.status_code == 200).json()
    row = await conn.fetchrow("SELECT title, version FROM listings WHERE id = $1::uuid", offer_id)
    assert (row["title"], row["version"]) == (winner["title"], 2)


async def test_operators_moderate_but_do_not_author(client, conn):
    operator = await operator_key(conn)
    assert (await client.post("/v1/offers", json=offer_body(), headers=bearer(operator))).status_code == 403
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    edit = await client.patch(
        f"/v1/offers/{offer['id']}", json={"title": "Operator rewrites it"}, headers=bearer(operator)
    )
    assert edit.status_code == 403
    assert (await client.post(f"/v1/offers/{offer['id']}/withdraw", headers=bearer(operator))).status_code == 403
    assert (await client.post(f"/v1/offers/{offer['id']}/approve", headers=bearer(owner))).status_code == 403


async def test_a_minimal_draft_gets_language_and_region_filled_in(client):
    _, owner = await register(client, province="Hải Dương")
    vi = await client.post(
        "/v1/offers",
        json={"title": "Máy bóc vỏ lạc", "description": "Năng suất 300 kg/giờ.", "sector": "203"},
        headers=bearer(owner),
    )
    assert vi.status_code == 201, vi.text
    assert (vi.json()["language"], vi.json()["region"]) == ("vi", "31")
    assert vi.json()["quality"]["score"] < 40
    en = await client.post(
        "/v1/offers",
        json={"title": "Peanut sheller", "description": "300 kg per hour.", "sector": "203"},
        headers=bearer(owner),
    )
    assert en.json()["language"] == "en"
    assert (
        await client.post("/v1/offers", json={"title": "No sector", "description": "x"}, headers=bearer(owner))
    ).status_code == 422
