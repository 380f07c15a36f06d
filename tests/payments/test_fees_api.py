"""The fee schedule and quotes over HTTP."""

import uuid
from datetime import UTC, datetime, timedelta

from tests.payments.conftest import agree, drain
from tests.support import bearer, operator_key, register, verified_org

NEW = {
    "tiers": [{"up_to": 500_000_000, "bps": 500}, {"up_to": None, "bps": 150}],
    "minimum_fee": {"amount": 1_000_000, "currency": "VND"},
    "maximum_fee": {"amount": 300_000_000, "currency": "VND"},
    "split": {"buyer_bps": 7000, "seller_bps": 3000},
}


async def test_default_schedule_and_quote_are_public(client):
    schedule = await client.get("/v1/fees/schedule")
    assert schedule.status_code == 200
    body = schedule.json()
    assert schedule.headers["etag"] == '"1"'
    assert body["version"] == 1 and body["tiers"][-1]["up_to"] is None
    assert body["split"] == {"buyer_bps": 5000, "seller_bps": 5000}
    assert body["max_charge"] == {"amount": 99_999_999, "currency": "VND"}
    quote = (await client.get("/v1/fees/quote", params={"amount": 2_000_000_000, "currency": "VND"})).json()
    assert quote["fee"] == {"amount": 50_000_000, "currency": "VND"}  # 3 % of 1e9 + 2 % of 1e9
    assert [t["base"]["amount"] for t in quote["tiers"]] == [1_000_000_000, 1_000_000_000, 0]
    assert quote["buyer"]["amount"]["amount"] + quote["seller"]["amount"]["amount"] == 50_000_000
    assert quote["clamped"] is None
    big = (await client.get("/v1/fees/quote", params={"amount": 10**12})).json()
    assert big["clamped"] == "maximum" and len(big["buyer"]["instalments"]) == 3


async def test_quote_parameters_are_checked(client):
    for params, field in (
        ({}, "amount"),
        ({"amount": -1}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"amount": 10, "currency": "USD"}, "currency"),
    ):
        response = await client.get("/v1/fees/quote", params=params)
        assert response.status_code == 400, params
        assert field in response.text


async def test_operator_sets_a_new_version_and_deals_keep_the_version_of_their_agreement(client, conn, pool, gateway):
    operator = await operator_key(conn)
    buyer, _ = await verified_org(client, operator, "enterprise")
    seller, _ = await verified_org(client, operator)
    before = datetime.now(UTC) - timedelta(seconds=1)
    response = await client.put("/v1/fees/schedule", json=NEW, headers={**bearer(operator), "If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2 and response.headers["etag"] == '"2"'
    assert (await client.get("/v1/fees/schedule")).json()["split"]["buyer_bps"] == 7000
    stale = await client.put("/v1/fees/schedule", json=NEW, headers={**bearer(operator), "If-Match": '"1"'})
    assert stale.status_code == 412
    audited = await conn.fetch(
        "SELECT subject_type, subject_id, request_id FROM audit_log WHERE action = 'fee_schedule'"
    )
    assert [tuple(a) for a in audited] == [("fee_schedule", "2", response.headers["x-request-id"])]
    old_deal, new_deal = uuid.uuid4(), uuid.uuid4()
    await agree(
        conn, old_deal, buyer["organization"]["id"], seller["organization"]["id"], 1_000_000_000, agreed_at=before
    )
    await agree(conn, new_deal, buyer["organization"]["id"], seller["organization"]["id"], 1_000_000_000)
    await drain(pool, gateway)
    rows = {
        r["deal_id"]: r
        for r in await conn.fetch(
            "SELECT deal_id, max(fee_schedule_version) AS v, sum(amount) AS total FROM invoices GROUP BY deal_id"
        )
    }
    assert (rows[old_deal]["v"], rows[old_deal]["total"]) == (1, 30_000_000)
    assert (rows[new_deal]["v"], rows[new_deal]["total"]) == (2, 25_000_000 + 7_500_000)


async def test_invalid_schedules_are_422_naming_the_field(client, conn):
    operator = await operator_key(conn)
    cases = [
        (
            {**NEW, "tiers": [{"up_to": 5, "bps": 100}, {"up_to": 5, "bps": 100}, {"up_to": None, "bps": 1}]},
            "tiers[1].up_to",
        ),
        ({**NEW, "tiers": [{"up_to": None, "bps": 10_001}]}, "bps"),
        (
            {**NEW, "minimum_fee": {"amount": 10, "currency": "VND"}, "maximum_fee": {"amount": 9, "currency": "VND"}},
            "maximum_fee.amount",
        ),
        ({**NEW, "split": {"buyer_bps": 5000, "seller_bps": 4000}}, "split"),
        ({**NEW, "tiers": []}, "tiers"),
        ({**NEW, "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        response = await client.put("/v1/fees/schedule", json=body, headers=bearer(operator))
        assert response.status_code == 422, (field, response.text)
        assert any(field in e["field"] for e in response.json()["errors"]), (field, response.json())
    assert (await client.get("/v1/fees/schedule")).json()["version"] == 1


async def test_only_operators_set_the_schedule(client, conn):
    operator = await operator_key(conn)
    _, member = await verified_org(client, operator)
    _, unverified = await register(client, "broker")
    assert (await client.put("/v1/fees/schedule", json=NEW)).status_code == 401
    for key in (member, unverified):
        assert (await client.put("/v1/fees/schedule", json=NEW, headers=bearer(key))).status_code == 403
    assert (await client.get("/v1/fees/schedule")).json()["version"] == 1


async def test_a_schedule_whose_minimum_fee_stripe_could_not_charge_is_422(client, conn):
    operator = await operator_key(conn)
    tiny = {**NEW, "minimum_fee": {"amount": 1_000, "currency": "VND"}}  # 700 and 300 VND shares
    response = await client.put("/v1/fees/schedule", json=tiny, headers={**bearer(operator), "If-Match": '"1"'})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["minimum_fee.amount", "minimum_fee.amount"]
    assert (await client.get("/v1/fees/schedule")).json()["version"] == 1
