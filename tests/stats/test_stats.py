"""GET /v1/stats: what each figure counts, and one consistent snapshot under concurrent writes."""

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from exchange.auctions import public as auctions
from exchange.kernel import db
from tests.ndas.support import accept_nda, set_nda
from tests.parties import accepted_interest, agreed_deal, cancel_deal, open_deal, parties, room_deal
from tests.support import auction_body, bearer, offer_body, operator_key, published_offer, verified_org

MESSAGE = {"message": "Interested in this technology."}


async def test_stats_count_listings_interests_and_deals(client, conn):
    empty = await client.get("/v1/stats")
    assert empty.status_code == 200
    body = empty.json()
    assert body["listings"]["total"] == 0 and body["interests"]["acceptance_rate"] is None
    assert body["interests"]["median_days_to_first_interest"] is None
    assert body["deals"]["by_stage"] == {
        s: 0 for s in ("open", "negotiating", "agreed", "fee_pending", "closed", "cancelled")
    }
    assert body["fees"]["invoiced"] == {"amount": 0, "currency": "VND"}

    p = await parties(client, conn)
    await client.post(
        "/v1/offers", json={"title": "A draft offer", "description": "Draft", "sector": "102"}, headers=bearer(p.seller)
    )
    await accepted_interest(client, p)
    _, other = await verified_org(client, p.operator, "enterprise")
    declined = (await client.post(f"/v1/offers/{p.offer['id']}/interests", json=MESSAGE, headers=bearer(other))).json()
    await client.post(f"/v1/interests/{declined['id']}/decline", headers=bearer(p.seller))
    await client.post(f"/v1/demands/{p.demand['id']}/interests", json=MESSAGE, headers=bearer(p.broker))
    # The offer was published two days before its first interest.
    await conn.execute(
        "UPDATE listings SET published_at = published_at - interval '2 days' WHERE id = $1::uuid", p.offer["id"]
    )
    await agreed_deal(client, p, amount=700_000_000)
    await agreed_deal(client, p, amount=300_000_000)
    cancelled = await agreed_deal(client, p, amount=5_000_000_000)
    await client.post(f"/v1/deals/{cancelled['id']}/cancel", json={"reason": "Stopped"}, headers=bearer(p.buyer))
    await open_deal(client, p)

    stats = (await client.get("/v1/stats")).json()
    listings = stats["listings"]
    assert listings["total"] == 3 and listings["by_status"]["published"] == 2 and listings["by_status"]["draft"] == 1
    assert sum(listings["by_status"].values()) == listings["total"]
    assert listings["by_sector"] == {"207": 2}
    assert listings["by_province"] == dict(Counter([p.offer["region"], p.demand["region"]]))
    assert stats["offers_vs_demands"] == {"offers": 1, "demands": 1}
    interests = stats["interests"]
    assert (interests["total"], interests["pending"], interests["accepted"], interests["declined"]) == (3, 1, 1, 1)
    assert interests["acceptance_rate"] == 0.5
    # Offer: about 2 days; demand: about 0 days; the median of two is their mean.
    assert 0.9 < interests["median_days_to_first_interest"] < 1.1
    deals = stats["deals"]
    assert deals["total"] == 4
    assert deals["by_stage"]["agreed"] == 2 and deals["by_stage"]["cancelled"] == 1 and deals["by_stage"]["open"] == 1
    assert deals["agreed_count"] == 2
    assert deals["agreed_value"] == {"amount": 1_000_000_000, "currency": "VND"}
    # Only aggregates: no listing, organization or contact leaves through the statistics.
    text = str(stats)
    assert p.offer["id"] not in text and p.seller_org["contact_email"] not in text and "an.nguyen" not in text


async def test_stats_count_deals_by_origin_and_keep_counting_every_deal_in_the_totals(client, conn):
    empty = (await client.get("/v1/stats")).json()["deal_room"]["deals_by_origin"]
    zero = {"count": 0, "agreed_count": 0, "agreed_value": {"amount": 0, "currency": "VND"}}
    assert empty == {"negotiated": zero, "express_licence": zero, "auction": zero}

    p = await parties(client, conn)
    await agreed_deal(client, p, amount=700_000_000)
    await open_deal(client, p)
    await room_deal(client, conn, p, 120_000_000)
    await room_deal(client, conn, p, 80_000_000)
    await cancel_deal(client, p.buyer, await room_deal(client, conn, p, 999_000_000))
    await room_deal(client, conn, p, 2_500_000_000, origin="auction")
    await cancel_deal(client, p.seller, await room_deal(client, conn, p, 3_000_000_000, origin="auction"))

    stats = (await client.get("/v1/stats")).json()
    by_origin = stats["deal_room"]["deals_by_origin"]
    assert by_origin["negotiated"] == {
        "count": 2,
        "agreed_count": 1,
        "agreed_value": {"amount": 700_000_000, "currency": "VND"},
    }
    assert by_origin["express_licence"] == {
        "count": 3,
        "agreed_count": 2,
        "agreed_value": {"amount": 200_000_000, "currency": "VND"},
    }
    assert by_origin["auction"] == {
        "count": 2,
        "agreed_count": 1,
        "agreed_value": {"amount": 2_500_000_000, "currency": "VND"},
    }
    # The totals count every deal, whatever its origin, as they did before the deal room.
    deals = stats["deals"]
    assert deals["total"] == 7
    assert deals["by_stage"]["agreed"] == 4 and deals["by_stage"]["cancelled"] == 2 and deals["by_stage"]["open"] == 1
    assert deals["agreed_count"] == 4
    assert deals["agreed_value"] == {"amount": 3_400_000_000, "currency": "VND"}


async def test_stats_fees_come_from_the_invoices_when_payments_has_them(client, conn):
    if not await conn.fetchval("SELECT to_regclass('invoices') IS NOT NULL"):
        return  # payments' migration is not in this tree yet; the zero fees are covered above
    p = await parties(client, conn)
    deal = await agreed_deal(client, p)
    rows = [("paid", 1_000_000), ("refunded", 400_000), ("open", 250_000), ("void", 9_999)]
    for i, (status, amount) in enumerate(rows, start=1):
        await conn.execute(
            """INSERT INTO invoices (deal_id, org_id, party, instalment, instalments, amount, currency, status,
                                     fee_schedule_version)
               VALUES ($1::uuid, $2::uuid, 'buyer', $3, 4, $4, 'VND', $5, (SELECT min(version) FROM fee_schedules))""",
            deal["id"],
            p.buyer_org["id"],
            i,
            amount,
            status,
        )
    fees = (await client.get("/v1/stats")).json()["fees"]
    assert fees["invoiced"]["amount"] == 1_650_000
    assert fees["collected"]["amount"] == 1_000_000
    assert fees["refunded"]["amount"] == 400_000


async def test_stats_are_one_snapshot_while_writers_commit(live, conn, database_url):
    client = live  # served over a socket: these requests really run at once
    p = await parties(client, conn)
    buyer_member = await conn.fetchval("SELECT created_by FROM listings WHERE id = $1::uuid", p.demand["id"])

    async def writer(n: int) -> None:
        """One transaction that adds an interest and a deal: a reader sees both or neither."""
        own = await db.connect(database_url)
        try:
            for _ in range(n):
                async with own.transaction():
                    await own.execute(
                        "INSERT INTO interests (target_id, target_kind, to_org_id, from_org_id, from_member_id, offer_id,"
                        " message, status) VALUES ($1, 'offer', $2, $3, $4, $1, 'x', 'declined')",
                        uuid.UUID(p.offer["id"]),
                        uuid.UUID(p.seller_org["id"]),
                        uuid.UUID(p.buyer_org["id"]),
                        buyer_member,
                    )
                    await own.execute(
                        "INSERT INTO deals (title, offer_id, buyer_org_id, seller_org_id, created_by)"
                        " VALUES ('Written by the test', $1, $2, $3, $4)",
                        uuid.UUID(p.offer["id"]),
                        uuid.UUID(p.buyer_org["id"]),
                        uuid.UUID(p.seller_org["id"]),
                        buyer_member,
                    )
        finally:
            await own.close()

    writing = asyncio.Event()
    written = asyncio.Event()

    async def reader() -> list[dict]:
        """Read until every writer is done, so the reads overlap the commits."""
        seen = []
        while not written.is_set():
            seen.append((await client.get("/v1/stats")).json())
            writing.set()
        return seen

    async def writers() -> None:
        await writing.wait()
        try:
            await asyncio.gather(writer(150), writer(150), sender(senders))
        finally:
            written.set()

    async def sender(keys: list[str]) -> None:
        for key in keys:
            response = await client.post(f"/v1/offers/{p.offer['id']}/interests", json=MESSAGE, headers=bearer(key))
            assert response.status_code == 201

    senders = [(await verified_org(client, p.operator, "enterprise"))[1] for _ in range(5)]
    first, second, _ = await asyncio.gather(reader(), reader(), writers())
    seen = first + second
    assert any(0 < s["deals"]["total"] < 300 for s in seen)  # the reads did overlap the writes
    for stats in seen:
        # Every writer transaction added one interest and one deal together.
        assert stats["interests"]["total"] - stats["interests"]["pending"] == stats["deals"]["total"]
        assert stats["interests"]["declined"] == stats["deals"]["by_stage"]["open"]
    final = (await client.get("/v1/stats")).json()
    assert final["deals"]["total"] == 300 and final["interests"]["declined"] == 300
    assert final["interests"]["pending"] == 5 and final["interests"]["total"] == 305
    assert final["interests"]["acceptance_rate"] == 0.0


async def test_stats_count_the_review_queue_and_the_median_hours_to_a_decision(client, conn):
    empty = (await client.get("/v1/stats")).json()["reviews"]
    assert empty == {"queue_length": 0, "median_hours_to_decision": None}
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    decided = []
    for decision in ("approve", "approve", "reject", None, None):
        listing = (await client.post("/v1/offers", json=offer_body(), headers=bearer(owner))).json()
        assert (await client.post(f"/v1/offers/{listing['id']}/submit", headers=bearer(owner))).status_code == 200
        if decision:
            body = {"reason": "Give the measured advantages"} if decision == "reject" else None
            moved = await client.post(f"/v1/offers/{listing['id']}/{decision}", json=body, headers=bearer(operator))
            assert moved.status_code == 200, moved.text
            decided.append(listing["id"])
    # Each submission is made to have happened this many hours before its decision: 2, 9 and 4, median 4.
    for listing_id, hours in zip(decided, (2, 9, 4), strict=True):
        await conn.execute(
            "UPDATE listing_changes SET changed_at = changed_at - make_interval(hours => $2)"
            " WHERE listing_id = $1::uuid AND status = 'pending_review'",
            listing_id,
            hours,
        )
    reviews = (await client.get("/v1/stats")).json()["reviews"]
    assert reviews["queue_length"] == 2
    assert reviews["median_hours_to_decision"] == 4.0
    assert (await client.get("/v1/stats")).json()["listings"]["by_status"]["suspended"] == 0


async def test_stats_count_ndas_accepted_and_auctions_by_outcome(client, conn):
    room = (await client.get("/v1/stats")).json()["deal_room"]
    assert room["ndas_accepted"] == 0
    assert room["auctions"] == dict.fromkeys(("scheduled", "open", "won", "reserve_not_met", "no_bids", "cancelled"), 0)

    p = await parties(client, conn)
    await set_nda(client, p.seller, p.offer["id"])
    await accept_nda(client, p.buyer, p.offer["id"])
    await accept_nda(client, p.buyer, p.offer["id"])  # the same version again is the same acceptance
    await accept_nda(client, p.broker, p.offer["id"])

    async def auction(outcome: str, **overrides):
        offer = await published_offer(client, p.seller, p.operator, title=f"Auctioned for {outcome}")
        created = await client.post(
            "/v1/auctions", json=auction_body(offer["id"], **overrides), headers=bearer(p.seller)
        )
        assert created.status_code == 201, created.text
        return created.json()

    async def bid_and_close(created, amount=None):
        if amount is not None:
            placed = await client.post(
                f"/v1/auctions/{created['id']}/bids",
                json={"amount": {"amount": amount, "currency": "VND"}},
                headers=bearer(p.buyer),
            )
            assert placed.status_code == 201, placed.text
        await conn.execute("UPDATE auctions SET ends_at = clock_timestamp() WHERE id = $1", uuid.UUID(created["id"]))
        async with conn.transaction():
            await auctions.close_if_due(conn, uuid.UUID(created["id"]))

    later = datetime.now(UTC) + timedelta(days=1)
    await auction("scheduled", starts_at=later.isoformat(), ends_at=(later + timedelta(days=1)).isoformat())
    await auction("open")
    await bid_and_close(await auction("won"), 1_000_000_000)
    await bid_and_close(await auction("reserve", reserve={"amount": 5_000_000_000, "currency": "VND"}), 1_000_000_000)
    await bid_and_close(await auction("no bids"))
    cancelled = await auction("cancelled")
    response = await client.post(
        f"/v1/auctions/{cancelled['id']}/cancel", json={"reason": "withdrawn by the seller"}, headers=bearer(p.seller)
    )
    assert response.status_code == 200, response.text

    room = (await client.get("/v1/stats")).json()["deal_room"]
    assert room["ndas_accepted"] == 2
    assert room["auctions"] == {
        "scheduled": 1,
        "open": 1,
        "won": 1,
        "reserve_not_met": 1,
        "no_bids": 1,
        "cancelled": 1,
    }
    assert room["deals_by_origin"]["auction"]["agreed_count"] == 1
