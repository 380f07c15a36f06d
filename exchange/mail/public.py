"""What the shell may use of mail: its background jobs (the sender, the digest and the expiry warnings)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from exchange.kernel.settings import Settings
from exchange.mail import sender, service

log = logging.getLogger("exchange.mail")

Every = Callable[[float, str, Callable[[], Awaitable[int]]], Awaitable[None]]


async def build_digests(pool: asyncpg.Pool, settings: Settings) -> int:
    """Queue the daily digests that are due."""
    async with pool.acquire() as conn, conn.transaction():
        return await service.build_digests(conn, settings)


async def warn_expiring(pool: asyncpg.Pool, settings: Settings) -> int:
    """Queue the warnings of listings expiring within 14 days."""
    async with pool.acquire() as conn, conn.transaction():
        return await service.warn_expiring(conn, settings)


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


__all__ = ["build_digests", "jobs", "warn_expiring"]
