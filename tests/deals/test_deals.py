"""Deals over HTTP against the real database: opening, terms, confirmations, cancel, the trail, and who may do what."""

import asyncio
import uuid

import msgspec

from exchange.kernel.events import DealAgreed, DealCancelled
from tests.parties import accepted_interest, agreed_deal, deal_body, member_key, open_deal, parties, propose
from tests.support import bearer, operator_key, published_offer, verified_org

TERMS = {"value": {"amount": 1_200_000_000, "currency": "VND"}, "transfer_mode": "license", "summary": "Non-exclusive"}


async def _events(conn, topic):
    rows = await conn.fetch("SELECT aggregate_id, payload FROM outbox WHERE topic = $1 ORDER BY id", topic)
    return rows


async def test_broker_led_deal_from_open_to_agreed(client, conn):
    p = await parties(client, conn)
    deal = await open_deal(client, p)
    assert deal["stage"] == "open" and deal["broker_org_id"] == p.broker_org["id"]
    assert deal["terms_version"] == 0 and deal["terms"] is None
    url = f"/v1/deals/{deal['id']}"
    proposed = await client.post(f"{url}/terms", json=TERMS, headers=bearer(p.seller))
    assert proposed.status_code == 200
    assert proposed.json()["stage"] == "negotiating" and proposed.json()["terms_version"] == 1
    assert proposed.headers["etag"] == f'"{proposed.json()["version"]}"'
    buyer = await client.post(f"{url}/confirm", json={"terms_version": 1}, headers=bearer(p.buyer))
    assert buyer.json()["buyer_confirmed"] and not buyer.json()["seller_confirmed"]
    assert buyer.json()["stage"] == "negotiating"
    # A counter-proposal clears the buyer's confirmation: the seller alone cannot agree.
    counter = await client.post(
        f"{url}/terms", json={**TERMS, "value": {"amount": 1_000_000_000, "currency": "VND"}}, headers=bearer(p.broker)
    )
    assert counter.json()["terms_version"] == 2 and not counter.json()["buyer_confirmed"]
    stale = await client.post(f"{url}/confirm", json={"terms_version": 1}, headers=bearer(p.seller))
    assert stale.status_code == 409 and "version 2" in stale.json()["detail"]
    await client.post(f"{url}/confirm", json={"terms_version": 2}, headers=bearer(p.seller))
    agreed = await client.post(f"{url}/confirm", json={"terms_version": 2}, headers=bearer(p.buyer))
    body = agreed.json()
    assert body["stage"] == "agreed" and body["agreed_at"] and body["terms"]["value"]["amount"] == 1_000_000_000

    (event,) = await _events(conn, "deal.agreed")
    decoded = msgspec.convert(event["payload"], DealAgreed)
    assert decoded.deal_id == uuid.UUID(deal["id"]) == event["aggregate_id"]
    assert (decoded.value.amount, decoded.value.currency, decoded.terms_version) == (1_000_000_000, "VND", 2)
    assert str(decoded.buyer_org_id) == p.buyer_org["id"] and str(decoded.broker_org_id) == p.broker_org["id"]
    assert event["payload"]["value"] == {"amount": 1_000_000_000, "currency": "VND"}

    trail = (await client.get(f"{url}/events", headers=bearer(p.buyer))).json()["items"]
    assert [e["action"] for e in trail] == [
        "created",
        "terms_proposed",
        "confirmed",
        "terms_proposed",
        "confirmed",
        "confirmed",
        "agreed",
    ]
    assert trail[0]["actor_org_id"] == p.broker_org["id"] and trail[1]["actor_org_id"] == p.seller_org["id"]
    assert trail[4]["details"] == {"side": "seller", "terms_version": 2}
    # Once agreed, terms are fixed.
    late = await client.post(f"{url}/terms", json=TERMS, headers=bearer(p.broker))
    assert late.status_code == 409 and late.json()["type"] == "/problems/invalid-transition"
    assert "agreed" in late.json()["detail"]
    assert (await client.post(f"{url}/confirm", json={"terms_version": 2}, headers=bearer(p.buyer))).status_code == 409


async def test_parties_of_an_accepted_interest_open_a_deal(client, conn):
    p = await parties(client, conn)
    body = deal_body(p)
    assert (await client.post("/v1/deals", json=body, headers=bearer(p.buyer))).status_code == 403
    await accepted_interest(client, p)
    opened = await client.post("/v1/deals", json=body, headers=bearer(p.buyer))
    assert opened.status_code == 201, opened.text
    assert opened.json()["broker_org_id"] is None
    by_seller = await client.post("/v1/deals", json={**body, "demand_id": None}, headers=bearer(p.seller))
    assert by_seller.status_code == 201
    # An accepted interest links only its own offer and its two organizations.
    other_offer = await published_offer(client, p.seller, p.operator, title="Another offer of the institute")
    unlinked = await client.post("/v1/deals", json={**body, "offer_id": other_offer["id"]}, headers=bearer(p.buyer))
    assert unlinked.status_code == 403
    # A party may invite a broker.
    invited = await client.post(
        "/v1/deals", json={**body, "broker_org_id": p.broker_org["id"]}, headers=bearer(p.seller)
    )
    assert invited.status_code == 201 and invited.json()["broker_org_id"] == p.broker_org["id"]
    assert (await client.get(f"/v1/deals/{invited.json()['id']}", headers=bearer(p.broker))).status_code == 200


async def test_deal_bodies_are_validated(client, conn):
    p = await parties(client, conn)
    _, stranger = await verified_org(client, p.operator, "enterprise")
    stranger_org = (await client.get("/v1/me", headers=bearer(stranger))).json()["organization"]

    async def refused(field, **overrides):
        response = await client.post("/v1/deals", json=deal_body(p, **overrides), headers=bearer(p.broker))
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field, response.text

    await refused("seller_org_id", seller_org_id=p.buyer_org["id"])
    await refused("buyer_org_id", buyer_org_id=stranger_org["id"])
    await refused("buyer_org_id", demand_id=None, buyer_org_id=p.seller_org["id"])
    await refused("offer_id", offer_id=p.demand["id"])
    await refused("offer_id", offer_id=str(uuid.uuid4()))
    await refused("demand_id", demand_id=p.offer["id"])
    await refused("broker_org_id", broker_org_id=p.seller_org["id"])
    await refused("title", title="")
    await refused("colour", colour="red")
    draft = (
        await client.post(
            "/v1/offers", json={"title": "A draft offer", "description": "x", "sector": "207"}, headers=bearer(p.seller)
        )
    ).json()
    await refused("offer_id", offer_id=draft["id"])
    # A broker is the broker of the deals it opens.
    _, other_broker = await verified_org(client, p.operator, "broker")
    other = (await client.get("/v1/me", headers=bearer(other_broker))).json()["organization"]
    await refused("broker_org_id", broker_org_id=other["id"])


async def test_who_may_open_a_deal(client, conn):
    p = await parties(client, conn)
    body = deal_body(p)
    _, stranger = await verified_org(client, p.operator, "enterprise")
    broker_viewer = await member_key(client, p.broker, p.broker_org["id"], "viewer")
    assert (await client.post("/v1/deals", json=body)).status_code == 401
    for key in (stranger, broker_viewer, p.operator, p.buyer, p.seller):
        response = await client.post("/v1/deals", json=body, headers=bearer(key))
        assert response.status_code == 403, response.text
    assert await conn.fetchval("SELECT count(*) FROM deals") == 0


async def test_who_may_see_and_move_a_deal(client, conn):
    p = await parties(client, conn)
    deal = await open_deal(client, p)
    url = f"/v1/deals/{deal['id']}"
    _, stranger = await verified_org(client, p.operator, "enterprise")
    buyer_viewer = await member_key(client, p.buyer, p.buyer_org["id"], "viewer")
    # Reading: parties (any role), broker and operators; others 404; no key 401.
    for key in (p.buyer, p.seller, p.broker, p.operator, buyer_viewer):
        assert (await client.get(url, headers=bearer(key))).status_code == 200
        assert (await client.get(f"{url}/events", headers=bearer(key))).status_code == 200
    for path in (url, f"{url}/events"):
        assert (await client.get(path, headers=bearer(stranger))).status_code == 404
        assert (await client.get(path)).status_code == 401
    writes = {
        "terms": TERMS,
        "confirm": {"terms_version": 1},
        "cancel": {"reason": "No longer needed"},
    }
    for action, body in writes.items():
        assert (await client.post(f"{url}/{action}", json=body)).status_code == 401
        assert (await client.post(f"{url}/{action}", json=body, headers=bearer(stranger))).status_code == 404
        assert (await client.post(f"{url}/{action}", json=body, headers=bearer(buyer_viewer))).status_code == 403
    # Operators cancel but do not negotiate; brokers propose but do not confirm.
    assert (await client.post(f"{url}/terms", json=TERMS, headers=bearer(p.operator))).status_code == 403
    await propose(client, p.broker, deal)
    assert (
        await client.post(f"{url}/confirm", json={"terms_version": 1}, headers=bearer(p.operator))
    ).status_code == 403
    assert (await client.post(f"{url}/confirm", json={"terms_version": 1}, headers=bearer(p.broker))).status_code == 403
    assert (await client.get(url, headers=bearer(p.buyer))).json()["stage"] == "negotiating"
    cancelled = await client.post(f"{url}/cancel", json={"reason": "Fraud suspected"}, headers=bearer(p.operator))
    assert cancelled.status_code == 200 and cancelled.json()["stage"] == "cancelled"


async def test_deal_lists_show_ones_own_deals_and_operators_all(client, conn):
    p = await parties(client, conn)
    first = await open_deal(client, p)
    second = await open_deal(client, p, title="A second deal on the same offer")
    _, stranger = await verified_org(client, p.operator, "enterprise")
    for key in (p.buyer, p.seller, p.broker, p.operator):
        page = (await client.get("/v1/deals?limit=1", headers=bearer(key))).json()
        assert [d["id"] for d in page["items"]] == [second["id"]] and page["next_cursor"]
        rest = (await client.get(f"/v1/deals?limit=1&cursor={page['next_cursor']}", headers=bearer(key))).json()
        assert [d["id"] for d in rest["items"]] == [first["id"]] and rest["next_cursor"] is None
    assert (await client.get("/v1/deals", headers=bearer(stranger))).json()["items"] == []
    await propose(client, p.broker, first)
    negotiating = (await client.get("/v1/deals?stage=negotiating", headers=bearer(p.buyer))).json()["items"]
    assert [d["id"] for d in negotiating] == [first["id"]]
    assert (await client.get("/v1/deals?stage=dreaming", headers=bearer(p.buyer))).status_code == 400
    assert (await client.get("/v1/deals")).status_code == 401


async def test_cancel_from_every_stage_before_closed(client, conn):
    p = await parties(client, conn)
    opened = await open_deal(client, p)
    negotiating = await propose(client, p.broker, await open_deal(client, p))
    agreed = await agreed_deal(client, p)
    for deal, key in ((opened, p.buyer), (negotiating, p.seller), (agreed, p.broker)):
        response = await client.post(
            f"/v1/deals/{deal['id']}/cancel", json={"reason": "Budget was cut"}, headers=bearer(key)
        )
        assert response.status_code == 200, response.text
        assert response.json()["stage"] == "cancelled" and response.json()["cancel_reason"] == "Budget was cut"
    again = await client.post(f"/v1/deals/{opened['id']}/cancel", json={"reason": "Again"}, headers=bearer(p.buyer))
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]
    events = [msgspec.convert(r["payload"], DealCancelled) for r in await _events(conn, "deal.cancelled")]
    assert [e.stage_before for e in events] == ["open", "negotiating", "agreed"]
    assert all(e.reason == "Budget was cut" for e in events)
    trail = (await client.get(f"/v1/deals/{agreed['id']}/events", headers=bearer(p.buyer))).json()["items"]
    assert trail[-1]["action"] == "cancelled"
    assert trail[-1]["details"] == {"reason": "Budget was cut", "stage_before": "agreed"}
    short = await client.post(f"/v1/deals/{agreed['id']}/cancel", json={"reason": ""}, headers=bearer(p.buyer))
    assert short.status_code == 422


async def test_if_match_and_idempotency_key(live, conn):
    client = live  # served over a socket: these requests really run at once
    p = await parties(client, conn)
    headers = {**bearer(p.broker), "Idempotency-Key": "deal-1"}
    first = await client.post("/v1/deals", json=deal_body(p), headers=headers)
    again = await client.post("/v1/deals", json=deal_body(p), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert again.headers["etag"] == first.headers["etag"] == '"1"'
    other = await client.post("/v1/deals", json=deal_body(p, title="Another title here"), headers=headers)
    assert other.status_code == 409
    burst = await asyncio.gather(
        *(
            client.post("/v1/deals", json=deal_body(p), headers={**bearer(p.broker), "Idempotency-Key": "burst"})
            for _ in range(4)
        )
    )
    assert {r.status_code for r in burst} == {201} and len({r.json()["id"] for r in burst}) == 1
    assert await conn.fetchval("SELECT count(*) FROM deals") == 2

    url = f"/v1/deals/{first.json()['id']}"
    stale = await client.post(f"{url}/terms", json=TERMS, headers={**bearer(p.broker), "If-Match": '"5"'})
    assert stale.status_code == 412
    fresh = await client.post(f"{url}/terms", json=TERMS, headers={**bearer(p.broker), "If-Match": '"1"'})
    assert fresh.status_code == 200 and fresh.headers["etag"] == '"2"'
    assert (await client.get(url, headers=bearer(p.buyer))).headers["etag"] == '"2"'
    assert (await client.get("/v1/deals/not-a-uuid", headers=bearer(p.buyer))).status_code in (400, 404)


async def test_two_confirmations_at_once_agree_exactly_once(live, conn):
    client = live  # served over a socket: these requests really run at once
    p = await parties(client, conn)
    for _ in range(5):
        deal = await propose(client, p.broker, await open_deal(client, p))
        url = f"/v1/deals/{deal['id']}/confirm"
        responses = await asyncio.gather(
            client.post(url, json={"terms_version": 1}, headers=bearer(p.buyer)),
            client.post(url, json={"terms_version": 1}, headers=bearer(p.seller)),
        )
        assert [r.status_code for r in responses] == [200, 200]
        assert sorted(r.json()["stage"] for r in responses) == ["agreed", "negotiating"]
        stored = await conn.fetchrow("SELECT stage, version FROM deals WHERE id = $1::uuid", deal["id"])
        assert stored["stage"] == "agreed" and stored["version"] == 4
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'deal.agreed'") == 5


async def test_a_confirmation_racing_a_new_proposal_never_agrees_unconfirmed_terms(live, conn):
    client = live  # served over a socket: these requests really run at once
    p = await parties(client, conn)
    outcomes = set()
    for _ in range(6):
        deal = await propose(client, p.broker, await open_deal(client, p))
        url = f"/v1/deals/{deal['id']}"
        buyer = await client.post(f"{url}/confirm", json={"terms_version": 1}, headers=bearer(p.buyer))
        assert buyer.status_code == 200
        confirm, counter = await asyncio.gather(
            client.post(f"{url}/confirm", json={"terms_version": 1}, headers=bearer(p.seller)),
            client.post(
                f"{url}/terms", json={**TERMS, "value": {"amount": 5, "currency": "VND"}}, headers=bearer(p.buyer)
            ),
        )
        stored = await conn.fetchrow(
            "SELECT stage, terms_version, value_amount, buyer_confirmed_version, seller_confirmed_version"
            " FROM deals WHERE id = $1::uuid",
            deal["id"],
        )
        if stored["stage"] == "agreed":
            # The confirmation came first: the agreement is on version 1, and the proposal was refused.
            assert (confirm.status_code, counter.status_code) == (200, 409)
            assert (stored["terms_version"], stored["value_amount"]) == (1, 900_000_000)
            outcomes.add("confirm first")
        else:
            # The proposal came first: version 2 is on the table, confirmed by nobody.
            assert (confirm.status_code, counter.status_code) == (409, 200)
            assert stored["stage"] == "negotiating" and stored["terms_version"] == 2
            assert (stored["buyer_confirmed_version"], stored["seller_confirmed_version"]) == (None, None)
            outcomes.add("proposal first")
    agreed = await conn.fetch("SELECT payload FROM outbox WHERE topic = 'deal.agreed'")
    assert all(r["payload"]["terms_version"] == 1 for r in agreed)
    assert len(agreed) == await conn.fetchval("SELECT count(*) FROM deals WHERE stage = 'agreed'")
    assert outcomes  # at least one ordering happened; either is correct


async def test_an_operator_cancels_only_in_finance_and_the_cancel_is_audited(client, conn):
    p = await parties(client, conn)
    deal = await open_deal(client, p)
    url = f"/v1/deals/{deal['id']}/cancel"
    reviewer = await operator_key(conn, "reviewer@exchange.example.vn", "reviewer")
    refused = await client.post(url, json={"reason": "Fraud suspected"}, headers=bearer(reviewer))
    assert refused.status_code == 403
    finance = await operator_key(conn, "finance@exchange.example.vn", "finance")
    cancelled = await client.post(url, json={"reason": "Fraud suspected"}, headers=bearer(finance))
    assert cancelled.status_code == 200 and cancelled.json()["stage"] == "cancelled"
    entry = await conn.fetchrow("SELECT * FROM audit_log WHERE action = 'cancel'")
    assert (entry["subject_type"], entry["subject_id"], entry["reason"]) == ("deal", deal["id"], "Fraud suspected")
    assert entry["actor_role"] == "finance" and entry["request_id"] == cancelled.headers["x-request-id"]
