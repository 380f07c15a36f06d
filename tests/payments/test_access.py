"""Every role trying every invoice route it must not use."""

from tests.payments.conftest import Deal
from tests.support import bearer, register, verified_org

VISA = {"payment_method": "pm_card_visa"}


async def _member(client, deal: Deal, role: str) -> str:
    """A second member of the buyer organization with a role, and its key."""
    response = await client.post(
        f"/v1/organizations/{deal.buyer_org}/members",
        json={"name": f"A {role}", "email": f"{role}@buyer.example.vn", "role": role},
        headers=bearer(deal.buyer_key),
    )
    assert response.status_code == 201, response.text
    return response.json()["api_key"]


async def test_strangers_see_no_invoice_and_cannot_pay_or_refund(make_deal, client):
    deal = await make_deal()
    invoice = deal.of("buyer")
    _, stranger = await verified_org(client, deal.operator, "broker")
    _, pending = await register(client, "enterprise")
    for key in (stranger, pending, deal.seller_key):  # the seller is another party: still not its invoice
        assert (await client.get(f"/v1/invoices/{invoice['id']}", headers=bearer(key))).status_code == 404
        assert (
            await client.post(f"/v1/invoices/{invoice['id']}/pay", json=VISA, headers=bearer(key))
        ).status_code == 404
        assert (await client.post(f"/v1/invoices/{invoice['id']}/refund", headers=bearer(key))).status_code == 403
        listed = await client.get("/v1/invoices", params={"deal_id": str(deal.id)}, headers=bearer(key))
        assert invoice["id"] not in [i["id"] for i in listed.json()["items"]]
    for method, path in (
        ("get", f"/v1/invoices/{invoice['id']}"),
        ("get", "/v1/invoices"),
        ("post", f"/v1/invoices/{invoice['id']}/pay"),
        ("post", f"/v1/invoices/{invoice['id']}/refund"),
    ):
        assert (await getattr(client, method)(path)).status_code == 401
    assert (await client.get(f"/v1/invoices/{invoice['id']}")).status_code == 401


async def test_members_read_editors_pay_operators_read_and_refund_but_never_pay(make_deal, client, conn):
    deal = await make_deal()
    invoice = deal.of("buyer")
    viewer, editor = await _member(client, deal, "viewer"), await _member(client, deal, "editor")
    assert (await client.get(f"/v1/invoices/{invoice['id']}", headers=bearer(viewer))).status_code == 200
    assert (
        await client.post(f"/v1/invoices/{invoice['id']}/pay", json=VISA, headers=bearer(viewer))
    ).status_code == 403
    assert (await client.post(f"/v1/invoices/{invoice['id']}/refund", headers=bearer(editor))).status_code == 403
    assert (await client.get(f"/v1/invoices/{invoice['id']}", headers=bearer(deal.operator))).status_code == 200
    assert (
        await client.post(f"/v1/invoices/{invoice['id']}/pay", json=VISA, headers=bearer(deal.operator))
    ).status_code == 403
    assert await conn.fetchval("SELECT count(*) FROM payment_intents") == 0
    paid = await client.post(f"/v1/invoices/{invoice['id']}/pay", json=VISA, headers=bearer(editor))
    assert paid.status_code == 200 and paid.json()["invoice"]["status"] == "paid"
    everything = await client.get("/v1/invoices", params={"deal_id": str(deal.id)}, headers=bearer(deal.operator))
    assert sorted(i["party"] for i in everything.json()["items"]) == ["buyer", "seller"]
    own = await client.get("/v1/invoices", headers=bearer(viewer))
    assert [i["id"] for i in own.json()["items"]] == [invoice["id"]]


async def test_pay_body_is_validated(make_deal, client):
    deal = await make_deal()
    invoice = deal.of("buyer")
    for body in (
        {"payment_method": ""},
        {"payment_method": "pm card"},
        {"amount": 1},
        {"payment_method": "pm_no_such_method"},
    ):
        response = await client.post(f"/v1/invoices/{invoice['id']}/pay", json=body, headers=bearer(deal.buyer_key))
        assert response.status_code == 422, body
    unknown = await client.post(
        f"/v1/invoices/{invoice['id']}/pay",
        json={"payment_method": "pm_no_such_method"},
        headers=bearer(deal.buyer_key),
    )
    assert unknown.json()["errors"][0]["field"] == "payment_method"
    assert (await client.get(f"/v1/invoices/{invoice['id']}", headers=bearer(deal.buyer_key))).json()[
        "status"
    ] == "open"
