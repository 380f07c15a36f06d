"""One Stripe operation at a time per invoice: a reservation committed in its row, not a row lock held while Stripe answers."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from uuid import UUID

from exchange.kernel.db import Begin
from payments import repo
from payments.repo import InvoiceRow

# A caller that finds the invoice reserved looks again after these waits (doubling), until its deadline.
POLL_FIRST, POLL_MAX = 0.02, 0.25
# A reservation outlives its holder's deadline by this much, in case this process dies holding it.
MARGIN_SECONDS = 2.0


@contextlib.asynccontextmanager
async def reserved(
    begin: Begin, invoice_id: UUID, check: Callable[[InvoiceRow | None], InvoiceRow], until: float
) -> AsyncIterator[InvoiceRow]:
    """The invoice, reserved for this block's Stripe calls, which must end by `until` (event loop time): `check` passes
    it first (or raises), and another caller waits until the block ends (TimeoutError if that is after `until`)."""
    token = uuid.uuid4()
    delay = POLL_FIRST
    try:
        async with asyncio.timeout_at(until):
            while True:
                async with begin() as conn:
                    invoice = check(await repo.get_invoice(conn, invoice_id, lock=True))
                    seconds = until - asyncio.get_running_loop().time() + MARGIN_SECONDS
                    if await repo.take_lease(conn, invoice.id, token, seconds):
                        break
                await asyncio.sleep(delay)
                delay = min(2 * delay, POLL_MAX)
        yield invoice
    finally:
        # Outside the deadline, so that a block cut short still gives the invoice back at once.
        async with begin() as conn:
            await repo.end_lease(conn, invoice_id, token)
