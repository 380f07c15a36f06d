"""Mail tests: the session's real SMTP server, every consumer drained by the test itself, the .eml files read back."""

import contextlib
import email
import email.policy
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import asyncpg
import msgspec
import pytest

from exchange import jobs
from exchange.dev.stack import Stack
from exchange.kernel import db, outbox
from exchange.kernel.settings import Settings
from exchange.mail import sender

MAIL_SECRET = "mail-tests-" + "s" * 32
BASE_URL = "https://techmart.example.vn"


@pytest.fixture
def settings(settings: Settings, stack: Stack) -> Settings:
    """The session's settings sending to the session's SMTP server; no background jobs, no vectors."""
    return msgspec.structs.replace(
        settings,
        run_jobs=False,
        embeddings=False,
        smtp_url=stack.smtp.url,
        mail_secret=MAIL_SECRET,
        public_base_url=BASE_URL,
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A small pool for draining the outbox and sending, as the jobs would."""
    p = await db.create_pool(database_url, min_size=1, max_size=3)
    yield p
    await p.close()


async def settle(pool: asyncpg.Pool, settings: Settings) -> int:
    """Run every package's consumers until the outbox has nothing left for them; return how many events were handled."""
    total = 0
    async with contextlib.AsyncExitStack() as stack:
        consumers = [c for source in jobs.CONSUMER_SOURCES for c in await stack.enter_async_context(source(settings))]
        while count := sum([await outbox.drain(pool, c) for c in consumers]):
            total += count
    async with pool.acquire() as conn:
        failing = await conn.fetch("SELECT topic, last_error FROM outbox WHERE processed_at IS NULL AND attempts > 0")
    assert not failing, [dict(r) for r in failing]
    return total


async def deliver(pool: asyncpg.Pool, settings: Settings) -> int:
    """Drain the outbox, then send what was queued; return how many messages went out."""
    await settle(pool, settings)
    return await sender.send_due(pool, settings)


def read(path: Any) -> EmailMessage:
    """An .eml file parsed with the stdlib email package."""
    with open(path, "rb") as f:
        raw = f.read()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    message.raw = raw  # type: ignore[attr-defined]
    return message


def mails_to(stack: Stack, address: str, kind: str | None = None) -> list[EmailMessage]:
    """The messages the session's SMTP server stored for this address (of one kind), oldest first."""
    found = [read(p) for p in stack.smtp.messages()]
    return [m for m in found if m["To"] == address and (kind is None or m["X-Techmart-Kind"] == kind)]


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML parts of a multipart/alternative message."""
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def unsubscribe_url(message: EmailMessage) -> str:
    """The one-click URL of the List-Unsubscribe header, which is written as it is (no encoded words)."""
    header = str(message["List-Unsubscribe"])
    assert header.startswith("<") and header.endswith(">"), header
    assert f"\nList-Unsubscribe: {header}\r\n".encode() in message.raw  # type: ignore[attr-defined]
    return header[1:-1]
