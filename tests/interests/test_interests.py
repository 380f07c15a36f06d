"""Interests over HTTP against the real database: who may express, see and decide them, and what accepting reveals."""

import asyncio

from tests.parties import member_key, parties, published_demand
from tests.support import bearer, published_offer, register, verified_org

MESSAGE = {"message": "We would like to talk about a licence."}


async def test_interest_accept_reveals_contacts_to_the_two_parties_only(client, conn):
    p = await parties(client, conn)
    _, outsider = await verified_org(client, p.operator, "enterprise")
    public = (await client.get(f"/v1/offers/{p.offer['id']}", headers=bearer(p.buyer))).json()
    assert "contact" not in public and "confidential_details" not in public

    sent = await client.post(
        f"/v1/offers/{p.offer['id']}/interests", json={**MESSAGE, "listing_id": p.demand["id"]}, headers=bearer(p.buyer)
    )
    assert sent.status_code == 201, sent.text
    interest = sent.json()
    assert interest["status"] == "pending" and interest["revealed"] is None
    assert (interest["offer_id"], interest["demand_id"]) == (p.offer["id"], p.demand["id"])
    assert (interest["from_org_id"], interest["to_org_id"]) == (p.buyer_org["id"], p.seller_org["id"])
    assert sent.headers["etag"] == '"1"'

    accepted = await client.post(f"/v1/interests/{interest['id']}/accept", headers=bearer(p.seller))
    assert accepted.status_code == 200, accepted.text
    revealed = accepted.json()["revealed"]
    assert revealed["recipient"]["contact"]["email"] == "an.nguyen@vien.example.vn"
    assert revealed["recipient"]["confidential_details"] == p.offer["confidential_details"]
    assert revealed["recipient"]["contact_email"] == p.seller_org["contact_email"]
    assert revealed["sender"]["contact"]["email"] == "binh@seafood.example.vn"
    assert revealed["sender"]["contact_email"] == p.buyer_org["contact_email"]
    assert revealed["sender"]["confidential_details"] is None  # a demand has none
    as_buyer = (await client.get(f"/v1/interests/{interest['id']}", headers=bearer(p.buyer))).json()
    assert as_buyer["revealed"] == revealed

    # The offer itself now shows its private fields to the buyer, and the demand's contact to the seller.
    offer = (await client.get(f"/v1/offers/{p.offer['id']}", headers=bearer(p.buyer))).json()
    assert offer["confidential_details"] == p.offer["confidential_details"]
    assert offer["contact"]["email"] == "an.nguyen@vien.example.vn"
    assert "rejection_reason" not in offer
    demand = (await client.get(f"/v1/demands/{p.demand['id']}", headers=bearer(p.seller))).json()
    assert demand["contact"]["email"] == "binh@seafood.example.vn"

    # Nobody else: not another organization, not the broker, not anonymous; operators see no `revealed`.
    for key in (outsider, p.broker):
        view = (await client.get(f"/v1/offers/{p.offer['id']}", headers=bearer(key))).json()
        assert "confidential_details" not in view and "contact" not in view
        assert (await client.get(f"/v1/interests/{interest['id']}", headers=bearer(key))).status_code == 404
    anonymous = (await client.get(f"/v1/offers/{p.offer['id']}")).json()
    assert "confidential_details" not in anonymous and "contact" not in anonymous
    as_operator = await client.get(f"/v1/interests/{interest['id']}", headers=bearer(p.operator))
    assert as_operator.status_code == 200 and "revealed" not in as_operator.json()
    listed = (await client.get("/v1/offers")).json()["items"]
    assert all("confidential_details" not in o for o in listed)


async def test_interest_in_a_demand_without_an_answering_listing(client, conn):
    p = await parties(client, conn)
    sent = await client.post(f"/v1/demands/{p.demand['id']}/interests", json=MESSAGE, headers=bearer(p.seller))
    assert sent.status_code == 201, sent.text
    assert (sent.json()["offer_id"], sent.json()["demand_id"]) == (None, p.demand["id"])
    accepted = (await client.post(f"/v1/interests/{sent.json()['id']}/accept", headers=bearer(p.buyer))).json()
    assert accepted["revealed"]["sender"]["listing_id"] is None
    assert accepted["revealed"]["sender"]["contact_email"] == p.seller_org["contact_email"]
    assert accepted["revealed"]["recipient"]["contact"]["name"] == "Ms. Tran Thi Binh"
    # Accepting reveals the demand to the seller; the seller's offer was not part of it.
    offer = (await client.get(f"/v1/offers/{p.offer['id']}", headers=bearer(p.buyer))).json()
    assert "confidential_details" not in offer


async def test_boxes_list_received_and_sent_with_cursor_pages(client, conn):
    p = await parties(client, conn)
    offers = [p.offer] + [
        await published_offer(client, p.seller, p.operator, title=f"Offer number {i} of the institute")
        for i in range(2)
    ]
    for offer in offers:
        response = await client.post(f"/v1/offers/{offer['id']}/interests", json=MESSAGE, headers=bearer(p.buyer))
        assert response.status_code == 201
    first = await client.get("/v1/interests?box=received&limit=2", headers=bearer(p.seller))
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = (
        await client.get(f"/v1/interests?box=received&limit=2&cursor={page['next_cursor']}", headers=bearer(p.seller))
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    received = {i["target_id"] for i in page["items"] + rest["items"]}
    assert received == {o["id"] for o in offers}
    sent = (await client.get("/v1/interests?box=sent", headers=bearer(p.buyer))).json()["items"]
    assert {i["target_id"] for i in sent} == received
    assert (await client.get("/v1/interests?box=sent", headers=bearer(p.seller))).json()["items"] == []
    assert (await client.get("/v1/interests?box=received", headers=bearer(p.broker))).json()["items"] == []
    pending = (await client.get("/v1/interests?box=sent&status=accepted", headers=bearer(p.buyer))).json()["items"]
    assert pending == []
    assert (await client.get("/v1/interests?box=elsewhere", headers=bearer(p.buyer))).status_code == 400
    assert (await client.get("/v1/interests?cursor=nonsense", headers=bearer(p.buyer))).status_code == 400
    assert (await client.get("/v1/interests")).status_code == 401
    assert (await client.get("/v1/interests", headers=bearer(p.operator))).status_code == 403


async def test_a_second_pending_interest_is_409_even_when_sent_at_once(live, conn):
    client = live  # served over a socket: these requests really run at once
    p = await parties(client, conn)
    url = f"/v1/offers/{p.offer['id']}/interests"
    responses = await asyncio.gather(*(client.post(url, json=MESSAGE, headers=bearer(p.buyer)) for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    conflict = next(r for r in responses if r.status_code == 409)
    assert conflict.json()["type"] == "/problems/conflict"
    assert await conn.fetchval("SELECT count(*) FROM interests") == 1
    # Once decided, a new interest may be sent.
    first = next(r for r in responses if r.status_code == 201).json()
    assert (await client.post(f"/v1/interests/{first['id']}/decline", headers=bearer(p.seller))).status_code == 200
    assert (await client.post(url, json=MESSAGE, headers=bearer(p.buyer))).status_code == 201


async def test_who_may_express_interest(client, conn):
    p = await parties(client, conn)
    url = f"/v1/offers/{p.offer['id']}/interests"
    assert (await client.post(url, json=MESSAGE)).status_code == 401
    assert (await client.post(url, json=MESSAGE, headers=bearer("tmx_not-a-key"))).status_code == 401
    own = await client.post(url, json=MESSAGE, headers=bearer(p.seller))
    assert own.status_code == 403
    assert (await client.post(url, json=MESSAGE, headers=bearer(p.operator))).status_code == 403
    viewer = await member_key(client, p.buyer, p.buyer_org["id"], "viewer")
    assert (await client.post(url, json=MESSAGE, headers=bearer(viewer))).status_code == 403
    _, unverified = await register(client, "enterprise")
    refused = await client.post(url, json=MESSAGE, headers=bearer(unverified))
    assert refused.status_code == 403 and "verified" in refused.json()["detail"]
    editor = await member_key(client, p.buyer, p.buyer_org["id"], "editor")
    assert (await client.post(url, json=MESSAGE, headers=bearer(editor))).status_code == 201
    # The wrong kind of path, an unknown listing, and an unpublished one are all 404.
    assert (
        await client.post(f"/v1/demands/{p.offer['id']}/interests", json=MESSAGE, headers=bearer(p.broker))
    ).status_code == 404
    draft = (
        await client.post(
            "/v1/offers",
            json={"title": "A draft offer", "description": "Not yet", "sector": "207"},
            headers=bearer(p.seller),
        )
    ).json()
    assert (
        await client.post(f"/v1/offers/{draft['id']}/interests", json=MESSAGE, headers=bearer(p.broker))
    ).status_code == 404
    # An empty or unknown body field is 422.
    bad = await client.post(url, json={"message": ""}, headers=bearer(p.broker))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "message"
    assert (await client.post(url, json={**MESSAGE, "colour": "red"}, headers=bearer(p.broker))).status_code == 422


async def test_the_answering_listing_must_be_ones_own_and_of_the_other_kind(client, conn):
    p = await parties(client, conn)
    url = f"/v1/offers/{p.offer['id']}/interests"
    _, other_buyer = await verified_org(client, p.operator, "enterprise")
    foreign = await client.post(url, json={**MESSAGE, "listing_id": p.demand["id"]}, headers=bearer(other_buyer))
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "listing_id"
    own_offer = await published_offer(client, p.broker, p.operator, title="The broker's own offer here")
    same_kind = await client.post(url, json={**MESSAGE, "listing_id": own_offer["id"]}, headers=bearer(p.broker))
    assert same_kind.status_code == 422 and "demand" in same_kind.json()["errors"][0]["message"]
    broker_demand = await published_demand(client, p.broker, p.operator, title="The broker's demand for a client")
    fine = await client.post(url, json={**MESSAGE, "listing_id": broker_demand["id"]}, headers=bearer(p.broker))
    assert fine.status_code == 201


async def test_who_may_accept_and_decline_and_invalid_transitions(client, conn):
    p = await parties(client, conn)
    interest = (
        await client.post(f"/v1/offers/{p.offer['id']}/interests", json=MESSAGE, headers=bearer(p.buyer))
    ).json()
    url = f"/v1/interests/{interest['id']}"
    seller_viewer = await member_key(client, p.seller, p.seller_org["id"], "viewer")
    assert (await client.post(f"{url}/accept")).status_code == 401
    for key, status in ((p.buyer, 403), (seller_viewer, 403), (p.operator, 403), (p.broker, 404)):
        for action in ("accept", "decline"):
            response = await client.post(f"{url}/{action}", headers=bearer(key))
            assert response.status_code == status, (key, action, response.text)
    assert (await client.get(url, headers=bearer(seller_viewer))).status_code == 200
    stale = await client.post(f"{url}/accept", headers={**bearer(p.seller), "If-Match": '"7"'})
    assert stale.status_code == 412
    declined = await client.post(f"{url}/decline", headers={**bearer(p.seller), "If-Match": '"1"'})
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert declined.json()["revealed"] is None
    again = await client.post(f"{url}/accept", headers=bearer(p.seller))
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/invalid-transition" and "declined" in again.json()["detail"]
    offer = (await client.get(f"/v1/offers/{p.offer['id']}", headers=bearer(p.buyer))).json()
    assert "confidential_details" not in offer
    assert (
        await client.get("/v1/interests/00000000-0000-0000-0000-000000000000", headers=bearer(p.buyer))
    ).status_code == 404


async def test_accepting_twice_at_once_accepts_once(live, conn):
    client = live  # served over a socket: these requests really run at once
    p = await parties(client, conn)
    interest = (
        await client.post(f"/v1/offers/{p.offer['id']}/interests", json=MESSAGE, headers=bearer(p.buyer))
    ).json()
    url = f"/v1/interests/{interest['id']}"
    responses = await asyncio.gather(
        client.post(f"{url}/accept", headers=bearer(p.seller)), client.post(f"{url}/decline", headers=bearer(p.seller))
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    stored = await conn.fetchrow("SELECT status, version FROM interests WHERE id = $1::uuid", interest["id"])
    assert stored["version"] == 2
    disclosures = await conn.fetchval("SELECT count(*) FROM listing_disclosures")
    assert disclosures == (1 if stored["status"] == "accepted" else 0)
