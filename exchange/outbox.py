"""The outbox: events written in the writer's transaction, drained by their consumers."""

from typing import Any
from uuid import UUID

import asyncpg


async def emit(conn: asyncpg.Connection, topic: str, aggregate_id: UUID, payload: dict[str, Any]) -> None:
    """Record an event; it exists only if the surrounding transaction commits."""
    await conn.execute(
        "INSERT INTO outbox (topic, aggregate_id, payload) VALUES ($1, $2, $3)", topic, aggregate_id, payload
    )
