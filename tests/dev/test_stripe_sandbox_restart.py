"""The development stack's Stripe sandbox: started again when it dies, still posting its events to the service."""

import asyncio
import os
import signal

import httpx
import msgspec
import pytest

from exchange.dev.stripe_sandbox import StripeSandbox
from exchange.kernel.settings import Settings

WEBHOOK_SECRET = "whsec_restart_" + "r" * 24


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The service verifies what this test's sandbox signs."""
    return msgspec.structs.replace(settings, stripe_webhook_secret=WEBHOOK_SECRET, run_jobs=False)


async def test_a_sandbox_that_died_is_started_again_with_its_webhook(tmp_path, live, conn):
    sandbox = StripeSandbox(tmp_path, webhook_secret=WEBHOOK_SECRET).start()
    try:
        sandbox.deliver_events_to(f"{live.base_url}/v1/webhooks/stripe")
        api_base, first = sandbox.api_base, sandbox.pid
        os.kill(first, signal.SIGKILL)
        auth = {"Authorization": f"Bearer {sandbox.secret_key}"}
        async with httpx.AsyncClient(base_url=api_base, headers=auth, trust_env=False, timeout=5.0) as stripe:
            for _ in range(200):
                if sandbox.pid != first:
                    try:
                        if (await stripe.get("/v1/customers")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                await asyncio.sleep(0.05)
            assert sandbox.api_base == api_base and sandbox.pid != first
            # A new customer makes the restarted sandbox post customer.created, signed, to the service.
            assert (await stripe.post("/v1/customers", data={"email": "restart@example.vn"})).status_code == 200
        count = "SELECT count(*) FROM stripe_events WHERE type = 'customer.created'"
        for _ in range(150):
            if await conn.fetchval(count):
                break
            await asyncio.sleep(0.1)
        assert await conn.fetchval(count) == 1
    finally:
        sandbox.stop()
