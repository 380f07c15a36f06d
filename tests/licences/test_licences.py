"""Express licences over HTTP against the real database and the Stripe sandbox: terms on offers and their hash,
taking a licence as a deal already agreed with its fee invoices, and every reason one is refused."""

import hashlib
import json

from exchange.deals.consumers import consumers as deal_consumers
from exchange.kernel import outbox
from tests.ndas.support import accept_nda, set_nda
from tests.parties import member_key, parties
from tests.payments.conftest import drain
from tests.support import bearer, demand_body, offer_body, published_offer, register, verified_org

TERMS = {
    "value": {"amount": 300_000_000, "currency": "VND"},
    "transfer_mode": "license",
    "summary": "Giấy phép không độc quyền cho một nhà máy, 3 năm, kèm hồ sơ thiết kế.",
    "term_months": 36,
    "exclusive": False,
}


def terms_sha256(terms: dict) -> str:
    """licence_terms_sha256 as a client recomputes it from the offer it received."""
    return hashlib.sha256(json.dumps(terms, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


async def _take(client, key, offer_id, sha256, **headers):
    return await client.post(
        f"/v1/offers/{offer_id}/licence", json={"terms_sha256": sha256}, headers={**bearer(key), **headers}
    )


async def _deal_count(conn) -> int:
    return await conn.fetchval("SELECT count(*) FROM deals")


async def test_an_offer_serves_its_licence_terms_with_the_hash_a_client_can_recompute(client, conn):
    p = await parties(client, conn)
    created = await client.post("/v1/offers", json=offer_body(licence_terms=TERMS), headers=bearer(p.seller))
    assert created.status_code == 201, created.text
    assert created.json()["licence_terms"] == TERMS
    assert created.json()["licence_terms_sha256"] == terms_sha256(TERMS)
    assert p.offer["licence_terms"] is None and p.offer["licence_terms_sha256"] is None
    # Set on a published offer with PATCH, like the price: no new review; the public view shows it too.
    url = f"/v1/offers/{p.offer['id']}"
    patched = await client.patch(url, json={"licence_terms": TERMS}, headers=bearer(p.seller))
    assert patched.status_code == 200 and patched.json()["status"] == "published"
    public = (await client.get(url)).json()
    assert public["licence_terms"] == TERMS and public["licence_terms_sha256"] == terms_sha256(TERMS)
    changed = {**TERMS, "term_months": 24}
    repatched = await client.patch(url, json={"licence_terms": changed}, headers=bearer(p.seller))
    assert repatched.json()["licence_terms_sha256"] == terms_sha256(changed) != terms_sha256(TERMS)
    assert (await client.get(url)).json()["licence_terms_sha256"] == terms_sha256(changed)
    # Only non-exclusive terms can be express; demands never carry terms.
    exclusive = {**TERMS, "exclusive": True}
    for response in (
        await client.patch(url, json={"licence_terms": exclusive}, headers=bearer(p.seller)),
        await client.post("/v1/offers", json=offer_body(licence_terms=exclusive), headers=bearer(p.seller)),
    ):
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "licence_terms.exclusive"
    demand = await client.post("/v1/demands", json=demand_body(licence_terms=TERMS), headers=bearer(p.buyer))
    assert demand.status_code == 422 and demand.json()["errors"][0]["field"] == "licence_terms"
    patched = await client.patch(
        f"/v1/demands/{p.demand['id']}", json={"licence_terms": TERMS}, headers=bearer(p.buyer)
    )
    assert patched.status_code == 422
    removed = await client.patch(url, json={"licence_terms": None}, headers=bearer(p.seller))
    assert removed.json()["licence_terms"] is None and removed.json()["licence_terms_sha256"] is None


async def test_taking_a_licence_opens_a_deal_agreed_on_those_terms_with_its_fee_invoices(
    client, conn, settings, pool, gateway
):
    p = await parties(client, conn)
    offer = await published_offer(client, p.seller, p.operator, licence_terms=TERMS)
    editor = await member_key(client, p.buyer, p.buyer_org["id"], "editor")
    taken = await _take(client, editor, offer["id"], offer["licence_terms_sha256"])
    assert taken.status_code == 201, taken.text
    deal = taken.json()
    assert taken.headers["etag"] == f'"{deal["version"]}"'
    assert (deal["stage"], deal["origin"], deal["offer_id"]) == ("agreed", "express_licence", offer["id"])
    assert (deal["buyer_org_id"], deal["seller_org_id"]) == (p.buyer_org["id"], p.seller_org["id"])
    assert deal["terms"]["value"] == TERMS["value"] and deal["terms"]["summary"] == TERMS["summary"]
    assert deal["terms"]["transfer_mode"] == "license" and deal["buyer_confirmed"] and deal["seller_confirmed"]
    await drain(pool, gateway)
    for key, party in ((p.buyer, "buyer"), (p.seller, "seller")):
        invoices = (await client.get("/v1/invoices", params={"deal_id": deal["id"]}, headers=bearer(key))).json()
        assert [(i["party"], i["status"]) for i in invoices["items"]] == [(party, "open")]
        assert invoices["items"][0]["amount"]["amount"] > 0
    async with deal_consumers(settings) as found:
        assert sum([await outbox.drain(pool, consumer) for consumer in found]) == 1  # deal.invoiced
    current = (await client.get(f"/v1/deals/{deal['id']}", headers=bearer(p.seller))).json()
    assert current["stage"] == "fee_pending"
    trail = (await client.get(f"/v1/deals/{deal['id']}/events", headers=bearer(p.buyer))).json()["items"]
    assert [e["action"] for e in trail] == ["created", "agreed", "fees_invoiced"]
    assert trail[0]["details"]["terms_sha256"] == offer["licence_terms_sha256"]
    assert trail[0]["details"]["term_months"] == 36 and trail[0]["details"]["origin"] == "express_licence"


async def test_a_licence_is_refused_with_nothing_created_when_its_terms_changed_or_the_offer_cannot_be_licensed(
    client, conn
):
    p = await parties(client, conn)
    offer = await published_offer(client, p.seller, p.operator, licence_terms=TERMS)
    shown = offer["licence_terms_sha256"]
    url = f"/v1/offers/{offer['id']}"
    await client.patch(
        url, json={"licence_terms": {**TERMS, "value": {"amount": 1, "currency": "VND"}}}, headers=bearer(p.seller)
    )
    changed = await _take(client, p.buyer, offer["id"], shown)
    assert changed.status_code == 409 and changed.json()["errors"][0]["field"] == "terms_sha256"
    no_terms = await _take(client, p.buyer, p.offer["id"], shown)
    assert no_terms.status_code == 409 and no_terms.json()["errors"][0]["field"] == "licence_terms"
    await client.patch(url, json={"licence_terms": TERMS}, headers=bearer(p.seller))
    assert (await client.post(f"{url}/withdraw", headers=bearer(p.seller))).status_code == 200
    withdrawn = await _take(client, p.buyer, offer["id"], shown)
    assert withdrawn.status_code == 409 and withdrawn.json()["errors"][0]["field"] == "offer"
    draft = await client.post("/v1/offers", json=offer_body(licence_terms=TERMS), headers=bearer(p.seller))
    assert (await _take(client, p.buyer, draft.json()["id"], shown)).status_code == 404
    assert await _deal_count(conn) == 0
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'deal.agreed'") == 0


async def test_a_retry_with_the_same_idempotency_key_returns_the_same_deal(client, conn):
    p = await parties(client, conn)
    offer = await published_offer(client, p.seller, p.operator, licence_terms=TERMS)
    first = await _take(client, p.buyer, offer["id"], offer["licence_terms_sha256"], **{"Idempotency-Key": "lic-1"})
    again = await _take(client, p.buyer, offer["id"], offer["licence_terms_sha256"], **{"Idempotency-Key": "lic-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other_body = await _take(client, p.buyer, offer["id"], "0" * 64, **{"Idempotency-Key": "lic-1"})
    assert other_body.status_code == 409
    assert await _deal_count(conn) == 1


async def test_an_offer_requiring_its_nda_is_licensed_only_to_organizations_that_accepted_it(client, conn):
    p = await parties(client, conn)
    offer = await published_offer(client, p.seller, p.operator, licence_terms=TERMS)
    await set_nda(client, p.seller, offer["id"], required=True)
    refused = await _take(client, p.buyer, offer["id"], offer["licence_terms_sha256"])
    assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "nda"
    assert await _deal_count(conn) == 0
    acceptance = await accept_nda(client, p.buyer, offer["id"])
    taken = await _take(client, p.buyer, offer["id"], offer["licence_terms_sha256"])
    assert taken.status_code == 201, taken.text
    trail = (await client.get(f"/v1/deals/{taken.json()['id']}/events", headers=bearer(p.seller))).json()["items"]
    assert [e["action"] for e in trail] == ["created", "nda_accepted", "agreed"]
    assert trail[1]["details"]["acceptance_id"] == acceptance["id"] and trail[1]["details"]["version"] == 1
    # A new version must be accepted again before the next licence.
    await set_nda(client, p.seller, offer["id"], "A stricter text", required=True)
    again = await _take(client, p.broker, offer["id"], offer["licence_terms_sha256"])
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "nda"


async def test_who_may_take_a_licence(client, conn):
    p = await parties(client, conn)
    offer = await published_offer(client, p.seller, p.operator, licence_terms=TERMS)
    sha = offer["licence_terms_sha256"]
    assert (await client.post(f"/v1/offers/{offer['id']}/licence", json={"terms_sha256": sha})).status_code == 401
    viewer = await member_key(client, p.buyer, p.buyer_org["id"], "viewer")
    _, unverified = await register(client, "enterprise")
    for key in (p.seller, viewer, unverified, p.operator):
        assert (await _take(client, key, offer["id"], sha)).status_code == 403
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await _take(client, p.buyer, missing, sha)).status_code == 404
    assert (await _take(client, p.buyer, offer["id"], "not a hash")).status_code == 422
    assert await _deal_count(conn) == 0
    _, stranger = await verified_org(client, p.operator, "enterprise")
    assert (await _take(client, stranger, offer["id"], sha)).status_code == 201
