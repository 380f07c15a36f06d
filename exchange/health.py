"""Liveness and readiness: is the process up, and can it reach what it depends on."""

import asyncio
import logging

import httpx
import msgspec
from litestar import Response, get
from litestar.datastructures import State

from exchange.kernel import outbox
from exchange.kernel.schemas import ApiStruct

log = logging.getLogger("exchange.health")


class Check(ApiStruct, kw_only=True):
    """One dependency's state."""

    name: str
    ok: bool
    detail: str


class Health(ApiStruct, kw_only=True):
    """Overall state and, for readiness, each dependency's."""

    status: str
    checks: list[Check] = msgspec.field(default_factory=list)


@get("/health/live", tags=["operations"], summary="Liveness")
async def live() -> Health:
    """The process answers."""
    return Health(status="ok")


async def _database(state: State) -> Check:
    try:
        async with state.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")
        return Check(name="database", ok=True, detail="reachable")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        log.warning("readiness: the database did not answer: %r", exc)
        return Check(name="database", ok=False, detail="not reachable")


async def _search(state: State) -> Check:
    url = state.settings.meili_url
    if not url:
        return Check(name="search", ok=False, detail="MEILI_URL is not set")
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            answer = await client.get(f"{url.rstrip('/')}/health")
        ok = answer.status_code == 200
        return Check(name="search", ok=ok, detail="available" if ok else f"status {answer.status_code}")
    except httpx.HTTPError as exc:
        log.warning("readiness: Meilisearch did not answer: %r", exc)
        return Check(name="search", ok=False, detail="not reachable")


async def _background(state: State) -> Check:
    # Informational: a backlog (say, vectors still being computed after a bulk import) is no reason to stop traffic.
    try:
        async with state.pool.acquire(timeout=2) as conn:
            waiting, oldest = await outbox.backlog(conn)
    except Exception as exc:  # noqa: BLE001 - any failure means the backlog is unknown
        log.warning("readiness: the outbox backlog could not be read: %r", exc)
        return Check(name="background jobs", ok=False, detail="backlog unknown: the database did not answer")
    if not waiting:
        return Check(name="background jobs", ok=True, detail="no event waiting")
    events = "1 event" if waiting == 1 else f"{waiting} events"
    return Check(name="background jobs", ok=True, detail=f"{events} waiting, the oldest for {oldest:.0f} s")


def _payments(state: State) -> Check:
    key, base = state.settings.stripe_secret_key, state.settings.stripe_api_base
    if not key.startswith("sk_test_"):
        return Check(name="payments", ok=False, detail="STRIPE_SECRET_KEY is not a test-mode key")
    detail = "sandbox at a custom address" if base else "Stripe test mode"
    if not state.settings.stripe_webhook_secret:
        # Payments still complete by read-back from Stripe, but no webhook can be verified.
        detail += "; STRIPE_WEBHOOK_SECRET is not set, webhooks are refused"
    return Check(name="payments", ok=True, detail=detail)


@get("/health/ready", tags=["operations"], summary="Readiness")
async def ready(state: State) -> Response[Health]:
    """The database and search engine answer and the payment gateway is configured; how far background jobs are behind."""
    checks = [*await asyncio.gather(_database(state), _search(state), _background(state)), _payments(state)]
    ok = all(c.ok for c in checks)
    return Response(Health(status="ok" if ok else "unavailable", checks=checks), status_code=200 if ok else 503)
