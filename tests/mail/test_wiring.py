"""The service as it runs: its own jobs drain the outbox and send, with nothing driven by the test."""

import asyncio

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from exchange.app import create_app
from tests.mail.conftest import mails_to
from tests.matching.waiting import until
from tests.parties import parties
from tests.support import bearer


@pytest.fixture
async def client(settings):
    """The app with its background jobs on, polling often."""
    running = msgspec.structs.replace(settings, run_jobs=True, mail_poll_seconds=0.1)
    async with AsyncTestClient(create_app(running)) as test_client:
        yield test_client


async def test_an_interest_reaches_the_owner_by_mail_through_the_running_jobs(client, conn, stack):
    p = await parties(client, conn)
    sent = await client.post(f"/v1/offers/{p.offer['id']}/interests", json={"message": "Hi"}, headers=bearer(p.buyer))
    assert sent.status_code == 201, sent.text

    async def stored():
        await asyncio.sleep(0)
        return mails_to(stack, p.seller_org["contact_email"], "interest_received")

    found = await until(stored, lambda m: len(m) == 1, "the interest's mail")
    assert sent.json()["id"] in found[0].get_body(("plain",)).get_content()
    row = await conn.fetchrow("SELECT status, attempts FROM mail_queue WHERE kind = 'interest_received'")
    assert row["status"] == "sent" and row["attempts"] == 1
