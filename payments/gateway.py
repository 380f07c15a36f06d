"""The Stripe client: the official SDK's async calls, one shared HTTP client, closed at shutdown."""

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import stripe

from exchange.kernel import metrics
from exchange.kernel.errors import DomainError, Unavailable
from exchange.kernel.settings import Settings

WEBHOOK_TOLERANCE_SECONDS = 300

StripeError = stripe.StripeError
CardError = stripe.CardError
NoAnswer = stripe.APIConnectionError
SignatureError = stripe.SignatureVerificationError

# Stripe cancels a PaymentIntent only in these statuses.
CANCELLABLE = frozenset({"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"})


class GatewayError(DomainError):
    """Stripe refused or did not answer as expected; nothing was recorded as paid or refunded."""

    status, type, title = 502, "payment-gateway-error", "Payment gateway error"


class GatewayUnavailable(Unavailable):
    """Stripe did not answer in time; the invoice is left for a retry or the read-back to settle."""

    type, title = "payment-gateway-unavailable", "Payment gateway unavailable"


class Gateway:
    """What payments asks of Stripe."""

    def __init__(self, settings: Settings) -> None:
        self._http = stripe.HTTPXClient(timeout=settings.stripe_timeout)
        metrics.observe_client(self._http._client_async, "stripe")
        base = {"api": settings.stripe_api_base.rstrip("/")} if settings.stripe_api_base else None
        # Stripe's own retries resend the idempotency keys given below, so a retried create never makes a second intent.
        self.client = stripe.StripeClient(
            settings.stripe_secret_key or "sk_test_unset",
            base_addresses=base,
            http_client=self._http,
            max_network_retries=settings.stripe_retries,
        )

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._http.close_async()

    async def create_intent(
        self, *, amount: int, metadata: dict[str, str], payment_method: str | None, idempotency_key: str
    ) -> stripe.PaymentIntent:
        """A card PaymentIntent in VND, not confirmed yet (so its id is known before any charge)."""
        params: dict[str, Any] = {
            "amount": amount,
            "currency": "vnd",
            "payment_method_types": ["card"],
            "metadata": metadata,
        }
        if payment_method:
            params["payment_method"] = payment_method
        return await self.client.v1.payment_intents.create_async(params, {"idempotency_key": idempotency_key})

    async def retrieve_intent(self, intent_id: str) -> stripe.PaymentIntent:
        """Read a PaymentIntent back."""
        return await self.client.v1.payment_intents.retrieve_async(intent_id)

    async def set_payment_method(self, intent_id: str, payment_method: str) -> stripe.PaymentIntent:
        """Attach a PaymentMethod to an unconfirmed intent."""
        return await self.client.v1.payment_intents.update_async(intent_id, {"payment_method": payment_method})

    async def confirm_intent(self, intent_id: str, idempotency_key: str) -> stripe.PaymentIntent:
        """Confirm on the server; a decline raises CardError."""
        return await self.client.v1.payment_intents.confirm_async(
            intent_id, options={"idempotency_key": idempotency_key}
        )

    async def cancel_intent(self, intent_id: str) -> stripe.PaymentIntent:
        """Cancel an intent that has not succeeded."""
        return await self.client.v1.payment_intents.cancel_async(intent_id)

    async def refunded_amount(self, intent_id: str) -> int:
        """How much of an intent has been refunded, read back from Stripe's refunds."""
        total = 0
        params: dict[str, Any] = {"payment_intent": intent_id, "limit": 100}
        while True:
            page = await self.client.v1.refunds.list_async(params)
            total += sum(r.amount for r in page.data if r.status in ("succeeded", "pending"))
            if not page.has_more or not page.data:
                return total
            params["starting_after"] = page.data[-1].id

    async def refund(self, intent_id: str, amount: int, idempotency_key: str) -> stripe.Refund:
        """Refund an amount of a succeeded intent."""
        params = {"payment_intent": intent_id, "amount": amount, "metadata": {"reason": "exchange refund"}}
        return await self.client.v1.refunds.create_async(params, {"idempotency_key": idempotency_key})

    async def all_intents(self) -> AsyncIterator[stripe.PaymentIntent]:
        """Every PaymentIntent of the account, page by page."""
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = await self.client.v1.payment_intents.list_async(params)
            for intent in page.data:
                yield intent
            if not page.has_more or not page.data:
                return
            params["starting_after"] = page.data[-1].id


def verify_event(payload: bytes, signature: str | None, secret: str, now: float | None = None) -> stripe.Event:
    """Check Stripe-Signature over the raw body (and its age) and parse the event; raises on any mismatch."""
    # The SDK refuses a timestamp too far in the past only: one too far ahead is refused here.
    stamps = [p.strip()[2:] for p in (signature or "").split(",") if p.strip().startswith("t=")]
    if stamps and stamps[0].isascii() and stamps[0].isdigit():
        if int(stamps[0]) > (time.time() if now is None else now) + WEBHOOK_TOLERANCE_SECONDS:
            raise SignatureError("the Stripe-Signature timestamp is in the future", signature)
    return stripe.Webhook.construct_event(payload, signature, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS)


@contextlib.asynccontextmanager
async def open_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    """A gateway for as long as the block runs."""
    gateway = Gateway(settings)
    try:
        yield gateway
    finally:
        await gateway.close()
