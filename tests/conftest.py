"""The test session's real servers: PostgreSQL, Meilisearch and the Stripe sandbox, started once."""

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import uvicorn
from litestar.testing import AsyncTestClient

from exchange.app import create_app
from exchange.dev.stack import Stack
from exchange.kernel import db
from exchange.kernel.settings import Settings
from exchange.server import uvicorn_options

TEMPLATE = "exchange_template"


def database_url_for(url: str, name: str) -> str:
    """The same server's URL, for another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every real server the tests talk to, on loopback, for the whole session."""
    with Stack(tmp_path_factory.mktemp("stack"), fresh=True) as running:
        yield running


@pytest.fixture(scope="session")
async def template_database(stack: Stack) -> str:
    """A database migrated once; each test gets a copy of it."""
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        await admin.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await admin.close()
    conn = await db.connect(database_url_for(stack.database_url, TEMPLATE))
    try:
        await db.migrate(conn)
    finally:
        await conn.close()
    return TEMPLATE


async def clone_database(stack: Stack, template: str) -> str:
    """A fresh copy of the migrated template; returns its URL."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    finally:
        await admin.close()
    return database_url_for(stack.database_url, name)


async def drop_database(stack: Stack, url: str) -> None:
    """Drop a test database, closing whatever still uses it."""
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {urlsplit(url).path.lstrip('/')} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def database_url(stack: Stack, template_database: str) -> AsyncIterator[str]:
    """A clean database for one test."""
    url = await clone_database(stack, template_database)
    yield url
    await drop_database(stack, url)


@pytest.fixture
def settings(stack: Stack, database_url: str) -> Iterator[Settings]:
    """Settings pointing at this test's database, its own search indexes and the session's servers."""
    prefix = f"t{uuid.uuid4().hex[:12]}_"
    yield Settings(
        database_url=database_url,
        meili_url=stack.meili_url,
        meili_master_key=stack.meili_master_key,
        meili_index_prefix=prefix,
        stripe_api_base=stack.stripe_api_base,
        stripe_secret_key=stack.stripe_secret_key,
        db_pool_min=1,
        db_pool_max=4,
        expiry_sweep_seconds=3600,
        # The webhook tests' receiver listens on loopback, as a development stack allows.
        allow_private_webhooks=True,
    )
    delete_indexes(stack, prefix)


def delete_indexes(stack: Stack, prefix: str) -> None:
    """Drop a test's search indexes (their deletion is queued; nothing waits for it)."""
    headers = {"Authorization": f"Bearer {stack.meili_master_key}"}
    with httpx.Client(base_url=stack.meili_url, headers=headers, timeout=10) as meili:
        if meili.get("/health").status_code != 200:
            return
        for uid in (f"{prefix}offers", f"{prefix}demands"):
            meili.delete(f"/indexes/{uid}")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    """The service in process, over its ASGI interface."""
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


@contextlib.asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    """The app served by uvicorn, as `exchange serve` configures it, on a loopback port in this event loop; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(settings),
        lifespan="on",
        log_level="warning",
        ws="none",
        **uvicorn_options(settings),
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app served by uvicorn (served()): concurrent requests overlap (the in-process client hands the
    app one request at a time)."""
    async with (
        served(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60.0, trust_env=False) as client,
    ):
        yield client


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to this test's database, for set-up and for checking what was stored."""
    connection = await db.connect(database_url)
    yield connection
    await connection.close()


def pytest_configure(config: pytest.Config) -> None:
    """Keep child servers' runtime files out of the user's home."""
    os.environ.setdefault("NO_COLOR", "1")
