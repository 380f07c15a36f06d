"""The outbox: events written in the writer's transaction, drained by their consumers."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import msgspec

log = logging.getLogger("exchange.kernel.outbox")

CHANNEL = "outbox"
MAX_BACKOFF_SECONDS = 60.0


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="topic"):
    """Base of every outbox event; each domain's events subclass it with their own tag (the topic)."""


class OutboxRow(msgspec.Struct, frozen=True, kw_only=True):
    """One claimed event as a consumer receives it."""

    id: int
    topic: str
    aggregate_id: UUID
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


async def emit(conn: asyncpg.Connection, aggregate_id: UUID, event: Event) -> None:
    """Record an event; it exists only if the surrounding transaction commits (a trigger wakes consumers then)."""
    payload = msgspec.to_builtins(event)
    await conn.execute(
        "INSERT INTO outbox (topic, aggregate_id, payload) VALUES ($1, $2, $3)", payload["topic"], aggregate_id, payload
    )


E = TypeVar("E", bound=Event)


def decode(row: OutboxRow, event_type: type[E]) -> E:
    """A claimed row's payload as its typed event (a union of events decodes by topic)."""
    return msgspec.convert(row.payload, event_type)


Handler = Callable[[asyncpg.Connection, list[OutboxRow]], Awaitable[None]]


@dataclass(frozen=True)
class Consumer:
    """Who drains which topics, and how many events it takes at once."""

    name: str
    topics: tuple[str, ...]
    handle: Handler
    batch_size: int = 1


_CLAIM = """
SELECT id, topic, aggregate_id, payload, attempts, created_at
FROM outbox
WHERE processed_at IS NULL AND available_at <= now() AND topic = ANY($1::text[])
ORDER BY id
LIMIT $2
FOR UPDATE SKIP LOCKED
"""


async def backlog(conn: asyncpg.Connection) -> tuple[int, float | None]:
    """How many events wait for a consumer, and for how many seconds the oldest has waited."""
    row = await conn.fetchrow(
        "SELECT count(*) AS waiting, extract(epoch FROM now() - min(created_at))::float8 AS oldest"
        " FROM outbox WHERE processed_at IS NULL"
    )
    return row["waiting"], row["oldest"]


class TopicBacklog(msgspec.Struct, frozen=True, kw_only=True):
    """Events of one topic that wait for their consumer."""

    topic: str
    waiting: int
    failing: int
    oldest_seconds: float


async def backlog_by_topic(conn: asyncpg.Connection) -> list[TopicBacklog]:
    """Per topic (each has one consumer): how many events wait, how many of them failed before, the oldest's age."""
    rows = await conn.fetch(
        "SELECT topic, count(*) AS waiting, count(*) FILTER (WHERE attempts > 0) AS failing,"
        " extract(epoch FROM now() - min(created_at))::float8 AS oldest_seconds"
        " FROM outbox WHERE processed_at IS NULL GROUP BY topic ORDER BY topic"
    )
    return [msgspec.convert(dict(r), TopicBacklog) for r in rows]


async def prune(conn: asyncpg.Connection, older_than_days: float) -> int:
    """Delete events processed more than `older_than_days` ago; return how many went."""
    deleted = await conn.fetchval(
        "WITH gone AS (DELETE FROM outbox WHERE processed_at < now() - make_interval(secs => $1) RETURNING 1)"
        " SELECT count(*) FROM gone",
        older_than_days * 86400,
    )
    return deleted


def backoff_seconds(attempts: int) -> float:
    """Delay before the next try of an event that has failed `attempts` times."""
    return min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** max(attempts - 1, 0))


async def drain_once(pool: asyncpg.Pool, consumer: Consumer) -> int:
    """Claim one batch and handle it in one transaction; returns how many events were claimed."""
    async with pool.acquire() as conn, conn.transaction():
        records = await conn.fetch(_CLAIM, list(consumer.topics), consumer.batch_size)
        if not records:
            return 0
        rows = [msgspec.convert(dict(r), OutboxRow) for r in records]
        ids = [row.id for row in rows]
        started = time.perf_counter()
        try:
            # A savepoint: a failed handler's writes are undone, the failure itself is recorded.
            async with conn.transaction():
                await consumer.handle(conn, rows)
        except Exception as exc:  # noqa: BLE001 - recorded on the rows and retried with backoff
            attempts = max(row.attempts for row in rows) + 1
            log.warning("consumer %s failed on events %s (attempt %d): %r", consumer.name, ids, attempts, exc)
            await conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2,"
                " available_at = now() + make_interval(secs => $3) WHERE id = ANY($1::bigint[])",
                ids,
                repr(exc)[:500],
                backoff_seconds(attempts),
            )
            return len(rows)
        await conn.execute("UPDATE outbox SET processed_at = now() WHERE id = ANY($1::bigint[])", ids)
        log.debug("consumer %s handled %d events in %.3f s", consumer.name, len(rows), time.perf_counter() - started)
        return len(rows)


async def drain(pool: asyncpg.Pool, consumer: Consumer) -> int:
    """Handle every event available now; returns how many were claimed."""
    total = 0
    while count := await drain_once(pool, consumer):
        total += count
        if count < consumer.batch_size:
            break
    return total


async def wait_for_wakeup(wakeup: asyncio.Event, seconds: float) -> None:
    """Wait until woken or until `seconds` pass; a cancellation always gets through."""
    # Not asyncio.wait_for: on Python 3.11 it drops a cancellation that lands as the event is set, and the
    # consumer loop then never stops (a service shutdown that hangs forever).
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wakeup.wait()


async def run_consumers(pool: asyncpg.Pool, dsn: str, consumers: Sequence[Consumer], poll_seconds: float = 1.0) -> None:
    """Drain each consumer whenever an event is committed (LISTEN), and at least every poll_seconds."""
    wakeups = {c.name: asyncio.Event() for c in consumers}

    def wake(_conn: object, _pid: int, _channel: str, topic: str) -> None:
        # The notification carries the new row's topic: only the consumers of that topic have work.
        for consumer in consumers:
            if topic in consumer.topics:
                wakeups[consumer.name].set()

    async def loop(consumer: Consumer) -> None:
        wakeup = wakeups[consumer.name]
        while True:
            wakeup.clear()
            try:
                await drain(pool, consumer)
            except Exception:  # noqa: BLE001 - the database may be away; the next wake-up retries
                log.exception("consumer %s could not drain the outbox", consumer.name)
            await wait_for_wakeup(wakeup, poll_seconds)

    listener: asyncpg.Connection | None = None
    try:
        try:
            listener = await asyncpg.connect(dsn)
            await listener.add_listener(CHANNEL, wake)
        except (OSError, asyncpg.PostgresError):
            log.warning("could not LISTEN for outbox events; polling every %.1f s", poll_seconds)
        async with asyncio.TaskGroup() as group:
            for consumer in consumers:
                group.create_task(loop(consumer))
    finally:
        if listener is not None:
            await listener.close()
