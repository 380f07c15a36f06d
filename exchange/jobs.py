"""Background jobs: run inside the service by default, or alone as `exchange worker`."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import asyncpg

from exchange.kernel import db, outbox
from exchange.deals import events as deal_events
from exchange.kernel.settings import Settings
from listings import service as listings
from matching import indexer, notify
from payments import events as payment_events

log = logging.getLogger("exchange.jobs")

ConsumerSource = Callable[[Settings], AbstractAsyncContextManager[list[outbox.Consumer]]]

# Each package that reacts to outbox events contributes its consumers (with the clients they hold) here.
CONSUMER_SOURCES: list[ConsumerSource] = [indexer.consumers, notify.consumers, deal_events.consumers, payment_events.consumer_source]


async def sweep_expired(pool: asyncpg.Pool) -> int:
    """Store the expiry of listings past their date (reads already treat them as expired)."""
    async with pool.acquire() as conn, conn.transaction():
        return await listings.expire_due(conn)


async def sweep_forever(pool: asyncpg.Pool, settings: Settings) -> None:
    """Run the expiry sweep until cancelled; a failed run is retried on the next tick."""
    while True:
        try:
            count = await sweep_expired(pool)
            if count:
                log.info("expired %d listings", count)
        except Exception:  # noqa: BLE001 - the next tick retries
            log.exception("expiry sweep failed")
        await asyncio.sleep(settings.expiry_sweep_seconds)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[None]:
    """Run every job (the sweep and the outbox consumers) on their own pool while inside."""
    async with contextlib.AsyncExitStack() as stack:
        consumers: list[outbox.Consumer] = []
        for source in CONSUMER_SOURCES:
            consumers.extend(await stack.enter_async_context(source(settings)))
        # One connection per consumer and one for the sweep: a slow webhook receiver must not hold up the indexer.
        pool = await db.create_pool(settings.database_url, min_size=1, max_size=len(consumers) + 1)
        stack.push_async_callback(pool.close)
        tasks = [asyncio.create_task(sweep_forever(pool, settings), name="expiry-sweep")]
        if consumers:
            tasks.append(asyncio.create_task(outbox.run_consumers(pool, settings.database_url, consumers), name="outbox"))
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
