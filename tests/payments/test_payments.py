"""Invoices issued from deal events and paid through the Stripe sandbox."""

import asyncio
import uuid

from exchange.kernel.events import DealInvoiced
from tests.payments.conftest import agree, drain
from tests.support import bearer, operator_key

VISA = {"payment_method": "pm_card_visa"}
DECLINED = {"payment_method": "pm_card_chargeCustomerFail"}


async def _topics(conn, deal_id, topic):
    return [
        r["payload"]
        for r in await conn.fetch(
            "SELECT payload FROM outbox WHERE aggregate_id = $1 AND topic = $2 ORDER BY id", deal_id, topic
        )
    ]


async def test_agreement_issues_one_invoice_per_party_under_the_schedule_then_nothing_twice(
    make_deal, conn, pool, gateway
):
    deal = await make_deal(850_000_000)
    assert sorted((i["party"], i["amount"]["amount"], i["status"]) for i in deal.invoices) == [
        ("buyer", 12_750_000, "open"),
        ("seller", 12_750_000, "open"),
    ]
    assert {i["fee_schedule_version"] for i in deal.invoices} == {1}
    invoiced = await _topics(conn, deal.id, "deal.invoiced")
    assert len(invoiced) == 1
    event = DealInvoiced(
        deal_id=deal.id, invoice_ids=[uuid.UUID(i) for i in invoiced[0]["invoice_ids"]], fee_schedule_version=1
    )
    assert sorted(map(str, event.invoice_ids)) == sorted(i["id"] for i in deal.invoices)
    # The same event again (a redelivery) creates nothing and announces nothing.
    await agree(conn, deal.id, deal.buyer_org, deal.seller_org, 850_000_000)
    await drain(pool, gateway)
    assert await conn.fetchval("SELECT count(*) FROM invoices WHERE deal_id = $1", deal.id) == 2
    assert len(await _topics(conn, deal.id, "deal.invoiced")) == 1


async def test_a_fee_above_stripes_vnd_limit_is_invoiced_in_instalments(make_deal):
    deal = await make_deal(100_000_000_000)  # fee clamped to 500,000,000: 250,000,000 each
    buyer = sorted((i for i in deal.invoices if i["party"] == "buyer"), key=lambda i: i["instalment"])
    assert [(i["instalment"], i["instalments"], i["amount"]["amount"]) for i in buyer] == [
        (1, 3, 83_333_334),
        (2, 3, 83_333_333),
        (3, 3, 83_333_333),
    ]
    assert all(i["amount"]["amount"] <= 99_999_999 for i in deal.invoices)


async def test_paying_with_a_card_marks_paid_and_the_last_payment_announces_fees_paid_once(make_deal, client, conn):
    deal = await make_deal()
    buyer = await client.post(f"/v1/invoices/{deal.of('buyer')['id']}/pay", json=VISA, headers=bearer(deal.buyer_key))
    assert buyer.status_code == 200, buyer.text
    body = buyer.json()
    assert body["status"] == "succeeded" and body["payment_intent_id"].startswith("pi_")
    assert body["invoice"]["status"] == "paid" and body["invoice"]["paid_at"]
    assert await _topics(conn, deal.id, "deal.fees_paid") == []
    seller = await client.post(
        f"/v1/invoices/{deal.of('seller')['id']}/pay", json=VISA, headers=bearer(deal.seller_key)
    )
    assert seller.json()["invoice"]["status"] == "paid"
    assert [p["deal_id"] for p in await _topics(conn, deal.id, "deal.fees_paid")] == [str(deal.id)]
    # Paying a paid invoice again reuses its intent and charges nothing.
    again = await client.post(f"/v1/invoices/{deal.of('seller')['id']}/pay", json=VISA, headers=bearer(deal.seller_key))
    assert again.status_code == 200
    assert again.json()["payment_intent_id"] == seller.json()["payment_intent_id"]
    assert await conn.fetchval("SELECT count(*) FROM payment_intents") == 2
    assert len(await _topics(conn, deal.id, "deal.fees_paid")) == 1


async def test_without_a_payment_method_the_client_secret_is_returned_and_reused(make_deal, client, gateway):
    deal = await make_deal()
    invoice = deal.of("buyer")
    first = await client.post(f"/v1/invoices/{invoice['id']}/pay", headers=bearer(deal.buyer_key))
    second = await client.post(f"/v1/invoices/{invoice['id']}/pay", json={}, headers=bearer(deal.buyer_key))
    assert first.status_code == second.status_code == 200, first.text
    assert first.json()["status"] == "requires_payment_method"
    assert first.json()["client_secret"].startswith(first.json()["payment_intent_id"])
    assert second.json()["payment_intent_id"] == first.json()["payment_intent_id"]
    intent = await gateway.retrieve_intent(first.json()["payment_intent_id"])
    assert (intent.amount, intent.currency, intent.metadata["invoice_id"]) == (
        invoice["amount"]["amount"],
        "vnd",
        invoice["id"],
    )
    # Later the payer gives a card: the same intent is confirmed with it.
    paid = await client.post(f"/v1/invoices/{invoice['id']}/pay", json=VISA, headers=bearer(deal.buyer_key))
    assert paid.json()["payment_intent_id"] == first.json()["payment_intent_id"]
    assert paid.json()["invoice"]["status"] == "paid"


async def test_a_declined_card_fails_the_invoice_which_can_be_paid_again(make_deal, client, conn, gateway):
    deal = await make_deal()
    invoice = deal.of("seller")
    declined = await client.post(f"/v1/invoices/{invoice['id']}/pay", json=DECLINED, headers=bearer(deal.seller_key))
    assert declined.status_code == 402, declined.text
    problem = declined.json()
    assert declined.headers["content-type"].startswith("application/problem+json")
    assert problem["invoice"]["status"] == "failed"
    assert problem["invoice"]["last_payment_error"]["code"] == "card_declined"
    stored = await client.get(f"/v1/invoices/{invoice['id']}", headers=bearer(deal.seller_key))
    assert stored.json()["status"] == "failed"
    retry = await client.post(f"/v1/invoices/{invoice['id']}/pay", json=VISA, headers=bearer(deal.seller_key))
    assert retry.status_code == 200, retry.text
    assert retry.json()["invoice"]["status"] == "paid"
    assert retry.json()["invoice"]["last_payment_error"] is None
    # The declined attempt was cancelled before the new one was created: never two live intents.
    old = await gateway.retrieve_intent(problem["payment_intent_id"])
    assert old.status == "canceled"
    assert retry.json()["payment_intent_id"] != problem["payment_intent_id"]
    assert await conn.fetchval("SELECT count(*) FROM payment_intents WHERE invoice_id = $1::uuid", invoice["id"]) == 2


async def test_a_card_needing_authentication_is_processing_until_stripe_says_succeeded(
    make_deal, client, conn, gateway, pool
):
    deal = await make_deal()
    invoice = deal.of("buyer")
    method = await gateway.client.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": "4000002500003155", "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )
    started = await client.post(
        f"/v1/invoices/{invoice['id']}/pay", json={"payment_method": method.id}, headers=bearer(deal.buyer_key)
    )
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["status"] == "requires_action"
    assert body["next_action"]["type"] == "use_stripe_sdk"
    assert body["invoice"]["status"] == "processing" and body["invoice"]["next_action"]
    # The payer authenticates with the sandbox, as the bank's page would let them.
    answer = await gateway.client.raw_request_async(
        "post",
        f"/v1/payment_intents/{body['payment_intent_id']}/_authenticate",
        client_secret=body["client_secret"],
        success="true",
    )
    assert answer.code == 200
    # Nothing is paid until Stripe is asked (here through a signed event about the intent).
    assert (await client.get(f"/v1/invoices/{invoice['id']}", headers=bearer(deal.buyer_key))).json()[
        "status"
    ] == "processing"
    from tests.payments.conftest import event_body, sign

    payload = event_body(body["payment_intent_id"])
    hook = await client.post(
        "/v1/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": sign(payload), "Content-Type": "application/json"},
    )
    assert hook.status_code == 200, hook.text
    await drain(pool, gateway)
    paid = (await client.get(f"/v1/invoices/{invoice['id']}", headers=bearer(deal.buyer_key))).json()
    assert paid["status"] == "paid" and paid["next_action"] is None


async def test_twenty_concurrent_pay_calls_create_one_payment_intent(make_deal, live, conn):
    deal = await make_deal()
    invoice = deal.of("buyer")
    responses = await asyncio.gather(
        *(live.post(f"/v1/invoices/{invoice['id']}/pay", headers=bearer(deal.buyer_key)) for _ in range(20))
    )
    assert [r.status_code for r in responses] == [200] * 20
    assert len({r.json()["payment_intent_id"] for r in responses}) == 1
    assert await conn.fetchval("SELECT count(*) FROM payment_intents WHERE invoice_id = $1::uuid", invoice["id"]) == 1


async def test_twenty_concurrent_card_payments_charge_once(make_deal, live, conn, gateway):
    deal = await make_deal()
    invoice = deal.of("seller")
    responses = await asyncio.gather(
        *(live.post(f"/v1/invoices/{invoice['id']}/pay", json=VISA, headers=bearer(deal.seller_key)) for _ in range(20))
    )
    assert [r.status_code for r in responses] == [200] * 20
    assert {r.json()["invoice"]["status"] for r in responses} == {"paid"}
    assert len({r.json()["payment_intent_id"] for r in responses}) == 1
    assert await conn.fetchval("SELECT count(*) FROM payment_intents WHERE invoice_id = $1::uuid", invoice["id"]) == 1


async def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(make_deal, client, conn):
    deal = await make_deal()
    invoice = deal.of("buyer")
    headers = {**bearer(deal.buyer_key), "Idempotency-Key": "pay-once-7"}
    first = await client.post(f"/v1/invoices/{invoice['id']}/pay", headers=headers, json={})
    replay = await client.post(f"/v1/invoices/{invoice['id']}/pay", headers=headers, json={})
    assert first.status_code == replay.status_code == 200
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == first.json()
    other = await client.post(f"/v1/invoices/{invoice['id']}/pay", headers=headers, json=VISA)
    assert other.status_code == 409
    assert await conn.fetchval("SELECT status FROM invoices WHERE id = $1::uuid", invoice["id"]) == "open"


async def test_a_cancelled_deal_voids_open_invoices_and_refunds_paid_ones(make_deal, client, conn, pool, gateway):
    from tests.payments.conftest import cancel

    deal = await make_deal()
    paid = await client.post(f"/v1/invoices/{deal.of('buyer')['id']}/pay", json=VISA, headers=bearer(deal.buyer_key))
    intent_id = paid.json()["payment_intent_id"]
    started = await client.post(f"/v1/invoices/{deal.of('seller')['id']}/pay", headers=bearer(deal.seller_key))
    await cancel(conn, deal.id)
    await drain(pool, gateway)
    buyer = (await client.get(f"/v1/invoices/{deal.of('buyer')['id']}", headers=bearer(deal.buyer_key))).json()
    seller = (await client.get(f"/v1/invoices/{deal.of('seller')['id']}", headers=bearer(deal.seller_key))).json()
    assert (buyer["status"], seller["status"]) == ("refunded", "void")
    assert buyer["refunded_at"] and buyer["paid_at"]
    assert await gateway.refunded_amount(intent_id) == buyer["amount"]["amount"]
    assert (await gateway.retrieve_intent(started.json()["payment_intent_id"])).status == "canceled"
    # A second delivery of the cancellation refunds nothing twice; a void invoice cannot be paid.
    await cancel(conn, deal.id)
    await drain(pool, gateway)
    assert await gateway.refunded_amount(intent_id) == buyer["amount"]["amount"]
    late = await client.post(f"/v1/invoices/{deal.of('seller')['id']}/pay", json=VISA, headers=bearer(deal.seller_key))
    assert late.status_code == 409
    assert await _topics(conn, deal.id, "deal.fees_paid") == []


async def test_a_cancellation_before_the_agreement_event_invoices_nothing(client, conn, pool, gateway):
    from tests.payments.conftest import cancel

    deal_id = uuid.uuid4()
    await cancel(conn, deal_id)
    await drain(pool, gateway)
    await agree(conn, deal_id, str(uuid.uuid4()), str(uuid.uuid4()), 1_000_000_000)
    await drain(pool, gateway)
    assert await conn.fetchval("SELECT count(*) FROM invoices WHERE deal_id = $1", deal_id) == 0


async def test_operator_refunds_one_paid_invoice(make_deal, client, gateway):
    deal = await make_deal()
    invoice = deal.of("buyer")
    not_yet = await client.post(f"/v1/invoices/{invoice['id']}/refund", headers=bearer(deal.operator))
    assert not_yet.status_code == 409
    paid = await client.post(f"/v1/invoices/{invoice['id']}/pay", json=VISA, headers=bearer(deal.buyer_key))
    refunded = await client.post(
        f"/v1/invoices/{invoice['id']}/refund", headers={**bearer(deal.operator), "Idempotency-Key": "r1"}
    )
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["status"] == "refunded" and refunded.json()["refunded_at"]
    replay = await client.post(
        f"/v1/invoices/{invoice['id']}/refund", headers={**bearer(deal.operator), "Idempotency-Key": "r1"}
    )
    assert replay.status_code == 200 and replay.json() == refunded.json()
    twice = await client.post(f"/v1/invoices/{invoice['id']}/refund", headers=bearer(deal.operator))
    assert twice.status_code == 409
    assert await gateway.refunded_amount(paid.json()["payment_intent_id"]) == invoice["amount"]["amount"]


async def test_after_authentication_paying_again_reads_the_intent_back_as_paid(make_deal, client, conn, gateway):
    deal = await make_deal()
    invoice = deal.of("seller")
    method = await gateway.client.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": "4000002500003155", "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )
    started = (
        await client.post(
            f"/v1/invoices/{invoice['id']}/pay", json={"payment_method": method.id}, headers=bearer(deal.seller_key)
        )
    ).json()
    again = await client.post(f"/v1/invoices/{invoice['id']}/pay", headers=bearer(deal.seller_key))
    assert again.json()["payment_intent_id"] == started["payment_intent_id"]
    assert again.json()["status"] == "requires_action" and again.json()["invoice"]["status"] == "processing"
    await gateway.client.raw_request_async(
        "post",
        f"/v1/payment_intents/{started['payment_intent_id']}/_authenticate",
        client_secret=started["client_secret"],
        success="true",
    )
    read_back = await client.post(f"/v1/invoices/{invoice['id']}/pay", headers=bearer(deal.seller_key))
    assert read_back.json()["status"] == "succeeded" and read_back.json()["invoice"]["status"] == "paid"
    assert await conn.fetchval("SELECT count(*) FROM payment_intents WHERE invoice_id = $1::uuid", invoice["id"]) == 1


async def test_concurrent_retries_with_one_idempotency_key_pay_once_and_share_the_answer(make_deal, live, conn):
    deal = await make_deal()
    invoice = deal.of("buyer")
    headers = {**bearer(deal.buyer_key), "Idempotency-Key": "same-retry"}
    responses = await asyncio.gather(
        *(live.post(f"/v1/invoices/{invoice['id']}/pay", json=VISA, headers=headers) for _ in range(10))
    )
    assert [r.status_code for r in responses] == [200] * 10
    assert len({r.content for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 9
    assert await conn.fetchval("SELECT count(*) FROM payment_intents WHERE invoice_id = $1::uuid", invoice["id"]) == 1


async def test_a_decline_is_one_problem_body_and_its_idempotent_retry_replays_it(make_deal, client):
    deal = await make_deal()
    invoice = deal.of("buyer")
    headers = {**bearer(deal.buyer_key), "Idempotency-Key": "declined-once"}
    declined = await client.post(f"/v1/invoices/{invoice['id']}/pay", json=DECLINED, headers=headers)
    assert declined.status_code == 402, declined.text
    problem = declined.json()
    assert list(problem) == ["type", "title", "status", "detail", "payment_intent_id", "decline", "invoice"]
    assert (problem["type"], problem["title"], problem["status"]) == ("/problems/card-declined", "Card declined", 402)
    assert problem["detail"].endswith("; the invoice can be paid again with another payment method")
    assert problem["decline"]["code"] == "card_declined" and problem["invoice"]["id"] == invoice["id"]
    replay = await client.post(f"/v1/invoices/{invoice['id']}/pay", json=DECLINED, headers=headers)
    assert (replay.status_code, replay.headers["idempotent-replayed"]) == (402, "true")
    assert replay.headers["content-type"].startswith("application/problem+json")
    assert replay.json() == problem


async def test_a_finance_operator_refunds_and_the_refund_is_audited_once(make_deal, client, conn):
    deal = await make_deal()
    invoice = deal.of("buyer")
    await client.post(f"/v1/invoices/{invoice['id']}/pay", json=VISA, headers=bearer(deal.buyer_key))
    reviewer = await operator_key(conn, "reviewer@exchange.example.vn", "reviewer")
    refused = await client.post(f"/v1/invoices/{invoice['id']}/refund", headers=bearer(reviewer))
    assert refused.status_code == 403
    finance = await operator_key(conn, "finance@exchange.example.vn", "finance")
    headers = {**bearer(finance), "Idempotency-Key": "refund-1"}
    refunded = await client.post(f"/v1/invoices/{invoice['id']}/refund", headers=headers)
    assert refunded.status_code == 200, refunded.text
    replay = await client.post(f"/v1/invoices/{invoice['id']}/refund", headers=headers)
    assert replay.status_code == 200
    entries = await conn.fetch("SELECT * FROM audit_log WHERE action = 'refund'")
    assert [(e["subject_type"], e["subject_id"], e["actor_role"]) for e in entries] == [
        ("invoice", invoice["id"], "finance")
    ]
    assert entries[0]["request_id"] == refunded.headers["x-request-id"]
