"""Set-ups the deals, interests and statistics tests share: verified parties, published listings, accepted
interests, open deals, and settings without the background jobs."""

import uuid
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import pytest

from exchange.deals import public as deals
from exchange.kernel.schemas import Money
from exchange.kernel.settings import Settings
from tests.support import bearer, demand_body, offer_body, operator_key, published_offer, verified_org


@pytest.fixture(name="settings")
def settings_without_jobs(settings: Settings) -> Settings:
    """The session's settings with the in-process jobs off, so only the test itself drains the outbox."""
    return msgspec.structs.replace(settings, run_jobs=False)


@dataclass
class Parties:
    """An operator, a seller institute with a published offer, a buyer enterprise with a published demand, and a broker."""

    operator: str
    seller: str
    seller_org: dict[str, Any]
    buyer: str
    buyer_org: dict[str, Any]
    broker: str
    broker_org: dict[str, Any]
    offer: dict[str, Any]
    demand: dict[str, Any]


async def published_demand(client: Any, owner_key: str, operator: str, **overrides: Any) -> dict[str, Any]:
    """Create, submit and approve a demand; return it as published."""
    created = await client.post("/v1/demands", json=demand_body(**overrides), headers=bearer(owner_key))
    assert created.status_code == 201, created.text
    demand_id = created.json()["id"]
    assert (await client.post(f"/v1/demands/{demand_id}/submit", headers=bearer(owner_key))).status_code == 200
    approved = await client.post(f"/v1/demands/{demand_id}/approve", headers=bearer(operator))
    assert approved.status_code == 200, approved.text
    return approved.json()


async def parties(client: Any, conn: Any) -> Parties:
    """Three verified organizations, a published offer and a published demand."""
    operator = await operator_key(conn)
    seller_org, seller = await verified_org(client, operator, "institute")
    buyer_org, buyer = await verified_org(client, operator, "enterprise")
    broker_org, broker = await verified_org(client, operator, "broker")
    offer = await published_offer(client, seller, operator)
    demand = await published_demand(client, buyer, operator)
    return Parties(
        operator,
        seller,
        seller_org["organization"],
        buyer,
        buyer_org["organization"],
        broker,
        broker_org["organization"],
        offer,
        demand,
    )


async def member_key(client: Any, owner_key: str, org_id: str, role: str) -> str:
    """Add a member with this role to an organization; return its key."""
    response = await client.post(
        f"/v1/organizations/{org_id}/members",
        json={"name": f"A {role}", "email": f"{role}-{org_id[:8]}@member.example.vn", "role": role},
        headers=bearer(owner_key),
    )
    assert response.status_code == 201, response.text
    return response.json()["api_key"]


async def accepted_interest(client: Any, p: Parties, *, answer_with_demand: bool = True) -> dict[str, Any]:
    """The buyer answers the offer with its demand; the seller accepts."""
    body: dict[str, Any] = {"message": "We would like to license this for our plant."}
    if answer_with_demand:
        body["listing_id"] = p.demand["id"]
    sent = await client.post(f"/v1/offers/{p.offer['id']}/interests", json=body, headers=bearer(p.buyer))
    assert sent.status_code == 201, sent.text
    accepted = await client.post(f"/v1/interests/{sent.json()['id']}/accept", headers=bearer(p.seller))
    assert accepted.status_code == 200, accepted.text
    return accepted.json()


def deal_body(p: Parties, **overrides: Any) -> dict[str, Any]:
    """A deal between the parties about their offer and demand."""
    body = {
        "offer_id": p.offer["id"],
        "demand_id": p.demand["id"],
        "buyer_org_id": p.buyer_org["id"],
        "seller_org_id": p.seller_org["id"],
        "title": "MBR licence for the seafood plant",
    }
    body.update(overrides)
    return body


async def open_deal(client: Any, p: Parties, **overrides: Any) -> dict[str, Any]:
    """The broker opens a deal between the parties."""
    response = await client.post("/v1/deals", json=deal_body(p, **overrides), headers=bearer(p.broker))
    assert response.status_code == 201, response.text
    return response.json()


async def propose(client: Any, key: str, deal: dict[str, Any], amount: int = 900_000_000) -> dict[str, Any]:
    """Propose terms on a deal."""
    response = await client.post(
        f"/v1/deals/{deal['id']}/terms",
        json={
            "value": {"amount": amount, "currency": "VND"},
            "transfer_mode": "license",
            "summary": "Exclusive licence, 5 years",
        },
        headers=bearer(key),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def agreed_deal(client: Any, p: Parties, amount: int = 900_000_000) -> dict[str, Any]:
    """A deal the broker opened, with terms both sides confirmed."""
    deal = await propose(client, p.broker, await open_deal(client, p), amount)
    for key in (p.buyer, p.seller):
        response = await client.post(
            f"/v1/deals/{deal['id']}/confirm", json={"terms_version": deal["terms_version"]}, headers=bearer(key)
        )
        assert response.status_code == 200, response.text
    assert response.json()["stage"] == "agreed"
    return response.json()


async def room_deal(
    client: Any,
    conn: Any,
    p: Parties,
    amount: int,
    *,
    origin: Literal["express_licence", "auction"] = "express_licence",
    offer: dict[str, Any] | None = None,
    transfer_mode: str = "license",
) -> dict[str, Any]:
    """A deal the deal room opened already agreed (deals.public.open_agreed) on the parties' offer or another of the
    seller's; returned as the buyer reads it."""
    buyer = (await client.get("/v1/me", headers=bearer(p.buyer))).json()["member"]["id"]
    async with conn.transaction():
        deal = await deals.open_agreed(
            conn,
            origin=origin,
            offer_id=uuid.UUID((offer or p.offer)["id"]),
            buyer_org_id=uuid.UUID(p.buyer_org["id"]),
            seller_org_id=uuid.UUID(p.seller_org["id"]),
            title=f"An {origin} deal",
            value=Money(amount=amount, currency="VND"),
            transfer_mode=transfer_mode,
            summary="Non-exclusive licence, 3 years",
            created_by=uuid.UUID(buyer),
            details={},
        )
    response = await client.get(f"/v1/deals/{deal.id}", headers=bearer(p.buyer))
    assert response.status_code == 200 and response.json()["stage"] == "agreed", response.text
    return response.json()


async def cancel_deal(client: Any, key: str, deal: dict[str, Any]) -> dict[str, Any]:
    """A party cancels a deal."""
    response = await client.post(f"/v1/deals/{deal['id']}/cancel", json={"reason": "Stopped"}, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


__all__ = [
    "Parties",
    "accepted_interest",
    "agreed_deal",
    "cancel_deal",
    "deal_body",
    "member_key",
    "offer_body",
    "open_deal",
    "parties",
    "propose",
    "published_demand",
    "room_deal",
]
