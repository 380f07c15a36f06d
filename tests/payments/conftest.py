"""Payments tests: a webhook secret, jobs drained by the test itself, and agreed deals from outbox events."""

import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
import pytest

from exchange.kernel import db, outbox
from exchange.kernel.events import DealAgreed, DealCancelled, EventMoney
from exchange.kernel.settings import Settings
from payments.consumers import for_gateway
from payments.gateway import Gateway, open_gateway
from tests.support import bearer, operator_key, verified_org

WEBHOOK_SECRET = "whsec_test_" + "k" * 32


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The session's settings with a webhook secret; consumers run only when a test drains them."""
    return msgspec.structs.replace(settings, stripe_webhook_secret=WEBHOOK_SECRET, run_jobs=False)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A small pool for draining the outbox as the jobs would."""
    p = await db.create_pool(database_url, min_size=1, max_size=2)
    yield p
    await p.close()


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    """A Stripe client of the consumers (and of tests acting as the payer's browser)."""
    async with open_gateway(settings) as g:
        yield g


async def drain(pool: asyncpg.Pool, gateway: Gateway) -> int:
    """Run payments' consumers until the outbox has nothing for them."""
    total = 0
    while True:
        count = sum([await outbox.drain(pool, c) for c in for_gateway(gateway)])
        if not count:
            return total
        total += count


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A Stripe-Signature header by Stripe's documented scheme: HMAC-SHA256 of "t.payload"."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event_body(intent_id: str, type_: str = "payment_intent.succeeded", event_id: str | None = None) -> bytes:
    """A Stripe event about a PaymentIntent, as the sandbox sends it."""
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": type_,
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2020-08-27",
        "data": {"object": {"id": intent_id, "object": "payment_intent"}},
    }
    return msgspec.json.encode(event)


@dataclass
class Deal:
    """An agreed deal as payments knows it, with both parties' keys."""

    id: uuid.UUID
    buyer_org: str
    buyer_key: str
    seller_org: str
    seller_key: str
    operator: str
    invoices: list[dict[str, Any]] = field(default_factory=list)

    def of(self, party: str) -> dict[str, Any]:
        """The first invoice of a party."""
        return next(i for i in self.invoices if i["party"] == party)

    def key(self, party: str) -> str:
        """The owner key of a party."""
        return self.buyer_key if party == "buyer" else self.seller_key


async def agree(
    conn: asyncpg.Connection, deal_id: uuid.UUID, buyer: str, seller: str, value: int, agreed_at: datetime | None = None
) -> None:
    """Emit deal.agreed as the deals package does."""
    event = DealAgreed(
        deal_id=deal_id,
        value=EventMoney(amount=value, currency="VND"),
        buyer_org_id=uuid.UUID(buyer),
        seller_org_id=uuid.UUID(seller),
        broker_org_id=None,
        terms_version=2,
        agreed_at=agreed_at or datetime.now(UTC),
    )
    async with conn.transaction():
        await outbox.emit(conn, deal_id, event)


async def cancel(conn: asyncpg.Connection, deal_id: uuid.UUID) -> None:
    """Emit deal.cancelled as the deals package does."""
    event = DealCancelled(
        deal_id=deal_id, reason="the buyer withdrew", cancelled_at=datetime.now(UTC), stage_before="fee_pending"
    )
    async with conn.transaction():
        await outbox.emit(conn, deal_id, event)


@pytest.fixture
async def make_deal(client, conn, pool, gateway):
    """Register and verify a buyer and a seller, agree a deal of `value` VND and issue its invoices."""
    operator = await operator_key(conn)

    async def make(value: int = 850_000_000) -> Deal:
        buyer, buyer_key = await verified_org(client, operator, "enterprise")
        seller, seller_key = await verified_org(client, operator, "institute")
        deal = Deal(
            uuid.uuid4(), buyer["organization"]["id"], buyer_key, seller["organization"]["id"], seller_key, operator
        )
        await agree(conn, deal.id, deal.buyer_org, deal.seller_org, value)
        await drain(pool, gateway)
        for key in (buyer_key, seller_key):
            page = await client.get("/v1/invoices", params={"deal_id": str(deal.id)}, headers=bearer(key))
            assert page.status_code == 200, page.text
            deal.invoices.extend(page.json()["items"])
        return deal

    return make
