"""Outbox events payments reads and writes, and its consumers."""

import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
import msgspec

from exchange.kernel import outbox
from exchange.kernel.events import DealAgreed, DealCancelled
from exchange.kernel.settings import Settings
from payments.gateway import Gateway, open_gateway

log = logging.getLogger("payments.events")


class StripeEventReceived(outbox.Event, frozen=True, kw_only=True, tag="payments.stripe_event"):
    """A verified Stripe event, stored once, to be acted on by reading its object back from Stripe."""

    event_id: str
    type: str
    payment_intent_id: str | None


DEAL_TOPICS = ("deal.agreed", "deal.cancelled")
STRIPE_TOPICS = ("payments.stripe_event",)


def consumers(gateway: Gateway) -> list[outbox.Consumer]:
    """The consumers of deal events and of Stripe events, sharing one gateway."""
    from payments import service, webhooks

    async def handle_deals(conn: asyncpg.Connection, rows: list[outbox.OutboxRow]) -> None:
        for row in rows:
            if row.topic == "deal.agreed":
                await service.on_deal_agreed(conn, msgspec.convert(row.payload, DealAgreed))
            else:
                await service.on_deal_cancelled(conn, gateway, msgspec.convert(row.payload, DealCancelled))

    async def handle_stripe(conn: asyncpg.Connection, rows: list[outbox.OutboxRow]) -> None:
        for row in rows:
            await webhooks.process(conn, gateway, msgspec.convert(row.payload, StripeEventReceived))

    return [
        outbox.Consumer("payments.deals", DEAL_TOPICS, handle_deals, batch_size=1),
        outbox.Consumer("payments.stripe", STRIPE_TOPICS, handle_stripe, batch_size=1),
    ]


@contextlib.asynccontextmanager
async def consumer_source(settings: Settings) -> AsyncIterator[list[outbox.Consumer]]:
    """Payments' consumers with their own Stripe client, for exchange.jobs."""
    async with open_gateway(settings) as gateway:
        yield consumers(gateway)
