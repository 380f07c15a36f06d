"""A frozen Stripe holds up only the pays: no connection or row lock waits on it, and the pay gets a 503 in time."""

import asyncio

import httpx
import msgspec
import pytest

from exchange.kernel.settings import Settings
from tests.support import bearer, register

VISA = {"payment_method": "pm_card_visa"}
# Short enough for a test, long enough that the reads below surely finish first on a busy machine: one try of 5 s per
# call, 8 s for a whole pay.
STRIPE_TIMEOUT, STRIPE_DEADLINE = 5.0, 8.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Stripe timeouts short enough for a test."""
    return msgspec.structs.replace(
        settings, stripe_timeout=STRIPE_TIMEOUT, stripe_retries=0, stripe_deadline=STRIPE_DEADLINE
    )


async def _until_waiting_on_stripe(conn, invoice_ids: list[str]) -> None:
    """Return once every invoice is reserved for a pay that has gone to Stripe (its lease is taken)."""
    for _ in range(200):
        leased = await conn.fetchval(
            "SELECT count(*) FROM invoices WHERE id = ANY($1::uuid[]) AND stripe_lease IS NOT NULL", invoice_ids
        )
        if leased == len(invoice_ids):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the pays never reserved their invoices")


async def test_a_frozen_stripe_leaves_other_routes_answering_and_the_pays_get_503(make_deal, live, conn, stack):
    deals = [await make_deal(), await make_deal()]
    _, member_key = await register(live)
    unrelated = [("/v1/offers", {}), ("/v1/stats", {}), ("/v1/me", bearer(member_key))]
    for path, headers in unrelated:
        assert (await live.get(path, headers=headers)).status_code == 200
    invoices = [(deal.of(party)["id"], deal.key(party)) for deal in deals for party in ("buyer", "seller")]
    # More pays than the pool has connections (4), two of them for one invoice.
    pays = [*invoices, invoices[0]]
    # A pay answers within its deadline plus what the waiting for an invoice's reservation may add: never 60 s.
    bound = httpx.Timeout(STRIPE_DEADLINE + 10.0)
    tasks: list[asyncio.Task] = []
    stack.stripe.pause()
    try:
        tasks = [
            asyncio.create_task(live.post(f"/v1/invoices/{i}/pay", json=VISA, headers=bearer(k), timeout=bound))
            for i, k in pays
        ]
        await _until_waiting_on_stripe(conn, [i for i, _ in invoices])
        for _ in range(3):
            answers = await asyncio.gather(*(live.get(path, headers=headers) for path, headers in unrelated))
            assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
        # Every unrelated read above answered while the pays were still waiting on Stripe.
        assert not any(task.done() for task in tasks)
        stuck = await asyncio.gather(*tasks)
    finally:
        stack.stripe.resume()
        for task in tasks:
            task.cancel()
    for answer in stuck:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.headers["retry-after"].isdigit()
        assert answer.json()["type"] == "/problems/payment-gateway-unavailable"
    # Nothing is reserved any more, and a retry once Stripe answers pays each invoice with one PaymentIntent.
    assert await conn.fetchval("SELECT count(*) FROM invoices WHERE stripe_lease IS NOT NULL") == 0
    for invoice_id, key in invoices:
        paid = await live.post(f"/v1/invoices/{invoice_id}/pay", json=VISA, headers=bearer(key))
        assert paid.status_code == 200, paid.text
        assert paid.json()["invoice"]["status"] == "paid"
        assert await conn.fetchval("SELECT count(*) FROM payment_intents WHERE invoice_id = $1::uuid", invoice_id) == 1


async def test_a_refund_while_stripe_is_frozen_is_a_503_and_refunds_once_later(make_deal, live, conn, stack, gateway):
    deal = await make_deal()
    invoice = deal.of("buyer")
    paid = await live.post(f"/v1/invoices/{invoice['id']}/pay", json=VISA, headers=bearer(deal.buyer_key))
    assert paid.json()["invoice"]["status"] == "paid"
    operator = {**bearer(deal.operator), "Idempotency-Key": "refund-while-frozen"}
    stack.stripe.pause()
    try:
        refund = asyncio.create_task(
            live.post(f"/v1/invoices/{invoice['id']}/refund", headers=operator, timeout=STRIPE_DEADLINE + 10.0)
        )
        await _until_waiting_on_stripe(conn, [invoice["id"]])
        # The invoice is only reserved, not locked: reading it does not wait for Stripe.
        read = await live.get(f"/v1/invoices/{invoice['id']}", headers=bearer(deal.buyer_key))
        assert read.status_code == 200 and read.json()["status"] == "paid"
        assert not refund.done()
        frozen = await refund
    finally:
        stack.stripe.resume()
    assert frozen.status_code == 503, frozen.text
    assert frozen.headers["retry-after"].isdigit()
    # The failed attempt left its Idempotency-Key free: the same retry refunds, once.
    retried = await live.post(f"/v1/invoices/{invoice['id']}/refund", headers=operator)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "refunded" and "idempotent-replayed" not in retried.headers
    assert await gateway.refunded_amount(paid.json()["payment_intent_id"]) == invoice["amount"]["amount"]
