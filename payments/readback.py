"""The read-back: no payment depends on one webhook. Unsettled invoices quiet for a while are asked about Stripe."""

import logging

import asyncpg

from payments import repo
from payments.gateway import Gateway, NoAnswer, StripeError
from payments.invoices import settle

log = logging.getLogger("payments")

# Invoices read back per run: the oldest first, so every one gets its turn.
BATCH = 100


async def read_back(pool: asyncpg.Pool, gateway: Gateway, older_than: float) -> int:
    """Read each unsettled invoice's PaymentIntent back from Stripe once nothing touched it for `older_than` seconds,
    and settle it exactly as a verified event would; returns how many invoices changed."""
    # Claimed (and committed) first, so that several processes running this job never ask about the same invoice.
    async with pool.acquire() as conn:
        due = await repo.claim_read_back(conn, older_than, BATCH)
    changed = 0
    for intent_id, version in due:
        try:
            # No connection is held while Stripe answers.
            intent = await gateway.retrieve_intent(intent_id)
        except NoAnswer:
            raise  # Stripe is away: the next runs try again
        except StripeError as exc:
            log.warning("read-back of PaymentIntent %s: Stripe refused (%s)", intent_id, exc.__class__.__name__)
            continue
        async with pool.acquire() as conn, conn.transaction():
            settled = await settle(conn, intent)
        if settled is not None and settled.version != version:
            changed += 1
    return changed
