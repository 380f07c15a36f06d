"""The outbox consumer that runs imports, one chunk of rows per event."""

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from exchange.imports import service
from exchange.kernel import outbox
from exchange.kernel.settings import Settings


async def handle(conn: asyncpg.Connection, rows: list[outbox.OutboxRow]) -> None:
    """Handle the next chunk of each import named; the chunk, its progress and the next event commit together."""
    for row in rows:
        event = outbox.decode(row, service.ImportChunkDue)
        await service.run_chunk(conn, event.import_id, row.attempts)


@contextlib.asynccontextmanager
async def consumers(_: Settings) -> AsyncIterator[list[outbox.Consumer]]:
    """The imports consumer."""
    yield [outbox.Consumer("imports", (service.ImportChunkDue.__struct_config__.tag,), handle, batch_size=1)]
