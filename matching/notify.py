"""Outbox consumers for subscriptions: match listings once they are searchable, and deliver signed webhooks."""

import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

import asyncpg
import httpx
import msgspec
from meilisearch_python_sdk import AsyncClient
from prometheus_client import Counter

from exchange.kernel import outbox
from exchange.kernel.events import ListingIndexed
from exchange.kernel.outbox import OutboxRow
from exchange.kernel.settings import Settings
from matching import engine, repo, subscriptions, webhook_targets

log = logging.getLogger("matching.notify")

SIGNATURE_HEADER = "Techmart-Signature"
NOTIFICATION_ID_HEADER = "Techmart-Notification-Id"
EVENT_TYPE = "listing.matched"
# With the outbox's backoff (0.5 s doubling, at most 60 s) eight attempts span about a minute.
MAX_ATTEMPTS = 8
DELIVERY_TIMEOUT_SECONDS = 5.0
# A batch is matched at once (its searches shared), so a burst is cheaper per listing in larger batches.
MATCH_BATCH_SIZE = 50
DEFAULT_TOLERANCE_SECONDS = 300

NOTIFICATIONS = Counter(
    "exchange_notifications",
    "Webhook deliveries: delivered, failed (given up or refused) and retried (an attempt failed, another follows)",
    ["outcome"],
)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Techmart-Signature header value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, tolerance: int = DEFAULT_TOLERANCE_SECONDS, now: float | None = None
) -> bool:
    """What a receiver does: true when one v1 signature of the header is the body's and its time is within tolerance."""
    timestamp: int | None = None
    signatures = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    # A captured request replayed later carries an old timestamp, and the timestamp is part of what is signed.
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(expected, s) for s in signatures)


class WebhookBody(msgspec.Struct, kw_only=True):
    """What a webhook receives for one notification; `id` is the same on every retry."""

    id: UUID
    type: str
    created_at: datetime
    subscription_id: UUID
    score: float
    listing: dict | None


class DeliveryFailed(RuntimeError):
    """The receiver did not answer 2xx; the outbox tries again later."""


async def handle_indexed(
    conn: asyncpg.Connection, client: AsyncClient, settings: Settings, events: list[OutboxRow]
) -> None:
    """Listings whose change reached the search index: demand subscriptions follow them, subscribers are notified."""
    # The newest event of each listing says which state the index holds.
    indexed = {
        e.id: e.version for e in sorted((outbox.decode(r, ListingIndexed) for r in events), key=lambda e: e.version)
    }
    await subscriptions.on_listings_indexed(conn, client, settings, indexed)


def pinned(url: str, address: webhook_targets.IpAddress) -> tuple[httpx.URL, str, dict[str, str]]:
    """The URL sent to an address already checked, with the Host header and TLS server name its host name gives."""
    original = httpx.URL(url)
    tls_name = {"sni_hostname": original.raw_host.decode("ascii")}
    return original.copy_with(host=str(address)), original.netloc.decode("ascii"), tls_name


async def post(
    http: httpx.AsyncClient,
    url: str,
    secret: str,
    body: bytes,
    notification_id: UUID,
    address: webhook_targets.IpAddress | None = None,
) -> str | None:
    """POST one signed body, to the checked address when given; None on 2xx, else a short reason without the receiver's words."""
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, int(time.time()), body),
        NOTIFICATION_ID_HEADER: str(notification_id),
    }
    target: str | httpx.URL = url
    extensions: dict[str, str] = {}
    if address is not None:
        # Connecting by name would look it up again: a name re-pointed inside after the check (DNS rebinding) gets nothing.
        target, headers["Host"], extensions = pinned(url, address)
    try:
        # Streamed so a receiver's answer body is never read into memory.
        async with http.stream("POST", target, content=body, headers=headers, extensions=extensions) as response:
            status = response.status_code
    except httpx.TimeoutException:
        return "timed out"
    except httpx.HTTPError as exc:
        return f"could not connect ({type(exc).__name__})"
    return None if 200 <= status < 300 else f"HTTP {status}"


async def deliver(conn: asyncpg.Connection, http: httpx.AsyncClient, settings: Settings, event: OutboxRow) -> None:
    """Send one notification to its webhook; raise to be retried with backoff, give up after MAX_ATTEMPTS."""
    created = outbox.decode(event, subscriptions.NotificationCreated)
    found = await repo.delivery(conn, created.id)
    if found is None or found.notification.delivery_status != "pending":
        return
    note = found.notification
    attempt = event.attempts + 1
    if found.deleted or not (found.webhook_url and found.webhook_secret):
        await repo.finish_delivery(conn, note.id, "failed", event.attempts, "the subscription was deleted")
        NOTIFICATIONS.labels("failed").inc()
        return
    try:
        # Checked again now: a name that resolved to a public address when subscribing may not any more.
        addresses = await webhook_targets.check(found.webhook_url, settings.allow_private_webhooks)
    except webhook_targets.TargetRefused as exc:
        await repo.finish_delivery(conn, note.id, "failed", attempt, f"refused: the webhook URL {exc}")
        NOTIFICATIONS.labels("failed").inc()
        return
    except webhook_targets.TargetUnresolved:
        error: str | None = "the host name does not resolve"
    else:
        views = await subscriptions.public_views(conn, [note.listing_id])
        body = msgspec.json.encode(
            WebhookBody(
                id=note.id,
                type=EVENT_TYPE,
                created_at=note.created_at,
                subscription_id=note.subscription_id,
                score=note.score,
                listing=views.get(note.listing_id),
            )
        )
        error = await post(
            http, found.webhook_url, found.webhook_secret, body, note.id, addresses[0] if addresses else None
        )
    if error is None:
        await repo.finish_delivery(conn, note.id, "delivered", attempt, None)
        NOTIFICATIONS.labels("delivered").inc()
        return
    if attempt >= MAX_ATTEMPTS:
        log.warning("webhook delivery of notification %s failed %d times; giving up (%s)", note.id, attempt, error)
        await repo.finish_delivery(conn, note.id, "failed", attempt, error)
        NOTIFICATIONS.labels("failed").inc()
        return
    NOTIFICATIONS.labels("retried").inc()
    raise DeliveryFailed(f"webhook delivery of notification {note.id} failed: {error}")


@contextlib.asynccontextmanager
async def consumers(settings: Settings) -> AsyncIterator[list[outbox.Consumer]]:
    """The subscription matcher and the webhook sender, with their own Meilisearch and HTTP clients."""
    client = engine.open_client(settings)
    # No proxies from the environment and no redirects: a webhook goes to the address its owner gave, or nowhere.
    http = httpx.AsyncClient(
        timeout=DELIVERY_TIMEOUT_SECONDS,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": "Techmart-Webhooks/1"},
    )

    async def match(conn: asyncpg.Connection, events: list[OutboxRow]) -> None:
        await handle_indexed(conn, client, settings, events)

    async def send(conn: asyncpg.Connection, events: list[OutboxRow]) -> None:
        for event in events:
            await deliver(conn, http, settings, event)

    try:
        yield [
            outbox.Consumer("subscription-matcher", ("listing.indexed",), match, MATCH_BATCH_SIZE),
            outbox.Consumer("webhook-delivery", (subscriptions.NotificationCreated.__struct_config__.tag,), send, 1),
        ]
    finally:
        await http.aclose()
        await client.aclose()
