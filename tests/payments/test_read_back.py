"""No payment depends on one webhook: invoices left unsettled are read back from Stripe and settled once."""

import asyncio

import msgspec

from exchange import jobs
from payments.readback import read_back
from tests.payments.conftest import drain, event_body, sign
from tests.support import bearer


async def _pay_in_the_browser(client, gateway, deal, party: str) -> dict:
    """Start paying as the payer's page does (no payment method), then confirm with Stripe directly, as Stripe.js
    would: the service hears of it only through a webhook or a read-back."""
    started = await client.post(f"/v1/invoices/{deal.of(party)['id']}/pay", headers=bearer(deal.key(party)))
    assert started.status_code == 200, started.text
    intent_id = started.json()["payment_intent_id"]
    await gateway.set_payment_method(intent_id, "pm_card_visa")
    assert (await gateway.confirm_intent(intent_id, f"browser-{intent_id}")).status == "succeeded"
    return started.json()


async def _fees_paid(conn, deal_id) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM outbox WHERE aggregate_id = $1 AND topic = 'deal.fees_paid'", deal_id
    )


async def test_a_payment_whose_webhook_is_lost_is_settled_by_the_read_back_job(
    make_deal, client, conn, gateway, settings
):
    deal = await make_deal()
    for party in ("buyer", "seller"):
        await _pay_in_the_browser(client, gateway, deal, party)
    statuses = "SELECT array_agg(status ORDER BY party) FROM invoices WHERE deal_id = $1"
    # No webhook comes: the invoices stay open however long one waits for it.
    assert await conn.fetchval(statuses, deal.id) == ["open", "open"]
    quick = msgspec.structs.replace(settings, read_back_after_seconds=1.0, read_back_every_seconds=0.2)
    async with jobs.running(quick):
        for _ in range(150):
            if await conn.fetchval(statuses, deal.id) == ["paid", "paid"]:
                break
            await asyncio.sleep(0.1)
    assert await conn.fetchval(statuses, deal.id) == ["paid", "paid"]
    assert await _fees_paid(conn, deal.id) == 1


async def test_the_read_back_and_the_webhook_together_count_the_money_once(make_deal, client, conn, pool, gateway):
    deal = await make_deal()
    started = {party: await _pay_in_the_browser(client, gateway, deal, party) for party in ("buyer", "seller")}
    # An invoice someone touched lately is not read back yet.
    assert await read_back(pool, gateway, 3600) == 0
    await conn.execute("UPDATE invoices SET updated_at = now() - interval '1 hour' WHERE deal_id = $1", deal.id)
    for body in started.values():
        payload = event_body(body["payment_intent_id"])
        hook = await client.post(
            "/v1/webhooks/stripe",
            content=payload,
            headers={"Stripe-Signature": sign(payload), "Content-Type": "application/json"},
        )
        assert hook.status_code == 200, hook.text
    # The read-back and the webhook's processing race for the same invoices.
    await asyncio.gather(read_back(pool, gateway, 60), drain(pool, gateway))
    for party, body in started.items():
        invoice = (await client.get(f"/v1/invoices/{deal.of(party)['id']}", headers=bearer(deal.key(party)))).json()
        # Paid by exactly one write, whichever came first.
        assert (invoice["status"], invoice["version"]) == ("paid", body["invoice"]["version"] + 1)
    assert await _fees_paid(conn, deal.id) == 1
    # Settled invoices are never read back again, and a second delivery changes nothing.
    assert await read_back(pool, gateway, 0) == 0
    for body in started.values():
        payload = event_body(body["payment_intent_id"])
        await client.post(
            "/v1/webhooks/stripe",
            content=payload,
            headers={"Stripe-Signature": sign(payload), "Content-Type": "application/json"},
        )
    await drain(pool, gateway)
    assert await _fees_paid(conn, deal.id) == 1
