"""The database pool, the request-scoped transaction, and the migration runner."""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from importlib import resources
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import msgspec
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency

from exchange.kernel import metrics
from exchange.kernel.errors import Unavailable

log = logging.getLogger("exchange.kernel.db")

T = TypeVar("T")

Conn = NamedDependency[asyncpg.Connection]
"""A route parameter that receives the request's connection (inside its transaction)."""

Begin = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]
"""Opens one short transaction on a connection borrowed only while it runs: for work that waits on a remote service
between its transactions."""

_READ_ONLY = frozenset({"GET", "HEAD"})
# How long a fence vouches for the listing cache of its process. Every request that changes a listing anyone can read
# waits this long after its commit before it answers (written), so a fence that came back and was sent less than
# this long ago was sent after every such change whose answer a reader can have seen: a read then needs no round trip
# of its own. A change committed any other way (a job, SQL by hand) is applied within the same time.
CACHE_LEASE_SECONDS = 0.02
# A process's cache renews its lease while it is read, and stops this long after its last read.
CACHE_RENEW_IDLE_SECONDS = 1.0

# Snapshots are whole pages (up to ~150 KB at 100 items): a few hundred is plenty for the pages anonymous callers share.
MAX_SNAPSHOTS = 200

# Any stable 64-bit number: serialises migrations started by several processes at once.
MIGRATION_LOCK_ID = 7_341_190_553


def keyset(n: int, *, newest_first: bool = True, column: str = "created_at") -> str:
    """The tail of a query paged on (column, id): rows past the position in $n, $n+1 (null on the first page), $n+2 at most."""
    op, order = ("<", "DESC") if newest_first else (">", "ASC")
    return (
        f"(${n}::timestamptz IS NULL OR ({column}, id) {op} (${n}, ${n + 1}))"
        f" ORDER BY {column} {order}, id {order} LIMIT ${n + 2}"
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
    start = time.perf_counter()
    with metrics.DB_POOL_WAITING.track_inprogress():
        try:
            async with asyncio.timeout(timeout):
                await state.db_gate.acquire()
        except TimeoutError:
            metrics.DB_POOL_TIMEOUTS.inc()
            raise Unavailable(f"no database connection came free within {timeout:g} s; retry shortly") from None
    try:
        try:
            conn = await state.pool.acquire(timeout=timeout)
        except TimeoutError:
            metrics.DB_POOL_TIMEOUTS.inc()
            raise Unavailable("the database did not answer in time; retry shortly") from None
        metrics.DB_POOL_WAIT.observe(time.perf_counter() - start)
        metrics.DB_POOL_CONNECTIONS.set(state.pool.get_size())
        try:
            with metrics.DB_POOL_IN_USE.track_inprogress():
                yield conn
        finally:
            await state.pool.release(conn)
    finally:
        state.db_gate.release()


@contextlib.asynccontextmanager
async def written(state: State) -> AsyncIterator[asyncpg.Connection]:
    """One transaction on a connection of the pool; once it has committed a change to a listing anyone can read, the
    listing caches' lease is waited out before the caller goes on to answer."""
    changed = False
    async with borrowed(state) as conn:
        async with conn.transaction():
            yield conn
            changed = await public_listing_changed(conn)
    if changed:
        # After the connection is back in the pool: the wait holds nothing but this answer.
        await asyncio.sleep(CACHE_LEASE_SECONDS)


def transactions(state: State) -> Begin:
    """Short transactions on the request pool, each waited for like any request's connection."""
    return lambda: written(state)


async def public_listing_changed(conn: asyncpg.Connection) -> bool:
    """Whether the open transaction changed a listing anyone can read (set by the listings' trigger)."""
    return await conn.fetchval("SELECT current_setting('techmart.public_listing_changed', true) = 'on'") is True


async def provide_conn(request: Request, state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """Yield one connection; a write runs inside one transaction: commit on success, roll back on any exception."""
    if request.method in _READ_ONLY:
        # One statement needs no BEGIN/COMMIT round trips; reads that need a snapshot open their own.
        async with borrowed(state) as conn:
            yield conn
        return
    async with written(state) as conn:
        yield conn


class NotifiedCache:
    """Values kept in this process, each dropped when a NOTIFY on the channel names its key.

    Notifications arrive some time after their commit, so a value may only be used after fence(): it returns once a
    round trip on a listening connection, sent after the call began, has come back. PostgreSQL sends a listening
    session every notification committed before a command ahead of that command's ReadyForQuery, and asyncpg runs the
    callbacks in the order the messages arrived, before the fence's waiter resumes: so once fence() returns, every
    change committed before it was called (a withdraw whose response the caller has seen, in any process) has
    dropped its key. Every connection listens, so a fence may go over whichever is idle: a second one lets a fence
    leave while the one before is still out. Without listening connections fence() is False and the caller reads the
    database. Reads use up_to_date(): a fence that came back vouches for CACHE_LEASE_SECONDS from when it was sent,
    because every request that changes a public listing waits that long after its commit before it answers (written).
    """

    def __init__(self, dsn: str, channel: str, max_entries: int, listeners: int = 2) -> None:
        self.dsn = dsn
        self.channel = channel
        self.max_entries = max_entries
        self.listeners = listeners
        self.entries: dict[str, Any] = {}
        # Values that depend on every row (a page of a list): good only while no notification at all came in.
        self.snapshots: dict[str, tuple[int, Any]] = {}
        # Bumped by every notification and every lost connection: a value read from the database is kept only if
        # the epoch did not move while it was being read.
        self.epoch = 0
        self._conns: list[asyncpg.Connection] = []
        # Callers waiting for the next fence to leave, each with its own future: one caller cancelled (a client gone)
        # cancels no other's.
        self._waiting: list[asyncio.Future[bool]] = []
        # One task per listening connection sends its fences; an idle one waits on its future here (False: stop).
        self._idle: list[asyncio.Future[bool]] = []
        self._woken = False
        self._senders: set[asyncio.Task[None]] = set()  # the loop only keeps weak references to tasks
        self._reconnect: asyncio.Task[None] | None = None
        self._closed = False
        # Until when (monotonic clock) the last fence that came back vouches for this process, and when it was last
        # read: a task renews the fence while reads come in.
        self._fresh_until = 0.0
        self._read_at = 0.0
        self._reading = asyncio.Event()
        self._renewer: asyncio.Task[None] | None = None

    async def open(self) -> "NotifiedCache":
        """Connect and LISTEN; the cache starts empty."""
        conns = []
        try:
            for _ in range(self.listeners):
                conn = await asyncpg.connect(
                    self.dsn, server_settings={"application_name": f"cache listener {self.channel}"}
                )
                conns.append(conn)
                conn.add_termination_listener(self._lost)
                await conn.add_listener(self.channel, self._notified)
        except BaseException:
            for conn in conns:
                conn.terminate()
            raise
        self.entries.clear()
        self.snapshots.clear()
        self.epoch += 1
        self._fresh_until = 0.0
        self._conns = conns
        loop = asyncio.get_running_loop()
        for conn in conns:
            task = loop.create_task(self._send_fences(conn))
            self._senders.add(task)
            task.add_done_callback(self._senders.discard)
        if self._renewer is None:
            self._renewer = loop.create_task(self._renew())
        return self

    async def close(self) -> None:
        """Stop listening and forget everything."""
        self._closed = True
        if self._reconnect is not None:
            self._reconnect.cancel()
        if self._renewer is not None:
            self._renewer.cancel()
        conns, self._conns = self._conns, []
        self._settle()
        self.entries.clear()
        self.snapshots.clear()
        for conn in conns:
            await conn.close()

    def _settle(self) -> None:
        # No fence promises anything any more: every caller waiting reads the database, every idle sender stops.
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            if not waiter.done():
                waiter.set_result(False)
        idle, self._idle = self._idle, []
        for wake in idle:
            if not wake.done():
                wake.set_result(False)
        self._woken = False

    def _notified(self, conn: object, pid: int, channel: str, key: str) -> None:
        self.entries.pop(key, None)
        self.epoch += 1

    def _lost(self, conn: asyncpg.Connection | None) -> None:
        if conn is not None and conn not in self._conns:
            return  # one already let go (and the cache emptied when it was)
        # Notifications may have been missed: nothing kept can be trusted any more, and every connection starts over.
        conns, self._conns = self._conns, []
        for other in conns:
            if not other.is_closed():
                other.terminate()
        self.entries.clear()
        self.snapshots.clear()
        self.epoch += 1
        # A fence that came back before the loss still vouches for the changes committed before it was sent, but
        # nothing kept survives the loss anyway: reads go to the database until a new connection has fenced.
        self._fresh_until = 0.0
        self._settle()
        if not self._closed and (self._reconnect is None or self._reconnect.done()):
            self._reconnect = asyncio.get_running_loop().create_task(self._reopen())

    async def _reopen(self) -> None:
        while not self._closed and not self._conns:
            try:
                await self.open()
            except Exception as exc:  # noqa: BLE001 - the database may be away; retried every second until it is back
                log.warning("cache listener on %s: %s; retrying", self.channel, exc)
                await asyncio.sleep(1.0)

    async def fence(self) -> bool:
        """Wait until every notification committed before this call has been applied; False when none can be."""
        if not self._conns:
            return False
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        if self._idle and not self._woken:
            self._woken = True
            self._idle.pop().set_result(True)
        return await waiter

    async def up_to_date(self) -> bool:
        """Like fence(), without a round trip of its own while a recent fence still vouches for this moment."""
        self._read_at = time.monotonic()
        self._reading.set()
        if self._conns and self._read_at < self._fresh_until:
            return True
        return await self.fence()

    async def _renew(self) -> None:
        # Fences sent often enough that the lease rarely runs out while the cache is read; none while it is not.
        while not self._closed:
            if time.monotonic() - self._read_at > CACHE_RENEW_IDLE_SECONDS:
                self._reading.clear()
                await self._reading.wait()
            await self.fence()
            await asyncio.sleep(CACHE_LEASE_SECONDS / 4)

    async def _send_fences(self, conn: asyncpg.Connection) -> None:
        # One round trip serves every caller that arrived before it was sent; later ones wait for the next, which
        # leaves over whichever connection is free first.
        loop = asyncio.get_running_loop()
        while conn in self._conns:
            if not self._waiting:
                wake = loop.create_future()
                self._idle.append(wake)
                if not await wake or conn not in self._conns:
                    return
            batch, self._waiting, self._woken = self._waiting, [], False
            ok = False
            try:
                sent = time.monotonic()
                await conn.execute("SELECT 1")
                # A connection let go while the fence was out promises nothing.
                ok = conn in self._conns
                if ok:
                    self._fresh_until = max(self._fresh_until, sent + CACHE_LEASE_SECONDS)
            except Exception:  # noqa: BLE001 - whatever failed, this fence promises nothing and the callers read the database
                self._lost(conn)
            for waiter in batch:
                if not waiter.done():
                    waiter.set_result(ok)

    def keep_snapshot(self, key: str, value: Any, epoch: int) -> None:
        """Keep a value that depends on every row, read after epoch was taken: good until the next notification."""
        if epoch == self.epoch and self._conns:
            if len(self.snapshots) >= MAX_SNAPSHOTS:
                self.snapshots.clear()
            self.snapshots[key] = (epoch, value)

    def snapshot(self, key: str) -> Any:
        """A snapshot kept since the last notification, else None (use after fence())."""
        kept = self.snapshots.get(key)
        return kept[1] if kept is not None and kept[0] == self.epoch else None

    def keep(self, key: str, value: Any, epoch: int) -> None:
        """Keep a value read from the database after epoch was taken, unless a notification came in meanwhile."""
        if epoch == self.epoch and self._conns and len(self.entries) < self.max_entries:
            self.entries[key] = value


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
