"""Auctions over HTTP against `exchange serve` with two worker processes (two closing jobs): bids racing each other,
the job closing an auction by itself at its end, and the winner's deal paid through the Stripe sandbox to closed."""

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx

from tests.e2e.test_deal_journey import VISA, confirm_in_browser, ok, organization, publish, until
from tests.support import auction_body, bearer, offer_body

CLOSE_WAIT_SECONDS = 30.0


async def bid(http: httpx.AsyncClient, key: str, auction_id: str, amount: int) -> httpx.Response:
    """One bid."""
    return await http.post(
        f"/v1/auctions/{auction_id}/bids",
        json={"amount": {"amount": amount, "currency": "VND"}},
        headers=bearer(key),
    )


async def closed(http: httpx.AsyncClient, auction_id: str, key: str) -> dict[str, Any]:
    """Wait for the job (in either worker process) to close the auction; the auction as `key` sees it."""

    async def check() -> dict[str, Any] | None:
        current = ok(await http.get(f"/v1/auctions/{auction_id}", headers=bearer(key)))
        return current if current["status"] == "closed" else None

    return await until(check, f"auction {auction_id} to close", CLOSE_WAIT_SECONDS)


async def auction_deals(database_url: str, offer_id: str) -> int:
    """How many deals auctions opened for this offer."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM deals WHERE origin = 'auction' AND offer_id = $1", uuid.UUID(offer_id)
        )
    finally:
        await conn.close()


async def test_auction_journey_from_bids_to_a_closed_deal_with_fees_paid(http, server, stack):
    operator = server.operator_key
    seller, seller_key = await organization(http, operator, "institute")
    (winner, winner_key), (_, other_key) = [await organization(http, operator, "enterprise") for _ in range(2)]
    offer = await publish(http, seller_key, operator, "offers", offer_body())
    # Sealed bids for a few seconds (enough for three bids on a busy machine): no anti-sniping, so it ends when it says.
    auction = ok(
        await http.post(
            "/v1/auctions",
            json=auction_body(offer["id"], "sealed_bid", ends_in=8, reserve={"amount": 1_100_000_000}),
            headers=bearer(seller_key),
        ),
        201,
    )
    first, second = await asyncio.gather(
        bid(http, winner_key, auction["id"], 1_200_000_000), bid(http, other_key, auction["id"], 1_300_000_000)
    )
    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    raised = ok(await bid(http, winner_key, auction["id"], 1_350_000_000))
    assert raised["id"] == first.json()["id"]
    shown = ok(await http.get(f"/v1/auctions/{auction['id']}", headers=bearer(other_key)))
    assert shown["status"] == "open" and shown["highest_bid"] is None and "1350000000" not in str(shown)

    result = await closed(http, auction["id"], winner_key)
    assert result["outcome"] == "won" and result["winner_org_id"] == winner and result["reserve_met"]
    assert result["winning_bid"] == {"amount": 1_350_000_000, "currency": "VND"} and result["deal_id"]
    # Both worker processes run the closing job: still one deal.
    assert await auction_deals(server.database_url, offer["id"]) == 1
    assert ok(await http.get(f"/v1/auctions/{auction['id']}", headers=bearer(other_key)))["deal_id"] is None

    deal_id = result["deal_id"]
    deal = ok(await http.get(f"/v1/deals/{deal_id}", headers=bearer(seller_key)))
    assert deal["origin"] == "auction" and deal["buyer_org_id"] == winner and deal["seller_org_id"] == seller
    assert deal["terms"]["value"]["amount"] == 1_350_000_000

    async def invoices_of(key: str) -> list[dict[str, Any]]:
        return ok(await http.get("/v1/invoices", params={"deal_id": deal_id}, headers=bearer(key)))["items"]

    for invoice in await until(lambda: invoices_of(winner_key), "the winner's invoice"):
        paid = ok(
            await http.post(
                f"/v1/invoices/{invoice['id']}/pay",
                json={"payment_method": VISA},
                headers={**bearer(winner_key), "Idempotency-Key": f"pay-{invoice['id']}"},
            )
        )
        assert paid["invoice"]["status"] == "paid", paid
    for invoice in await until(lambda: invoices_of(seller_key), "the seller's invoice"):
        started = ok(await http.post(f"/v1/invoices/{invoice['id']}/pay", headers=bearer(seller_key)))
        await confirm_in_browser(stack.stripe_api_base, stack.stripe_secret_key, started["payment_intent_id"], VISA)

    async def deal_closed() -> dict[str, Any] | None:
        current = ok(await http.get(f"/v1/deals/{deal_id}", headers=bearer(winner_key)))
        return current if current["stage"] == "closed" else None

    assert (await until(deal_closed, "the auction's deal to close"))["closed_at"]


async def test_english_bids_racing_over_http_leave_one_leader_and_the_close_takes_the_highest(http, server):
    operator = server.operator_key
    _, seller_key = await organization(http, operator, "institute")
    bidders = [(await organization(http, operator, "enterprise"))[1] for _ in range(6)]
    offer = await publish(http, seller_key, operator, "offers", offer_body())
    body = auction_body(offer["id"], ends_in=10, min_increment={"amount": 10_000_000})
    auction = ok(await http.post("/v1/auctions", json=body, headers=bearer(seller_key)), 201)
    # Everyone bids the starting price at once, through two processes: one is accepted, the rest are too low.
    answers = await asyncio.gather(*(bid(http, key, auction["id"], 1_000_000_000) for key in bidders))
    assert sorted(a.status_code for a in answers) == [201] + [422] * 5, [a.text for a in answers]
    assert {a.json()["errors"][0]["field"] for a in answers if a.status_code == 422} == {"amount"}
    # Then each raises by a different step at once: whatever order they land in, the leader is the highest accepted.
    raises = await asyncio.gather(
        *(bid(http, key, auction["id"], 1_010_000_000 + i * 10_000_000) for i, key in enumerate(bidders))
    )
    accepted = [r.json()["amount"]["amount"] for r in raises if r.status_code == 201]
    assert accepted and all(r.status_code in (201, 422) for r in raises), [r.text for r in raises]
    shown = ok(await http.get(f"/v1/auctions/{auction['id']}"))
    assert shown["bid_count"] == 1 + len(accepted)
    assert shown["highest_bid"]["amount"] == max(accepted)
    # Every bid came within 5 minutes of the end, so the end moved; put it in the past and let the job close it.
    assert shown["ends_at"] > auction["ends_at"]
    conn = await asyncpg.connect(server.database_url)
    try:
        await conn.execute("UPDATE auctions SET ends_at = clock_timestamp() WHERE id = $1", uuid.UUID(auction["id"]))
    finally:
        await conn.close()
    late = await bid(http, bidders[0], auction["id"], 5_000_000_000)
    assert late.status_code == 409, late.text
    result = await closed(http, auction["id"], seller_key)
    assert result["outcome"] == "won" and result["winning_bid"]["amount"] == max(accepted)
    assert await auction_deals(server.database_url, offer["id"]) == 1
