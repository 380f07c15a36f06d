"""Deals tests run without the background jobs, so only the test itself drains the outbox.

The in-process `client` hands each request to the app on another thread and blocks until it is answered,
so requests sent with asyncio.gather through it run one after another. Races are tested through `live`:
the same app served by uvicorn on a loopback port in this event loop, so concurrent requests really overlap.
"""

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest
import uvicorn

from exchange.app import create_app
from exchange.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The session's settings with the in-process jobs off."""
    return msgspec.structs.replace(settings, run_jobs=False)


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the service served on a loopback port, with requests handled concurrently."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), lifespan="on", log_level="warning", access_log=False, ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30.0, trust_env=False) as client:
            yield client
    finally:
        server.should_exit = True
        await task
        sock.close()
