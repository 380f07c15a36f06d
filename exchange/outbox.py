"""The outbox: events written in the writer's transaction, drained by their consumers."""

from uuid import UUID

import asyncpg
import msgspec


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="topic"):
    """Base of every outbox event; each domain's events subclass it with their own tag (the topic)."""


async def emit(conn: asyncpg.Connection, aggregate_id: UUID, event: Event) -> None:
    """Record an event; it exists only if the surrounding transaction commits."""
    payload = msgspec.to_builtins(event)
    await conn.execute(
        "INSERT INTO outbox (topic, aggregate_id, payload) VALUES ($1, $2, $3)", payload["topic"], aggregate_id, payload
    )
