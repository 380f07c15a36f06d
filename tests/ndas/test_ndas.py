"""Offers' NDAs over HTTP against the real database: versions and hashes, acceptances, who sees them, and the gate
they put before confidential details."""

import asyncpg
import pytest

from tests.ndas.support import NDA_TEXT, accept_nda, set_nda, sha256_of
from tests.parties import member_key, parties
from tests.support import bearer, offer_body, published_offer, register, verified_org


async def test_each_new_text_is_a_new_version_with_its_hash_and_every_version_is_kept(client, conn):
    p = await parties(client, conn)
    url = f"/v1/offers/{p.offer['id']}/nda"
    created = await client.put(url, json={"text": NDA_TEXT, "required": False}, headers=bearer(p.seller))
    assert created.status_code == 201, created.text
    first = created.json()
    assert (first["version"], first["revision"], first["required"]) == (1, 1, False)
    assert first["sha256"] == sha256_of(NDA_TEXT) and first["text"] == NDA_TEXT
    assert created.headers["etag"] == '"1"'
    # Only `required` changes: the same text version, a new revision.
    required = await client.put(
        url, json={"text": NDA_TEXT, "required": True}, headers={**bearer(p.seller), "If-Match": '"1"'}
    )
    assert required.status_code == 200
    assert (required.json()["version"], required.json()["revision"], required.json()["required"]) == (1, 2, True)
    assert required.headers["etag"] == '"2"'
    stale = await client.put(
        url, json={"text": "Another text", "required": True}, headers={**bearer(p.seller), "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert (await client.get(url, headers=bearer(p.buyer))).json()["text"] == NDA_TEXT
    new_text = "Tài liệu mật: giữ kín 5 năm, kể cả tỷ lệ phối trộn."
    second = await client.put(
        url, json={"text": new_text, "required": True}, headers={**bearer(p.seller), "If-Match": '"2"'}
    )
    assert (second.json()["version"], second.json()["revision"]) == (2, 3)
    assert second.json()["sha256"] == sha256_of(new_text) != first["sha256"]
    # The same body again changes nothing.
    same = await client.put(url, json={"text": new_text, "required": True}, headers=bearer(p.seller))
    assert (same.status_code, same.json()["revision"]) == (200, 3)
    read = await client.get(url, headers=bearer(p.buyer))
    assert read.status_code == 200 and read.headers["etag"] == '"3"'
    assert {k: read.json()[k] for k in ("version", "text", "sha256", "required")} == {
        "version": 2,
        "text": new_text,
        "sha256": sha256_of(new_text),
        "required": True,
    }
    kept = await conn.fetch(
        "SELECT version, text, sha256 FROM nda_versions WHERE offer_id = $1 ORDER BY version", p.offer["id"]
    )
    assert [tuple(r) for r in kept] == [(1, NDA_TEXT, first["sha256"]), (2, new_text, sha256_of(new_text))]


async def test_accepting_names_the_current_version_and_its_hash_and_repeats_return_the_first(client, conn):
    p = await parties(client, conn)
    offer_id = p.offer["id"]
    await set_nda(client, p.seller, offer_id, "Version one")
    nda = await set_nda(client, p.seller, offer_id, "Version two")
    url = f"/v1/offers/{offer_id}/nda/accept"
    old = await client.post(url, json={"version": 1, "sha256": sha256_of("Version one")}, headers=bearer(p.buyer))
    assert old.status_code == 409 and old.json()["errors"][0]["field"] == "version"
    wrong = await client.post(url, json={"version": 2, "sha256": sha256_of("Version one")}, headers=bearer(p.buyer))
    assert wrong.status_code == 409 and wrong.json()["errors"][0]["field"] == "sha256"
    malformed = await client.post(url, json={"version": 2, "sha256": "abc"}, headers=bearer(p.buyer))
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "sha256"
    assert await conn.fetchval("SELECT count(*) FROM nda_acceptances") == 0
    body = {"version": 2, "sha256": nda["sha256"].upper()}
    accepted = await client.post(url, json=body, headers=bearer(p.buyer))
    assert accepted.status_code == 201, accepted.text
    first = accepted.json()
    me = (await client.get("/v1/me", headers=bearer(p.buyer))).json()
    assert first["offer_id"] == offer_id and first["org_id"] == p.buyer_org["id"]
    assert first["member_id"] == me["member"]["id"]
    assert (first["version"], first["sha256"]) == (2, nda["sha256"]) and first["accepted_at"]
    editor = await member_key(client, p.buyer, p.buyer_org["id"], "editor")
    again = await client.post(url, json=body, headers=bearer(editor))
    assert again.status_code == 200 and again.json() == first
    (event,) = await conn.fetch("SELECT aggregate_id, payload FROM outbox WHERE topic = 'nda.accepted'")
    assert str(event["aggregate_id"]) == first["id"]
    assert event["payload"] | {"topic": None} == {
        "topic": None,
        "acceptance_id": first["id"],
        "offer_id": offer_id,
        "offer_owner_org_id": p.seller_org["id"],
        "org_id": p.buyer_org["id"],
        "member_id": first["member_id"],
        "version": 2,
        "sha256": nda["sha256"],
        "accepted_at": event["payload"]["accepted_at"],
    }
    # Acceptances are a record: the database refuses to change or remove one.
    for statement in ("UPDATE nda_acceptances SET version = 1", "DELETE FROM nda_acceptances"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(statement)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("DELETE FROM nda_versions")


async def test_only_the_owner_and_operators_see_who_accepted(client, conn):
    p = await parties(client, conn)
    offer_id = p.offer["id"]
    nda = await set_nda(client, p.seller, offer_id)
    first = await accept_nda(client, p.buyer, offer_id)
    second = await accept_nda(client, p.broker, offer_id)
    url = f"/v1/offers/{offer_id}/nda/acceptances"
    viewer = await member_key(client, p.seller, p.seller_org["id"], "viewer")
    for key in (p.seller, viewer, p.operator):
        page = await client.get(url, headers=bearer(key))
        assert page.status_code == 200, page.text
        assert [a["id"] for a in page.json()["items"]] == [second["id"], first["id"]]
    one = (await client.get(url, params={"limit": 1}, headers=bearer(p.seller))).json()
    assert [a["org_id"] for a in one["items"]] == [p.broker_org["id"]] and one["next_cursor"]
    rest = (await client.get(url, params={"limit": 1, "cursor": one["next_cursor"]}, headers=bearer(p.seller))).json()
    assert rest["items"] == [first] and rest["next_cursor"] is None
    assert first["version"] == 1 and first["sha256"] == nda["sha256"]
    _, stranger = await verified_org(client, p.operator, "enterprise")
    for key in (p.buyer, p.broker, stranger):
        refused = await client.get(url, headers=bearer(key))
        assert refused.status_code == 403 and "items" not in refused.json()
    assert (await client.get(url)).status_code == 401


async def test_who_may_set_read_and_accept_an_nda(client, conn):
    p = await parties(client, conn)
    offer_id = p.offer["id"]
    url = f"/v1/offers/{offer_id}/nda"
    body = {"text": NDA_TEXT, "required": True}
    assert (await client.get(url, headers=bearer(p.buyer))).status_code == 404  # none yet
    assert (await client.put(url, json=body)).status_code == 401
    viewer = await member_key(client, p.seller, p.seller_org["id"], "viewer")
    assert (await client.put(url, json=body, headers=bearer(viewer))).status_code == 403
    assert (await client.put(url, json=body, headers=bearer(p.buyer))).status_code == 403
    assert (await client.put(url, json=body, headers=bearer(p.operator))).status_code == 403
    missing = "/v1/offers/00000000-0000-4000-8000-000000000000/nda"
    assert (await client.put(missing, json=body, headers=bearer(p.seller))).status_code == 404
    bad = await client.put(url, json={"text": "", "required": True}, headers=bearer(p.seller))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "text"
    nda = await set_nda(client, p.seller, offer_id)
    for key in (p.seller, viewer, p.operator, p.buyer, p.broker):
        assert (await client.get(url, headers=bearer(key))).status_code == 200
    _, unverified = await register(client, "enterprise")
    assert (await client.get(url, headers=bearer(unverified))).status_code == 403
    assert (await client.get(url)).status_code == 401
    accept = {"version": nda["version"], "sha256": nda["sha256"]}
    buyer_viewer = await member_key(client, p.buyer, p.buyer_org["id"], "viewer")
    for key in (p.seller, p.operator, buyer_viewer, unverified):
        assert (await client.post(f"{url}/accept", json=accept, headers=bearer(key))).status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM nda_acceptances") == 0
    # A draft is its owner's alone: others cannot even learn it has an NDA.
    draft = await client.post("/v1/offers", json=offer_body(), headers=bearer(p.seller))
    draft_url = f"/v1/offers/{draft.json()['id']}/nda"
    assert (await client.put(draft_url, json=body, headers=bearer(p.seller))).status_code == 201
    assert (await client.get(draft_url, headers=bearer(p.buyer))).status_code == 404
    assert (await client.post(f"{draft_url}/accept", json=accept, headers=bearer(p.buyer))).status_code == 404
    assert (await client.get(f"{draft_url}/acceptances", headers=bearer(p.buyer))).status_code == 404


async def _interest(client, key, offer_id, **body):
    sent = await client.post(
        f"/v1/offers/{offer_id}/interests", json={"message": "We want it.", **body}, headers=bearer(key)
    )
    assert sent.status_code == 201, sent.text
    return sent.json()


async def _offer_as(client, key, offer_id):
    response = await client.get(f"/v1/offers/{offer_id}", headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_required_nda_stands_between_an_interest_and_the_confidential_details(client, conn):
    p = await parties(client, conn)
    offer_id = p.offer["id"]
    await set_nda(client, p.seller, offer_id, "Version one", required=True)
    interest = await _interest(client, p.buyer, offer_id)
    refused = await client.post(f"/v1/interests/{interest['id']}/accept", headers=bearer(p.seller))
    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"][0]["field"] == "nda"
    pending = await client.get(f"/v1/interests/{interest['id']}", headers=bearer(p.seller))
    assert pending.json()["status"] == "pending"
    assert "confidential_details" not in await _offer_as(client, p.buyer, offer_id)

    await accept_nda(client, p.buyer, offer_id)
    accepted = await client.post(f"/v1/interests/{interest['id']}/accept", headers=bearer(p.seller))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["revealed"]["recipient"]["confidential_details"] == p.offer["confidential_details"]
    assert (await _offer_as(client, p.buyer, offer_id))["confidential_details"] == p.offer["confidential_details"]

    # The broker accepted version one only; a new version is what it must accept now.
    broker_interest = await _interest(client, p.broker, offer_id)
    await accept_nda(client, p.broker, offer_id)
    await set_nda(client, p.seller, offer_id, "Version two", required=True)
    stale = await client.post(f"/v1/interests/{broker_interest['id']}/accept", headers=bearer(p.seller))
    assert stale.status_code == 409 and stale.json()["errors"][0]["field"] == "nda"
    assert "confidential_details" not in await _offer_as(client, p.broker, offer_id)
    # A new version does not withdraw what was revealed.
    assert (await _offer_as(client, p.buyer, offer_id))["confidential_details"] == p.offer["confidential_details"]
    await accept_nda(client, p.broker, offer_id)
    assert (
        await client.post(f"/v1/interests/{broker_interest['id']}/accept", headers=bearer(p.seller))
    ).status_code == 200
    assert (await _offer_as(client, p.broker, offer_id))["confidential_details"] == p.offer["confidential_details"]


async def test_an_nda_not_required_does_not_hold_an_interest_back(client, conn):
    p = await parties(client, conn)
    await set_nda(client, p.seller, p.offer["id"], required=False)
    interest = await _interest(client, p.buyer, p.offer["id"])
    accepted = await client.post(f"/v1/interests/{interest['id']}/accept", headers=bearer(p.seller))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["revealed"]["recipient"]["confidential_details"] == p.offer["confidential_details"]


async def test_an_offer_attached_to_an_interest_in_a_demand_is_revealed_only_once_its_nda_is_accepted(client, conn):
    p = await parties(client, conn)
    await set_nda(client, p.seller, p.offer["id"], required=True)
    sent = await client.post(
        f"/v1/demands/{p.demand['id']}/interests",
        json={"message": "Our offer answers your demand.", "listing_id": p.offer["id"]},
        headers=bearer(p.seller),
    )
    assert sent.status_code == 201, sent.text
    refused = await client.post(f"/v1/interests/{sent.json()['id']}/accept", headers=bearer(p.buyer))
    assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "nda"
    await accept_nda(client, p.buyer, p.offer["id"])
    accepted = await client.post(f"/v1/interests/{sent.json()['id']}/accept", headers=bearer(p.buyer))
    assert accepted.status_code == 200, accepted.text
    assert (await _offer_as(client, p.buyer, p.offer["id"]))["confidential_details"] == p.offer["confidential_details"]


async def test_a_deal_opened_after_the_buyer_accepted_the_nda_shows_it_on_its_trail(client, conn):
    p = await parties(client, conn)
    await set_nda(client, p.seller, p.offer["id"], "Version one", required=True)
    await accept_nda(client, p.buyer, p.offer["id"])
    nda = await set_nda(client, p.seller, p.offer["id"], "Version two", required=True)
    acceptance = await accept_nda(client, p.buyer, p.offer["id"])
    interest = await _interest(client, p.buyer, p.offer["id"], listing_id=p.demand["id"])
    assert (await client.post(f"/v1/interests/{interest['id']}/accept", headers=bearer(p.seller))).status_code == 200
    body = {
        "offer_id": p.offer["id"],
        "buyer_org_id": p.buyer_org["id"],
        "seller_org_id": p.seller_org["id"],
        "title": "Licence under NDA",
    }
    deal = await client.post("/v1/deals", json=body, headers=bearer(p.buyer))
    assert deal.status_code == 201, deal.text
    trail = (await client.get(f"/v1/deals/{deal.json()['id']}/events", headers=bearer(p.seller))).json()["items"]
    assert [e["action"] for e in trail] == ["created", "nda_accepted"]
    shown = trail[1]
    assert shown["actor_org_id"] == p.buyer_org["id"] and shown["actor_member_id"] == acceptance["member_id"]
    assert shown["details"] == {
        "acceptance_id": acceptance["id"],
        "offer_id": p.offer["id"],
        "version": 2,
        "sha256": nda["sha256"],
        "member_id": acceptance["member_id"],
        "accepted_at": shown["details"]["accepted_at"],
    }
    assert shown["details"]["accepted_at"][:19] == acceptance["accepted_at"][:19]
    # A deal on another offer, whose NDA the buyer never saw, shows none.
    other = await published_offer(client, p.seller, p.operator)
    interest = await _interest(client, p.buyer, other["id"])
    assert (await client.post(f"/v1/interests/{interest['id']}/accept", headers=bearer(p.seller))).status_code == 200
    plain = await client.post("/v1/deals", json={**body, "offer_id": other["id"]}, headers=bearer(p.buyer))
    trail = (await client.get(f"/v1/deals/{plain.json()['id']}/events", headers=bearer(p.seller))).json()["items"]
    assert [e["action"] for e in trail] == ["created"]
