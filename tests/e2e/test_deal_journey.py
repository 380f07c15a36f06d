"""The whole deal journey over HTTP: listings, interest, a broker's deal, terms, confirmations, fees paid through
the Stripe sandbox with its webhooks, the deal closed and counted. The steps are reused by bench/deal_journeys.py."""

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support import bearer, demand_body, offer_body

WAIT_SECONDS = 30.0
VISA = "pm_card_visa"
DEAL_VALUE = 850_000_000  # 3 % of it under the default schedule: 25,500,000 VND, half each


@dataclass(frozen=True)
class Parties:
    """A verified seller (institute), buyer (enterprise) and broker, with their owners' keys."""

    seller: str
    seller_key: str
    buyer: str
    buyer_key: str
    broker: str
    broker_key: str


Timer = Callable[[str], contextlib.AbstractAsyncContextManager[None]]


@contextlib.asynccontextmanager
async def _untimed(_: str) -> AsyncIterator[None]:
    yield


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The JSON body of a response that must have this status."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    )
    return response.json()


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = WAIT_SECONDS) -> Any:
    """Poll check() until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


async def organization(http: httpx.AsyncClient, operator: str, kind: str) -> tuple[str, str]:
    """Register and verify an organization; its id and its owner's key."""
    tag = uuid.uuid4().hex[:10]
    body = {
        "name": f"Journey {kind} {tag}",
        "kind": kind,
        "province": "79",
        "contact_email": f"deals-{tag}@{kind}.example.vn",
    }
    created = ok(await http.post("/v1/organizations", json=body), 201)
    org_id = created["organization"]["id"]
    ok(await http.post(f"/v1/organizations/{org_id}/verify", headers=bearer(operator)))
    return org_id, created["api_key"]


async def parties(http: httpx.AsyncClient, operator: str) -> Parties:
    """Three fresh organizations for one journey."""
    (seller, seller_key), (buyer, buyer_key), (broker, broker_key) = [
        await organization(http, operator, kind) for kind in ("institute", "enterprise", "broker")
    ]
    return Parties(seller, seller_key, buyer, buyer_key, broker, broker_key)


async def publish(http: httpx.AsyncClient, key: str, operator: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create, submit and approve a listing."""
    listing = ok(await http.post(f"/v1/{kind}", json=body, headers=bearer(key)), 201)
    ok(await http.post(f"/v1/{kind}/{listing['id']}/submit", headers=bearer(key)))
    return ok(await http.post(f"/v1/{kind}/{listing['id']}/approve", headers=bearer(operator)))


async def confirm_in_browser(stripe_api: str, stripe_key: str, intent_id: str, payment_method: str) -> None:
    """What the payer's browser does with a client_secret: attach a card and confirm, straight at Stripe."""
    async with httpx.AsyncClient(
        base_url=stripe_api, headers=bearer(stripe_key), timeout=10.0, trust_env=False
    ) as stripe:
        ok(await stripe.post(f"/v1/payment_intents/{intent_id}", data={"payment_method": payment_method}))
        confirmed = ok(await stripe.post(f"/v1/payment_intents/{intent_id}/confirm"))
        assert confirmed["status"] == "succeeded", confirmed


async def journey(
    http: httpx.AsyncClient, operator: str, p: Parties, stripe_api: str, stripe_key: str, timer: Timer = _untimed
) -> dict[str, Any]:
    """One deal from published listings to closed; returns the closed deal and its invoices."""
    async with timer("publish"):
        offer = await publish(
            http, p.seller_key, operator, "offers", offer_body(price={"amount": DEAL_VALUE, "currency": "VND"})
        )
        demand = await publish(http, p.buyer_key, operator, "demands", demand_body())
    async with timer("interest"):
        interest = ok(
            await http.post(
                f"/v1/offers/{offer['id']}/interests",
                json={"message": "We would like to license this for our plant.", "listing_id": demand["id"]},
                headers=bearer(p.buyer_key),
            ),
            201,
        )
    async with timer("accept"):
        accepted = ok(await http.post(f"/v1/interests/{interest['id']}/accept", headers=bearer(p.seller_key)))
        assert accepted["status"] == "accepted"
    async with timer("open deal"):
        deal = ok(
            await http.post(
                "/v1/deals",
                json={
                    "offer_id": offer["id"],
                    "demand_id": demand["id"],
                    "buyer_org_id": p.buyer,
                    "seller_org_id": p.seller,
                    "broker_org_id": p.broker,
                    "title": "Licence of the MBR wastewater technology",
                },
                headers=bearer(p.broker_key),
            ),
            201,
        )
    async with timer("terms"):
        deal = ok(
            await http.post(
                f"/v1/deals/{deal['id']}/terms",
                json={
                    "value": {"amount": DEAL_VALUE, "currency": "VND"},
                    "transfer_mode": "license",
                    "summary": "Non-exclusive licence for Vietnam, 5 years, with 3 months of on-site consulting.",
                },
                headers=bearer(p.broker_key),
            )
        )
        assert deal["stage"] == "negotiating"
    async with timer("confirm"):
        version = deal["terms_version"]
        ok(
            await http.post(
                f"/v1/deals/{deal['id']}/confirm", json={"terms_version": version}, headers=bearer(p.buyer_key)
            )
        )
        deal = ok(
            await http.post(
                f"/v1/deals/{deal['id']}/confirm", json={"terms_version": version}, headers=bearer(p.seller_key)
            )
        )
        assert deal["stage"] in ("agreed", "fee_pending"), deal

    async def invoices_of(key: str) -> list[dict[str, Any]]:
        return ok(await http.get("/v1/invoices", params={"deal_id": deal["id"]}, headers=bearer(key)))["items"]

    async with timer("invoiced"):
        buyer_invoices = await until(lambda: invoices_of(p.buyer_key), "the buyer's invoice")
        seller_invoices = await until(lambda: invoices_of(p.seller_key), "the seller's invoice")
    async with timer("pay"):
        # The buyer pays on the server with a card; the seller confirms in its own browser, so only the
        # sandbox's webhook can tell the service that this one is paid.
        for invoice in buyer_invoices:
            paid = ok(
                await http.post(
                    f"/v1/invoices/{invoice['id']}/pay",
                    json={"payment_method": VISA},
                    headers={**bearer(p.buyer_key), "Idempotency-Key": f"pay-{invoice['id']}"},
                )
            )
            assert paid["status"] == "succeeded" and paid["invoice"]["status"] == "paid", paid
        for invoice in seller_invoices:
            started = ok(await http.post(f"/v1/invoices/{invoice['id']}/pay", headers=bearer(p.seller_key)))
            assert started["client_secret"] and started["invoice"]["status"] == "open", started
            await confirm_in_browser(stripe_api, stripe_key, started["payment_intent_id"], VISA)

    async def closed() -> dict[str, Any] | None:
        current = ok(await http.get(f"/v1/deals/{deal['id']}", headers=bearer(p.broker_key)))
        return current if current["stage"] == "closed" else None

    async with timer("closed"):
        deal = await until(closed, "the deal to close")
    invoices = await invoices_of(p.buyer_key) + await invoices_of(p.seller_key)
    return {"deal": deal, "invoices": invoices}


async def test_deal_journey_from_listings_to_closed_with_fees_paid_through_stripe(http, server, stack):
    before = ok(await http.get("/v1/stats"))
    p = await parties(http, server.operator_key)
    result = await journey(http, server.operator_key, p, stack.stripe_api_base, stack.stripe_secret_key)
    deal, invoices = result["deal"], result["invoices"]
    assert deal["closed_at"] and deal["fee_schedule_version"] == 1
    assert sorted((i["party"], i["status"], i["amount"]["amount"]) for i in invoices) == [
        ("buyer", "paid", 12_750_000),
        ("seller", "paid", 12_750_000),
    ]
    # The seller's invoice could only learn it was paid from the sandbox's signed webhook.
    seller = next(i for i in invoices if i["party"] == "seller")
    assert seller["paid_at"] and seller["payment_intent_id"].startswith("pi_")
    # The trail shows the fee steps, and strangers see neither the deal nor its invoices.
    trail = [
        e["action"] for e in ok(await http.get(f"/v1/deals/{deal['id']}/events", headers=bearer(p.broker_key)))["items"]
    ]
    assert trail[0] == "created" and trail[-1] == "closed", trail
    assert {"terms_proposed", "confirmed", "agreed", "fees_invoiced"} <= set(trail), trail
    _, stranger = await organization(http, server.operator_key, "enterprise")
    assert (await http.get(f"/v1/deals/{deal['id']}", headers=bearer(stranger))).status_code == 404
    assert (await http.get(f"/v1/invoices/{seller['id']}", headers=bearer(stranger))).status_code == 404
    after = ok(await http.get("/v1/stats"))
    assert after["deals"]["by_stage"]["closed"] == before["deals"]["by_stage"]["closed"] + 1
    assert after["deals"]["agreed_value"]["amount"] == before["deals"]["agreed_value"]["amount"] + DEAL_VALUE
    assert after["fees"]["collected"]["amount"] == before["fees"]["collected"]["amount"] + 25_500_000
    # Every invoice agrees with Stripe.
    reconciled = subprocess.run(
        [sys.executable, "-m", "exchange.cli", "reconcile"],
        env={
            **os.environ,
            "DATABASE_URL": server.database_url,
            "STRIPE_API_BASE": stack.stripe_api_base,
            "STRIPE_SECRET_KEY": stack.stripe_secret_key,
            "LOG_LEVEL": "WARNING",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
