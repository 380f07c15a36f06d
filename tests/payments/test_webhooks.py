"""The Stripe webhook: signatures on the raw body, each event once, and state that only moves forward."""

import time

import msgspec

from tests.payments.conftest import drain, event_body, sign
from tests.support import bearer

JSON = {"Content-Type": "application/json"}


async def _post(client, payload, signature):
    return await client.post("/v1/webhooks/stripe", content=payload, headers={**JSON, "Stripe-Signature": signature})


async def test_forged_malformed_missing_and_stale_signatures_are_400_and_store_nothing(client, conn):
    payload = event_body("pi_doesnotexist")
    cases = [
        sign(payload, secret="whsec_someone_else"),
        sign(payload + b" "),  # signed another body
        "t=abc,v1=zz",
        "garbage",
        sign(payload, timestamp=int(time.time()) - 3600),  # older than the 5-minute tolerance
    ]
    for signature in cases:
        response = await _post(client, payload, signature)
        assert response.status_code == 400, (signature, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    missing = await client.post("/v1/webhooks/stripe", content=payload, headers=JSON)
    assert missing.status_code == 400
    for body in (b"{not json", b'{"object": "event"}', b"[1, 2]"):
        assert (await _post(client, body, sign(body))).status_code == 400, body
    assert await conn.fetchval("SELECT count(*) FROM stripe_events") == 0
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'payments.stripe_event'") == 0


async def test_a_replayed_event_is_stored_once_and_changes_nothing_twice(make_deal, client, conn, pool, gateway):
    deal = await make_deal()
    invoice = deal.of("buyer")
    paid = await client.post(
        f"/v1/invoices/{invoice['id']}/pay", json={"payment_method": "pm_card_visa"}, headers=bearer(deal.buyer_key)
    )
    intent_id = paid.json()["payment_intent_id"]
    version = paid.json()["invoice"]["version"]
    payload = event_body(intent_id, event_id="evt_replayed_1")
    first = await _post(client, payload, sign(payload))
    second = await _post(client, payload, sign(payload))
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    assert await conn.fetchval("SELECT count(*) FROM stripe_events WHERE id = 'evt_replayed_1'") == 1
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'payments.stripe_event'") == 1
    await drain(pool, gateway)
    after = (await client.get(f"/v1/invoices/{invoice['id']}", headers=bearer(deal.buyer_key))).json()
    assert (after["status"], after["version"]) == ("paid", version)


async def test_a_late_failure_event_never_unpays_an_invoice(make_deal, client, conn, pool, gateway):
    deal = await make_deal()
    invoice = deal.of("seller")
    declined = await client.post(
        f"/v1/invoices/{invoice['id']}/pay",
        json={"payment_method": "pm_card_chargeCustomerFail"},
        headers=bearer(deal.seller_key),
    )
    failed_intent = declined.json()["payment_intent_id"]
    paid = await client.post(
        f"/v1/invoices/{invoice['id']}/pay", json={"payment_method": "pm_card_visa"}, headers=bearer(deal.seller_key)
    )
    paid_intent = paid.json()["payment_intent_id"]
    # Events arrive out of order: success first, then the failure of the earlier attempt, then a
    # failure event naming the paid intent (as a confused sender might).
    for intent_id, type_ in (
        (paid_intent, "payment_intent.succeeded"),
        (failed_intent, "payment_intent.payment_failed"),
        (paid_intent, "payment_intent.payment_failed"),
    ):
        payload = event_body(intent_id, type_)
        assert (await _post(client, payload, sign(payload))).status_code == 200
    await drain(pool, gateway)
    after = (await client.get(f"/v1/invoices/{invoice['id']}", headers=bearer(deal.seller_key))).json()
    assert after["status"] == "paid" and after["payment_intent_id"] == paid_intent


async def test_events_about_unknown_intents_and_other_objects_are_acknowledged_and_ignored(client, conn, pool, gateway):
    for payload in (event_body("pi_from_another_system"), event_body("cus_123", "customer.created")):
        response = await _post(client, payload, sign(payload))
        assert response.status_code == 200
    assert await drain(pool, gateway) == 2
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = 'payments.stripe_event' AND processed_at IS NULL"
        )
        == 0
    )


async def test_a_signature_from_the_future_is_refused_like_a_stale_one(client, conn):
    payload = event_body("pi_doesnotexist")
    response = await _post(client, payload, sign(payload, timestamp=int(time.time()) + 3600))
    assert response.status_code == 400, response.text
    assert await conn.fetchval("SELECT count(*) FROM stripe_events") == 0


async def test_a_signed_event_created_at_an_impossible_time_is_stored_without_it(client, conn):
    for n, created in enumerate((10**12, -(10**12))):
        event = msgspec.json.decode(event_body("pi_doesnotexist", event_id=f"evt_odd_time_{n}"))
        payload = msgspec.json.encode(event | {"created": created})
        response = await _post(client, payload, sign(payload))
        assert response.status_code == 200, response.text
    rows = await conn.fetch("SELECT id, created FROM stripe_events WHERE id LIKE 'evt_odd_time_%' ORDER BY id")
    assert [(r["id"], r["created"]) for r in rows] == [("evt_odd_time_0", None), ("evt_odd_time_1", None)]
