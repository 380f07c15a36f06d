"""The demo history: past interests and deals between demo organizations, so a fresh `make run` has statistics."""

from datetime import UTC, datetime

from exchange.deals.consumers import consumers as deal_consumers
from exchange.kernel import db, outbox
from exchange.seed import demo_id, seed
from payments.consumers import consumers as payment_consumers
from tests.parties import settings_without_jobs  # noqa: F401 - overrides the settings fixture here
from tests.support import bearer, operator_key


async def _drain(settings, database_url: str) -> None:
    """Run what the jobs would: payments issues the fee invoices, deals moves to fee_pending."""
    pool = await db.create_pool(database_url, min_size=1, max_size=2)
    try:
        async with payment_consumers(settings) as payments, deal_consumers(settings) as deals:
            for consumer in [*payments, *deals]:
                await outbox.drain(pool, consumer)
    finally:
        await pool.close()


async def test_the_demo_history_is_loaded_once_and_agreed_deals_are_invoiced(client, conn, settings, database_url):
    async with conn.transaction():
        first = await seed(conn)
    assert (first["interests_added"], first["deals_added"]) == (14, 9)
    async with conn.transaction():
        again = await seed(conn)
    assert (again["interests_added"], again["deals_added"]) == (0, 0)
    await _drain(settings, database_url)

    operator = await operator_key(conn)
    stats = (await client.get("/v1/stats", headers=bearer(operator))).json()
    assert {k: stats["interests"][k] for k in ("pending", "accepted", "declined")} == {
        "pending": 3,
        "accepted": 9,
        "declined": 2,
    }
    stages = {k: v for k, v in stats["deals"]["by_stage"].items() if v}
    assert stages == {"open": 1, "negotiating": 1, "fee_pending": 6, "cancelled": 1}
    assert stats["deals"]["agreed_value"] == {"amount": 15_910_000_000, "currency": "VND"}
    months = [m for m in stats["over_time"] if m["agreed_value"]["amount"]]
    assert len(months) >= 4 and sum(m["agreed_value"]["amount"] for m in months) == 15_910_000_000
    assert stats["over_time"][-1]["period"] == datetime.now(UTC).strftime("%Y-%m")
    assert stats["over_time"][-1]["fees"]["amount"] == stats["fees"]["invoiced"]["amount"] > 0

    # Every time lies in the past and in order: interest, decision, deal, terms, agreement.
    rows = await conn.fetch(
        """SELECT d.created_at, d.terms_proposed_at, d.agreed_at, d.cancelled_at, i.created_at AS asked, i.decided_at,
                  greatest(o.published_at, coalesce(m.published_at, o.published_at)) AS listed
           FROM deals d JOIN interests i ON i.offer_id = d.offer_id AND i.from_org_id IN (d.buyer_org_id, d.seller_org_id)
           JOIN listings o ON o.id = d.offer_id LEFT JOIN listings m ON m.id = d.demand_id"""
    )
    assert len(rows) == 9
    for r in rows:
        times = [r["listed"], r["asked"], r["decided_at"], r["created_at"], r["terms_proposed_at"]]
        times += [r["agreed_at"] or r["cancelled_at"]]
        known = [t for t in times if t is not None]
        assert known == sorted(known) and known[-1] < datetime.now(UTC)

    # The seller of a demo deal reads its trail like any deal's; the accepted interest disclosed the offer to the buyer.
    deal_id = demo_id("deal", "leachate-bienhoa")
    trail = (await client.get(f"/v1/deals/{deal_id}/events", headers=bearer(operator))).json()["items"]
    actions = [e["action"] for e in trail]
    assert actions[:6] == ["created", "terms_proposed", "confirmed", "confirmed", "agreed", "fees_invoiced"]
    invoices = (await client.get("/v1/invoices", params={"deal_id": str(deal_id)}, headers=bearer(operator))).json()
    assert {i["party"] for i in invoices["items"]} == {"buyer", "seller"}
    assert all(i["status"] == "open" for i in invoices["items"])
    disclosed = await conn.fetchval(
        "SELECT count(*) FROM listing_disclosures WHERE listing_id = $1 AND org_id = $2",
        demo_id("offer", "xu-ly-nuoc-ri-rac-dien-hoa-ozon-ro"),
        demo_id("organization", "moitruong-bienhoa"),
    )
    assert disclosed == 1

    page = (await client.get("/stats", params={"lang": "en"})).text
    for chart in ("interests", "deals-by-stage", "over-time"):
        section = page.split(f'aria-labelledby="{chart}-heading"', 1)[1].split("</section>", 1)[0]
        assert "No figures yet" not in section and "<svg" in section, chart
