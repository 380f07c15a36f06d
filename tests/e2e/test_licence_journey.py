"""An express licence over HTTP against `exchange serve`: the buyer accepts the offer's NDA, takes the licence on the
terms shown, pays its fee through the Stripe sandbox, and the deal closes."""

from tests.e2e.test_deal_journey import DEAL_VALUE, VISA, confirm_in_browser, ok, organization, publish, until
from tests.ndas.support import accept_nda, set_nda
from tests.support import bearer, offer_body

TERMS = {
    "value": {"amount": DEAL_VALUE, "currency": "VND"},
    "transfer_mode": "license",
    "summary": "Non-exclusive licence for one plant in Vietnam, 5 years, with the design package.",
    "term_months": 60,
    "exclusive": False,
}


async def test_nda_accepted_then_express_licence_then_fees_paid_and_the_deal_closed(http, server, stack):
    operator = server.operator_key
    seller, seller_key = await organization(http, operator, "institute")
    buyer, buyer_key = await organization(http, operator, "enterprise")
    offer = await publish(http, seller_key, operator, "offers", offer_body(licence_terms=TERMS))
    nda = await set_nda(http, seller_key, offer["id"], required=True)

    shown = ok(await http.get(f"/v1/offers/{offer['id']}", headers=bearer(buyer_key)))
    assert shown["licence_terms"] == TERMS and "confidential_details" not in shown
    licence = f"/v1/offers/{offer['id']}/licence"
    body = {"terms_sha256": shown["licence_terms_sha256"]}
    refused = await http.post(licence, json=body, headers=bearer(buyer_key))
    assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "nda"
    acceptance = await accept_nda(http, buyer_key, offer["id"])
    assert acceptance["version"] == nda["version"] and acceptance["sha256"] == nda["sha256"]

    headers = {**bearer(buyer_key), "Idempotency-Key": f"licence-{offer['id']}"}
    deal = ok(await http.post(licence, json=body, headers=headers), 201)
    assert ok(await http.post(licence, json=body, headers=headers), 201)["id"] == deal["id"]
    assert (deal["stage"], deal["origin"], deal["buyer_org_id"], deal["seller_org_id"]) == (
        "agreed",
        "express_licence",
        buyer,
        seller,
    )

    async def invoices_of(key: str) -> list:
        return ok(await http.get("/v1/invoices", params={"deal_id": deal["id"]}, headers=bearer(key)))["items"]

    (buyer_invoice,) = await until(lambda: invoices_of(buyer_key), "the buyer's invoice")
    (seller_invoice,) = await until(lambda: invoices_of(seller_key), "the seller's invoice")
    paid = ok(
        await http.post(
            f"/v1/invoices/{buyer_invoice['id']}/pay",
            json={"payment_method": VISA},
            headers={**bearer(buyer_key), "Idempotency-Key": f"pay-{buyer_invoice['id']}"},
        )
    )
    assert paid["invoice"]["status"] == "paid", paid
    started = ok(await http.post(f"/v1/invoices/{seller_invoice['id']}/pay", headers=bearer(seller_key)))
    await confirm_in_browser(stack.stripe_api_base, stack.stripe_secret_key, started["payment_intent_id"], VISA)

    async def closed() -> dict | None:
        current = ok(await http.get(f"/v1/deals/{deal['id']}", headers=bearer(buyer_key)))
        return current if current["stage"] == "closed" else None

    assert (await until(closed, "the deal to close"))["closed_at"]
    invoices = await invoices_of(buyer_key) + await invoices_of(seller_key)
    assert sorted((i["party"], i["status"], i["amount"]["amount"]) for i in invoices) == [
        ("buyer", "paid", 12_750_000),
        ("seller", "paid", 12_750_000),
    ]
    trail = ok(await http.get(f"/v1/deals/{deal['id']}/events", headers=bearer(seller_key)))["items"]
    assert [e["action"] for e in trail] == ["created", "nda_accepted", "agreed", "fees_invoiced", "closed"]
    assert trail[1]["details"]["acceptance_id"] == acceptance["id"]
    owner_view = ok(await http.get(f"/v1/offers/{offer['id']}/nda/acceptances", headers=bearer(seller_key)))
    assert [a["org_id"] for a in owner_view["items"]] == [buyer]
