"""Auctions on the real stack: creating, reading, bidding (english and sealed), cancelling and closing into a deal."""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from exchange.auctions import public as auctions
from exchange.kernel import db
from exchange.seed import demo_id, seed
from tests.parties import Parties, member_key, parties
from tests.support import auction_body, bearer, published_offer, register, verified_org

RESERVE = 1_234_567_891  # an amount no other figure of these tests has: it must never appear in a body


async def create(client: Any, p: Parties, kind: str = "english", **overrides: Any) -> dict[str, Any]:
    """The seller auctions its published offer."""
    response = await client.post(
        "/v1/auctions", json=auction_body(p.offer["id"], kind, **overrides), headers=bearer(p.seller)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def bid(client: Any, key: str, auction: dict[str, Any], amount: int, **headers: str) -> Any:
    """One bid of this amount."""
    return await client.post(
        f"/v1/auctions/{auction['id']}/bids",
        json={"amount": {"amount": amount, "currency": "VND"}},
        headers={**bearer(key), **headers},
    )


async def placed(client: Any, key: str, auction: dict[str, Any], amount: int, status: int = 201) -> dict[str, Any]:
    """A bid that must be accepted."""
    response = await bid(client, key, auction, amount)
    assert response.status_code == status, response.text
    return response.json()


async def end_now(conn: Any, auction: dict[str, Any]) -> None:
    """Move the auction's end to now, as if its time had run out (the job has not closed it yet)."""
    await conn.execute(
        "UPDATE auctions SET starts_at = least(starts_at, clock_timestamp() - interval '1 hour'),"
        " ends_at = clock_timestamp() WHERE id = $1",
        uuid.UUID(auction["id"]),
    )


async def close(conn: Any, auction: dict[str, Any]) -> Any:
    """What the closing job does for one auction, in one transaction."""
    async with conn.transaction():
        return await auctions.close_if_due(conn, uuid.UUID(auction["id"]))


async def read(client: Any, auction: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    response = await client.get(f"/v1/auctions/{auction['id']}", headers=bearer(key) if key else {})
    assert response.status_code == 200, response.text
    return response.json()


def problem_field(response: Any) -> str:
    assert response.status_code == 422, response.text
    return response.json()["errors"][0]["field"]


async def test_creating_validates_each_field_and_allows_one_running_auction_per_offer(client, conn):
    p = await parties(client, conn)
    at = datetime.now(UTC)
    cases = {
        "ends_at": {
            "starts_at": (at + timedelta(hours=2)).isoformat(),
            "ends_at": (at + timedelta(hours=1)).isoformat(),
        },
        "starting_price.currency": {"starting_price": {"amount": 1000, "currency": "USD"}},
        "reserve.amount": {"reserve": {"amount": 999_999_999, "currency": "VND"}},
        "min_increment.amount": {"min_increment": {"amount": 0, "currency": "VND"}},
        "starting_price.amount": {"starting_price": {"amount": 0, "currency": "VND"}},
        "transfer_mode": {"transfer_mode": "equipment_sale"},
    }
    for field, overrides in cases.items():
        response = await client.post(
            "/v1/auctions", json=auction_body(p.offer["id"], **overrides), headers=bearer(p.seller)
        )
        assert problem_field(response) == field, (field, response.text)
    past = auction_body(p.offer["id"], starts_at=(at - timedelta(hours=2)).isoformat(), ends_in=-60)
    assert problem_field(await client.post("/v1/auctions", json=past, headers=bearer(p.seller))) == "ends_at"
    sealed = auction_body(p.offer["id"], "sealed_bid", min_increment={"amount": 10, "currency": "VND"})
    assert problem_field(await client.post("/v1/auctions", json=sealed, headers=bearer(p.seller))) == "min_increment"
    naive = auction_body(p.offer["id"], ends_at=(at + timedelta(hours=1)).replace(tzinfo=None).isoformat())
    assert problem_field(await client.post("/v1/auctions", json=naive, headers=bearer(p.seller))) == "ends_at"
    unknown = auction_body(str(uuid.uuid4()))
    assert problem_field(await client.post("/v1/auctions", json=unknown, headers=bearer(p.seller))) == "offer_id"
    # Only the owner's editors may auction it.
    viewer = await member_key(client, p.seller, p.seller_org["id"], "viewer")
    for key in (viewer, p.buyer, p.operator):
        response = await client.post("/v1/auctions", json=auction_body(p.offer["id"]), headers=bearer(key))
        assert response.status_code == 403, response.text
    assert (await client.post("/v1/auctions", json=auction_body(p.offer["id"]))).status_code == 401
    nothing = await conn.fetchval("SELECT count(*) FROM auctions")
    assert nothing == 0
    # One running auction per offer: a second is 409 until the first is cancelled.
    first = await create(client, p)
    assert first["status"] == "open" and first["min_increment"] == {"amount": 10_000_000, "currency": "VND"}
    again = await client.post("/v1/auctions", json=auction_body(p.offer["id"], "sealed_bid"), headers=bearer(p.seller))
    assert again.status_code == 409, again.text
    cancelled = await client.post(
        f"/v1/auctions/{first['id']}/cancel", json={"reason": "Wrong dates"}, headers=bearer(p.seller)
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    second = await create(client, p, "sealed_bid")
    assert second["kind"] == "sealed_bid" and second["min_increment"] is None


async def test_an_unpublished_offer_cannot_be_auctioned(client, conn):
    p = await parties(client, conn)
    withdrawn = await client.post(f"/v1/offers/{p.offer['id']}/withdraw", headers=bearer(p.seller))
    assert withdrawn.status_code == 200, withdrawn.text
    response = await client.post("/v1/auctions", json=auction_body(p.offer["id"]), headers=bearer(p.seller))
    assert problem_field(response) == "offer_id"


async def test_anyone_reads_auctions_of_public_offers_and_scheduled_ones_take_no_bids(client, conn):
    p = await parties(client, conn)
    at = datetime.now(UTC)
    later = await create(
        client,
        p,
        "sealed_bid",
        starts_at=(at + timedelta(hours=1)).isoformat(),
        ends_at=(at + timedelta(hours=2)).isoformat(),
    )
    assert later["status"] == "scheduled"
    response = await bid(client, p.buyer, later, 1_000_000_000)
    assert response.status_code == 409, response.text
    # Scheduled turns open at starts_at with no job: move the start to the past.
    await conn.execute("UPDATE auctions SET starts_at = now() - interval '1 s' WHERE id = $1", uuid.UUID(later["id"]))
    anonymous = await read(client, later)
    assert anonymous["status"] == "open" and anonymous["bid_count"] == 0
    assert anonymous["highest_bid"] is None and anonymous["deal_id"] is None
    listed = await client.get("/v1/auctions", params={"offer_id": p.offer["id"], "status": "open"})
    assert [a["id"] for a in listed.json()["items"]] == [later["id"]]
    assert (await client.get("/v1/auctions", params={"status": "scheduled"})).json()["items"] == []
    # When the offer leaves publication, only its seller and operators still see the auction.
    await client.post(f"/v1/offers/{p.offer['id']}/withdraw", headers=bearer(p.seller))
    assert (await client.get(f"/v1/auctions/{later['id']}")).status_code == 404
    assert (await client.get(f"/v1/auctions/{later['id']}", headers=bearer(p.buyer))).status_code == 404
    assert (await client.get("/v1/auctions")).json()["items"] == []
    assert (await client.get(f"/v1/auctions/{later['id']}", headers=bearer(p.seller))).status_code == 200
    mine = await client.get("/v1/auctions", headers=bearer(p.seller))
    assert [a["id"] for a in mine.json()["items"]] == [later["id"]]
    assert len((await client.get("/v1/auctions", headers=bearer(p.operator))).json()["items"]) == 1
    assert (await bid(client, p.buyer, later, 1_000_000_000)).status_code == 404


async def test_english_bids_step_by_the_increment_and_a_late_bid_extends_the_end(client, conn):
    p = await parties(client, conn)
    _, third = await verified_org(client, p.operator, "enterprise")
    auction = await create(
        client,
        p,
        starting_price={"amount": 1_000_000, "currency": "VND"},
        min_increment={"amount": 100_000, "currency": "VND"},
    )
    assert problem_field(await bid(client, p.buyer, auction, 999_999)) == "amount"
    first = await placed(client, p.buyer, auction, 1_000_000)
    assert first["amount"] == {"amount": 1_000_000, "currency": "VND"}
    assert problem_field(await bid(client, third, auction, 1_099_999)) == "amount"
    await placed(client, third, auction, 1_100_000)
    shown = await read(client, auction)
    assert shown["highest_bid"] == {"amount": 1_100_000, "currency": "VND"}
    assert shown["minimum_bid"] == {"amount": 1_200_000, "currency": "VND"}
    assert shown["bid_count"] == 2 and shown["reserve_met"] is True and shown["has_reserve"] is False
    # An hour left: the end stays. Two minutes left: a bid moves it to five minutes past the bid.
    assert shown["ends_at"] == auction["ends_at"]
    await conn.execute(
        "UPDATE auctions SET ends_at = now() + interval '2 minutes' WHERE id = $1", uuid.UUID(auction["id"])
    )
    late = await placed(client, p.broker, auction, 1_200_000)
    extended = await read(client, auction)
    ends_at = datetime.fromisoformat(extended["ends_at"])
    assert ends_at == datetime.fromisoformat(late["placed_at"]) + timedelta(minutes=5)
    assert extended["scheduled_ends_at"] == auction["ends_at"]
    # The extension is what the close goes by: not due yet.
    assert await close(conn, auction) is None


async def test_sealed_bids_are_seen_by_their_bidder_only_until_the_close(client, conn):
    p = await parties(client, conn)
    _, third = await verified_org(client, p.operator, "enterprise")
    auction = await create(client, p, "sealed_bid", reserve={"amount": RESERVE, "currency": "VND"})
    mine = await placed(client, p.buyer, auction, 1_500_000_000)
    theirs = await placed(client, third, auction, 1_400_000_000)
    # A second sealed bid of the same organization replaces the first, lower or higher.
    replaced = await placed(client, p.buyer, auction, 1_300_000_000, status=200)
    assert replaced["id"] == mine["id"] and replaced["replaced_count"] == 1
    for key in (None, p.buyer, third, p.seller, p.operator):
        shown = await read(client, auction, key)
        assert shown["highest_bid"] is None and shown["bid_count"] == 2 and shown["reserve_met"] is False
        body = json.dumps(shown)
        assert "1300000000" not in body and "1400000000" not in body and "1500000000" not in body
    own = (await client.get(f"/v1/auctions/{auction['id']}/bids", headers=bearer(p.buyer))).json()["items"]
    assert [(b["id"], b["amount"]["amount"]) for b in own] == [(mine["id"], 1_300_000_000)]
    other = (await client.get(f"/v1/auctions/{auction['id']}/bids", headers=bearer(third))).json()["items"]
    assert [b["id"] for b in other] == [theirs["id"]]
    for key in (p.seller, p.operator, p.broker):
        response = await client.get(f"/v1/auctions/{auction['id']}/bids", headers=bearer(key))
        assert response.status_code == 403, response.text
    assert (await client.get(f"/v1/auctions/{auction['id']}/bids")).status_code == 401
    # After the close the seller and operators see every bid, and the winner's bid is public.
    await end_now(conn, auction)
    assert (await close(conn, auction)).outcome == "won"
    closed = await read(client, auction)
    assert closed["status"] == "closed" and closed["outcome"] == "won" and closed["reserve_met"] is True
    assert closed["winning_bid"] == {"amount": 1_400_000_000, "currency": "VND"} and closed["minimum_bid"] is None
    for key in (p.seller, p.operator):
        every = (await client.get(f"/v1/auctions/{auction['id']}/bids", headers=bearer(key))).json()["items"]
        assert sorted(b["amount"]["amount"] for b in every) == [1_300_000_000, 1_400_000_000]
    assert (await client.get(f"/v1/auctions/{auction['id']}/bids", headers=bearer(p.broker))).status_code == 403


async def test_nobody_ever_sees_the_reserve_amount(client, conn, caplog):
    caplog.set_level("DEBUG")
    p = await parties(client, conn)
    auction = await create(client, p, reserve={"amount": RESERVE, "currency": "VND"})
    bodies = [json.dumps(auction)]
    await placed(client, p.buyer, auction, 1_100_000_000)
    await placed(client, p.broker, auction, RESERVE + 10_000_000)
    await end_now(conn, auction)
    await close(conn, auction)
    for key in (None, p.seller, p.buyer, p.broker, p.operator):
        headers = bearer(key) if key else {}
        bodies.append((await client.get(f"/v1/auctions/{auction['id']}", headers=headers)).text)
        bodies.append((await client.get("/v1/auctions", headers=headers)).text)
        bodies.append((await client.get(f"/v1/auctions/{auction['id']}/bids", headers=headers)).text)
    deal_id = (await read(client, auction, p.seller))["deal_id"]
    for key in (p.seller, p.broker):
        bodies.append((await client.get(f"/v1/deals/{deal_id}", headers=bearer(key))).text)
        bodies.append((await client.get(f"/v1/deals/{deal_id}/events", headers=bearer(key))).text)
    outbox = await conn.fetch("SELECT payload::text FROM outbox")
    bodies.extend(r[0] for r in outbox)
    assert auction["has_reserve"] is True and any("auction.closed" in b for b in bodies)
    for body in [*bodies, caplog.text]:
        assert str(RESERVE) not in body and "reserve_amount" not in body


async def test_reserve_not_met_and_no_bids_close_without_winner_or_deal(client, conn):
    p = await parties(client, conn)
    auction = await create(client, p, reserve={"amount": RESERVE, "currency": "VND"})
    await placed(client, p.buyer, auction, 1_200_000_000)
    assert (await read(client, auction))["reserve_met"] is False
    await end_now(conn, auction)
    await close(conn, auction)
    closed = await read(client, auction, p.seller)
    assert closed["outcome"] == "reserve_not_met" and closed["winner_org_id"] is None
    assert closed["deal_id"] is None and closed["winning_bid"] is None
    # The offer can be auctioned again, and an auction nobody bid in says so.
    empty = await create(client, p, "sealed_bid")
    await end_now(conn, empty)
    await close(conn, empty)
    assert (await read(client, empty))["outcome"] == "no_bids"
    assert await conn.fetchval("SELECT count(*) FROM deals") == 0
    events = [r[0] for r in await conn.fetch("SELECT payload FROM outbox WHERE topic = 'auction.closed' ORDER BY id")]
    assert [(e["outcome"], e["winner_org_id"], e["deal_id"]) for e in events] == [
        ("reserve_not_met", None, None),
        ("no_bids", None, None),
    ]


async def test_the_close_opens_an_agreed_deal_seen_by_its_parties_only(client, conn):
    p = await parties(client, conn)
    _, third = await verified_org(client, p.operator, "enterprise")
    auction = await create(client, p, transfer_mode="consulting", terms_summary="Two years of on-site consulting.")
    await placed(client, p.buyer, auction, 1_000_000_000)
    await placed(client, third, auction, 1_010_000_000)
    winner = await placed(client, p.buyer, auction, 1_020_000_000)
    await end_now(conn, auction)
    await close(conn, auction)
    assert await close(conn, auction) is None  # a second close finds nothing to do
    seen = await read(client, auction, p.buyer)
    assert seen["outcome"] == "won" and seen["winner_org_id"] == p.buyer_org["id"] and seen["deal_id"]
    assert (await read(client, auction, p.seller))["deal_id"] == seen["deal_id"]
    assert (await read(client, auction, p.operator))["deal_id"] == seen["deal_id"]
    for key in (None, third):
        assert (await read(client, auction, key))["deal_id"] is None
    deal = (await client.get(f"/v1/deals/{seen['deal_id']}", headers=bearer(p.buyer))).json()
    assert deal["stage"] == "agreed" and deal["origin"] == "auction"
    assert (deal["buyer_org_id"], deal["seller_org_id"]) == (p.buyer_org["id"], p.seller_org["id"])
    assert deal["terms"]["value"] == {"amount": 1_020_000_000, "currency": "VND"}
    assert deal["terms"]["transfer_mode"] == "consulting"
    assert deal["terms"]["summary"] == "Two years of on-site consulting."
    trail = (await client.get(f"/v1/deals/{deal['id']}/events", headers=bearer(p.seller))).json()["items"]
    assert trail[0]["details"]["auction_id"] == auction["id"] and trail[0]["details"]["bid_id"] == winner["id"]
    event = await conn.fetchval("SELECT payload FROM outbox WHERE topic = 'auction.closed'")
    assert event["outcome"] == "won" and event["deal_id"] == deal["id"]
    assert event["winning_amount"] == {"amount": 1_020_000_000, "currency": "VND"}
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'deal.agreed'") == 1


async def test_a_tie_goes_to_the_earliest_bid(client, conn):
    p = await parties(client, conn)
    auction = await create(client, p, "sealed_bid")
    first = await placed(client, p.broker, auction, 1_300_000_000)
    await placed(client, p.buyer, auction, 1_300_000_000)
    await end_now(conn, auction)
    await close(conn, auction)
    closed = await read(client, auction)
    assert closed["winner_org_id"] == p.broker_org["id"]
    every = (await client.get(f"/v1/auctions/{auction['id']}/bids", headers=bearer(p.seller))).json()["items"]
    assert [b["id"] for b in every][-1] == first["id"]  # newest first: the earliest is last


async def test_only_editors_of_verified_organizations_other_than_the_seller_bid(client, conn):
    p = await parties(client, conn)
    auction = await create(client, p)
    viewer = await member_key(client, p.buyer, p.buyer_org["id"], "viewer")
    _, unverified = await register(client, "enterprise")
    for key in (p.seller, viewer, unverified, p.operator):
        response = await bid(client, key, auction, 1_000_000_000)
        assert response.status_code == 403, response.text
    response = await client.post(
        f"/v1/auctions/{auction['id']}/bids", json={"amount": {"amount": 1_000_000_000, "currency": "VND"}}
    )
    assert response.status_code == 401
    editor = await member_key(client, p.buyer, p.buyer_org["id"], "editor")
    await placed(client, editor, auction, 1_000_000_000)
    # Every member of the bidding organization sees its bids.
    own = await client.get(f"/v1/auctions/{auction['id']}/bids", headers=bearer(viewer))
    assert own.status_code == 200 and len(own.json()["items"]) == 1
    assert (await bid(client, p.buyer, auction, 1)).status_code == 422


async def test_bids_are_refused_once_the_auction_ended_closed_or_was_cancelled(client, conn):
    p = await parties(client, conn)
    auction = await create(client, p)
    await placed(client, p.buyer, auction, 1_000_000_000)
    await end_now(conn, auction)
    # Past ends_at and not yet closed by the job: no bid counts any more, nor may it be cancelled.
    assert (await bid(client, p.broker, auction, 2_000_000_000)).status_code == 409
    late = await client.post(
        f"/v1/auctions/{auction['id']}/cancel", json={"reason": "Too late"}, headers=bearer(p.operator)
    )
    assert late.status_code == 409
    await close(conn, auction)
    assert (await bid(client, p.broker, auction, 2_000_000_000)).status_code == 409
    assert (await read(client, auction))["winning_bid"] == {"amount": 1_000_000_000, "currency": "VND"}
    after = await client.post(
        f"/v1/auctions/{auction['id']}/cancel", json={"reason": "Too late"}, headers=bearer(p.operator)
    )
    assert after.status_code == 409
    cancelled = await create(client, p, "sealed_bid")
    await client.post(
        f"/v1/auctions/{cancelled['id']}/cancel", json={"reason": "Changed my mind"}, headers=bearer(p.seller)
    )
    assert (await bid(client, p.broker, cancelled, 2_000_000_000)).status_code == 409


async def test_the_seller_cancels_before_the_first_bid_and_operators_until_the_close(client, conn):
    p = await parties(client, conn)
    auction = await create(client, p)
    editor = await member_key(client, p.seller, p.seller_org["id"], "viewer")
    for key in (editor, p.buyer):
        response = await client.post(
            f"/v1/auctions/{auction['id']}/cancel", json={"reason": "Not mine"}, headers=bearer(key)
        )
        assert response.status_code == 403, response.text
    await placed(client, p.buyer, auction, 1_000_000_000)
    refused = await client.post(
        f"/v1/auctions/{auction['id']}/cancel", json={"reason": "A better offer came"}, headers=bearer(p.seller)
    )
    assert refused.status_code == 409, refused.text
    done = await client.post(
        f"/v1/auctions/{auction['id']}/cancel", json={"reason": "Fraudulent bidding"}, headers=bearer(p.operator)
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "cancelled" and done.json()["cancel_reason"] == "Fraudulent bidding"
    again = await client.post(
        f"/v1/auctions/{auction['id']}/cancel", json={"reason": "Fraudulent bidding"}, headers=bearer(p.operator)
    )
    assert again.status_code == 409
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE subject_type = 'auction'") == 1
    event = await conn.fetchval("SELECT payload FROM outbox WHERE topic = 'auction.cancelled'")
    assert event["reason"] == "Fraudulent bidding" and event["bid_count"] == 1
    # A cancelled auction is never closed.
    await end_now(conn, auction)
    assert await close(conn, auction) is None
    assert await conn.fetchval("SELECT count(*) FROM deals") == 0


async def test_an_idempotency_key_retry_returns_the_same_bid(client, conn):
    p = await parties(client, conn)
    auction = await create(client, p)
    first = await bid(client, p.buyer, auction, 1_000_000_000, **{"Idempotency-Key": "bid-1"})
    retry = await bid(client, p.buyer, auction, 1_000_000_000, **{"Idempotency-Key": "bid-1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
    assert (await read(client, auction))["bid_count"] == 1
    other = await bid(client, p.buyer, auction, 1_100_000_000, **{"Idempotency-Key": "bid-1"})
    assert other.status_code == 409, other.text


async def test_concurrent_bids_over_a_socket_accept_exactly_one_at_each_amount(live, conn):
    p = await parties(live, conn)
    bidders = [p.buyer, p.broker] + [(await verified_org(live, p.operator, "enterprise"))[1] for _ in range(4)]
    auction = await create(live, p)
    answers = await asyncio.gather(*(bid(live, key, auction, 1_000_000_000) for key in bidders))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [422] * (len(bidders) - 1), [a.text for a in answers]
    # Sealed: the same organization's bids racing each other leave one bid, replaced by the others.
    offer = await published_offer(live, p.seller, p.operator)
    created = await live.post("/v1/auctions", json=auction_body(offer["id"], "sealed_bid"), headers=bearer(p.seller))
    sealed = created.json()
    editors = [p.buyer, await member_key(live, p.buyer, p.buyer_org["id"], "editor")]
    answers = await asyncio.gather(*(bid(live, key, sealed, 1_000_000_000 + i) for i, key in enumerate(editors * 3)))
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201], [a.text for a in answers]
    rows = await conn.fetch(
        "SELECT amount, replaced_count FROM auction_bids WHERE auction_id = $1", uuid.UUID(sealed["id"])
    )
    assert len(rows) == 1 and rows[0]["replaced_count"] == 5
    assert (await read(live, sealed))["bid_count"] == 1


async def test_two_closers_at_once_close_an_auction_once_with_one_deal(client, conn, database_url):
    p = await parties(client, conn)
    auction = await create(client, p, "sealed_bid")
    await placed(client, p.buyer, auction, 1_100_000_000)
    await end_now(conn, auction)
    closers = [await db.connect(database_url) for _ in range(4)]
    try:

        async def by_id(c: Any) -> Any:
            async with c.transaction():
                return await auctions.close_if_due(c, uuid.UUID(auction["id"]))

        async def next_due(c: Any) -> Any:
            async with c.transaction():
                return await auctions.close_next_due(c)

        results = await asyncio.gather(by_id(closers[0]), next_due(closers[1]), by_id(closers[2]), next_due(closers[3]))
    finally:
        for c in closers:
            await c.close()
    assert sum(r is not None for r in results) == 1
    assert await conn.fetchval("SELECT count(*) FROM deals WHERE origin = 'auction'") == 1
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'auction.closed'") == 1


async def test_a_bid_in_flight_at_the_end_holds_off_the_closer_and_counts(client, conn, database_url):
    p = await parties(client, conn)
    auction = await create(client, p, "sealed_bid")
    auction_id = uuid.UUID(auction["id"])
    bidder = await db.connect(database_url)
    try:
        # What a bid's transaction does: lock, read the clock, record the bid; then its end passes before it commits.
        async with bidder.transaction():
            await bidder.execute("SELECT 1 FROM auctions WHERE id = $1 FOR UPDATE", auction_id)
            await bidder.execute(
                "INSERT INTO auction_bids (auction_id, bidder_org_id, member_id, sealed, amount, placed_at)"
                " SELECT $1, org_id, id, true, 1100000000, clock_timestamp() FROM members WHERE org_id = $2",
                auction_id,
                uuid.UUID(p.buyer_org["id"]),
            )
            await bidder.execute("UPDATE auctions SET ends_at = clock_timestamp() WHERE id = $1", auction_id)
            async with conn.transaction():
                assert await auctions.close_next_due(conn) is None  # the job skips what a bid holds
    finally:
        await bidder.close()
    # The job's next tick closes it, with the bid placed before the end.
    async with conn.transaction():
        closed = await auctions.close_next_due(conn)
    assert closed is not None and closed.outcome == "won"
    assert (await read(client, auction))["winner_org_id"] == p.buyer_org["id"]


async def test_a_cancel_racing_the_close_either_cancels_or_is_refused_and_the_auction_closes(live, conn):
    p = await parties(live, conn)
    auction = await create(live, p)
    await placed(live, p.buyer, auction, 1_000_000_000)
    await conn.execute(
        "UPDATE auctions SET ends_at = clock_timestamp() + interval '0.3 s' WHERE id = $1", uuid.UUID(auction["id"])
    )
    ends_at = datetime.fromisoformat((await read(live, auction))["ends_at"])

    async def cancel() -> int:
        # Sent as the end comes, while the closer tries over and over: either may get the auction first.
        await asyncio.sleep(max(0.0, (ends_at - datetime.now(UTC)).total_seconds()))
        response = await live.post(
            f"/v1/auctions/{auction['id']}/cancel", json={"reason": "Withdrawn by the desk"}, headers=bearer(p.operator)
        )
        return response.status_code

    async def closer() -> Any:
        while (await read(live, auction))["status"] == "open":
            if closed := await close(conn, auction):
                return closed
        return None

    cancelled, closed = await asyncio.gather(cancel(), closer())
    final = await read(live, auction)
    deals = await conn.fetchval("SELECT count(*) FROM deals")
    if cancelled == 200:
        assert final["status"] == "cancelled" and closed is None and deals == 0
    else:
        assert cancelled == 409 and final["status"] == "closed" and final["outcome"] == "won" and deals == 1


async def test_the_demo_data_has_an_open_auction_with_bids(client, conn):
    async with conn.transaction():
        counts = await seed(conn)
    assert counts["auctions_added"] == 1
    async with conn.transaction():
        assert (await seed(conn))["auctions_added"] == 0
    listed = (await client.get("/v1/auctions", params={"status": "open"})).json()["items"]
    assert [a["id"] for a in listed] == [str(demo_id("auction", "fenton-mbbr-2026"))]
    demo = listed[0]
    assert demo["bid_count"] == 2 and demo["highest_bid"] == {"amount": 1_950_000_000, "currency": "VND"}
    assert demo["has_reserve"] and not demo["reserve_met"]
    assert datetime.fromisoformat(demo["ends_at"]) > datetime.now(UTC) + timedelta(days=13)
