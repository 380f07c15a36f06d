"""Stripe's webhook: verify the signature on the raw body, store each event once, act on it by read-back."""

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from exchange.kernel import outbox
from exchange.kernel.errors import BadRequest
from payments import repo
from payments.gateway import Gateway, SignatureError, verify_event
from payments.invoices import settle


class StripeEventReceived(outbox.Event, frozen=True, kw_only=True, tag="payments.stripe_event"):
    """A verified Stripe event, stored once, to be acted on by reading its object back from Stripe."""

    event_id: str
    type: str
    payment_intent_id: str | None


def verify(payload: bytes, signature: str | None, secret: str) -> Any:
    """The event of a correctly signed, recent body; 400 for anything else."""
    if not secret:
        raise BadRequest("webhooks are not configured on this service (STRIPE_WEBHOOK_SECRET)")
    try:
        event = verify_event(payload, signature, secret)
    except SignatureError:
        raise BadRequest(
            "Stripe-Signature does not verify this body, or its timestamp is outside the tolerance"
        ) from None
    except (ValueError, AttributeError, TypeError):
        # A correctly signed body that is not a JSON object (the SDK parses it after checking the signature).
        raise BadRequest("the body is not a Stripe event") from None
    if not isinstance(getattr(event, "id", None), str) or not isinstance(getattr(event, "type", None), str):
        raise BadRequest("the body is not a Stripe event: it needs an id and a type")
    return event


# Stripe's own events are from its lifetime; a correctly signed body may still carry anything in `created`.
_EARLIEST, _LATEST = datetime(2010, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def event_time(created: object) -> datetime | None:
    """The event's `created` as a time, or None when it is not a plausible Unix time."""
    if not isinstance(created, int) or isinstance(created, bool):
        return None
    try:
        at = datetime.fromtimestamp(created, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return at if _EARLIEST <= at < _LATEST else None


async def record(conn: asyncpg.Connection, event: Any) -> bool:
    """Store a verified event once and queue its processing; False for a duplicate."""
    obj = getattr(getattr(event, "data", None), "object", None)
    object_id = getattr(obj, "id", None)
    intent_id = object_id if isinstance(object_id, str) and object_id.startswith("pi_") else None
    created_at = getattr(event, "created", None)
    created = event_time(created_at)
    if not await repo.insert_event(
        conn, event.id, event.type, object_id if isinstance(object_id, str) else None, created
    ):
        return False
    # The event id names the aggregate: the invoice is only known once the intent is looked up.
    aggregate = uuid.uuid5(uuid.NAMESPACE_URL, f"stripe-event:{event.id}")
    await outbox.emit(
        conn, aggregate, StripeEventReceived(event_id=event.id, type=event.type, payment_intent_id=intent_id)
    )
    return True


async def process(conn: asyncpg.Connection, gateway: Gateway, event: StripeEventReceived) -> None:
    """Act on a stored event by reading its PaymentIntent back; events of unknown intents are ignored."""
    if not event.payment_intent_id or await repo.invoice_for_intent(conn, event.payment_intent_id) is None:
        return
    # Read before settle() locks the invoice: no row is locked while Stripe answers.
    await settle(conn, await gateway.retrieve_intent(event.payment_intent_id))
