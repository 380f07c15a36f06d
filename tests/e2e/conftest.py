"""The real service as a separate process, reached over HTTP like any outside client."""

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from exchange.dev.stripe_sandbox import register_stripe_webhook
from tests.conftest import clone_database, drop_database
from tests.support import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Server:
    """Where the service answers and the bootstrap operator's key."""

    base_url: str
    operator_key: str
    database_url: str = ""


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, wait, then SIGKILL if it is still running."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def output_of(log_path: Path) -> str:
    """The last part of the server's output."""
    try:
        return log_path.read_text(errors="replace")[-6000:]
    except OSError:
        return "(no output)"


async def wait_live(proc: subprocess.Popen, base_url: str, log_path: Path) -> None:
    """Poll /health/live until 200; fail with the server output if it dies or times out."""
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(base_url=base_url, timeout=1.0, trust_env=False) as client:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the service exited with code {proc.returncode}:\n{output_of(log_path)}")
            try:
                if (await client.get("/health/live")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the service did not answer /health/live in {START_TIMEOUT:.0f} s:\n{output_of(log_path)}")
            await asyncio.sleep(0.1)


@pytest.fixture(scope="session")
async def server(stack, template_database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    """The service started with `exchange serve` on a fresh database, for the whole session."""
    database_url = await clone_database(stack, template_database)
    port = free_port()
    operator_key = secrets.token_urlsafe(40)
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        MEILI_URL=stack.meili_url,
        MEILI_MASTER_KEY=stack.meili_master_key,
        STRIPE_API_BASE=stack.stripe_api_base,
        STRIPE_SECRET_KEY=stack.stripe_secret_key,
        STRIPE_WEBHOOK_SECRET=stack.stripe_webhook_secret,
        OPERATOR_BOOTSTRAP_KEY=operator_key,
        HOST="127.0.0.1",
        LOG_LEVEL="WARNING",
    )
    log_path = tmp_path_factory.mktemp("e2e") / "server.log"
    args = [sys.executable, "-m", "exchange.cli", "serve", "--workers", "2", "--port", str(port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            args, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_live(proc, base_url, log_path)
        # The sandbox delivers its events to this server, signed as Stripe would.
        register_stripe_webhook(
            stack.stripe_api_base,
            stack.stripe_secret_key,
            f"{base_url}/v1/webhooks/stripe",
            stack.stripe_webhook_secret,
            webhook_id=f"e2e-{port}",
        )
        yield Server(base_url=base_url, operator_key=operator_key, database_url=database_url)
    finally:
        stop(proc)
        await drop_database(stack, database_url)


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running service."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0, trust_env=False) as client:
        yield client
