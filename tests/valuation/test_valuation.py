"""GET /v1/valuation: which deals compare, the percentiles on the grid, nothing below 5 deals, and no differencing."""

import uuid

import pytest

from exchange.deals.consumers import consumers
from exchange.kernel import db, outbox
from exchange.kernel.events import DealFeesPaid, DealInvoiced
from tests.parties import agreed_deal, cancel_deal, member_key, open_deal, parties, propose, room_deal
from tests.support import bearer, published_offer, register

BILLION = 1_000_000_000
LICENCE_TRL_7 = {"sector": "207", "transfer_mode": "license", "trl": 7}


async def valuation(client, key, **params):
    """The valuation answer for these parameters (207, license, TRL 7 unless given)."""
    response = await client.get("/v1/valuation", params=LICENCE_TRL_7 | params, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


def vnd(amount):
    return {"amount": amount, "currency": "VND"}


@pytest.fixture
async def pool(database_url):
    """A pool on this test's database, as the jobs have."""
    pool = await db.create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def move_on(pool, settings, conn, deal, *events):
    """Hand the deals consumer payments' events about a deal, as the jobs would."""
    async with conn.transaction():
        for event in events:
            await outbox.emit(conn, uuid.UUID(deal["id"]), event)
    async with consumers(settings) as (consumer,):
        await outbox.drain(pool, consumer)


async def test_percentiles_of_a_known_set_are_nearest_ranks_on_the_grid(client, conn):
    p = await parties(client, conn)  # its offer: sector 207, TRL 7
    trl_6 = await published_offer(client, p.seller, p.operator, trl=6)
    trl_8 = await published_offer(client, p.seller, p.operator, trl=8)
    # On the grid: 0.5, 1.0, 1.25, 1.6, 2.0, 2.5, 3.2 and 10 billion.
    await agreed_deal(client, p, amount=480_000_000)  # negotiated through the API
    await room_deal(client, conn, p, 1_020_000_000)
    await room_deal(client, conn, p, 1_300_000_000, offer=trl_6, origin="auction")
    await room_deal(client, conn, p, 1_550_000_000, offer=trl_8)
    await room_deal(client, conn, p, 2_100_000_000, offer=trl_6)
    await room_deal(client, conn, p, 2_400_000_000, offer=trl_8, origin="auction")
    await room_deal(client, conn, p, 3_300_000_000)
    await room_deal(client, conn, p, 9_900_000_000, offer=trl_8)

    answer = await valuation(client, p.buyer)
    # Ranks ceil(0.25·8) = 2, ceil(0.5·8) = 4 and ceil(0.75·8) = 6 of the eight grid points.
    assert answer == {
        "count": 8,
        "value": {"p25": vnd(BILLION), "p50": vnd(1_600_000_000), "p75": vnd(2_500_000_000)},
        "basis": {
            "sector": "207",
            "transfer_mode": "license",
            "trl_from": 6,
            "trl_to": 8,
            "stages": ["agreed", "fee_pending", "closed"],
            "currency": "VND",
            "min_count": 5,
            "rounding": "r10",
        },
    }
    # An operator gets the same answer; a member of a third verified organization too.
    assert await valuation(client, p.operator) == answer
    assert await valuation(client, p.broker) == answer


async def test_only_deals_agreed_or_later_on_comparable_offers_count(client, conn, pool, settings):
    p = await parties(client, conn)
    base = [await room_deal(client, conn, p, n * BILLION) for n in range(1, 6)]
    await move_on(
        pool,
        settings,
        conn,
        base[0],
        DealInvoiced(deal_id=uuid.UUID(base[0]["id"]), invoice_ids=[], fee_schedule_version=1),
    )
    await move_on(
        pool,
        settings,
        conn,
        base[1],
        DealInvoiced(deal_id=uuid.UUID(base[1]["id"]), invoice_ids=[], fee_schedule_version=1),
        DealFeesPaid(deal_id=uuid.UUID(base[1]["id"])),
    )
    stages = [(await client.get(f"/v1/deals/{d['id']}", headers=bearer(p.buyer))).json()["stage"] for d in base]
    assert stages == ["fee_pending", "closed", "agreed", "agreed", "agreed"]
    first = await valuation(client, p.buyer)
    assert first["count"] == 5  # fee_pending and closed deals count

    # None of these compares with an offer of sector 207 at TRL 7 licensed: each would change the count.
    trl_5 = await published_offer(client, p.seller, p.operator, trl=5)
    trl_9 = await published_offer(client, p.seller, p.operator, trl=9)
    other_sector = await published_offer(client, p.seller, p.operator, sector="102")
    await room_deal(client, conn, p, 50 * BILLION, offer=trl_5)
    await room_deal(client, conn, p, 50 * BILLION, offer=trl_9)
    await room_deal(client, conn, p, 50 * BILLION, offer=other_sector)
    await room_deal(client, conn, p, 50 * BILLION, transfer_mode="consulting")
    await cancel_deal(client, p.buyer, await room_deal(client, conn, p, 50 * BILLION))
    await cancel_deal(client, p.seller, await agreed_deal(client, p, amount=50 * BILLION))
    await open_deal(client, p)
    await propose(client, p.broker, await open_deal(client, p), amount=50 * BILLION)
    assert await valuation(client, p.buyer) == first

    # TRL ±1, within 1..9: TRL 6 takes in the TRL 5 offer's deal, TRL 8 the TRL 9 one's, TRL 9 both of TRL 8..9.
    assert (await valuation(client, p.buyer, trl=6))["count"] == 6
    assert (await valuation(client, p.buyer, trl=8))["count"] == 6
    nine = await valuation(client, p.buyer, trl=9)
    assert nine["count"] is None and nine["basis"]["trl_from"] == 8 and nine["basis"]["trl_to"] == 9
    # The other sector and the other transfer mode have their own (too few) deals.
    assert (await valuation(client, p.buyer, sector="102"))["value"] is None
    assert (await valuation(client, p.buyer, transfer_mode="consulting"))["value"] is None


async def test_nothing_is_shown_below_five_comparable_deals(client, conn):
    p = await parties(client, conn)
    for n in range(1, 5):
        await room_deal(client, conn, p, n * BILLION)
        answer = await valuation(client, p.buyer)
        # Not even how many: in a narrow slice a count could tell which offer found a buyer.
        assert answer["count"] is None and answer["value"] is None
        assert answer["basis"]["min_count"] == 5
    await room_deal(client, conn, p, 5 * BILLION)
    answer = await valuation(client, p.buyer)
    assert answer["count"] == 5
    assert answer["value"] == {"p25": vnd(2 * BILLION), "p50": vnd(3_200_000_000), "p75": vnd(4 * BILLION)}


async def test_a_sixth_deal_cannot_be_read_by_differencing_five_and_six(client, conn):
    p = await parties(client, conn)
    for amount in (200_000_000, 500_000_000, 2_500_000_000, 3_200_000_000, 8 * BILLION):
        await room_deal(client, conn, p, amount)
    five = await valuation(client, p.buyer)
    assert five["value"] == {"p25": vnd(500_000_000), "p50": vnd(2_500_000_000), "p75": vnd(3_200_000_000)}

    # The sixth deal lands in the middle, where it becomes the median: the worst case for it.
    sixth = 1_234_567_890
    added = await room_deal(client, conn, p, sixth)
    six = await valuation(client, p.buyer)
    assert six["count"] == 6 and six["value"]["p50"] == vnd(1_250_000_000)
    shown = {v["amount"] for v in (*five["value"].values(), *six["value"].values())}
    assert sixth not in shown

    # Any other sixth value in the same grid cell (1.118 to 1.414 billion) gives exactly the same answers, so nothing
    # computed from them can single out the real one.
    await cancel_deal(client, p.buyer, added)
    assert await valuation(client, p.buyer) == five
    for other in (1_120_000_000, 1_410_000_000):
        instead = await room_deal(client, conn, p, other)
        assert await valuation(client, p.buyer) == six
        await cancel_deal(client, p.buyer, instead)
    # Outside the cell the answer differs: the cell is what the answers can tell, and no less.
    await room_deal(client, conn, p, 1_420_000_000)
    assert (await valuation(client, p.buyer))["value"]["p50"] == vnd(1_600_000_000)


async def test_who_may_ask(client, conn):
    p = await parties(client, conn)
    no_key = await client.get("/v1/valuation", params=LICENCE_TRL_7)
    assert no_key.status_code == 401
    _, unverified = await register(client, "enterprise")
    refused = await client.get("/v1/valuation", params=LICENCE_TRL_7, headers=bearer(unverified))
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
    partner = await client.post(
        "/v1/partners",
        json={"name": "A partner exchange", "email": "feed@partner.example.vn"},
        headers=bearer(p.operator),
    )
    assert partner.status_code == 201, partner.text
    as_partner = await client.get("/v1/valuation", params=LICENCE_TRL_7, headers=bearer(partner.json()["api_key"]))
    assert as_partner.status_code == 403
    viewer = await member_key(client, p.buyer, p.buyer_org["id"], "viewer")
    assert (await valuation(client, viewer))["basis"]["trl_from"] == 6
    assert (await valuation(client, p.operator))["value"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sector": "999"}, "sector"),
        ({"sector": None}, "sector"),
        ({"transfer_mode": "rental"}, "transfer_mode"),
        ({"transfer_mode": None}, "transfer_mode"),
        ({"trl": 0}, "trl"),
        ({"trl": 10}, "trl"),
        ({"trl": "seven"}, "trl"),
        ({"trl": None}, "trl"),
    ],
)
async def test_parameters_are_checked_and_named(client, conn, params, field):
    p = await parties(client, conn)
    query = {k: v for k, v in (LICENCE_TRL_7 | params).items() if v is not None}
    response = await client.get("/v1/valuation", params=query, headers=bearer(p.buyer))
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json().get("errors", [])] == [field], response.text
    # Without a key the answer is 401 whatever the parameters.
    assert (await client.get("/v1/valuation", params=query)).status_code == 401
