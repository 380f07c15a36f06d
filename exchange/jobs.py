"""Background jobs: run inside the service by default, or alone as `exchange worker`."""

import asyncio
import logging

import asyncpg

from exchange.settings import Settings
from listings import service as listings

log = logging.getLogger("exchange.jobs")


async def sweep_expired(pool: asyncpg.Pool) -> int:
    """Store the expiry of listings past their date (reads already treat them as expired)."""
    async with pool.acquire() as conn, conn.transaction():
        return await listings.expire_due(conn)


async def run_forever(pool: asyncpg.Pool, settings: Settings) -> None:
    """Run every periodic job until cancelled; a failed run is retried on the next tick."""
    while True:
        try:
            count = await sweep_expired(pool)
            if count:
                log.info("expired %d listings", count)
        except Exception:  # noqa: BLE001 - the next tick retries
            log.exception("expiry sweep failed")
        await asyncio.sleep(settings.expiry_sweep_seconds)
