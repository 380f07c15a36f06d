"""The deals consumer: deal.invoiced and deal.fees_paid, written to the outbox as payments writes them, then drained."""

import uuid

import pytest

from exchange.deals.consumers import consumers
from exchange.kernel import db, outbox
from exchange.kernel.events import DealFeesPaid, DealInvoiced
from tests.parties import agreed_deal, open_deal, parties
from tests.support import bearer


@pytest.fixture
async def pool(database_url):
    """A pool on this test's database, as the jobs have."""
    pool = await db.create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture
async def deals_consumer(settings):
    """The consumer the service registers."""
    async with consumers(settings) as found:
        (consumer,) = found
    assert consumer.batch_size == 1 and set(consumer.topics) == {"deal.invoiced", "deal.fees_paid"}
    return consumer


async def _emit(conn, event):
    async with conn.transaction():
        await outbox.emit(conn, event.deal_id, event)


def _invoiced(deal_id, version=3):
    return DealInvoiced(
        deal_id=uuid.UUID(deal_id), invoice_ids=[uuid.uuid4(), uuid.uuid4()], fee_schedule_version=version
    )


async def test_invoiced_then_paid_closes_the_deal_once(client, conn, pool, deals_consumer):
    p = await parties(client, conn)
    deal = await agreed_deal(client, p)
    invoiced = _invoiced(deal["id"])
    await _emit(conn, invoiced)
    await _emit(conn, invoiced)  # delivered twice
    assert await outbox.drain(pool, deals_consumer) == 2
    body = (await client.get(f"/v1/deals/{deal['id']}", headers=bearer(p.buyer))).json()
    assert body["stage"] == "fee_pending" and body["fee_schedule_version"] == 3 and body["invoiced_at"]
    await _emit(conn, DealFeesPaid(deal_id=uuid.UUID(deal["id"])))
    await _emit(conn, DealFeesPaid(deal_id=uuid.UUID(deal["id"])))
    await _emit(conn, invoiced)  # late and out of order
    assert await outbox.drain(pool, deals_consumer) == 3
    body = (await client.get(f"/v1/deals/{deal['id']}", headers=bearer(p.seller))).json()
    assert body["stage"] == "closed" and body["closed_at"] and body["fee_schedule_version"] == 3
    trail = (await client.get(f"/v1/deals/{deal['id']}/events", headers=bearer(p.broker))).json()["items"]
    system = [e for e in trail if e["actor_member_id"] is None]
    assert [e["action"] for e in system] == ["fees_invoiced", "closed"]
    assert all(e["actor_org_id"] is None for e in system)
    assert system[0]["details"]["invoice_ids"] == [str(i) for i in invoiced.invoice_ids]
    pending = "SELECT count(*) FROM outbox WHERE processed_at IS NULL AND topic IN ('deal.invoiced', 'deal.fees_paid')"
    assert await conn.fetchval(pending) == 0
    late = await client.post(f"/v1/deals/{deal['id']}/cancel", json={"reason": "Too late"}, headers=bearer(p.buyer))
    assert late.status_code == 409 and "closed" in late.json()["detail"]


async def test_fees_paid_while_still_agreed_passes_through_fee_pending(client, conn, pool, deals_consumer):
    p = await parties(client, conn)
    deal = await agreed_deal(client, p)
    await _emit(conn, DealFeesPaid(deal_id=uuid.UUID(deal["id"])))
    assert await outbox.drain(pool, deals_consumer) == 1
    body = (await client.get(f"/v1/deals/{deal['id']}", headers=bearer(p.buyer))).json()
    assert body["stage"] == "closed"
    actions = [
        e["action"]
        for e in (await client.get(f"/v1/deals/{deal['id']}/events", headers=bearer(p.buyer))).json()["items"]
    ]
    assert actions[-2:] == ["fees_invoiced", "closed"]


async def test_events_about_a_cancelled_or_unknown_deal_change_nothing(client, conn, pool, deals_consumer):
    p = await parties(client, conn)
    deal = await agreed_deal(client, p)
    cancelled = await client.post(
        f"/v1/deals/{deal['id']}/cancel", json={"reason": "Changed our mind"}, headers=bearer(p.seller)
    )
    assert cancelled.status_code == 200
    before = await conn.fetchrow("SELECT stage, version FROM deals WHERE id = $1::uuid", deal["id"])
    await _emit(conn, _invoiced(deal["id"]))
    await _emit(conn, DealFeesPaid(deal_id=uuid.UUID(deal["id"])))
    await _emit(conn, DealFeesPaid(deal_id=uuid.uuid4()))
    assert await outbox.drain(pool, deals_consumer) == 3
    after = await conn.fetchrow("SELECT stage, version FROM deals WHERE id = $1::uuid", deal["id"])
    assert dict(after) == dict(before) == {"stage": "cancelled", "version": before["version"]}
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE attempts > 0") == 0


async def test_invoiced_before_agreement_is_ignored(client, conn, pool, deals_consumer):
    p = await parties(client, conn)
    deal = await open_deal(client, p)
    await _emit(conn, _invoiced(deal["id"]))
    assert await outbox.drain(pool, deals_consumer) == 1
    assert await conn.fetchval("SELECT stage FROM deals WHERE id = $1::uuid", deal["id"]) == "open"
