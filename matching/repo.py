"""SQL of the matching package: cached embeddings, subscriptions and notifications."""

from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.db import row_to, rows_to


async def cached_vectors(conn: asyncpg.Connection, hashes: list[bytes]) -> dict[bytes, list[float]]:
    """Vectors already computed for these text hashes."""
    rows = await conn.fetch("SELECT text_hash, vector FROM embedding_cache WHERE text_hash = ANY($1::bytea[])", hashes)
    return {r["text_hash"]: list(r["vector"]) for r in rows}


async def cache_vectors(conn: asyncpg.Connection, vectors: dict[bytes, list[float]]) -> None:
    """Remember freshly computed vectors."""
    if vectors:
        await conn.executemany(
            "INSERT INTO embedding_cache (text_hash, vector) VALUES ($1, $2) ON CONFLICT (text_hash) DO NOTHING",
            list(vectors.items()),
        )


async def lock_listings(conn: asyncpg.Connection, ids: list[UUID]) -> None:
    """Serialise indexers working on the same listings until this transaction ends (in id order: no deadlock)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(k) FROM"
        " (SELECT hashtextextended(id::text, 7341) AS k FROM unnest($1::uuid[]) AS id ORDER BY 1) AS keys",
        ids,
    )
