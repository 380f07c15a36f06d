"""Background jobs: run inside the service by default, or alone as `exchange worker`."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import asyncpg

from exchange.auctions import public as auctions
from exchange.deals import consumers as deals
from exchange.imports import consumers as imports
from exchange.kernel import db, outbox, ratelimit
from exchange.kernel.settings import Settings
from exchange.mail import consumers as mail
from exchange.mail import public as mail_public
from listings import public as listings
from matching import consumers as matching
from payments import consumers as payments
from payments import public as payments_public

log = logging.getLogger("exchange.jobs")

ConsumerSource = Callable[[Settings], AbstractAsyncContextManager[list[outbox.Consumer]]]

# Each package that reacts to outbox events contributes its consumers (with the clients they hold) here.
CONSUMER_SOURCES: list[ConsumerSource] = [
    matching.consumers,
    deals.consumers,
    payments.consumers,
    imports.consumers,
    mail.consumers,
]
# The outbox retention and rate-limit pruning jobs run this often: what they delete is no longer read, so no hurry.
PRUNE_EVERY_SECONDS = 3600.0


async def sweep_expired(pool: asyncpg.Pool) -> int:
    """Store the expiry of listings past their date (reads already treat them as expired)."""
    async with pool.acquire() as conn, conn.transaction():
        return await listings.expire_due(conn)


async def close_auctions(pool: asyncpg.Pool) -> int:
    """Close every auction past its end, one transaction each; another process's closer takes the others meanwhile."""
    closed = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            if await auctions.close_next_due(conn) is None:
                return closed
        closed += 1


async def prune_outbox(pool: asyncpg.Pool, settings: Settings) -> int:
    """Delete outbox events processed longer ago than the retention setting."""
    async with pool.acquire() as conn:
        return await outbox.prune(conn, settings.outbox_retention_days)


async def prune_rate_limits(pool: asyncpg.Pool) -> int:
    """Delete the rate-limit counters of windows that have ended."""
    async with pool.acquire() as conn:
        return await ratelimit.prune(conn)


async def every(seconds: float, name: str, job: Callable[[], Awaitable[int]]) -> None:
    """Run a job until cancelled, then wait; a failed run is retried on the next tick."""
    while True:
        try:
            count = await job()
            if count:
                log.info("%s: %d", name, count)
        except Exception:  # noqa: BLE001 - the next tick retries
            log.exception("%s failed", name)
        await asyncio.sleep(seconds)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[None]:
    """Run every job (the sweeps and the outbox consumers) on their own pool while inside."""
    async with contextlib.AsyncExitStack() as stack:
        consumers: list[outbox.Consumer] = []
        for source in CONSUMER_SOURCES:
            consumers.extend(await stack.enter_async_context(source(settings)))
        stripe = await stack.enter_async_context(payments_public.open_gateway(settings))
        # One connection per consumer, one for the sweeps and one for the auction closer: a slow webhook receiver must
        # not hold up the indexer, nor a slow sweep an auction's close. And one for mail's sender and jobs.
        pool = await db.create_pool(settings.database_url, min_size=1, max_size=len(consumers) + 3)
        stack.push_async_callback(pool.close)
        tasks = [
            asyncio.create_task(
                every(settings.expiry_sweep_seconds, "listings expired", lambda: sweep_expired(pool)),
                name="expiry-sweep",
            ),
            asyncio.create_task(
                every(settings.auction_close_seconds, "auctions closed", lambda: close_auctions(pool)),
                name="auction-close",
            ),
            asyncio.create_task(
                every(PRUNE_EVERY_SECONDS, "outbox events pruned", lambda: prune_outbox(pool, settings)),
                name="outbox-prune",
            ),
            asyncio.create_task(
                every(PRUNE_EVERY_SECONDS, "rate-limit counters pruned", lambda: prune_rate_limits(pool)),
                name="rate-limit-prune",
            ),
            asyncio.create_task(
                every(
                    settings.read_back_every_seconds,
                    "invoices settled by reading Stripe back",
                    lambda: payments_public.read_back(pool, stripe, settings.read_back_after_seconds),
                ),
                name="payments-read-back",
            ),
        ]
        tasks.extend(mail_public.jobs(pool, settings, every))
        if consumers:
            tasks.append(
                asyncio.create_task(outbox.run_consumers(pool, settings.database_url, consumers), name="outbox")
            )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def run_forever(settings: Settings) -> None:
    """Run every job until cancelled (`exchange worker`)."""
    async with running(settings):
        await asyncio.Event().wait()
