"""Matching's outbox consumers: the search indexer and its vectors, the subscription matcher, webhook delivery."""

import contextlib
from collections.abc import AsyncIterator

from exchange.kernel import outbox
from exchange.kernel.settings import Settings
from matching import indexer, notify


@contextlib.asynccontextmanager
async def consumers(settings: Settings) -> AsyncIterator[list[outbox.Consumer]]:
    """Every consumer of matching, each group holding its own clients while inside."""
    async with indexer.consumers(settings) as indexing, notify.consumers(settings) as notifying:
        yield [*indexing, *notifying]
