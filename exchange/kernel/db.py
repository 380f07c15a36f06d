"""The database pool, the request-scoped transaction, and the migration runner."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from importlib import resources
from typing import TypeVar
from uuid import UUID

import asyncpg
import msgspec
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency

from exchange.kernel.errors import Unavailable

log = logging.getLogger("exchange.kernel.db")

T = TypeVar("T")

Conn = NamedDependency[asyncpg.Connection]
"""A route parameter that receives the request's connection (inside its transaction)."""

_READ_ONLY = frozenset({"GET", "HEAD"})

# Any stable 64-bit number: serialises migrations started by several processes at once.
MIGRATION_LOCK_ID = 7_341_190_553


def keyset(n: int, *, newest_first: bool = True) -> str:
    """The tail of a query paged on (created_at, id): rows past the position in $n, $n+1 (null on the first page), $n+2 at most."""
    op, order = ("<", "DESC") if newest_first else (">", "ASC")
    return (
        f"(${n}::timestamptz IS NULL OR (created_at, id) {op} (${n}, ${n + 1}))"
        f" ORDER BY created_at {order}, id {order} LIMIT ${n + 2}"
    )


def keyset_args(after: tuple[datetime, UUID] | None, limit: int) -> tuple[datetime | None, UUID | None, int]:
    """The parameters keyset() numbers: the position the page starts after (none for the first page), and its size."""
    return (after[0], after[1], limit) if after else (None, None, limit)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name,
            encoder=lambda v: msgspec.json.encode(v).decode(),
            decoder=msgspec.json.decode,
            schema="pg_catalog",
        )


async def _reset_connection(conn: asyncpg.Connection) -> None:
    # The service never changes session state (SET, LISTEN, advisory locks, cursors), so the default
    # reset's extra round trip on every release only has an open transaction to undo.
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(dsn: str, *, min_size: int, max_size: int) -> asyncpg.Pool:
    """Open the pool every request borrows its connection from."""
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_reset_connection
    )


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection with the same codecs as the pool's (CLI and tests)."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


@contextlib.asynccontextmanager
async def borrowed(state: State) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the pool, waited for in arrival order and for at most DB_ACQUIRE_TIMEOUT seconds (else 503)."""
    # asyncpg hands a released connection to whichever task asks next, so under load a request that
    # just finished can barge ahead of older waiters; the semaphore serves them in arrival order.
    timeout = state.settings.db_acquire_timeout
    try:
        async with asyncio.timeout(timeout):
            await state.db_gate.acquire()
    except TimeoutError:
        raise Unavailable(f"no database connection came free within {timeout:g} s; retry shortly") from None
    try:
        try:
            conn = await state.pool.acquire(timeout=timeout)
        except TimeoutError:
            raise Unavailable("the database did not answer in time; retry shortly") from None
        try:
            yield conn
        finally:
            await state.pool.release(conn)
    finally:
        state.db_gate.release()


async def provide_conn(request: Request, state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """Yield one connection; a write runs inside one transaction: commit on success, roll back on any exception."""
    async with borrowed(state) as conn:
        if request.method in _READ_ONLY:
            # One statement needs no BEGIN/COMMIT round trips; reads that need a snapshot open their own.
            yield conn
            return
        async with conn.transaction():
            yield conn


def row_to(row: asyncpg.Record, type_: type[T]) -> T:
    """Convert a row through a dict (a Record's own attributes collide with column names)."""
    return msgspec.convert(dict(row), type_)


def rows_to(rows: list[asyncpg.Record], type_: type[T]) -> list[T]:
    """Convert many rows."""
    return [msgspec.convert(dict(r), type_) for r in rows]


def migration_files() -> list[tuple[str, str]]:
    """The numbered SQL files shipped with the package, in order."""
    folder = resources.files("exchange") / "migrations"
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply every migration not applied yet, each in its own transaction; return their names."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        applied = []
        for name, sql in migration_files():
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            log.info("applied migration %s", name)
            applied.append(name)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
