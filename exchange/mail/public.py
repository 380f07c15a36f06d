"""What the shell may use of mail: its background jobs (the sender, the digest and the expiry warnings)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from exchange.kernel.settings import Settings
from exchange.mail import repo, sender, service

log = logging.getLogger("exchange.mail")

# Longer than any replay of an event (the outbox keeps processed events for days) and than the 14 days of expiry
# warnings, whose queued row is what says a listing was warned about.
KEEP_DAYS = 30
PRUNE_EVERY_SECONDS = 3600.0

Every = Callable[[float, str, Callable[[], Awaitable[int]]], Awaitable[None]]


async def build_digests(pool: asyncpg.Pool, settings: Settings) -> int:
    """Queue the daily digests that are due."""
    async with pool.acquire() as conn, conn.transaction():
        return await service.build_digests(conn, settings)


async def warn_expiring(pool: asyncpg.Pool, settings: Settings) -> int:
    """Queue the warnings of listings expiring within 14 days."""
    async with pool.acquire() as conn, conn.transaction():
        return await service.warn_expiring(conn, settings)


async def prune(pool: asyncpg.Pool) -> int:
    """Delete mail sent or given up more than KEEP_DAYS ago (its bodies are personal data)."""
    async with pool.acquire() as conn:
        return await repo.prune(conn, KEEP_DAYS)


def jobs(pool: asyncpg.Pool, settings: Settings, every: Every) -> list[asyncio.Task[None]]:
    """Start mail's periodic jobs; the sender only when SMTP_URL is set (mail waits in the queue until then)."""
    tasks = [
        asyncio.create_task(
            every(settings.mail_jobs_seconds, "mail digests queued", lambda: build_digests(pool, settings)),
            name="mail-digests",
        ),
        asyncio.create_task(
            every(settings.mail_jobs_seconds, "listing expiry warnings queued", lambda: warn_expiring(pool, settings)),
            name="mail-expiry",
        ),
        asyncio.create_task(every(PRUNE_EVERY_SECONDS, "mail pruned", lambda: prune(pool)), name="mail-prune"),
    ]
    if settings.smtp_url:
        sender.parse_smtp_url(settings.smtp_url)  # a bad URL fails at start, not on every tick
        tasks.append(
            asyncio.create_task(
                every(settings.mail_poll_seconds, "mail sent", lambda: sender.send_due(pool, settings)),
                name="mail-sender",
            )
        )
    else:
        log.warning("SMTP_URL is not set: mail is queued but not sent")
    return tasks


__all__ = ["build_digests", "jobs", "prune", "warn_expiring"]
